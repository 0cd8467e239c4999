import Foundation
import Shared
import Testing
import TestSupport

/// The plugin and schema endpoints APISIX clients call (admin/plugins.lua, admin/init.lua).
@Suite struct AdminPluginEndpointTests {
    @Test func pluginSchemasAndReload() throws {
        let admin = try AdminFixture()
        let one = try admin.call("GET", "/apisix/admin/plugins/proxy-rewrite")
        #expect(one.status == 200)
        #expect(one.json["type"] == "object")
        #expect(one.json["properties"]?["regex_uri"] != nil)
        #expect(try admin.call("GET", "/apisix/admin/schema/plugins/proxy-rewrite").json == one.json)

        let missing = try admin.call("GET", "/apisix/admin/plugins/no-such-plugin")
        #expect(missing.status == 404 && missing.bodyText == errorBody("plugin not found in subsystem http"))
        let subsystem = try admin.call("GET", "/apisix/admin/plugins/proxy-rewrite?subsystem=udp")
        #expect(subsystem.status == 400 && subsystem.bodyText == errorBody("unsupported subsystem: udp"))
        #expect(try admin.call("GET", "/apisix/admin/plugins/proxy-rewrite?schema_type=consumer").bodyText == errorBody("not found schema"))

        let all = try admin.call("GET", "/apisix/admin/plugins?all=true")
        #expect(all.status == 200)
        #expect(all.json.objectValue?.keys.sorted() == ["basic-auth", "ip-restriction", "key-auth", "openfunction", "proxy-rewrite", "request-id", "response-rewrite"])
        #expect(all.json["openfunction"]?["priority"] == -1902)
        #expect(all.json["request-id"]?["schema"] != nil)
        #expect(all.json["key-auth"]?["type"] == "auth")
        #expect(all.json["key-auth"]?["consumer_schema"]?["required"] == .array(["key"]))
        #expect(try admin.call("GET", "/apisix/admin/plugins/key-auth?schema_type=consumer").json["required"] == .array(["key"]))

        #expect(try admin.call("GET", "/apisix/admin/schema/service").json["additionalProperties"] == false)
        #expect(try admin.call("GET", "/apisix/admin/schema/global_rule").json["required"] == .array(["id", "plugins"]))

        let reload = try admin.call("PUT", "/apisix/admin/plugins/reload")
        #expect(reload.status == 200 && reload.bodyText == "done")
        let wrong = try admin.call("POST", "/apisix/admin/plugins/reload")
        #expect(wrong.status == 405)
        #expect(wrong.bodyText == errorBody("please use PUT method to reload the plugins, POST method is not allowed."))
        // The key is required as for every other endpoint.
        #expect(try admin.call("GET", "/apisix/admin/plugins/proxy-rewrite", key: nil).status == 401)
    }
}
