import Testing
import TestSupport

/// GET proxying through the real binary: what the upstream receives and what the client gets back.
@Suite(.serialized) struct ProxyHeaderTests {
    /// Status, reason, body and end-to-end headers of the upstream's response reach the client; the
    /// response carries `Server: sluice/...` instead of the upstream's own.
    @Test func responsePassesThrough() throws {
        let upstream = try TestUpstream { _ in
            TestResponse(status: 201, reason: "Made It", headers: [("X-Custom", "v1"), ("Server", "upstream/9"), ("Content-Type", "text/x-test")],
                         body: Array("hello body".utf8))
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/a")
        #expect(r.status == 201)
        #expect(r.reason == "Made It")
        #expect(r.bodyText == "hello body")
        #expect(r.header("X-Custom") == "v1")
        #expect(r.header("Content-Type") == "text/x-test")
        #expect(r.header("Content-Length") == "10")
        #expect(r.header("Server")?.hasPrefix("sluice/") == true)
        #expect(r.headerValues("Server").count == 1)
        #expect(r.header("X-APISIX-Upstream-Status") == nil)
    }

    /// The request line goes upstream unchanged: method, raw (un-normalized, still encoded) path and
    /// raw query string, as HTTP/1.1.
    @Test func requestLineForwardedUnchanged() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let target = "/a/%7Euser/b%2Fc?x=1&y=%20z&x=2&empty=&=odd"
        let r = try HTTPClient.request(port: sluice.proxyPort, method: "DELETE", path: target)
        #expect(r.status == 200)
        let e = try r.echoed()
        #expect(e.method == "DELETE")
        #expect(e.target == target)
        #expect(e.version == "HTTP/1.1")
    }

    /// An absolute-form request target is forwarded in origin form (path and raw query kept; `/`
    /// when the URI has no path) and its authority is the Host.
    @Test(arguments: [
        ("http://abs.example/p/q?x=1", "/p/q?x=1"),
        ("http://abs.example", "/"),
        ("http://abs.example?x=1", "/?x=1"),
        ("HTTP://abs.example:8080/z", "/z"),
    ])
    func absoluteFormTarget(_ target: String, _ forwarded: String) throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("GET \(target) HTTP/1.1\r\nHost: ignored.example\r\n\r\n")
        let r = try client.readResponse()
        #expect(r.status == 200, "\(target)")
        let e = try r.echoed()
        #expect(e.target == forwarded, "\(target)")
        #expect(e.header("host")?.hasPrefix("abs.example") == true, "\(target)")
    }

    /// `pass_host`: `pass` (default) sends the client's Host verbatim, `node` the node's `host:port`,
    /// `rewrite` the `upstream_host`.
    @Test func hostPerPassHost() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "pass", uri: "/pass", nodes: [upstream.address]),
            Proxy.route(id: "node", uri: "/node", nodes: [upstream.address], upstreamExtra: "pass_host: node"),
            Proxy.route(id: "rewrite", uri: "/rewrite", nodes: [upstream.address],
                        upstreamExtra: "pass_host: rewrite, upstream_host: backend.internal:8443")
        ), workers: 1)
        try sluice.start()
        defer { sluice.stopCheckingWorkers() }

        let pass = try HTTPClient.request(port: sluice.proxyPort, path: "/pass", headers: [("Host", "Client.Example:1234")]).echoed()
        #expect(pass.headerValues("host") == ["Client.Example:1234"])
        let node = try HTTPClient.request(port: sluice.proxyPort, path: "/node", headers: [("Host", "client.example")]).echoed()
        #expect(node.headerValues("host") == [upstream.address])
        let rewrite = try HTTPClient.request(port: sluice.proxyPort, path: "/rewrite", headers: [("Host", "client.example")]).echoed()
        #expect(rewrite.headerValues("host") == ["backend.internal:8443"])
    }

    /// `X-Real-IP` is the client address; `X-Forwarded-For` keeps the client's chain and appends it;
    /// `X-Forwarded-Proto/-Host/-Port` are set from the request (client values overwritten).
    @Test func forwardingHeaders() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let e = try HTTPClient.request(port: sluice.proxyPort, path: "/f", headers: [
            ("Host", "api.example:8080"),
            ("X-Forwarded-For", "203.0.113.7, 198.51.100.2"),
            ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil"), ("X-Forwarded-Port", "1"),
            ("Forwarded", "for=192.0.2.1;proto=https"),
        ]).echoed()
        #expect((e.header("forwarded") ?? "").isEmpty)  // blanked (APISIX 3.18)
        #expect(e.headerValues("x-real-ip") == ["127.0.0.1"])
        #expect(e.headerValues("x-forwarded-for") == ["203.0.113.7, 198.51.100.2, 127.0.0.1"])
        #expect(e.headerValues("x-forwarded-proto") == ["http"])
        #expect(e.headerValues("x-forwarded-host") == ["api.example:8080"])
        #expect(e.headerValues("x-forwarded-port") == ["8080"])

        // Without a client XFF and without a port in Host: our address alone, the listener port.
        let plain = try HTTPClient.request(port: sluice.proxyPort, path: "/f", headers: [("Host", "api.example")]).echoed()
        #expect(plain.headerValues("x-forwarded-for") == ["127.0.0.1"])
        #expect(plain.headerValues("x-forwarded-port") == [String(sluice.proxyPort)])
    }

    /// realip (apisix-compat.md section 5, "Client address"): a client connecting from 127.0.0.1
    /// may set `$remote_addr` with `X-Real-IP`, which then feeds X-Real-IP and X-Forwarded-For.
    @Test func realIPFromTrustedLoopback() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let e = try HTTPClient.request(port: sluice.proxyPort, path: "/rip", headers: [("X-Real-IP", "198.51.100.9")]).echoed()
        #expect(e.headerValues("x-real-ip") == ["198.51.100.9"])
        #expect(e.headerValues("x-forwarded-for") == ["198.51.100.9"])
        // Not an address: ignored, the peer stays the client.
        let bad = try HTTPClient.request(port: sluice.proxyPort, path: "/rip", headers: [("X-Real-IP", "not-an-ip")]).echoed()
        #expect(bad.headerValues("x-real-ip") == ["127.0.0.1"])
    }

    /// Hop-by-hop request headers (Connection, Keep-Alive, TE, Trailer, Upgrade, Proxy-Connection and
    /// headers the client's Connection names) never reach the upstream; end-to-end ones do.
    @Test func hopByHopRequestHeadersStripped() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.sendRequest(path: "/h", headers: [
            ("Connection", "keep-alive, X-Secret-Hop"), ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
            ("Trailer", "X-T"), ("Upgrade", "websocket"), ("Proxy-Connection", "keep-alive"),
            ("X-Secret-Hop", "do-not-forward"), ("X-End-To-End", "forward-me"),
        ])
        let r = try client.readResponse()
        #expect(r.status == 200)
        let e = try r.echoed()
        for name in ["keep-alive", "te", "trailer", "upgrade", "proxy-connection", "x-secret-hop"] {
            #expect(e.header(name) == nil, "\(name) reached the upstream")
        }
        // The gateway may say `Connection: keep-alive` to its upstream, but never the client's tokens.
        #expect(!(e.header("connection") ?? "").lowercased().contains("x-secret-hop"))
        #expect(e.header("x-end-to-end") == "forward-me")
    }

    /// Hop-by-hop response headers from the upstream (and those its Connection names) are stripped;
    /// the client gets exactly one, gateway-made, Connection header and correct framing.
    @Test func hopByHopResponseHeadersStripped() throws {
        let upstream = try TestUpstream { _ in
            TestResponse(headers: [
                ("Connection", "keep-alive, X-Upstream-Hop"), ("Keep-Alive", "timeout=99"),
                ("Proxy-Connection", "keep-alive"), ("Upgrade", "h2c"), ("TE", "trailers"), ("Trailer", "X-T"),
                ("X-Upstream-Hop", "secret"), ("X-Kept", "yes"),
            ], body: Array("chunky".utf8), chunked: true, chunkSize: 2)
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.sendRequest(path: "/r")
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(r.bodyText == "chunky")
        for name in ["keep-alive", "proxy-connection", "upgrade", "te", "trailer", "x-upstream-hop"] {
            #expect(r.header(name) == nil, "\(name) reached the client")
        }
        #expect(r.headerValues("Connection").count == 1)
        #expect(r.headerValues("Transfer-Encoding").count <= 1)
        #expect(r.header("X-Kept") == "yes")
        // The connection is still usable.
        try client.sendRequest(path: "/r2")
        #expect(try client.readResponse().bodyText == "chunky")
    }

    /// An HTTP/1.0 client gets an HTTP/1.0 response whose body ends where it should, even when the
    /// upstream answered chunked (no chunked framing to a 1.0 client; the connection closes).
    @Test func http10Client() throws {
        let upstream = try TestUpstream { request in
            request.path == "/chunked"
                ? TestResponse(body: Array("from-chunked".utf8), chunked: true, chunkSize: 3)
                : TestResponse.text("plain")
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        for (path, expected) in [("/plain", "plain"), ("/chunked", "from-chunked")] {
            let client = try HTTPClient(port: sluice.proxyPort)
            defer { client.close() }
            try client.send("GET \(path) HTTP/1.0\r\nHost: old.example\r\n\r\n")
            let r = try client.readResponse()
            #expect(r.status == 200)
            #expect(r.version == "HTTP/1.0")
            #expect(r.bodyText == expected)
            #expect(!r.wasChunked)
            #expect(client.isClosedByPeer(timeout: 3))
        }
        // What the upstream saw is HTTP/1.1 with the client's Host.
        #expect(upstream.requests.allSatisfy { $0.version == "HTTP/1.1" && $0.header("host") == "old.example" })
    }
}
