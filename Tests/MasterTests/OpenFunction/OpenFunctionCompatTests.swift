import Foundation
import Testing
import TestSupport

/// apisix-compat.md section 2 (`t/plugin/openfunction.t`, all 15 blocks) against the stand-in
/// function in hello, body and header modes, and openfunction.md's documented walkthrough against
/// the stand-in in gateway mode.
@Suite(.serialized) struct OpenFunctionCompatTests {
    /// Runs `sluice -t` on an apisix.yaml with one openfunction route configured with `plugin`.
    static func check(_ plugin: String) throws -> (status: Int32, output: String) {
        let sluice = try SluiceProcess(apisixYAML: OF.apisix(OF.route(plugin)))
        defer { sluice.removePrefix() }
        return sluice.run(["-t"])
    }

    /// Blocks 1-3: a valid configuration passes `-t`; a missing `function_uri` and a number for it
    /// fail with APISIX's exact messages.
    @Test func blocks1to3Schema() throws {
        let ok = try Self.check("function_uri: \"http://127.0.0.1:30585/default/test-body\"")
        #expect(ok.status == 0, "\(ok.output)")
        let missing = try Self.check("timeout: 60000")
        #expect(missing.status != 0)
        #expect(missing.output.contains(
            "failed to check the configuration of plugin openfunction err: property \"function_uri\" is required"), "\(missing.output)")
        let wrongType = try Self.check("function_uri: 30858")
        #expect(wrongType.status != 0)
        #expect(wrongType.output.contains(
            "failed to check the configuration of plugin openfunction err: property \"function_uri\" validation failed: wrong type: expected string, got number"),
            "\(wrongType.output)")
    }

    /// Blocks 4-5: GET /hello calls the hello function at `/function-sample`: 200 `Hello, function-sample!\n`.
    @Test func blocks4and5Get() throws {
        let fn = try OF.standIn("--mode", "hello")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/function-sample\"",
                                           extra: "upstream: {nodes: {}, type: roundrobin}"))
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/hello")
        #expect(r.status == 200)
        #expect(r.bodyText == "Hello, function-sample!\n")
        #expect(r.header("Content-Type") == "text/plain; charset=utf-8")
    }

    /// Blocks 6-7: POST /hello with body `test` to the body function: 200 `Hello, test!\n`.
    @Test func blocks6and7PostBody() throws {
        let fn = try OF.standIn("--mode", "body")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/default/test-body\""))
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/hello", body: "test")
        #expect(r.status == 200)
        #expect(r.bodyText == "Hello, test!\n")
    }

    /// Blocks 8-9: the service token reaches the header function as `Authorization: Basic
    /// base64(test:test)`: body exactly `[Basic dGVzdDp0ZXN0]`.
    @Test func blocks8and9ServiceToken() throws {
        let fn = try OF.standIn("--mode", "header")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route(
            "function_uri: \"http://127.0.0.1:\(fn.port)/\", authorization: {service_token: \"test:test\"}"))
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/hello")
        #expect(r.status == 200)
        #expect(r.bodyText == "[Basic dGVzdDp0ZXN0]")
    }

    /// Blocks 10-11: without a token the client's Authorization reaches the function: `[user-token-xxx]`.
    @Test func blocks10and11ClientAuthorization() throws {
        let fn = try OF.standIn("--mode", "header")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/\""))
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/hello",
                                       headers: [("authorization", "user-token-xxx")])
        #expect(r.status == 200)
        #expect(r.bodyText == "[user-token-xxx]")
        let none = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/hello")
        #expect(none.bodyText == "[]")
    }

    /// Blocks 12-13: the function's own 404 passes through (status, Go's body and headers) with a
    /// warn line in error.log.
    @Test func blocks12and13FunctionNotFound() throws {
        let fn = try OF.standIn("--mode", "hello")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/default/non-existent\""))
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/hello",
                                       headers: [("Content-Type", "application/x-www-form-urlencoded")], body: "test")
        #expect(r.status == 404)
        #expect(r.bodyText == "404 page not found\n")
        #expect(r.header("X-Content-Type-Options") == "nosniff")
        #expect(OF.waitForLog(sluice, "openfunction exits with http status code 404"), "\(sluice.errorLog)")
        #expect(sluice.errorLog.contains("[warn]"), "\(sluice.errorLog)")
    }

    /// Blocks 14-15: route `/hello/*` and a function URI with no path: `/hello/openfunction`
    /// reaches the function as `/openfunction`, 200 `Hello, openfunction!\n`.
    @Test func blocks14and15PathForwarding() throws {
        let fn = try OF.standIn("--mode", "hello")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route(uri: "/hello/*", "function_uri: \"http://127.0.0.1:\(fn.port)\""))
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/hello/openfunction")
        #expect(r.status == 200)
        #expect(r.bodyText == "Hello, openfunction!\n")
    }

    /// The documented walkthrough (openfunction.md) against the stand-in gateway with basic auth,
    /// reached as `localhost`: POST -d test, path forwarding `/hello/123`, 401 without the token,
    /// then replacing the route resumes plain proxying.
    @Test func documentedWalkthrough() throws {
        let fn = try OF.standIn("--mode", "gateway", "--basic", "test:test")
        defer { fn.stop() }
        let upstream = try TestUpstream { _ in TestResponse.text("plain upstream\n") }
        defer { upstream.stop() }
        let token = "authorization: {service_token: \"test:test\"}"
        let sluice = try OF.start(
            OF.route(id: "1", uri: "/hello", "function_uri: \"http://localhost:\(fn.port)/default/function-sample/test\", \(token)"),
            OF.route(id: "2", uri: "/hello/*", "function_uri: \"http://localhost:\(fn.port)/default/function-sample\", \(token)"),
            OF.route(id: "3", uri: "/noauth", "function_uri: \"http://localhost:\(fn.port)/default/function-sample/test\""))
        defer { sluice.stopCheckingWorkers() }

        let post = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/hello", body: "test")
        #expect(post.status == 200)
        #expect(post.bodyText == "Hello, test!\n")
        let forwarded = try HTTPClient.request(port: sluice.proxyPort, path: "/hello/123")
        #expect(forwarded.status == 200)
        #expect(forwarded.bodyText == "Hello, 123!\n")
        let denied = try HTTPClient.request(port: sluice.proxyPort, path: "/noauth")
        #expect(denied.status == 401)
        #expect(denied.header("WWW-Authenticate") == "Basic realm=\"openfunction\"")
        #expect(OF.waitForLog(sluice, "openfunction exits with http status code 401"), "\(sluice.errorLog)")

        // Disable by replacing the route: plain proxying resumes.
        try sluice.writeApisixYAML(OF.apisix(
            "  - {id: \"1\", methods: [GET], uri: /hello, upstream: {type: roundrobin, nodes: {\"\(upstream.address)\": 1}}}\n"))
        var last: TestHTTPResponse?
        let switched = TestSupport.waitUntil(timeout: 10, interval: 0.1) {
            last = try? HTTPClient.request(port: sluice.proxyPort, path: "/hello")
            return last?.bodyText == "plain upstream\n"
        }
        #expect(switched, "last answer: \(String(describing: last?.status)) \(last?.bodyText ?? "")")
    }
}
