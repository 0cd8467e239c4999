import Testing
import TestSupport

/// Upstream keepalive pooling, proved by counting the upstream's accepted connections.
@Suite(.serialized) struct ProxyKeepaliveTests {
    /// 200 sequential requests on one client connection (one worker) reuse one or two upstream
    /// connections, and the client connection stays open throughout.
    @Test func sequentialRequestsOnOneClientConnectionReuse() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream, workers: 1)
        defer { sluice.stop() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        for i in 0..<200 {
            try client.sendRequest(path: "/seq/\(i)")
            let r = try client.readResponse()
            #expect(r.status == 200)
            #expect(try r.echoed().target == "/seq/\(i)")
            #expect(!r.closesConnection)
        }
        #expect(upstream.requestCount == 200)
        #expect(upstream.acceptedConnections <= 2, "upstream connections: \(upstream.acceptedConnections)")
    }

    /// 200 requests each on a new client connection still reuse one or two upstream connections.
    @Test func requestsOnNewClientConnectionsReuse() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream, workers: 1)
        defer { sluice.stop() }

        for i in 0..<200 {
            let r = try HTTPClient.request(port: sluice.proxyPort, path: "/new/\(i)")
            #expect(r.status == 200)
        }
        #expect(upstream.requestCount == 200)
        #expect(upstream.acceptedConnections <= 2, "upstream connections: \(upstream.acceptedConnections)")
    }

    /// An upstream connection whose response said `Connection: close` is not reused: the next
    /// request opens a new connection and succeeds.
    @Test func upstreamConnectionCloseNotPooled() throws {
        let upstream = try TestUpstream { _ in TestResponse.text("bye").closing() }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream, workers: 1)
        defer { sluice.stop() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        for _ in 0..<5 {
            try client.sendRequest(path: "/c")
            let r = try client.readResponse()
            #expect(r.status == 200)
            #expect(r.bodyText == "bye")
            #expect(!r.closesConnection)  // the client's connection is independent of the upstream's
        }
        #expect(upstream.acceptedConnections == 5)
    }

    /// An upstream that closes its connection silently right after a keep-alive response: the
    /// pipelined next request, which may get that stale pooled connection, still succeeds.
    @Test func silentlyClosedPooledConnectionIsNotUsed() throws {
        let upstream = try TestUpstream { request in
            request.path == "/first"
                ? TestResponse(closeAfter: true, action: .raw(Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst".utf8)))
                : TestResponse.text("second")
        }
        defer { upstream.stop() }
        defer { #expect(!upstream.requests.contains { $0.path == "/second" && $0.method == "POST" && $0.bodyText != "body" }) }
        let sluice = try Proxy.start(to: upstream, workers: 1)
        defer { sluice.stop() }

        for round in 0..<10 {
            let client = try HTTPClient(port: sluice.proxyPort)
            defer { client.close() }
            try client.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
            let a = try client.readResponse()
            let b = try client.readResponse()
            #expect(a.status == 200 && a.bodyText == "first", "round \(round)")
            #expect(b.status == 200 && b.bodyText == "second", "round \(round): \(b.status) \(b.bodyText)")
            // A pipelined POST with a body behind the silent close: retried on a new connection too.
            try client.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\nPOST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody")
            let a2 = try client.readResponse()
            let b2 = try client.readResponse()
            #expect(a2.bodyText == "first", "round \(round)")
            #expect(b2.status == 200 && b2.bodyText == "second", "round \(round): \(b2.status)")
            // And a sequential request after a pause, when the pool has seen the close.
            try client.sendRequest(path: "/third")
            let c = try client.readResponse()
            #expect(c.status == 200 && c.bodyText == "second", "round \(round)")
        }
        #expect(sluice.accessLog.contains("\" 502 ") == false)
    }

    /// After the upstream restarts (all its connections closed) the next request gets a fresh
    /// connection and succeeds; a pooled connection to the old process is never used.
    @Test func upstreamRestart() throws {
        var upstream = try TestUpstream()
        let port = upstream.port
        let sluice = try Proxy.start(to: upstream, workers: 1)
        defer { sluice.stop() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.sendRequest(path: "/before")
        #expect(try client.readResponse().status == 200)

        upstream.stop()
        upstream = try TestUpstream(port: port)
        defer { upstream.stop() }

        try client.sendRequest(path: "/after")
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(try r.echoed().target == "/after")
        // POST with a body after another restart: also succeeds (body retained for the retry).
        upstream.stop()
        upstream = try TestUpstream(port: port)
        try client.sendRequest(method: "POST", path: "/post", body: Array("payload".utf8))
        let p = try client.readResponse()
        #expect(p.status == 200)
        #expect(try p.echoed().body == "payload")
    }
}
