import Foundation
import Testing
import TestSupport

/// The plugin's schema through `sluice -t` on an apisix.yaml (APISIX's exact messages, the
/// differences table for `authorization`), and `_meta.disable`.
@Suite(.serialized) struct OpenFunctionSchemaTests {
    static let prefix = "failed to check the configuration of plugin openfunction err: "

    /// `sluice -t` on one route `/hello` with openfunction configured by `plugin` (and `extra` members).
    static func check(_ plugin: String, extra: String = "") throws -> (status: Int32, output: String) {
        let sluice = try SluiceProcess(apisixYAML: OF.apisix(OF.route(plugin, extra: extra)))
        defer { sluice.removePrefix() }
        return sluice.run(["-t"])
    }

    /// Expects `-t` to fail with `prefix + message`.
    static func expectRefused(_ plugin: String, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try check(plugin)
        #expect(result.status != 0, "\(plugin) accepted", sourceLocation: sourceLocation)
        #expect(result.output.contains(prefix + message), "\(result.output)", sourceLocation: sourceLocation)
    }

    /// A missing function_uri, wrong types and values below their minimum give APISIX's messages.
    @Test func refusedConfigurations() throws {
        let uri = "function_uri: \"http://127.0.0.1:1/x\""
        try Self.expectRefused("timeout: 60000", "property \"function_uri\" is required")
        try Self.expectRefused("function_uri: 30858",
                               "property \"function_uri\" validation failed: wrong type: expected string, got number")
        try Self.expectRefused("\(uri), timeout: 99", "property \"timeout\" validation failed: expected 99 to be at least 100")
        try Self.expectRefused("\(uri), timeout: 3000.5",
                               "property \"timeout\" validation failed: wrong type: expected integer, got number")
        try Self.expectRefused("\(uri), keepalive_timeout: 999",
                               "property \"keepalive_timeout\" validation failed: expected 999 to be at least 1000")
        try Self.expectRefused("\(uri), keepalive_pool: 0",
                               "property \"keepalive_pool\" validation failed: expected 0 to be at least 1")
        try Self.expectRefused("\(uri), max_req_body_size: 0",
                               "property \"max_req_body_size\" validation failed: expected 0 to be at least 1")
        try Self.expectRefused("\(uri), ssl_verify: \"yes\"",
                               "property \"ssl_verify\" validation failed: wrong type: expected boolean, got string")
    }

    /// `authorization` must be an object whose `service_token` is a string (Sluice validates it,
    /// unlike APISIX: the differences table).
    @Test func authorizationValidated() throws {
        let uri = "function_uri: \"http://127.0.0.1:1/x\""
        try Self.expectRefused("\(uri), authorization: \"test:test\"",
                               "property \"authorization\" validation failed: wrong type: expected object, got string")
        let number = try Self.check("\(uri), authorization: {service_token: 12}")
        #expect(number.status != 0)
        #expect(number.output.contains(Self.prefix + "property \"authorization\" validation failed: "), "\(number.output)")
        #expect(number.output.contains("\"service_token\" validation failed: wrong type: expected string, got number"), "\(number.output)")
    }

    /// Valid configurations pass: defaults only, every field set, `timeout: 3000.0` (an integer),
    /// unknown keys ignored, and a plugin-only route without upstream.
    @Test func acceptedConfigurations() throws {
        for plugin in [
            "function_uri: \"http://127.0.0.1:1/x\"",
            "function_uri: \"https://localhost/x\", authorization: {service_token: \"a:b\"}, timeout: 100, ssl_verify: false, "
                + "keepalive: false, keepalive_timeout: 1000, keepalive_pool: 1, max_req_body_size: 1",
            "function_uri: \"http://127.0.0.1:1/x\", timeout: 3000.0",
            "function_uri: \"http://127.0.0.1:1/x\", no_such_key: 1",
        ] {
            let result = try Self.check(plugin)
            #expect(result.status == 0, "\(plugin): \(result.output)")
        }
    }

    /// A configuration that is not an object is refused with APISIX's `invalid plugin conf`.
    @Test func notAnObject() throws {
        let sluice = try SluiceProcess(apisixYAML: OF.apisix(
            "  - {id: \"1\", uri: /hello, plugins: {openfunction: \"x\"}}\n"))
        defer { sluice.removePrefix() }
        let result = sluice.run(["-t"])
        #expect(result.status != 0)
        #expect(result.output.contains("invalid plugin conf \"x\" for plugin [openfunction]"), "\(result.output)")
    }

    /// `_meta.disable: true` tolerates a bad configuration; the route then proxies to its upstream
    /// as if it had no plugin.
    @Test func disabledPluginTolerated() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let upstreamMember = "upstream: {nodes: {\"\(upstream.address)\": 1}, type: roundrobin}"
        let bad = "function_uri: 30858, timeout: 1, _meta: {disable: true}"
        let checked = try Self.check(bad, extra: upstreamMember)
        #expect(checked.status == 0, "\(checked.output)")

        let sluice = try OF.start(OF.route(bad, extra: upstreamMember))
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/hello?x=1")
        #expect(r.status == 200)
        #expect(try r.echoed().target == "/hello?x=1")
        #expect(upstream.requestCount == 1)
    }
}
