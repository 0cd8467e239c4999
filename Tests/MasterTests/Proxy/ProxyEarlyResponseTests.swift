import Testing
import TestSupport

/// An upstream that answers before reading the request body, then closes (a 413 from an upload
/// endpoint, an auth failure): the client gets that answer, as nginx relays it, never a 502.
@Suite(.serialized) struct ProxyEarlyResponseTests {
    /// Whatever the body's size and however the upstream closes (reset because of the unread body,
    /// or a lingering close), the client reads the upstream's status and body.
    @Test(arguments: [
        (64 * 1024, TestUpstream.BeforeBodyClose.immediately),
        (64 * 1024, .lingering),
        (2 * 1024 * 1024, .immediately),
        (2 * 1024 * 1024, .lingering),
    ])
    func answerBeforeBodyIsRelayed(_ bodySize: Int, _ close: TestUpstream.BeforeBodyClose) throws {
        let upstream = try TestUpstream(beforeBody: { _ in
            (TestResponse(status: 413, headers: [("Content-Type", "text/plain")], body: Array("too big".utf8)), close)
        })
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        // The race (the upstream's answer against the gateway's next body write) goes either
        // way on a given run: try it often enough that both orders occur.
        for attempt in 1...10 {
            let client = try HTTPClient(port: sluice.proxyPort)
            defer { client.close() }
            let head = Array("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(bodySize)\r\n\r\n".utf8)
            let sender = try client.sendInBackground(head + [UInt8](repeating: 0x61, count: bodySize))
            let r = try client.readResponse()
            sender.wait()
            #expect(r.status == 413, "attempt \(attempt), \(bodySize) \(close): \(r.status)")
            #expect(r.bodyText == "too big", "attempt \(attempt)")
            guard r.status == 413 else { break }
        }
        #expect(!sluice.accessLog.contains("\" 502 "), "\(sluice.accessLog)")
    }
}
