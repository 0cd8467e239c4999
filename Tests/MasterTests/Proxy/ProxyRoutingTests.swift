import Testing
import TestSupport

/// Routing through the real binary (apisix-compat.md section 4): which route serves a request is
/// read from the upstream the request reached (one upstream per route, answering its name).
@Suite(.serialized) struct ProxyRoutingTests {
    /// No route: 404 with APISIX's JSON body and a newline, and the connection stays usable.
    @Test func noRoute404() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "only", uri: "/only", nodes: [upstream.address])), workers: 1)
        try sluice.start()
        defer { sluice.stop() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.sendRequest(path: "/nothing-here")
        let r = try client.readResponse()
        #expect(r.status == 404)
        #expect(r.bodyText == "{\"error_msg\":\"404 Route Not Found\"}\n")
        #expect(r.header("Server")?.hasPrefix("sluice") == true)
        // Trailing slash is significant.
        try client.sendRequest(path: "/only/")
        #expect(try client.readResponse().status == 404)
        try client.sendRequest(path: "/only")
        #expect(try client.readResponse().status == 200)
        #expect(upstream.requestCount == 1)
    }

    /// A method the route does not allow is "no route": 404, not 405.
    @Test func methodMismatch404() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "get", uri: "/m", nodes: [upstream.address], routeExtra: "methods: [GET, HEAD]")), workers: 1)
        try sluice.start()
        defer { sluice.stop() }

        let post = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/m", body: "x")
        #expect(post.status == 404)
        #expect(post.bodyText == "{\"error_msg\":\"404 Route Not Found\"}\n")
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/m").status == 200)
        #expect(upstream.requestCount == 1)
    }

    /// Exact beats prefix; longer prefix beats shorter; host routes beat host-less ones whatever
    /// their priority (the router-radixtree.md examples).
    @Test func precedence() throws {
        var upstreams: [String: TestUpstream] = [:]
        for name in ["exact", "foo", "fooA", "root", "host", "hostless"] {
            upstreams[name] = try TestUpstream { _ in TestResponse.text(name) }
        }
        defer { for u in upstreams.values { u.stop() } }
        func addr(_ n: String) -> [String] { [upstreams[n]!.address] }
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "1", uri: "/blog/foo/*", nodes: addr("foo")),
            Proxy.route(id: "2", uri: "/blog/foo/a/*", nodes: addr("fooA")),
            Proxy.route(id: "3", uri: "/blog/foo/bar", nodes: addr("exact")),
            Proxy.route(id: "4", uri: "/*", nodes: addr("root"), routeExtra: "priority: 100"),
            Proxy.route(id: "5", uri: "/h/*", nodes: addr("host"), routeExtra: "host: api.example.com"),
            Proxy.route(id: "6", uri: "/h/x", nodes: addr("hostless"), routeExtra: "priority: 99")
        ), workers: 1)
        try sluice.start()
        defer { sluice.stop() }

        func served(_ path: String, host: String = "other.test") throws -> String {
            let r = try HTTPClient.request(port: sluice.proxyPort, path: path, headers: [("Host", host)])
            return r.status == 200 ? r.bodyText : "status \(r.status)"
        }
        #expect(try served("/blog/foo/bar") == "exact")
        #expect(try served("/blog/foo/a/b/c") == "fooA")
        #expect(try served("/blog/foo/gloo") == "foo")
        #expect(try served("/blog/bar") == "root")
        #expect(try served("/h/x", host: "API.Example.com:9999") == "host")
        #expect(try served("/h/x") == "hostless")
        // Path normalization before matching: dot segments and repeated slashes, percent-decoding.
        #expect(try served("/blog/foo/a/../bar") == "exact")
        #expect(try served("//blog//foo/%62ar") == "exact")
    }
    /// Wildcard hosts: `*.foo.test` matches subdomains (any case, any port) but not `foo.test`
    /// itself; an exact host route beats the wildcard.
    @Test func wildcardHosts() throws {
        let wild = try TestUpstream { _ in TestResponse.text("wild") }
        let exact = try TestUpstream { _ in TestResponse.text("exact") }
        let fallback = try TestUpstream { _ in TestResponse.text("fallback") }
        defer { wild.stop(); exact.stop(); fallback.stop() }
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "w", uri: "/*", nodes: [wild.address], routeExtra: "hosts: [\"*.foo.test\"]"),
            Proxy.route(id: "e", uri: "/*", nodes: [exact.address], routeExtra: "host: api.foo.test"),
            Proxy.route(id: "f", uri: "/*", nodes: [fallback.address])
        ), workers: 1)
        try sluice.start()
        defer { sluice.stop() }

        func served(_ host: String) throws -> String {
            try HTTPClient.request(port: sluice.proxyPort, path: "/x", headers: [("Host", host)]).bodyText
        }
        #expect(try served("a.foo.test") == "wild")
        #expect(try served("A.B.FOO.test:81") == "wild")
        #expect(try served("api.foo.test") == "exact")
        #expect(try served("foo.test") == "fallback")
    }

    /// A route's `upstream_id` resolves against the `upstreams` list; a missing one answers 502.
    @Test func upstreamById() throws {
        let upstream = try TestUpstream { _ in TestResponse.text("by-id") }
        defer { upstream.stop() }
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: """
            upstreams:
              - {id: "u1", nodes: {"\(upstream.address)": 1}, type: roundrobin}
            routes:
              - {id: "1", uri: "/ok", upstream_id: "u1"}
              - {id: "2", uri: "/missing", upstream_id: "nope"}
            #END

            """, workers: 1)
        try sluice.start()
        defer { sluice.stop() }

        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/ok").bodyText == "by-id")
        let missing = try HTTPClient.request(port: sluice.proxyPort, path: "/missing")
        #expect(missing.status == 502, "\(missing.status)")
        #expect(Proxy.waitForLog(sluice.errorLog, contains: "failed to find upstream by id: nope"))
    }
}
