import Testing
import TestSupport

/// `response-rewrite` end to end (plugins.md section 10): the header_filter phase changes status
/// and headers, the body_filter phase replaces or rewrites the body, on upstream and local answers.
@Suite(.serialized) struct ResponseRewriteTests {
    private static func start(_ routes: [(uri: String, conf: String)], upstream: TestUpstream?) throws -> SluiceProcess {
        let target = upstream.map { "upstream: {type: roundrobin, nodes: {\"\($0.address)\": 1}}" } ?? "upstream_id: \"missing\""
        var yaml = "routes:\n"
        for (i, route) in routes.enumerated() {
            yaml += "  - {id: \"\(i + 1)\", uri: \"\(route.uri)\", plugins: {\"response-rewrite\": {\(route.conf)}}, \(target)}\n"
        }
        let sluice = try SluiceProcess(configYAML: SluiceProcess.defaultConfigYAML(workers: 1), apisixYAML: yaml + "#END\n", workers: 1)
        try sluice.start()
        return sluice
    }

    private static func origin() throws -> TestUpstream {
        try TestUpstream { request in
            switch request.target {
            case "/chunked": { var r = TestResponse.text("hello world\n", headers: [("ETag", "\"v1\"")]); r.chunked = true; r.chunkSize = 3; return r }()
            case "/teapot": TestResponse.text("short and stout", status: 418)
            default: TestResponse.text("hello world\n", headers: [("ETag", "\"v1\""), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Keep", "k")])
            }
        }
    }

    /// Status, a new body (plain and base64), the body headers dropped and the length recomputed.
    @Test func statusAndBody() throws {
        let upstream = try Self.origin()
        defer { upstream.stop() }
        let sluice = try Self.start([
            ("/plain", "status_code: 201, body: \"new body\\n\""),
            ("/b64", "body: \"aGVsbG8gYmFzZTY0\", body_base64: true"),
            ("/chunked", "body: \"replaced\""),
        ], upstream: upstream)
        defer { sluice.stopCheckingWorkers() }
        let plain = try HTTPClient.request(port: sluice.proxyPort, path: "/plain")
        #expect(plain.status == 201)
        #expect(plain.bodyText == "new body\n")
        #expect(plain.header("ETag") == nil)
        #expect(plain.header("X-Keep") == "k")
        let b64 = try HTTPClient.request(port: sluice.proxyPort, path: "/b64")
        #expect(b64.bodyText == "hello base64")
        let chunked = try HTTPClient.request(port: sluice.proxyPort, path: "/chunked")
        #expect(chunked.bodyText == "replaced")
        #expect(chunked.header("ETag") == nil)
    }

    /// Headers: the map form sets (an empty value removes); add/set/remove in that order; values
    /// render variables.
    @Test func headers() throws {
        let upstream = try Self.origin()
        defer { upstream.stop() }
        let sluice = try Self.start([
            ("/map", #"headers: {"X-Server": "sluice", "X-Client": "$remote_addr", "X-Keep": ""}"#),
            ("/ops", #"headers: {add: ["Cache-Control: no-cache", "Cache-Control: max-age=1", "X-Keep: again"], set: {"X-Uri": "$uri?${arg_q ?? none}"}, remove: ["Set-Cookie"]}"#),
        ], upstream: upstream)
        defer { sluice.stopCheckingWorkers() }
        let map = try HTTPClient.request(port: sluice.proxyPort, path: "/map")
        #expect(map.header("X-Server") == "sluice")
        #expect(map.header("X-Client") == "127.0.0.1")
        #expect(map.header("X-Keep") == nil)
        #expect(map.bodyText == "hello world\n")
        let ops = try HTTPClient.request(port: sluice.proxyPort, path: "/ops?q=1")
        #expect(ops.headerValues("Cache-Control") == ["no-cache", "max-age=1"])
        #expect(ops.headerValues("X-Keep") == ["k", "again"])
        #expect(ops.header("X-Uri") == "/ops?1")
        #expect(ops.headerValues("Set-Cookie").isEmpty)
        let fallback = try HTTPClient.request(port: sluice.proxyPort, path: "/ops")
        #expect(fallback.header("X-Uri") == "/ops?none")
    }

    /// `vars` decides per response (here by `$status`).
    @Test func varsSelectResponses() throws {
        let upstream = try Self.origin()
        defer { upstream.stop() }
        let sluice = try Self.start([("/*", #"vars: [["status", "==", 418]], body: "rewritten", headers: {"X-Hit": "1"}"#)], upstream: upstream)
        defer { sluice.stopCheckingWorkers() }
        let hit = try HTTPClient.request(port: sluice.proxyPort, path: "/teapot")
        #expect(hit.status == 418 && hit.bodyText == "rewritten" && hit.header("X-Hit") == "1")
        let miss = try HTTPClient.request(port: sluice.proxyPort, path: "/other")
        #expect(miss.bodyText == "hello world\n" && miss.header("X-Hit") == nil)
    }

    /// `filters`: once and global substitutions over the whole body (held across pieces), with
    /// captures; chunked and length-framed upstream bodies alike.
    @Test func filters() throws {
        let upstream = try Self.origin()
        defer { upstream.stop() }
        let sluice = try Self.start([
            ("/once", #"filters: [{regex: "hello", replace: "test"}]"#),
            ("/global", #"filters: [{regex: "l", replace: "t", scope: "global"}]"#),
            ("/chunked", #"filters: [{regex: "(\\w+) (\\w+)", replace: "$2 $1"}, {regex: "O", replace: "0", scope: "global", options: "ijo"}]"#),
        ], upstream: upstream)
        defer { sluice.stopCheckingWorkers() }
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/once").bodyText == "test world\n")
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/global").bodyText == "hetto wortd\n")
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/chunked").bodyText == "w0rld hell0\n")
    }

    /// The worker's own answer (a 502 here) is rewritten too.
    @Test func localAnswer() throws {
        let sluice = try Self.start([("/r", #"body: "{\"message\":\"unavailable\"}", status_code: 503, headers: {"Content-Type": "application/json"}"#)], upstream: nil)
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/r")
        #expect(r.status == 503)
        #expect(r.bodyText == "{\"message\":\"unavailable\"}")
        #expect(r.headerValues("Content-Type") == ["application/json"])
        #expect(r.header("Content-Length") == "25")
    }

    /// The Admin API's refusals, in APISIX's words.
    @Test(arguments: [
        (#"{"body": "x", "filters": [{"regex": "a", "replace": "b"}]}"#, "failed to validate dependent schema for \"body\": value wasn't supposed to match schema"),
        (#"{"body": "!!!", "body_base64": true}"#, "invalid base64 content"),
        (#"{"body_base64": true}"#, "invalid base64 content"),
        (#"{"status_code": 599}"#, "property \"status_code\" validation failed: expected 599 to be at most 598"),
        (#"{"vars": [["status", "=", 200]]}"#, "failed to validate the 'vars' expression: invalid operator '='"),
        (#"{"headers": {"add": []}}"#, "property \"headers\" validation failed: object matches none of the required"),
    ])
    func refusals(_ conf: String, _ detail: String) throws {
        let admin = try AdminFixture()
        defer { admin.sluice.stopCheckingWorkers() }
        let r = try admin.call("PUT", "/apisix/admin/routes/1",
                               #"{"uri": "/x", "upstream": {"type": "roundrobin", "nodes": {"127.0.0.1:1": 1}}, "plugins": {"response-rewrite": "# + conf + "}}")
        #expect(r.status == 400)
        #expect(r.bodyText == errorBody("failed to check the configuration of plugin response-rewrite err: " + detail), "\(r.bodyText)")
    }

    /// A regex that does not compile is named with PCRE's reason.
    @Test func badRegex() throws {
        let admin = try AdminFixture()
        defer { admin.sluice.stopCheckingWorkers() }
        let r = try admin.call("PUT", "/apisix/admin/routes/1",
                               #"{"uri": "/x", "upstream": {"type": "roundrobin", "nodes": {"127.0.0.1:1": 1}}, "plugins": {"response-rewrite": {"filters": [{"regex": "(", "replace": "x"}]}}}"#)
        #expect(r.status == 400)
        #expect(r.bodyText.hasPrefix("{\"error_msg\":\"failed to check the configuration of plugin response-rewrite err: regex \\\"(\\\" validation failed: "), "\(r.bodyText)")
    }
}
