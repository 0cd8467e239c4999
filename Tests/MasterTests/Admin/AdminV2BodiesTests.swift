import Foundation
import Shared
import Testing
import TestSupport

/// `admin_api_version: default`: APISIX's v2 bodies (core/etcd.lua's etcd v2 shapes, trimmed by
/// admin/init.lua `strip_etcd_resp`) and `X-API-VERSION: v2`; errors as in v3.
@Suite struct AdminV2BodiesTests {
    @Test func v2Envelopes() throws {
        let admin = try AdminFixture(configYAML: localConfig(admin: """
                admin_key:
                  - {name: admin, key: \(SluiceProcess.adminKey), role: admin}
                admin_api_version: default
            """))
        let upstream = #"{"nodes":{"127.0.0.1:1980":1}}"#
        let put = try admin.call("PUT", "/apisix/admin/upstreams/1", upstream)
        #expect(put.status == 201)
        #expect(put.header("x-api-version") == "v2")
        #expect(put.json["action"] == "set")
        #expect(put.json["node"]?["key"] == "/apisix/upstreams/1")
        #expect(put.json["node"]?["value"]?["id"] == "1")
        #expect(put.json.objectValue?.keys.sorted() == ["action", "node"])
        #expect(put.json["node"]?.objectValue?.keys.sorted() == ["key", "value"])

        let posted = try admin.call("POST", "/apisix/admin/upstreams", upstream)
        #expect(posted.status == 201)
        #expect(posted.json["action"] == "create")
        let patched = try admin.call("PATCH", "/apisix/admin/upstreams/1", #"{"desc":"d"}"#)
        #expect(patched.json["action"] == "compareAndSwap")
        #expect(patched.json["node"]?["value"]?["desc"] == "d")

        let one = try admin.call("GET", "/apisix/admin/upstreams/1")
        #expect(one.json["action"] == "get")
        #expect(one.json["node"]?.objectValue?.keys.sorted() == ["key", "value"])
        let list = try admin.call("GET", "/apisix/admin/upstreams?page=1&page_size=1")
        #expect(list.json["action"] == "get")
        #expect(list.json["node"]?["key"] == "/apisix/upstreams")
        #expect(list.json["node"]?["dir"] == true)
        let nodes = try #require(list.json["node"]?["nodes"]?.arrayValue)
        #expect(nodes.count == 2, "v2 lists are not paged")
        #expect(nodes.first?["key"] == "/apisix/upstreams/00000000000000000002")
        #expect(nodes.first?["modifiedIndex"] != nil)

        let deleted = try admin.call("DELETE", "/apisix/admin/upstreams/1")
        #expect(deleted.json == .object(["action": "delete", "node": .object([:]), "key": "/apisix/upstreams/1", "deleted": "1"]))
        #expect(try admin.call("GET", "/apisix/admin/upstreams/1").bodyText == #"{"message":"Key not found"}"# + "\n")
        #expect(try admin.call("PUT", "/apisix/admin/upstreams/2", "{}").json["error_msg"] != nil)
    }
}
