#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import TestSupport

/// A request body that piles up in the gateway while its upstream connect is still in progress.
/// The connect is delayed by a private listener whose accept queue is full (backlog 0, one
/// connection waiting), so the gateway's SYN is dropped and retransmitted.
@Suite(.serialized) struct ProxySlowConnectTests {
    /// The whole body reaches the upstream once the connect completes (the gateway resumes reading
    /// the client after pausing it for a full input buffer).
    @Test func bodyBufferedDuringSlowConnect() throws {
        let listener = try SlowListener()
        defer { listener.close() }
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "r", uri: "/*", nodes: ["127.0.0.1:\(listener.port)"], upstreamExtra: "timeout: {connect: 10, send: 10, read: 10}")
        ), workers: 1)
        try sluice.start()
        defer { sluice.stop() }

        let size = 300_000
        let client = try HTTPClient(port: sluice.proxyPort, timeout: 15)
        defer { client.close() }
        // Sent from a thread: the gateway stops reading once its buffer is full.
        let head = "PUT /slow HTTP/1.1\r\nHost: x\r\nContent-Length: \(size)\r\n\r\n"
        let payload = Array(head.utf8) + [UInt8](repeating: 0x42, count: size)
        nonisolated(unsafe) let sendingClient = client
        let sent = Atomic<Bool>(false)
        let sender = Thread { try? sendingClient.send(payload); sent.store(true, ordering: .releasing) }
        sender.start()

        TestSupport.sleepSeconds(0.3)   // the gateway's SYN has been dropped by now
        listener.releaseQueue()          // the retransmitted SYN (after ~1 s) will be accepted
        let received = listener.serveOne(deadline: 12)
        #expect(received == size, "upstream received \(received) of \(size) body bytes")
        if received == size, TestSupport.waitUntil(timeout: 5, { sent.load(ordering: .acquiring) }) {
            let r = try client.readResponse()
            #expect(r.status == 200)
        }
    }
}

/// A bare listener on 127.0.0.1 with a full accept queue until ``releaseQueue()``.
private final class SlowListener {
    let fd: Int32
    let port: Int
    private var blocker: Int32 = -1

    init() throws {
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, len) } }
        guard listen(listenFD, 0) == 0 else { Glibc.close(listenFD); throw TestSupportError.system("listen", errno) }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &len) } }
        // Fill the accept queue with one connection nobody accepts.
        let blockerFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(blockerFD, $0, len) } }
        fd = listenFD
        port = Int(UInt16(bigEndian: addr.sin_port))
        blocker = blockerFD
    }

    /// Accepts (and closes) the queued blocker connection.
    func releaseQueue() {
        let a = accept(fd, nil, nil)
        if a >= 0 { Glibc.close(a) }
        if blocker >= 0 { Glibc.close(blocker); blocker = -1 }
    }

    /// Accepts one connection, reads a request head and its Content-Length body, answers 200 and
    /// returns the body length received (bounded by `deadline` seconds; -1 if nothing came).
    func serveOne(deadline: Double) -> Int {
        let end = Date().addingTimeInterval(deadline)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(deadline * 1000)) == 1 else { return -1 }
        let conn = accept(fd, nil, nil)
        guard conn >= 0 else { return -1 }
        defer { Glibc.close(conn) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var bodyStart = -1, length = 0
        while Date() < end {
            var p = pollfd(fd: conn, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) != 1 { continue }
            let n = read(conn, &buf, buf.count)
            if n <= 0 { break }
            data += buf[0..<n]
            if bodyStart < 0, let r = data.firstRange(of: [13, 10, 13, 10]) {
                bodyStart = r.upperBound
                let headText = String(decoding: data[..<r.lowerBound], as: UTF8.self).lowercased()
                if let line = headText.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }) {
                    length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if bodyStart >= 0 && data.count - bodyStart >= length { break }
        }
        let got = bodyStart < 0 ? -1 : data.count - bodyStart
        let response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        _ = response.withCString { write(conn, $0, strlen($0)) }
        return got
    }

    func close() {
        if blocker >= 0 { Glibc.close(blocker); blocker = -1 }
        Glibc.close(fd)
    }
}
