import Testing
import TestSupport

/// Clients that go away mid-request: the gateway cleans up (no stale upstream connection handed to
/// the next request, no crash) and keeps serving.
@Suite(.serialized) struct ProxyClientAbortTests {
    /// A client that closes while the upstream is still thinking, and one that closes after reading
    /// part of a large body: the following requests succeed and no worker died.
    @Test func abortsLeaveGatewayHealthy() throws {
        let chunk = [UInt8](repeating: 0x61, count: 65536)
        let upstream = try TestUpstream(recording: false) { request in
            switch request.path {
            case "/slow": TestResponse.text("late").delayed(ms: 300)
            case "/big": TestResponse(bodyRepeat: (chunk, 400))
            default: TestResponse.text("ok")
            }
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stop() }

        for _ in 0..<3 {
            let a = try HTTPClient(port: sluice.proxyPort)
            try a.sendRequest(path: "/slow")
            a.close()

            let b = try HTTPClient(port: sluice.proxyPort)
            try b.sendRequest(path: "/big")
            _ = b.readRaw(timeout: 0.2)
            b.reset()

            let c = try HTTPClient(port: sluice.proxyPort)
            try c.sendRequest(method: "POST", path: "/slow", headers: [("Content-Length", "100")], body: Array("partial".utf8))
            c.close()
        }
        // Let the late responses arrive at closed clients.
        TestSupport.sleepSeconds(0.5)
        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        for i in 0..<20 {
            try client.sendRequest(path: "/ok\(i)")
            let r = try client.readResponse()
            #expect(r.status == 200)
            #expect(r.bodyText == "ok")
        }
        let big = try HTTPClient.request(port: sluice.proxyPort, path: "/big", timeout: 20)
        #expect(big.body.count == 65536 * 400)
        #expect(!sluice.workerCrashed, "\(sluice.errorLog)")
    }
}
