import Foundation
import Shared
import Testing
import TestSupport

/// config.yaml's `plugins:` list (APISIX's): only the plugins it names are enabled; a plugin left
/// out is refused on routes; a name Sluice has no plugin for is logged and skipped.
@Suite struct AdminPluginListTests {
    @Test func onlyListedPluginsAreEnabled() throws {
        let config = localConfig(admin: """
                admin_key:
                  - {name: admin, key: \(SluiceProcess.adminKey), role: admin}
            """) + "plugins:\n  - request-id\n  - no-such-plugin\n"
        let admin = try AdminFixture(configYAML: config)
        #expect(try admin.call("GET", "/apisix/admin/plugins/list").json == .array(["request-id"]))
        #expect(try admin.call("GET", "/apisix/admin/plugins/proxy-rewrite").status == 404)
        #expect(try admin.call("GET", "/apisix/admin/plugins?all=true").json.objectValue?.keys.sorted() == ["request-id"])
        let refused = try admin.call("PUT", "/apisix/admin/routes/1", #"{"uri":"/a","plugins":{"proxy-rewrite":{}}}"#)
        #expect(refused.status == 400 && refused.bodyText == errorBody("unknown plugin [proxy-rewrite]"))
        #expect(try admin.call("PUT", "/apisix/admin/routes/1", #"{"uri":"/a","plugins":{"request-id":{}}}"#).status == 201)
        #expect(admin.sluice.errorLog.contains("failed to load plugin [no-such-plugin] err: Sluice has no plugin of that name"))
    }
}
