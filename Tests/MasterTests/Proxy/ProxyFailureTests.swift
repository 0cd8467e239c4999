import Testing
import TestSupport

/// Upstream failures: nginx-style error pages, `X-APISIX-Upstream-Status`, error.log lines, retries.
@Suite(.serialized) struct ProxyFailureTests {
    /// Nothing listens on the node's port: 502 with nginx's page, the upstream status header, and
    /// nginx's `Connection refused` line in error.log.
    @Test func connectionRefused502() throws {
        let port = try Proxy.closedPort()
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "dead", uri: "/*", nodes: ["127.0.0.1:\(port)"])), workers: 1)
        try sluice.start()
        defer { sluice.stopCheckingWorkers() }

        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/dead?q=1")
        #expect(r.status == 502)
        #expect(r.reason == "Bad Gateway")
        #expect(r.bodyText.contains("<title>502 Bad Gateway</title>"))
        #expect(r.header("Content-Type") == "text/html")
        #expect(r.header("X-APISIX-Upstream-Status") == "502")
        #expect(Proxy.waitForLog(sluice.errorLog,
            contains: "connect() to 127.0.0.1:\(port) failed (111: Connection refused) while connecting to upstream"),
            "\(sluice.errorLog)")
        #expect(sluice.errorLog.contains("request: \"GET /dead?q=1 HTTP/1.1\""))
    }

    /// An upstream that never answers within `timeout.read`: 504 `Gateway Time-out` and nginx's
    /// `upstream timed out ... while reading response header from upstream` in error.log.
    @Test func readTimeout504() throws {
        let upstream = try TestUpstream { _ in TestResponse(action: .hang) }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream, upstreamExtra: "timeout: {connect: 1, send: 1, read: 1}")
        defer { sluice.stopCheckingWorkers() }

        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/slow", timeout: 10)
        #expect(r.status == 504)
        #expect(r.reason == "Gateway Time-out")
        #expect(r.bodyText.contains("<title>504 Gateway Time-out</title>"))
        #expect(r.header("X-APISIX-Upstream-Status") == "504")
        #expect(Proxy.waitForLog(sluice.errorLog,
            contains: "upstream timed out (110: Connection timed out) while reading response header from upstream"))
    }

    /// The route's `timeout` overrides the upstream's: a route with `read: 1` times out although its
    /// upstream allows 60 s.
    @Test func routeTimeoutOverridesUpstream() throws {
        let upstream = try TestUpstream { _ in TestResponse(action: .hang) }
        defer { upstream.stop() }
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "r", uri: "/*", nodes: [upstream.address], upstreamExtra: "timeout: {connect: 60, send: 60, read: 60}",
                        routeExtra: "timeout: {connect: 1, send: 1, read: 1}")), workers: 1)
        try sluice.start()
        defer { sluice.stopCheckingWorkers() }

        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/slow", timeout: 10)
        #expect(r.status == 504)
    }

    /// Two nodes, the first refusing: the request is retried on the second and succeeds; error.log
    /// still records the refused connect. With `retries: 0` the same setup answers 502 for requests
    /// the balancer sends to the dead node.
    @Test func retriesNextNode() throws {
        let dead = try Proxy.closedPort()
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "retry", uri: "/retry", nodes: ["127.0.0.1:\(dead)", upstream.address]),
            Proxy.route(id: "noretry", uri: "/noretry", nodes: ["127.0.0.1:\(dead)", upstream.address], upstreamExtra: "retries: 0")
        ), workers: 1)
        try sluice.start()
        defer { sluice.stopCheckingWorkers() }

        // Round robin alternates: among 4 requests at least 2 pick the dead node first.
        for _ in 0..<4 {
            let r = try HTTPClient.request(port: sluice.proxyPort, path: "/retry")
            #expect(r.status == 200)
            #expect(r.header("X-APISIX-Upstream-Status") == nil)
        }
        #expect(sluice.errorLog.contains("connect() to 127.0.0.1:\(dead) failed (111: Connection refused)"))

        var statuses: [Int] = []
        for _ in 0..<4 { statuses.append(try HTTPClient.request(port: sluice.proxyPort, path: "/noretry").status) }
        #expect(statuses.contains(502), "\(statuses)")
        #expect(statuses.allSatisfy { $0 == 502 || $0 == 200 }, "\(statuses)")
    }

    /// nginx's `proxy_next_upstream error timeout`: a node that times out reading the response
    /// header, or closes before answering, is followed by a try on the next node for an idempotent
    /// request; the client gets the second node's 200.
    @Test(arguments: ["hang", "close"])
    func retriesAfterTimeoutOrClose(_ failure: String) throws {
        let bad = try TestUpstream { _ in TestResponse(action: failure == "hang" ? .hang : .closeImmediately) }
        let good = try TestUpstream { _ in TestResponse.text("good") }
        defer { bad.stop(); good.stop() }
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "r", uri: "/*", nodes: [bad.address, good.address], upstreamExtra: "timeout: {connect: 1, send: 1, read: 1}")
        ), workers: 1)
        try sluice.start()
        defer { sluice.stopCheckingWorkers() }

        // Round robin: within two requests one goes to the bad node first.
        for i in 0..<2 {
            let r = try HTTPClient.request(port: sluice.proxyPort, path: "/t\(i)", timeout: 10)
            #expect(r.status == 200, "request \(i): \(r.status)")
            #expect(r.bodyText == "good")
        }
        #expect(bad.requestCount >= 1)

        // A POST is not sent a second time once a node has received it.
        let before = bad.requestCount + good.requestCount
        var statuses: [Int] = []
        for i in 0..<2 {
            statuses.append(try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/p\(i)", body: "once", timeout: 10).status)
        }
        #expect(statuses.sorted() == [200, failure == "hang" ? 504 : 502], "\(statuses)")
        #expect(bad.requestCount + good.requestCount == before + 2)
    }

    /// All nodes refuse: 502 with the whole chain in `X-APISIX-Upstream-Status`.
    @Test func allNodesRefuse() throws {
        let a = try Proxy.closedPort(), b = try Proxy.closedPort()
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "r", uri: "/*", nodes: ["127.0.0.1:\(a)", "127.0.0.1:\(b)"])), workers: 1)
        try sluice.start()
        defer { sluice.stopCheckingWorkers() }

        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/x")
        #expect(r.status == 502)
        #expect(r.header("X-APISIX-Upstream-Status") == "502, 502")
    }

    /// The upstream closes (or resets) the connection before sending a response: 502, and the
    /// client connection is still usable afterwards.
    @Test func upstreamClosesBeforeResponse() throws {
        let upstream = try TestUpstream { request in
            switch request.path {
            case "/close": TestResponse(action: .closeImmediately)
            case "/reset": TestResponse(action: .resetImmediately)
            case "/partial": TestResponse(closeAfter: true, action: .raw(Array("HTTP/1.1 200 OK\r\nContent-Len".utf8)))
            default: TestResponse.text("fine")
            }
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream, upstreamExtra: "retries: 0")
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        for path in ["/close", "/reset", "/partial"] {
            try client.sendRequest(path: path)
            let r = try client.readResponse()
            #expect(r.status == 502, "\(path)")
            #expect(r.header("X-APISIX-Upstream-Status") == "502", "\(path)")
            try client.sendRequest(path: "/ok")
            #expect(try client.readResponse().bodyText == "fine")
        }
        #expect(Proxy.waitForLog(sluice.errorLog, contains: "upstream prematurely closed connection while reading response header from upstream"))
    }

    /// An upstream's own 5xx response is passed through (not replaced by a gateway page) and marked
    /// with `X-APISIX-Upstream-Status`; 5xx responses are not retried.
    @Test func upstream5xxPassedThrough() throws {
        let upstream = try TestUpstream { _ in TestResponse.text("my own error", status: 503) }
        let second = try TestUpstream()
        defer { upstream.stop(); second.stop() }
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "r", uri: "/*", nodes: [upstream.address])), workers: 1)
        try sluice.start()
        defer { sluice.stopCheckingWorkers() }

        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/e")
        #expect(r.status == 503)
        #expect(r.bodyText == "my own error")
        #expect(r.header("X-APISIX-Upstream-Status") == "503")
        #expect(upstream.requestCount == 1)
    }

    /// An upstream that dies in the middle of a Content-Length body: the client gets the bytes sent
    /// so far and then the connection closes (it can tell the response is incomplete).
    @Test func upstreamDiesMidBody() throws {
        let upstream = try TestUpstream { _ in
            TestResponse(closeAfter: true, action: .raw(Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part".utf8)))
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.sendRequest(path: "/mid")
        let raw = String(decoding: client.readRaw(timeout: 5), as: UTF8.self)
        #expect(raw.hasPrefix("HTTP/1.1 200 "))
        #expect(raw.contains("Content-Length: 100\r\n"))
        #expect(raw.hasSuffix("\r\n\r\nonly-part"))
        #expect(client.isClosedByPeer(timeout: 3))
    }
}
