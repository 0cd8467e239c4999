import Foundation
import Testing
import TestSupport

/// `client_header_timeout` bounds the whole head from its first byte, as nginx applies it: a
/// client trickling a header byte at a time is cut off when the time is up, however often it sends.
@Suite(.serialized) struct ProxyHeadTimeoutTests {
    @Test func tricklingHeadIsCutOff() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let config = SluiceProcess.defaultConfigYAML(workers: 1) + "  http:\n    client_header_timeout: 1s\n"
        let sluice = try SluiceProcess(configYAML: config,
            apisixYAML: "routes:\n  - {id: \"1\", uri: \"/*\", upstream: {type: roundrobin, nodes: {\"\(upstream.address)\": 1}}}\n#END\n",
            workers: 1)
        try sluice.start()
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        let start = Date()
        try client.send("GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        var closed = false
        // A byte every 300 ms, for up to 4 s: each one restarted the timer before the fix.
        for _ in 0..<13 {
            Thread.sleep(forTimeInterval: 0.3)
            if (try? client.send("a")) == nil || client.isClosedByPeer(timeout: 0.01) { closed = true; break }
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(closed, "still open after \(elapsed) s")
        #expect(elapsed < 2.5, "\(elapsed) s")
        // Others are served meanwhile and after.
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/fast").status == 200)
        #expect(TestSupport.waitUntil(timeout: 2) { sluice.errorLog.contains("client timed out (110: Connection timed out) while reading client request headers") })
    }
}
