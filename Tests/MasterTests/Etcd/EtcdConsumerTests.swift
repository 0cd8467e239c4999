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
        try etcd.put("/apisix/plugin_metadata/key-auth", #"{"id":"key-auth","note":"from etcd"}"#)
        let node = try EtcdNode(etcd: etcd)
        #expect(node.waitForSync())
        #expect(node.sluice.waitUntil(timeout: 10) {
            (try? HTTPClient.request(port: node.sluice.proxyPort, path: "/r1", headers: [("apikey", "k-c1")]).status) == 200
        })
        #expect(try node.admin("GET", "/plugin_metadata/key-auth").json["value"]?["note"] == "from etcd")
        #expect(try node.admin("PUT", "/plugin_metadata/request-id", #"{"note":"n"}"#).status == 201)
        #expect(try etcd.get("/apisix/plugin_metadata/request-id").map { try JSONValue.parse($0.value) } == .object(["id": "request-id", "note": "n"]))
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

/// Field encryption with the etcd provider (resources.md section 9): Sluice stores APISIX's
/// ciphertext, reads what an APISIX node stored (either keyring key), shows plaintext, and
/// serves a plaintext value a node with encryption off wrote, with APISIX's error line.
@Suite(.serialized, .requires(EtcdServer.binary))
struct EtcdEncryptionTests {
    @Test func encryptedFields() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let etcd = try EtcdServer()
        try etcd.put("/apisix/consumers/", "init_dir")
        // `auth-two` encrypted with the second default key, as t/node/data_encrypt.t stores it.
        try etcd.put("/apisix/consumers/two", #"{"username":"two","plugins":{"key-auth":{"key":"vU/ZHVJw7b0XscDJ1Fhtig=="}}}"#)
        try etcd.put("/apisix/consumers/plain", #"{"username":"plain","plugins":{"key-auth":{"key":"written-plain"}}}"#)
        try etcd.put("/apisix/routes/r1", #"{"id":"r1","uri":"/r1","plugins":{"key-auth":{}},"upstream":{"nodes":{"\#(upstream.address)":1}}}"#)
        let node = try EtcdNode(etcd: etcd)
        #expect(node.waitForSync())
        func status(_ key: String) -> Int? {
            try? HTTPClient.request(port: node.sluice.proxyPort, path: "/r1", headers: [("apikey", key)]).status
        }
        #expect(node.sluice.waitUntil(timeout: 10) { status("auth-two") == 200 })
        #expect(status("vU/ZHVJw7b0XscDJ1Fhtig==") == 401, "the ciphertext is not the key")
        #expect(status("written-plain") == 200)
        #expect(node.sluice.errorLog.contains("failed to decrypt the conf of plugin [key-auth] key [key], err: decrypt failed"))
        #expect(try node.admin("GET", "/consumers/two").json["value"]?["plugins"]?["key-auth"]?["key"] == "auth-two")

        let written = try node.admin("PUT", "/consumers", #"{"username":"one","plugins":{"key-auth":{"key":"auth-one"}}}"#)
        #expect(written.status == 201, "\(written.bodyText)")
        #expect(written.json["value"]?["plugins"]?["key-auth"]?["key"] == "auth-one", "the echo shows plaintext")
        let stored = try #require(try etcd.get("/apisix/consumers/one"))
        #expect(try JSONValue.parse(stored.value)["plugins"]?["key-auth"]?["key"] == "4y+JvURBE6ZwRbbgaryrhg==")
        #expect(try node.admin("GET", "/consumers/one").json["value"]?["plugins"]?["key-auth"]?["key"] == "auth-one")
        #expect(node.sluice.waitUntil(timeout: 10) { status("auth-one") == 200 })
        #expect(try node.admin("PUT", "/consumers/dup", #"{"username":"dup","plugins":{"key-auth":{"key":"auth-two"}}}"#).bodyText
            .contains("duplicate key of plugin key-auth found with consumer: two"), "duplicates compare plaintext")

        // A route's openfunction token is an encrypt field of the route schema.
        let route = try node.admin("PUT", "/routes/fn", #"{"uri":"/fn","plugins":{"openfunction":{"function_uri":"http://127.0.0.1:1/x","authorization":{"service_token":"test:test"}}}}"#)
        #expect(route.status == 201, "\(route.bodyText)")
        let storedRoute = try #require(try etcd.get("/apisix/routes/fn"))
        #expect(try JSONValue.parse(storedRoute.value)["plugins"]?["openfunction"]?["authorization"]?["service_token"]
            == "i+k/QR735gLr6ce4Y+itJA==")
    }
}

/// `?ttl=` with the etcd provider: the key is written under a lease and goes when it lapses.
@Suite(.serialized, .requires(EtcdServer.binary))
struct EtcdTTLTests {
    @Test func leaseLapses() throws {
        let etcd = try EtcdServer()
        let node = try EtcdNode(etcd: etcd)
        #expect(node.waitForSync())
        #expect(try node.admin("PUT", "/consumers?ttl=1", #"{"username":"brief"}"#).status == 201)
        #expect(try etcd.get("/apisix/consumers/brief") != nil)
        #expect(node.sluice.waitUntil(timeout: 8) { ((try? etcd.get("/apisix/consumers/brief")) ?? nil) == nil })
        #expect(node.sluice.waitUntil(timeout: 5) { (try? node.admin("GET", "/consumers/brief").status) == 404 })
    }
}
