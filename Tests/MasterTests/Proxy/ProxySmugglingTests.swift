import Testing
import TestSupport

/// Request smuggling and limits: an ambiguous or malformed request is answered with an error and
/// the connection closed; the upstream never sees a second (smuggled) request.
@Suite(.serialized) struct ProxySmugglingTests {
    /// Sends `raw` on a new connection; returns the response and whether the gateway then closed.
    private func exchange(_ raw: String, port: Int) throws -> (TestHTTPResponse, closed: Bool) {
        let client = try HTTPClient(port: port)
        defer { client.close() }
        try client.send(raw)
        let response = try client.readResponse()
        return (response, client.isClosedByPeer(timeout: 3))
    }

    /// Nothing after the bad request reached the upstream: no request for `/smuggled`, and the
    /// bytes `smuggled` never arrived.
    private func expectNoSmuggling(_ upstream: TestUpstream, _ what: String) {
        #expect(!upstream.requests.contains { $0.target.contains("smuggled") }, "\(what): smuggled request reached upstream")
        #expect(!upstream.rawReceivedText.contains("smuggled"), "\(what): smuggled bytes reached upstream")
    }

    static let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

    /// Framing the gateway rejects before forwarding anything: 400 (501 for an unknown transfer
    /// coding), connection closed, upstream untouched.
    @Test(arguments: [
        ("CL+TE", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 400),
        ("TE+CL", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled, 400),
        ("two Content-Length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 41\r\n\r\nhello" + smuggled, 400),
        ("Content-Length list", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 41\r\n\r\nhello" + smuggled, 400),
        ("Content-Length sign", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello" + smuggled, 400),
        ("chunked, identity", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled, 501),
        ("two TE headers", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 501),
        ("TE in HTTP/1.0", "POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 400),
        ("obs-fold", "GET /a HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  Transfer-Encoding: chunked\r\n\r\n" + smuggled, 400),
        ("space before colon", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggled, 400),
        ("bare LF in headers", "GET /a HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n" + smuggled, 400),
        ("bare LF request line", "GET /a HTTP/1.1\nHost: x\n\n" + smuggled, 400),
        ("duplicate Host", "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n" + smuggled, 400),
        ("no Host", "GET /a HTTP/1.1\r\n\r\n" + smuggled, 400),
    ])
    func rejectedBeforeForwarding(_ name: String, _ raw: String, _ status: Int) throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let (r, closed) = try exchange(raw, port: sluice.proxyPort)
        #expect(r.status == status, "\(name)")
        #expect(closed, "\(name): connection not closed")
        #expect(upstream.requestCount == 0, "\(name): upstream saw \(upstream.requests.map(\.target))")
        expectNoSmuggling(upstream, name)
    }

    /// A chunked body that turns invalid (bad chunk size, overflowing size, missing CRLF after the
    /// data) is answered 400 and the connection closed; the bytes after it never reach the upstream.
    @Test(arguments: [
        ("invalid chunk size", "ZZ\r\nhello\r\n0\r\n\r\n"),
        ("overflowing chunk size", "FFFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n"),
        ("negative chunk size", "-5\r\nhello\r\n0\r\n\r\n"),
        ("data without CRLF", "5\r\nhelloXX0\r\n\r\n"),
        ("bare LF after size", "5\nhello\r\n0\r\n\r\n"),
    ])
    func invalidChunkedBody(_ name: String, _ body: String) throws {
        let upstream = try TestUpstream { request in
            TestResponse.json(EchoedRequest(request).jsonText).delayed(ms: request.path.hasPrefix("/slow") ? 200 : 0)
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let (r, closed) = try exchange(
            "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body + Self.smuggled, port: sluice.proxyPort)
        #expect(r.status == 400, "\(name)")
        #expect(closed, "\(name): connection not closed")
        expectNoSmuggling(upstream, name)
        // The gateway is still healthy afterwards, also with concurrent requests that each need
        // their own upstream connection (connection objects were not recycled twice).
        try expectConcurrentRequestsWork(port: sluice.proxyPort)
        #expect(sluice.accessLog.split(separator: "\n").filter { $0.contains("POST /c ") }.count == 1, "\(sluice.accessLog)")
    }

    /// Three clients at once on a delaying route, twice: each gets its own correct answer.
    private func expectConcurrentRequestsWork(port: Int) throws {
        for round in 0..<2 {
            let clients = try (0..<3).map { _ in try HTTPClient(port: port) }
            defer { clients.forEach { $0.close() } }
            for (i, c) in clients.enumerated() { try c.sendRequest(path: "/slow/\(round)/\(i)") }
            for (i, c) in clients.enumerated() {
                let r = try c.readResponse()
                #expect(r.status == 200)
                #expect(try r.echoed().target == "/slow/\(round)/\(i)")
            }
        }
    }

    /// The same invalid chunked body arriving after the head, in a second write (streamed path).
    @Test func invalidChunkedBodyLater() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        TestSupport.waitUntil(timeout: 2) { upstream.rawReceivedText.contains("hello") }
        try client.send("ZZ\r\n" + Self.smuggled)
        let r = try client.readResponse()
        #expect(r.status == 400)
        #expect(client.isClosedByPeer(timeout: 3))
        expectNoSmuggling(upstream, "later")
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/fine").status == 200)
    }

    /// A request whose upstream fails after the request (head and body) was sent: the 502 is
    /// answered and the body is never parsed as a request of its own afterwards.
    @Test(arguments: ["content-length", "chunked"])
    func bodyNotReparsedAfterUpstreamFailure(_ framing: String) throws {
        let upstream = try TestUpstream { request in
            request.path == "/fail" ? TestResponse(action: .closeImmediately) : TestResponse.json(EchoedRequest(request).jsonText)
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream, upstreamExtra: "retries: 0")
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        let body = Self.smuggled
        if framing == "chunked" {
            try client.send("POST /fail HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n")
        } else {
            try client.send("POST /fail HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
        }
        let r = try client.readResponse()
        #expect(r.status == 502)
        // Whatever the gateway does next (close, or wait for a real next request), the body's
        // bytes must not come back as a second response nor reach the upstream as a request.
        let rest = client.readRaw(timeout: 1)
        #expect(rest.isEmpty, "unexpected bytes after the 502: \(String(decoding: rest, as: UTF8.self))")
        #expect(!upstream.requests.contains { $0.target.contains("smuggled") })
        #expect(!sluice.accessLog.contains("/smuggled"), "\(sluice.accessLog)")
    }

    /// A request line longer than the limit is answered 414 and the connection closed.
    @Test func requestLineTooLong414() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let (r, closed) = try exchange("GET /" + String(repeating: "a", count: 10_000) + " HTTP/1.1\r\nHost: x\r\n\r\n", port: sluice.proxyPort)
        #expect(r.status == 414)
        #expect(r.bodyText.contains("414 Request-URI Too Large"))
        #expect(closed)
        #expect(upstream.requestCount == 0)
    }

    /// A header block larger than the limit (one huge header, or very many) is answered 431.
    @Test func hugeHeaders431() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let big = "GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "b", count: 40_000) + "\r\n\r\n"
        let (r, closed) = try exchange(big, port: sluice.proxyPort)
        #expect(r.status == 431)
        #expect(closed)
        let many = "GET /a HTTP/1.1\r\nHost: x\r\n" + (0..<200).map { "X-H\($0): v\r\n" }.joined() + "\r\n"
        let (m, mClosed) = try exchange(many, port: sluice.proxyPort)
        #expect(m.status == 431)
        #expect(mClosed)
        #expect(upstream.requestCount == 0)
    }

    /// A body over `client_max_body_size` is answered 413, by Content-Length before anything is
    /// forwarded, and for a chunked body as soon as it exceeds the limit; the connection closes.
    @Test func bodyTooLarge413() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream, http: ["client_max_body_size: 1k"])
        defer { sluice.stopCheckingWorkers() }

        let body = String(repeating: "x", count: 2000)
        let (r, closed) = try exchange("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + body, port: sluice.proxyPort)
        #expect(r.status == 413)
        #expect(r.bodyText.contains("413 Request Entity Too Large"))
        #expect(closed)
        #expect(upstream.requestCount == 0)

        let chunked = "POST /bigc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "400\r\n" + String(repeating: "y", count: 1024) + "\r\n" + "10\r\n" + String(repeating: "z", count: 16) + "\r\n0\r\n\r\n"
        let (c, cClosed) = try exchange(chunked, port: sluice.proxyPort)
        #expect(c.status == 413)
        #expect(cClosed)
        #expect(!upstream.requests.contains { $0.body.count > 1024 })

        // Within the limit is fine.
        let ok = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/ok", body: String(repeating: "k", count: 1000))
        #expect(ok.status == 200)
        #expect(try ok.echoed().bodyLength == 1000)
    }
}
