#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport

/// A worker out of descriptors (EMFILE) pauses accepting as nginx does: it does not spin on the
/// listener or flood error.log, keeps serving the connections it has, and accepts again by itself
/// once descriptors are free.
@Suite(.serialized) struct DescriptorExhaustionTests {
    /// utime+stime of `pid` in clock ticks.
    private static func cpuTicks(_ pid: Int32) -> Int {
        guard let stat = ProcFS.readWhole("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }

    @Test func emfilePausesAcceptingAndRecovers() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let config = SluiceProcess.defaultConfigYAML(workers: 1).replacingOccurrences(
            of: "  worker_processes: 1", with: "  worker_processes: 1\n  worker_rlimit_nofile: 48")
        let sluice = try SluiceProcess(configYAML: config,
            apisixYAML: "routes:\n  - {id: \"1\", uri: \"/*\", upstream: {type: roundrobin, nodes: {\"\(upstream.address)\": 1}}}\n#END\n",
            workers: 1)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stopCheckingWorkers() }
        let worker = try #require(sluice.workerPids.first)

        // A kept-open connection that was accepted before the limit is reached.
        let early = try HTTPClient(port: sluice.proxyPort)
        defer { early.close() }
        try early.sendRequest(path: "/early")
        #expect(try early.readResponse().status == 200)

        // Far more connections than the worker may hold: the rest wait in the listen queue.
        var clients: [HTTPClient] = []
        defer { for c in clients { c.close() } }
        for _ in 0..<80 { clients.append(try HTTPClient(port: sluice.proxyPort)) }
        Thread.sleep(forTimeInterval: 0.5)
        let before = Self.cpuTicks(worker)
        Thread.sleep(forTimeInterval: 2)
        let ticks = Self.cpuTicks(worker) - before
        let hz = Int(sysconf(Int32(_SC_CLK_TCK)))
        // Spinning on the listener was ~93% of a core; paused, the worker is nearly idle.
        #expect(ticks < hz / 2, "worker used \(ticks) ticks of \(2 * hz) in 2 s")
        let failures = sluice.errorLog.components(separatedBy: "accept4() failed (24: Too many open files)").count - 1
        #expect(failures >= 1 && failures <= 5, "\(failures) lines")

        // The connection it has is still served.
        try early.sendRequest(path: "/still")
        #expect(try early.readResponse().status == 200)

        // Descriptors free up: new connections are accepted again without any help.
        for c in clients { c.close() }
        clients.removeAll()
        let served = TestSupport.waitUntil(timeout: 5) {
            (try? HTTPClient.request(port: sluice.proxyPort, path: "/after", timeout: 1).status) == 200
        }
        #expect(served)
    }
}
