#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport

/// A port someone else listens on stops the start with nginx's message and exit 1, instead of
/// joining the other process's SO_REUSEPORT group and taking part of its traffic.
@Suite(.serialized) struct PortInUseTests {
    /// A listening socket on 127.0.0.1:`port` (with SO_REUSEPORT, as another Sluice or an nginx
    /// `listen ... reuseport` holds it); closed by the caller.
    private static func listener(port: Int, reusePort: Bool) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size)) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw TestSupportError.system("bind", errno) }
        return fd
    }

    private static func expectRefused(_ sluice: SluiceProcess, port: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try sluice.start(waitForPort: false)
        let status = sluice.waitForExit(timeout: 10)
        #expect(status == 1, "\(String(describing: status)) \(sluice.logsForFailure())", sourceLocation: sourceLocation)
        let logs = sluice.errorLog + sluice.stdoutLog
        #expect(logs.contains("bind() to 127.0.0.1:\(port) failed (98: Address already in use)"), "\(logs)", sourceLocation: sourceLocation)
    }

    @Test(arguments: [true, false])
    func proxyPortHeldByAnotherProcess(_ reusePort: Bool) throws {
        let sluice = try SluiceProcess(workers: 1)
        defer { sluice.stop() }
        let held = try Self.listener(port: sluice.proxyPort, reusePort: reusePort)
        defer { close(held) }
        try Self.expectRefused(sluice, port: sluice.proxyPort)
    }

    /// A second Sluice with another prefix on the first one's `node_listen` port.
    @Test func secondInstanceOnTheSamePort() throws {
        let first = try SluiceProcess(workers: 1)
        try first.start()
        defer { first.stopCheckingWorkers() }
        let config = SluiceProcess.defaultConfigYAML(workers: 1).replacingOccurrences(of: "{{PROXY_PORT}}", with: "\(first.proxyPort)")
        let second = try SluiceProcess(configYAML: config, workers: 1)
        defer { second.stop() }
        try Self.expectRefused(second, port: first.proxyPort)
        // The first one still has all the traffic.
        #expect(try HTTPClient.request(port: first.proxyPort, path: "/none").status == 404)
    }

    /// The Admin API's port (local provider) held by someone else.
    @Test func adminPortHeld() throws {
        let sluice = try SluiceProcess(workers: 1, configProvider: "local")
        defer { sluice.stop() }
        let held = try Self.listener(port: sluice.adminPort, reusePort: false)
        defer { close(held) }
        try Self.expectRefused(sluice, port: sluice.adminPort)
    }
}
