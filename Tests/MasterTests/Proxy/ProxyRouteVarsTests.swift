import Testing
import TestSupport

/// Route `vars` on the data plane (resources.md section 8): a candidate whose `vars` is false is
/// skipped and matching goes on with the next one (lower priority, shorter prefix, host-less).
@Suite(.serialized) struct ProxyRouteVarsTests {
    @Test func varsChooseAmongCandidates() throws {
        let upstream = try TestUpstream { request in
            .text(request.header("X-Route") ?? "none")
        }
        defer { upstream.stop() }
        func route(_ id: String, _ uri: String, priority: Int, vars: String) -> String {
            "  - {id: \"\(id)\", uri: \"\(uri)\", priority: \(priority), vars: \(vars), "
                + "plugins: {\"proxy-rewrite\": {headers: {set: {X-Route: \"\(id)\"}}}}, "
                + "upstream: {type: roundrobin, nodes: {\"\(upstream.address)\": 1}}}\n"
        }
        let yaml = "routes:\n"
            + route("arg", "/api/*", priority: 10, vars: #"[["arg_k", "==", "v"]]"#)
            + route("header", "/api/*", priority: 5, vars: #"[["http_x_team", "~*", "^ops$"], ["request_method", "in", ["GET", "HEAD"]]]"#)
            + route("not-ios", "/api/*", priority: 1, vars: #"["!OR", ["http_user_agent", "==", "ios"], ["cookie_beta", "==", "1"]]"#)
            + route("rest", "/api/*", priority: 0, vars: "[]")
            + route("number", "/n", priority: 0, vars: #"[["arg_n", ">", 10]]"#)
            + "#END\n"
        let sluice = try SluiceProcess(configYAML: SluiceProcess.defaultConfigYAML(workers: 1), apisixYAML: yaml, workers: 1)
        try sluice.start()
        defer { sluice.stopCheckingWorkers() }
        func served(_ path: String, method: String = "GET", _ headers: [(String, String)] = []) throws -> String {
            let response = try HTTPClient.request(port: sluice.proxyPort, method: method, path: path, headers: headers)
            return response.status == 200 ? response.bodyText : "\(response.status)"
        }
        #expect(try served("/api/x?k=v") == "arg")
        #expect(try served("/api/x?k=w", [("X-Team", "OPS")]) == "header")
        #expect(try served("/api/x", method: "POST", [("X-Team", "ops")]) == "not-ios")
        #expect(try served("/api/x", [("User-Agent", "ios")]) == "rest")
        #expect(try served("/api/x", [("Cookie", "a=2; beta=1")]) == "rest")
        #expect(try served("/n?n=11") == "number")
        #expect(try served("/n?n=9") == "404")
        #expect(try served("/n?n=abc") == "404")
    }

    /// A file route whose `vars` Sluice refuses is not served, with APISIX's error-log line.
    @Test func refusedVarsAreLogged() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let yaml = "routes:\n  - {id: bad, uri: /bad, vars: [[\"nginx_var\", \"==\", \"1\"]], "
            + "upstream: {type: roundrobin, nodes: {\"\(upstream.address)\": 1}}}\n#END\n"
        let sluice = try SluiceProcess(configYAML: SluiceProcess.defaultConfigYAML(workers: 1), apisixYAML: yaml, workers: 1)
        try sluice.start()
        defer { sluice.stopCheckingWorkers() }
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/bad").status == 404)
        #expect(sluice.errorLog.contains(
            "failed to check item data of [routes] err: failed to validate the 'vars' expression: variable 'nginx_var' is not supported"))
    }
}
