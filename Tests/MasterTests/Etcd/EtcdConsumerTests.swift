import Foundation
import Shared
import Testing
import TestSupport

/// Consumers, credentials and consumer groups with the `etcd` provider against a real etcd:
/// APISIX's keys (`/apisix/consumers/<username>`, `.../<username>/credentials/<id>`) written
/// directly are served, and the Admin API writes them there.
@Suite(.serialized, .requires(EtcdServer.binary))
struct EtcdConsumerTests {
    @Test func consumersAndCredentialsFromEtcd() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let etcd = try EtcdServer()
        for resource in ["routes", "consumers", "consumer_groups"] {
            try etcd.put("/apisix/\(resource)/", "init_dir")
        }
        try etcd.put("/apisix/consumer_groups/g1", #"{"id":"g1","plugins":{"proxy-rewrite":{"headers":{"set":{"X-Group":"g1"}}}}}"#)
        try etcd.put("/apisix/consumers/jack", #"{"username":"jack","group_id":"g1","plugins":{"key-auth":{"key":"k-jack"}}}"#)
        try etcd.put("/apisix/consumers/jack/credentials/c1", #"{"id":"c1","plugins":{"key-auth":{"key":"k-c1"}}}"#)
        try etcd.put("/apisix/routes/r1", #"{"id":"r1","uri":"/r1","plugins":{"key-auth":{}},"upstream":{"nodes":{"\#(upstream.address)":1}}}"#)
        let node = try EtcdNode(etcd: etcd)
        #expect(node.waitForSync())
        #expect(node.sluice.waitUntil(timeout: 10) {
            (try? HTTPClient.request(port: node.sluice.proxyPort, path: "/r1", headers: [("apikey", "k-c1")]).status) == 200
        })
        #expect(upstream.lastRequest?.header("X-Credential-Identifier") == "c1")
        #expect(upstream.lastRequest?.header("X-Group") == "g1")
        #expect(node.proxy("/r1")?.status == 401)

        // Admin API writes land under APISIX's keys.
        let credential = try node.admin("PUT", "/consumers/jack/credentials/c2", #"{"plugins":{"key-auth":{"key":"k-c2"}}}"#)
        #expect(credential.status == 201, "\(credential.bodyText)")
        #expect(try etcd.get("/apisix/consumers/jack/credentials/c2") != nil)
        #expect(try node.admin("GET", "/consumers/jack/credentials").json["total"] == 2)
        #expect(try node.admin("GET", "/consumers").json["total"] == 1)
        #expect(try node.admin("PUT", "/consumers/bob", #"{"username":"bob","plugins":{"key-auth":{"key":"k-c1"}}}"#).bodyText
            .contains("duplicate key of plugin key-auth found with credential: c1 of consumer: jack"))
        #expect(node.sluice.waitUntil(timeout: 10) {
            (try? HTTPClient.request(port: node.sluice.proxyPort, path: "/r1", headers: [("apikey", "k-c2")]).status) == 200
        })

        // A consumer deleted directly in etcd stops matching; the Admin API's delete takes the
        // credentials along.
        #expect(try node.admin("DELETE", "/consumers/jack").status == 200)
        #expect(try etcd.get("/apisix/consumers/jack/credentials/c1") == nil)
        #expect(node.sluice.waitUntil(timeout: 10) {
            (try? HTTPClient.request(port: node.sluice.proxyPort, path: "/r1", headers: [("apikey", "k-c1")]).status) == 401
        })
    }
}
