import Foundation
import Shared
import Testing
import TestSupport

/// Services, plugin configs and global rules through the Admin API of the real binary, and what
/// the data plane makes of them (resources.md sections 2, 4, 5 and 7).
@Suite struct AdminServiceTests {
    private static func upstreamJSON(_ upstream: TestUpstream) -> String {
        #"{"type":"roundrobin","nodes":{"\#(upstream.address)":1}}"#
    }

    /// Waits until `path` through the proxy answers `status`.
    private static func await(_ admin: AdminFixture, _ path: String, status: Int, headers: [(String, String)] = []) -> Bool {
        admin.sluice.waitUntil(timeout: 5) {
            (try? HTTPClient.request(port: admin.sluice.proxyPort, path: path, headers: headers).status) == status
        }
    }

    /// A service's upstream, plugins and hosts serve its routes; the route's plugin of the same
    /// name wins; a change to the service reaches the route without a write to it.
    @Test func serviceServesItsRoutes() throws {
        let first = try TestUpstream()
        defer { first.stop() }
        let second = try TestUpstream()
        defer { second.stop() }
        let admin = try AdminFixture()
        let empty = try admin.call("PUT", "/apisix/admin/services/empty", "{}")
        #expect(empty.status == 201)
        #expect(empty.json["value"]?.objectValue?.keys.sorted() == ["create_time", "id", "update_time"])

        let service = try admin.call("PUT", "/apisix/admin/services/1", #"""
            {"upstream":\#(Self.upstreamJSON(first)),"hosts":["Svc.Example"],
             "plugins":{"proxy-rewrite":{"headers":{"set":{"X-From":"service","X-Service-Only":"1"}}}}}
            """#)
        #expect(service.status == 201, "\(service.bodyText)")
        let route = try admin.call("PUT", "/apisix/admin/routes/1", #"""
            {"uri":"/svc","service_id":"1","plugins":{"proxy-rewrite":{"headers":{"set":{"X-From":"route"}}}}}
            """#)
        #expect(route.status == 201, "\(route.bodyText)")
        #expect(Self.await(admin, "/svc", status: 200, headers: [("Host", "svc.example")]))
        #expect(first.lastRequest?.header("X-From") == "route")
        #expect(first.lastRequest?.header("X-Service-Only") == nil, "route plugins replace the service's whole")
        // The service's hosts are the route's when it has none.
        #expect(try HTTPClient.request(port: admin.sluice.proxyPort, path: "/svc", headers: [("Host", "other.example")]).status == 404)

        let patched = try admin.call("PATCH", "/apisix/admin/services/1/upstream", Self.upstreamJSON(second))
        #expect(patched.status == 200, "\(patched.bodyText)")
        #expect(admin.sluice.waitUntil(timeout: 5) {
            _ = try? HTTPClient.request(port: admin.sluice.proxyPort, path: "/svc", headers: [("Host", "svc.example")])
            return second.requestCount > 0
        })
        // Revisions 1-3 were the two services and the route: the route itself was not written again.
        #expect(try admin.call("GET", "/apisix/admin/routes/1").json["modifiedIndex"] == 3)
    }

    /// References are checked on write; a referred-to service, upstream or plugin config cannot be
    /// deleted; `?force=true` can, and the route then answers as APISIX's does.
    @Test func referencesAndDeleteProtection() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let admin = try AdminFixture()
        let cases: [(String, String, String, Int, String)] = [
            ("PUT", "/apisix/admin/routes/1", #"{"uri":"/a","service_id":"9"}"#, 400,
             "failed to fetch service info by service id [9], response code: 404"),
            ("PUT", "/apisix/admin/routes/1", #"{"uri":"/a","plugin_config_id":"9","upstream":\#(Self.upstreamJSON(upstream))}"#, 400,
             "failed to fetch plugin config info by plugin config id [9], response code: 404"),
            ("PUT", "/apisix/admin/services/1", #"{"upstream_id":"9"}"#, 400,
             "failed to fetch upstream info by upstream id [9], response code: 404"),
            ("PUT", "/apisix/admin/services/1", #"{"hosts":[]}"#, 400,
             #"invalid configuration: property "hosts" validation failed: expect array to have at least 1 items"#),
            ("PUT", "/apisix/admin/services/1", #"{"script":"local a = 1 return a"}"#, 400, "script is not supported"),
            ("PUT", "/apisix/admin/plugin_configs/1", #"{"desc":"x"}"#, 400, #"invalid configuration: property "plugins" is required"#),
            ("POST", "/apisix/admin/plugin_configs", #"{"plugins":{}}"#, 405, "not supported `POST` method for plugin config"),
            ("POST", "/apisix/admin/global_rules", #"{"plugins":{}}"#, 405, "not supported `POST` method for global rule"),
            ("PUT", "/apisix/admin/global_rules/1", #"{"plugins":{},"desc":"x"}"#, 400,
             "invalid configuration: additional properties forbidden, found desc"),
            ("PUT", "/apisix/admin/global_rules", #"{"plugins":{}}"#, 400, "missing global rule id"),
        ]
        for (method, path, body, status, message) in cases {
            let response = try admin.call(method, path, body)
            #expect(response.status == status, "\(method) \(path) \(body)")
            #expect(response.bodyText == errorBody(message), "\(method) \(path) \(body)")
        }

        #expect(try admin.call("PUT", "/apisix/admin/upstreams/u1", Self.upstreamJSON(upstream)).status == 201)
        #expect(try admin.call("PUT", "/apisix/admin/services/s1", #"{"upstream_id":"u1"}"#).status == 201)
        #expect(try admin.call("PUT", "/apisix/admin/plugin_configs/c1", #"{"plugins":{"request-id":{}}}"#).status == 201)
        #expect(try admin.call("PUT", "/apisix/admin/routes/r1", #"{"uri":"/a","service_id":"s1","plugin_config_id":"c1"}"#).status == 201)
        #expect(try admin.call("PUT", "/apisix/admin/routes/r2", #"{"uri":"/b","service_id":"s1"}"#).status == 201)
        #expect(Self.await(admin, "/a", status: 200))
        #expect(upstream.lastRequest?.header("X-Request-Id") != nil, "the plugin config's plugin runs")

        let protected: [(String, String)] = [
            ("/apisix/admin/services/s1", "can not delete this service directly, route [r1] is still using it now"),
            ("/apisix/admin/upstreams/u1", "can not delete this upstream, service [s1] is still using it now"),
            ("/apisix/admin/plugin_configs/c1", "can not delete this plugin config, route [r1] is still using it now"),
        ]
        for (path, message) in protected {
            let refused = try admin.call("DELETE", path)
            #expect(refused.status == 400 && refused.bodyText == errorBody(message), "\(path): \(refused.bodyText)")
        }
        let filtered = try admin.call("GET", "/apisix/admin/routes?filter=service_id%3Ds1")
        #expect(filtered.json["total"] == 2)
        #expect(try admin.call("GET", "/apisix/admin/routes?filter=service_id%3Dnone").json["total"] == 0)

        #expect(try admin.call("DELETE", "/apisix/admin/plugin_configs/c1?force=true").status == 200)
        #expect(Self.await(admin, "/a", status: 503))
        #expect(try admin.call("DELETE", "/apisix/admin/services/s1?force=true").status == 200)
        #expect(Self.await(admin, "/b", status: 404))
        let page = try HTTPClient.request(port: admin.sluice.proxyPort, path: "/b")
        #expect(page.bodyText.contains("<title>404 Not Found</title>"), "nginx's page, not the route-not-found JSON")
        #expect(admin.sluice.errorLog.contains("failed to fetch service configuration by id: s1"))
        #expect(admin.sluice.errorLog.contains("failed to fetch plugin config by id: c1"))
    }

    /// Global rules run for every request, unmatched ones included, before the route's plugins;
    /// a plugin may be in one rule only.
    @Test func globalRulesRunForEveryRequest() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let admin = try AdminFixture()
        #expect(try admin.call("PUT", "/apisix/admin/routes/1", #"{"uri":"/a","upstream":\#(Self.upstreamJSON(upstream))}"#).status == 201)
        let rule = try admin.call("PUT", "/apisix/admin/global_rules/1",
                                  #"{"plugins":{"response-rewrite":{"headers":{"set":{"X-Global":"yes"}}}}}"#)
        #expect(rule.status == 201, "\(rule.bodyText)")
        #expect(rule.json["value"]?.objectValue?.keys.sorted() == ["create_time", "id", "plugins", "update_time"])
        let conflict = try admin.call("PUT", "/apisix/admin/global_rules/2", #"{"plugins":{"response-rewrite":{}}}"#)
        #expect(conflict.status == 400)
        #expect(conflict.bodyText == errorBody("plugin 'response-rewrite' already exists in global rule with id '1'"))
        #expect(try admin.call("PUT", "/apisix/admin/global_rules/1", #"{"plugins":{"response-rewrite":{"headers":{"set":{"X-Global":"yes"}}}}}"#).status == 200,
                "a rule rewriting its own plugins is no conflict")
        #expect(try admin.call("PUT", "/apisix/admin/global_rules/2", #"{"plugins":{"request-id":{}}}"#).status == 201)

        #expect(admin.sluice.waitUntil(timeout: 5) { (try? admin.proxy("/nothing-here"))?.header("X-Global") == "yes" })
        let unmatched = try admin.proxy("/nothing-here")
        #expect(unmatched.status == 404)
        #expect(unmatched.bodyText == "{\"error_msg\":\"404 Route Not Found\"}\n")
        #expect(unmatched.header("X-Request-Id") != nil)
        let matched = try admin.proxy("/a")
        #expect(matched.status == 200)
        #expect(matched.header("X-Global") == "yes")
        #expect(upstream.lastRequest?.header("X-Request-Id") == matched.header("X-Request-Id"))

        #expect(try admin.call("DELETE", "/apisix/admin/global_rules/1").status == 200)
        #expect(admin.sluice.waitUntil(timeout: 5) { (try? admin.proxy("/a"))?.header("X-Global") == nil })
        #expect(try admin.call("GET", "/apisix/admin/global_rules").json["total"] == 1)
    }
}
