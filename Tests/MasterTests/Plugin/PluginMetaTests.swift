import Testing
import TestSupport

/// `_meta` on a real plugin (openfunction), end to end: `filter` decides per request whether the
/// plugin runs, `error_response` replaces the body of its error answers, `disable` leaves it out;
/// the Admin API refuses a bad filter with APISIX's message.
@Suite(.serialized) struct PluginMetaTests {
    /// The function is called only for requests the filter matches; the others go to the route's
    /// upstream (the filter is evaluated per request).
    @Test func filterRunsThePluginForMatchingRequestsOnly() throws {
        let fn = try OF.standIn("--mode", "hello")
        defer { fn.stop() }
        let upstream = try TestUpstream { _ in TestResponse.text("from upstream") }
        defer { upstream.stop() }
        let sluice = try OF.start(OF.route(uri: "/world",
            "function_uri: \"http://127.0.0.1:\(fn.port)/world\", _meta: {filter: [[\"arg_fn\", \"==\", \"1\"], [\"http_x_call\", \"~~\", \"^yes\"]]}",
            extra: "upstream: {type: roundrobin, nodes: {\"\(upstream.address)\": 1}}"))
        defer { sluice.stopCheckingWorkers() }

        let called = try HTTPClient.request(port: sluice.proxyPort, path: "/world?fn=1", headers: [("X-Call", "yes please")])
        #expect(called.bodyText == "Hello, world!\n", "\(called.bodyText)")
        for (path, headers) in [("/world", [("X-Call", "yes")]), ("/world?fn=1", []), ("/world?fn=2", [("X-Call", "yes")])] {
            let proxied = try HTTPClient.request(port: sluice.proxyPort, path: path, headers: headers)
            #expect(proxied.bodyText == "from upstream", "\(path) \(headers): \(proxied.bodyText)")
        }
    }

    /// `_meta.error_response` is the body of the plugin's error answer (a string as it is, an
    /// object as JSON with a newline); the warn line names the plugin and status.
    @Test func errorResponseReplacesTheBody() throws {
        let sluice = try OF.start(
            OF.route(id: "1", uri: "/s", "function_uri: \"ftp://x\", _meta: {error_response: \"service is down\"}"),
            OF.route(id: "2", uri: "/o", "function_uri: \"ftp://x\", _meta: {error_response: {message: \"down\"}}"))
        defer { sluice.stopCheckingWorkers() }
        let s = try HTTPClient.request(port: sluice.proxyPort, path: "/s")
        #expect(s.status == 503)
        #expect(s.bodyText == "service is down")
        let o = try HTTPClient.request(port: sluice.proxyPort, path: "/o")
        #expect(o.status == 503)
        #expect(o.bodyText == "{\"message\":\"down\"}\n")
        #expect(OF.waitForLog(sluice, "[warn]"), "\(sluice.errorLog)")
        #expect(sluice.errorLog.contains("openfunction exits with http status code 503"), "\(sluice.errorLog)")
    }

    /// `_meta.disable: true`: the plugin is not built; the route proxies.
    @Test func disabledPluginDoesNotRun() throws {
        let upstream = try TestUpstream { _ in TestResponse.text("from upstream") }
        defer { upstream.stop() }
        let sluice = try OF.start(OF.route(uri: "/d", "function_uri: \"ftp://x\", _meta: {disable: true}",
                                           extra: "upstream: {type: roundrobin, nodes: {\"\(upstream.address)\": 1}}"))
        defer { sluice.stopCheckingWorkers() }
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/d").bodyText == "from upstream")
    }
}

/// The Admin API checks `_meta` as APISIX's `check_single_plugin_schema` does; nothing is stored.
@Suite(.serialized) struct PluginMetaAdminTests {
    @Test(arguments: [
        (#"{"filter": [["arg_a", "=", "1"]]}"#, "failed to validate the 'vars' expression: invalid operator '='"),
        (#"{"filter": ["arg_a", "==", "1"]}"#, "failed to validate the 'vars' expression: rule should be wrapped inside brackets"),
        (#"{"pre_function": "return"}"#, "failed to check the configuration of plugin openfunction err: _meta.pre_function is not supported"),
        (#"{"priority": "high"}"#, "failed to check the configuration of plugin openfunction err: property \"_meta\" validation failed: property \"priority\" validation failed: wrong type: expected integer, got string"),
    ])
    func badMetaIsRefused(_ meta: String, _ message: String) throws {
        let admin = try AdminFixture()
        defer { admin.sluice.stopCheckingWorkers() }
        let body = #"{"uri": "/m", "plugins": {"openfunction": {"function_uri": "http://127.0.0.1:1/f", "_meta": "# + meta + "}}}"
        let r = try admin.call("PUT", "/apisix/admin/routes/1", body)
        #expect(r.status == 400)
        #expect(r.bodyText == errorBody(message), "\(r.bodyText)")
        #expect(try admin.call("GET", "/apisix/admin/routes/1").status == 404)
    }
}
