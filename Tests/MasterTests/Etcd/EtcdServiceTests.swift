import Foundation
import Shared
import Testing
import TestSupport

/// Services, plugin configs and global rules with the `etcd` provider against a real etcd:
/// APISIX's keys and values written directly (as an APISIX node writes them) are served, a change
/// to a service reaches its routes, and the Admin API's references read etcd.
@Suite(.serialized, .requires(EtcdServer.binary))
struct EtcdServiceTests {
    @Test func servicesPluginConfigsAndGlobalRulesFromEtcd() throws {
        let first = try TestUpstream()
        defer { first.stop() }
        let second = try TestUpstream()
        defer { second.stop() }
        let etcd = try EtcdServer()
        for resource in ["routes", "services", "plugin_configs", "global_rules"] {
            try etcd.put("/apisix/\(resource)/", "init_dir")
        }
        // What APISIX's Admin API stores (ids, timestamps, schema defaults).
        try etcd.put("/apisix/services/s1", #"{"id":"s1","create_time":1700000000,"update_time":1700000000,"upstream":{"type":"roundrobin","nodes":{"\#(first.address)":1},"hash_on":"vars","scheme":"http","pass_host":"pass"},"plugins":{"proxy-rewrite":{"headers":{"set":{"X-From":"service"}}}}}"#)
        try etcd.put("/apisix/plugin_configs/c1", #"{"id":"c1","plugins":{"request-id":{}},"create_time":1700000000,"update_time":1700000000}"#)
        try etcd.put("/apisix/global_rules/g1", #"{"id":"g1","plugins":{"response-rewrite":{"headers":{"set":{"X-Global":"yes"}}}},"create_time":1700000000,"update_time":1700000000}"#)
        try etcd.put("/apisix/routes/r1", #"{"id":"r1","uri":"/r1","service_id":"s1","plugin_config_id":"c1","priority":0,"status":1}"#)
        let node = try EtcdNode(etcd: etcd)
        #expect(node.waitForSync())
        #expect(node.waitForStatus("/r1", 200))
        let answer = try #require(node.proxy("/r1"))
        #expect(answer.header("X-Global") == "yes")
        #expect(first.lastRequest?.header("X-From") == "service")
        #expect(first.lastRequest?.header("X-Request-Id") != nil)
        #expect(node.proxy("/unmatched")?.header("X-Global") == "yes")

        // A service change made directly in etcd reaches the route.
        try etcd.put("/apisix/services/s1", #"{"id":"s1","upstream":{"type":"roundrobin","nodes":{"\#(second.address)":1}}}"#)
        #expect(node.sluice.waitUntil(timeout: 10) {
            _ = node.proxy("/r1")
            return second.requestCount > 0
        })

        // The Admin API sees etcd's objects for references and delete protection.
        let route = try node.admin("PUT", "/routes/r2", #"{"uri":"/r2","service_id":"s1"}"#)
        #expect(route.status == 201, "\(route.bodyText)")
        #expect(try node.admin("PUT", "/routes/r3", #"{"uri":"/r3","service_id":"nope"}"#).status == 400)
        let refused = try node.admin("DELETE", "/services/s1")
        #expect(refused.status == 400)
        #expect(refused.bodyText.contains("can not delete this service directly, route [r1] is still using it now"))
        let conflict = try node.admin("PUT", "/global_rules/g2", #"{"plugins":{"response-rewrite":{}}}"#)
        #expect(conflict.bodyText.contains("plugin 'response-rewrite' already exists in global rule with id 'g1'"))
        let stored = try #require(try etcd.get("/apisix/routes/r2"))
        #expect(try JSONValue.parse(stored.value)["service_id"] == "s1")
    }
}
