import Testing
import TestSupport

/// `proxy-rewrite` end to end (plugins.md section 9): the rewrite phase changes the upstream URI,
/// method, Host and headers that the upstream receives.
@Suite(.serialized) struct ProxyRewriteTests {
    private static func start(_ routes: [(uri: String, conf: String)], upstream: TestUpstream, passHost: String = "pass") throws -> SluiceProcess {
        var yaml = "routes:\n"
        for (i, route) in routes.enumerated() {
            yaml += "  - {id: \"\(i + 1)\", uri: \"\(route.uri)\", plugins: {\"proxy-rewrite\": {\(route.conf)}}, "
                + "upstream: {type: roundrobin, pass_host: \(passHost), upstream_host: \"up.example\", nodes: {\"\(upstream.address)\": 1}}}\n"
        }
        let sluice = try SluiceProcess(configYAML: SluiceProcess.defaultConfigYAML(workers: 1), apisixYAML: yaml + "#END\n", workers: 1)
        try sluice.start()
        return sluice
    }

    /// `uri` templates; the client's query appended; a `?` from a variable escaped; encoding.
    @Test func uriTemplate() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.start([
            ("/a", #"uri: "/test/add""#),
            ("/b", #"uri: "/p$uri/x/${arg_name}""#),
            ("/c", #"uri: "/q?fixed=1""#),
            ("/d", #"uri: "/v/$http_x_v""#),
        ], upstream: upstream)
        defer { sluice.stopCheckingWorkers() }
        _ = try HTTPClient.request(port: sluice.proxyPort, path: "/a?k=v")
        #expect(upstream.lastRequest?.target == "/test/add?k=v")
        let b = try HTTPClient.request(port: sluice.proxyPort, path: "/b?name=json")
        #expect(b.status == 200, "\(b.status) \(b.bodyText) \(sluice.errorLog)")
        #expect(upstream.lastRequest?.target == "/p/b/x/json?name=json")
        _ = try HTTPClient.request(port: sluice.proxyPort, path: "/c?q=apisix")
        #expect(upstream.lastRequest?.target == "/q?fixed=1&q=apisix")
        _ = try HTTPClient.request(port: sluice.proxyPort, path: "/d", headers: [("X-V", "a?b c")])
        // The variable's `?` becomes `%3F`, whose `%` the path encoding then escapes, as APISIX does.
        #expect(upstream.lastRequest?.target == "/v/a%253Fb%20c")
    }

    /// `regex_uri`: the first matching pair is substituted once; no match leaves the path; the
    /// captures reach header values.
    @Test func regexURI() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.start([
            ("/api/*", #"regex_uri: ["^/nomatch/(.*)", "/x/$1", "^/api/(\\w+)/(.*)", "/$2/v1/$1"], headers: {set: {"X-Capture": "$1"}}"#),
        ], upstream: upstream)
        defer { sluice.stopCheckingWorkers() }
        _ = try HTTPClient.request(port: sluice.proxyPort, path: "/api/users/42?x=1")
        #expect(upstream.lastRequest?.target == "/42/v1/users?x=1")
        #expect(upstream.lastRequest?.header("X-Capture") == "users")
        _ = try HTTPClient.request(port: sluice.proxyPort, path: "/api/")
        #expect(upstream.lastRequest?.target == "/api/")
    }

    /// Method and host (with `pass_host: pass`; the upstream's `rewrite` wins).
    @Test func methodAndHost() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.start([("/m", #"method: "PUT", host: "new.example:8080""#)], upstream: upstream)
        defer { sluice.stopCheckingWorkers() }
        _ = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/m", body: Array("x".utf8))
        #expect(upstream.lastRequest?.method == "PUT")
        #expect(upstream.lastRequest?.header("Host") == "new.example:8080")
        #expect(upstream.lastRequest?.body == Array("x".utf8))

        let rewrite = try Self.start([("/m", #"host: "new.example""#)], upstream: upstream, passHost: "rewrite")
        defer { rewrite.stopCheckingWorkers() }
        _ = try HTTPClient.request(port: rewrite.proxyPort, path: "/m")
        #expect(upstream.lastRequest?.header("Host") == "up.example")
    }

    /// Headers: add keeps the client's values, set replaces them (arrays give several lines), an
    /// empty value removes, remove deletes; the old map form sets; values render variables.
    @Test func headers() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.start([
            ("/h", #"headers: {add: {"X-Add": "added"}, set: {"X-Set": ["one", "two"], "X-Empty": "", "X-From": "$remote_addr $arg_a"}, remove: ["X-Drop"]}"#),
            ("/old", #"headers: {"X-Old": "v", "X-Num": 7}"#),
        ], upstream: upstream)
        defer { sluice.stopCheckingWorkers() }
        _ = try HTTPClient.request(port: sluice.proxyPort, path: "/h?a=b",
                                   headers: [("X-Add", "client"), ("X-Set", "client"), ("X-Empty", "e"), ("X-Drop", "d")])
        let r = try #require(upstream.lastRequest)
        #expect(r.headerValues("X-Add") == ["client", "added"])
        #expect(r.headerValues("X-Set") == ["one", "two"])
        #expect(r.headerValues("X-Empty").isEmpty)
        #expect(r.headerValues("X-Drop").isEmpty)
        #expect(r.header("X-From") == "127.0.0.1 b")
        _ = try HTTPClient.request(port: sluice.proxyPort, path: "/old", headers: [("X-Old", "client")])
        #expect(upstream.lastRequest?.headerValues("X-Old") == ["v"])
        #expect(upstream.lastRequest?.header("X-Num") == "7")
    }

    /// The Admin API's refusals, in APISIX's words.
    @Test(arguments: [
        (#"{"uri": "hello"}"#, #"property "uri" validation failed: failed to match pattern "^\\/.*" with "hello""#),
        (#"{"regex_uri": ["^/a", "/b", "^/c"]}"#, "The length of regex_uri should be an even number"),
        (#"{"headers": {"X-Api:Version": "v"}}"#, "invalid field character in header"),
        (#"{}"#, "expect object to have at least 1 properties"),
    ])
    func refusals(_ conf: String, _ detail: String) throws {
        let admin = try AdminFixture()
        defer { admin.sluice.stopCheckingWorkers() }
        let r = try admin.call("PUT", "/apisix/admin/routes/1",
                               #"{"uri": "/x", "upstream": {"type": "roundrobin", "nodes": {"127.0.0.1:1": 1}}, "plugins": {"proxy-rewrite": "# + conf + "}}")
        #expect(r.status == 400)
        #expect(r.bodyText == errorBody("failed to check the configuration of plugin proxy-rewrite err: " + detail), "\(r.bodyText)")
    }
}
