import Foundation
import Testing
import TestSupport

/// A client that half-closes after a complete request still gets its answer; a client that is
/// gone before the answer is logged with nginx's 499; a failed write is logged with the syscall
/// actually made.
@Suite(.serialized) struct ProxyClientCloseTests {
    /// After `shutdown(SHUT_WR)` following complete requests (a GET, a POST with a body, two
    /// pipelined requests), every response arrives, then the gateway closes.
    @Test(arguments: [
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    ])
    func halfClosedClientGetsItsResponses(_ raw: String) throws {
        let upstream = try TestUpstream { request in TestResponse.text("for \(request.target)").delayed(ms: 200) }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send(raw)
        client.shutdownWrite()
        let first = try client.readResponse()
        #expect(first.status == 200)
        #expect(first.bodyText == "for /a")
        if raw.contains("GET /b") {
            let second = try client.readResponse()
            #expect(second.bodyText == "for /b")
        }
        #expect(client.isClosedByPeer(timeout: 5))
    }

    /// A client that resets its connection while the upstream is still working is logged with
    /// status 499 and no body bytes, as nginx logs a request the client closed.
    @Test func resetBeforeTheResponseIsLogged499() throws {
        let upstream = try TestUpstream { _ in TestResponse.text("late").delayed(ms: 500) }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        try client.send("GET /gone HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(upstream.waitForRequests(1))
        client.reset()
        let logged = TestSupport.waitUntil(timeout: 5) { sluice.accessLog.contains("\"GET /gone HTTP/1.1\" 499 0 ") }
        #expect(logged, "\(sluice.accessLog)")
        // The gateway is fine afterwards.
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/next").status == 200)
    }

    /// A client that half-closes, reads nothing and then resets during a large response: the
    /// gateway's next write fails, and error.log names `write()` (the call made); the request is
    /// logged with the status that was sent.
    @Test func failedWriteNamesWrite() throws {
        let upstream = try TestUpstream(recording: false) { _ in
            TestResponse(bodyRepeat: (chunk: [UInt8](repeating: 0x62, count: 64 * 1024), count: 256))
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)  // error_log_level: info
        defer { sluice.stopCheckingWorkers() }

        for _ in 0..<3 {
            let client = try HTTPClient(port: sluice.proxyPort)
            try client.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            client.shutdownWrite()
            // Not reading: the socket buffers fill and the gateway waits to write more.
            Thread.sleep(forTimeInterval: 0.3)
            client.reset()
        }
        let named = TestSupport.waitUntil(timeout: 5) { sluice.errorLog.contains("write() failed (") }
        #expect(named, "\(sluice.errorLog.suffix(2000))")
        #expect(!sluice.errorLog.contains("writev()"))
        #expect(TestSupport.waitUntil(timeout: 5) { sluice.accessLog.contains("\"GET /big HTTP/1.1\" 200 ") }, "\(sluice.accessLog)")
    }
}
