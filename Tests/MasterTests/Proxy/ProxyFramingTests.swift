import Testing
import TestSupport

/// Response framing and pipelining: every response ends exactly where it should, so the next one
/// on the connection parses.
@Suite(.serialized) struct ProxyFramingTests {
    /// Three requests in one write get three responses, in order, on the same connection.
    @Test func pipelinedRequestsAnsweredInOrder() throws {
        let upstream = try TestUpstream { request in
            // The first is the slowest: order must not follow completion.
            TestResponse.json(EchoedRequest(request).jsonText).delayed(ms: request.path == "/p1" ? 200 : 0)
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\nGET /p3 HTTP/1.1\r\nHost: x\r\n\r\n")
        for i in 1...3 {
            let r = try client.readResponse()
            #expect(r.status == 200)
            #expect(try r.echoed().target == "/p\(i)")
        }
    }

    /// Pipelined requests with bodies (Content-Length, chunked) and a 404 in between.
    @Test func pipelinedWithBodiesAndLocalResponse() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "a", uri: "/a/*", nodes: [upstream.address])), workers: 1)
        try sluice.start()
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("POST /a/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
            + "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
            + "POST /a/2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"
            + "GET /a/3 HTTP/1.1\r\nHost: x\r\n\r\n")
        let r1 = try client.readResponse()
        #expect(try r1.echoed().body == "one")
        let r2 = try client.readResponse()
        #expect(r2.status == 404)
        let r3 = try client.readResponse()
        #expect(try r3.echoed().body == "two")
        let r4 = try client.readResponse()
        #expect(try r4.echoed().target == "/a/3")
    }

    /// HEAD: the upstream's Content-Length is passed on, no body follows, and a pipelined GET after
    /// it parses.
    @Test func headResponse() throws {
        let upstream = try TestUpstream { _ in TestResponse.text("twelve bytes") }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try client.readResponse(forHEAD: true)
        #expect(head.status == 200)
        #expect(head.header("Content-Length") == "12")
        #expect(head.header("Transfer-Encoding") == nil)
        let get = try client.readResponse()
        #expect(get.status == 200)
        #expect(get.bodyText == "twelve bytes")
        #expect(upstream.requests.first?.method == "HEAD")
    }

    /// HEAD answered by a chunked-style upstream (Transfer-Encoding header, no body): no body to the
    /// client either.
    @Test func headWithChunkedUpstream() throws {
        let upstream = try TestUpstream { _ in TestResponse(body: Array("x".utf8), chunked: true) }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try client.readResponse(forHEAD: true)
        #expect(head.status == 200)
        let get = try client.readResponse()
        #expect(get.status == 200)
        #expect(get.bodyText == "x")
    }

    /// 204 and 304 from the upstream reach the client without a body or body framing, and the
    /// connection carries the next request.
    @Test(arguments: [204, 304])
    func bodylessStatuses(_ status: Int) throws {
        let upstream = try TestUpstream { request in
            request.path == "/empty"
                ? TestResponse(status: status, headers: [("ETag", "\"v1\"")])
                : TestResponse.text("after")
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("GET /empty HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        let r = try client.readResponse()
        #expect(r.status == status)
        #expect(r.header("Transfer-Encoding") == nil)
        #expect(r.header("ETag") == "\"v1\"")
        #expect(!r.closesConnection)
        // The very next bytes are the next response's status line.
        let next = try client.readResponse()
        #expect(next.status == 200)
        #expect(next.bodyText == "after")
        // And the upstream connection was reused for it.
        #expect(upstream.acceptedConnections == 1)
    }

    /// An upstream response without Content-Length, delimited by the upstream closing: the HTTP/1.1
    /// client gets it chunked, complete, and keeps its connection.
    @Test func untilCloseBodyRechunked() throws {
        let upstream = try TestUpstream { request in
            request.path == "/eof"
                ? TestResponse(closeAfter: true, action: .raw(Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-eof".utf8)))
                : TestResponse.text("next")
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.sendRequest(path: "/eof")
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(r.wasChunked)
        #expect(r.bodyText == "until-eof")
        try client.sendRequest(path: "/next")
        #expect(try client.readResponse().bodyText == "next")
    }

    /// `Connection: close` on a pipelined request ends the connection after its response: the
    /// requests behind it are neither answered nor forwarded.
    @Test func pipelinedConnectionClose() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("GET /one HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        let r = try client.readResponse()
        #expect(try r.echoed().target == "/one")
        #expect(r.closesConnection)
        #expect(client.isClosedByPeer(timeout: 3))
        #expect(!upstream.requests.contains { $0.target == "/two" })
    }

    /// Malformed upstream response heads are answered 502; a response with both Content-Length and
    /// Transfer-Encoding is framed by chunked and its connection not reused.
    @Test func upstreamResponseFraming() throws {
        let upstream = try TestUpstream { request in
            switch request.path {
            case "/bad-status": TestResponse(closeAfter: true, action: .raw(Array("HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n".utf8)))
            case "/two-cl": TestResponse(closeAfter: true, action: .raw(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc".utf8)))
            case "/bare-lf": TestResponse(closeAfter: true, action: .raw(Array("HTTP/1.1 200 OK\nContent-Length: 2\n\nab".utf8)))
            case "/cl-te": TestResponse(action: .raw(Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".utf8)))
            default: TestResponse.text("ok")
            }
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream, upstreamExtra: "retries: 0")
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        for path in ["/bad-status", "/two-cl", "/bare-lf"] {
            try client.sendRequest(path: path)
            let r = try client.readResponse()
            #expect(r.status == 502, "\(path)")
        }
        #expect(sluice.errorLog.contains("while reading response header from upstream"))
        try client.sendRequest(path: "/cl-te")
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(r.bodyText == "abc")
        #expect(r.headerValues("Content-Length").isEmpty || r.header("Content-Length") == "3")
        let before = upstream.acceptedConnections
        try client.sendRequest(path: "/after")
        #expect(try client.readResponse().bodyText == "ok")
        #expect(upstream.acceptedConnections == before + 1)
    }

    /// Each malformed upstream head is logged with the response parser's own reason, as nginx
    /// names what was wrong (not one "invalid header" for every failure).
    @Test(arguments: [
        ("HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n", "upstream sent invalid status line"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", "Content-Length"),
        ("HTTP/1.1 200 OK\nContent-Length: 2\n\nab", "bare"),
        ("HTTP/2.0 200 OK\r\n\r\n", "upstream sent unsupported HTTP version"),
    ])
    func invalidHeadLogsTheParserReason(_ raw: String, _ reason: String) throws {
        let upstream = try TestUpstream { _ in TestResponse(closeAfter: true, action: .raw(Array(raw.utf8))) }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream, upstreamExtra: "retries: 0")
        defer { sluice.stopCheckingWorkers() }

        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/bad").status == 502)
        let line = sluice.errorLog.split(separator: "\n").last { $0.contains("while reading response header from upstream") }
        #expect(line?.contains(reason) == true, "\(line ?? "no line")")
        #expect(line?.contains("upstream sent invalid header while") != true, "\(line ?? "")")
    }

    /// A status line without a reason phrase gets the standard phrase of its code (one table for
    /// every code, RFC 9110's with nginx's wording where nginx differs); an unknown code gets an
    /// empty reason, as nginx sends it; a reason the upstream sent is kept.
    @Test(arguments: [
        ("HTTP/1.1 204\r\n\r\n", 204, "No Content"),
        ("HTTP/1.1 201\r\nContent-Length: 0\r\n\r\n", 201, "Created"),
        ("HTTP/1.1 429 \r\nContent-Length: 0\r\n\r\n", 429, "Too Many Requests"),
        ("HTTP/1.1 418\r\nContent-Length: 0\r\n\r\n", 418, "I'm a teapot"),
        ("HTTP/1.1 299\r\nContent-Length: 0\r\n\r\n", 299, ""),
        ("HTTP/1.1 299 Custom Thing\r\nContent-Length: 0\r\n\r\n", 299, "Custom Thing"),
        ("HTTP/1.1 200 Fine\r\nContent-Length: 0\r\n\r\n", 200, "Fine"),
    ])
    func reasonPhrase(_ raw: String, _ status: Int, _ reason: String) throws {
        let upstream = try TestUpstream { _ in TestResponse(action: .raw(Array(raw.utf8))) }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.sendRequest(path: "/s")
        let text = String(decoding: client.readRaw(timeout: 0.5), as: UTF8.self)
        let statusLine = text.components(separatedBy: "\r\n").first ?? ""
        #expect(statusLine == "HTTP/1.1 \(status) \(reason)", "\(statusLine)")
    }

    /// `keepalive_pool.requests` bounds the requests per upstream connection.
    @Test func keepalivePoolRequestsLimit() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream, upstreamExtra: "keepalive_pool: {size: 4, idle_timeout: 60, requests: 2}")
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        for i in 0..<6 {
            try client.sendRequest(path: "/k\(i)")
            #expect(try client.readResponse().status == 200)
        }
        #expect(upstream.acceptedConnections == 3)
        #expect(upstream.requests.map(\.indexOnConnection) == [0, 1, 0, 1, 0, 1])
    }

    /// A slow client (not reading for a while) still receives a large response completely and
    /// intact (functional check of back-pressure; no timing asserted).
    @Test func slowClientGetsWholeResponse() throws {
        let chunk = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        let upstream = try TestUpstream(recording: false) { _ in TestResponse(bodyRepeat: (chunk, 256)) }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort, timeout: 20)
        defer { client.close() }
        try client.sendRequest(path: "/big")
        TestSupport.sleepSeconds(0.5)  // let every buffer fill up before reading
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(r.body.count == 65536 * 256)
        #expect(Array(r.body.suffix(65536)) == chunk)
        try client.sendRequest(path: "/again")
        #expect(try client.readResponse().body.count == 65536 * 256)
    }
}
