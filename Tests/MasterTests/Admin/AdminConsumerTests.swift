import Foundation
import Shared
import Testing
import TestSupport

/// Consumers, credentials and consumer groups through the Admin API of the real binary
/// (resources.md; admin/consumers.lua, admin/credentials.lua, admin/consumer_group.lua).
@Suite struct AdminConsumerTests {
    private static func put(_ admin: AdminFixture, _ path: String, _ body: String) throws -> TestHTTPResponse {
        try admin.call("PUT", "/apisix/admin" + path, body)
    }

    /// The username is the id; no `id` member; PUT only; the checks' exact messages.
    @Test func consumerRules() throws {
        let admin = try AdminFixture()
        let created = try Self.put(admin, "/consumers", #"{"username":"jack","plugins":{"key-auth":{"key":"k-jack"}}}"#)
        #expect(created.status == 201, "\(created.bodyText)")
        #expect(created.json["key"] == "/apisix/consumers/jack")
        #expect(created.json["value"]?["id"] == nil)
        #expect(created.json["value"]?["plugins"]?["key-auth"]?["key"] == "k-jack")
        #expect(created.json["value"]?["create_time"] != nil)
        let again = try Self.put(admin, "/consumers/jack", #"{"username":"jack","plugins":{"key-auth":{"key":"k-jack"}}}"#)
        #expect(again.status == 200, "re-PUT of the same consumer is not a duplicate: \(again.bodyText)")
        #expect(try admin.call("GET", "/apisix/admin/consumers/jack").json["value"]?["username"] == "jack")

        let refusals: [(String, String, String, Int)] = [
            ("PUT", "/consumers/jack", #"{"username":"bob"}"#, 400),
            ("POST", "/consumers", #"{"username":"bob"}"#, 405),
            ("PATCH", "/consumers/jack", #"{"desc":"x"}"#, 405),
            ("PUT", "/consumers", #"{"username":"bob","plugins":{"key-auth":{}}}"#, 400),
            ("PUT", "/consumers", #"{"username":"bob","plugins":{"key-auth":{"key":1}}}"#, 400),
            ("PUT", "/consumers", #"{"username":"bob","plugins":{"key-auth":{"key":"k-jack"}}}"#, 400),
            ("PUT", "/consumers", #"{"username":"bob","plugins":{"key-auth":{"key":"$env://KEY"}}}"#, 400),
            ("PUT", "/consumers", #"{"username":"bob","group_id":"g9"}"#, 400),
            ("PUT", "/consumers", #"{"username":"b c"}"#, 400),
        ]
        let messages = [
            "wrong username",
            "not supported `POST` method for consumer",
            "not supported `PATCH` method for consumer",
            #"invalid plugins configuration: failed to check the configuration of plugin key-auth err: property "key" is required"#,
            #"invalid plugins configuration: failed to check the configuration of plugin key-auth err: property "key" validation failed: wrong type: expected string, got number"#,
            "duplicate key of plugin key-auth found with consumer: jack",
            "invalid plugins configuration: failed to check the configuration of plugin key-auth err: secret reference in key is not supported",
            "failed to fetch consumer group info by consumer group id [g9], response code: 404",
            #"invalid configuration: property "username" validation failed: failed to match pattern "^[a-zA-Z0-9_\\-]+$" with "b c""#,  // %q doubles the backslash
        ]
        for ((method, path, body, status), message) in zip(refusals, messages) {
            let answer = try admin.call(method, "/apisix/admin" + path, body)
            #expect(answer.status == status, "\(method) \(path) \(body)")
            #expect(answer.bodyText == errorBody(message), "\(method) \(path) \(body)")
        }
        #expect(try admin.call("GET", "/apisix/admin/consumers/bob").status == 404, "a refused write changes nothing")
    }

    /// Credentials live beside their consumer, hold one auth plugin, and go with it.
    @Test func credentials() throws {
        let admin = try AdminFixture()
        #expect(try Self.put(admin, "/consumers/jack", #"{"username":"jack","plugins":{"key-auth":{"key":"k-jack"}}}"#).status == 201)
        let created = try Self.put(admin, "/consumers/jack/credentials/a", #"{"plugins":{"key-auth":{"key":"k-a"}}}"#)
        #expect(created.status == 201, "\(created.bodyText)")
        #expect(created.json["key"] == "/apisix/consumers/jack/credentials/a")
        #expect(created.json["value"]?["id"] == "a")
        let list = try admin.call("GET", "/apisix/admin/consumers/jack/credentials")
        #expect(list.status == 200)
        #expect(list.json["total"] == 1)
        #expect(list.json["list"]?.arrayValue?.first?["key"] == "/apisix/consumers/jack/credentials/a")
        let consumers = try admin.call("GET", "/apisix/admin/consumers")
        #expect(consumers.json["total"] == 1, "credentials are not consumers: \(consumers.bodyText)")
        #expect(try admin.call("GET", "/apisix/admin/consumers/jack/credentials/a").json["value"]?["plugins"]?["key-auth"]?["key"] == "k-a")

        let refusals: [(String, String, String, Int, String)] = [
            ("PUT", "/consumers/nobody/credentials/a", #"{"plugins":{"key-auth":{"key":"k-n"}}}"#, 404, "consumer not found"),
            ("PUT", "/consumers/jack/credentials/b", #"{"plugins":{"proxy-rewrite":{"uri":"/x"}}}"#, 400,
             "only supports auth type plugins in consumer credential"),
            ("PUT", "/consumers/jack/credentials/b", #"{"plugins":{"key-auth":{"key":"k-jack"}}}"#, 400,
             "duplicate key of plugin key-auth found with consumer: jack"),
            ("PUT", "/consumers/jack/credentials/b", #"{"id":"c","plugins":{"key-auth":{"key":"k-b"}}}"#, 400, "wrong credential id"),
            ("POST", "/consumers/jack/credentials", #"{"plugins":{}}"#, 405, "not supported `POST` method for credential"),
            ("PUT", "/consumers/jack/credentials/b", #"{"plugins":{"key-auth":{"key":"k-b"},"proxy-rewrite":{}}}"#, 400,
             "invalid configuration: property \"plugins\" validation failed: expect object to have at most 1 properties"),
        ]
        for (method, path, body, status, message) in refusals {
            let answer = try admin.call(method, "/apisix/admin" + path, body)
            #expect(answer.status == status, "\(method) \(path) \(body): \(answer.bodyText)")
            #expect(answer.bodyText == errorBody(message), "\(method) \(path) \(body)")
        }
        #expect(try Self.put(admin, "/consumers/bob", #"{"username":"bob","plugins":{"key-auth":{"key":"k-a"}}}"#).bodyText
            == errorBody("duplicate key of plugin key-auth found with credential: a of consumer: jack"))
        #expect(try admin.call("GET", "/apisix/admin/consumers/bob/credentials").status == 404, "no credentials: Key not found")

        let deleted = try admin.call("DELETE", "/apisix/admin/consumers/jack")
        #expect(deleted.status == 200, "\(deleted.bodyText)")
        #expect(try admin.call("GET", "/apisix/admin/consumers/jack/credentials/a").status == 404, "the credentials went with it")
        #expect(try Self.put(admin, "/consumers/bob", #"{"username":"bob","plugins":{"key-auth":{"key":"k-a"}}}"#).status == 201)
    }

    /// Consumer groups: PUT only, plugins required, kept while a consumer is in one.
    @Test func consumerGroups() throws {
        let admin = try AdminFixture()
        #expect(try Self.put(admin, "/consumer_groups/g1", #"{"plugins":{"proxy-rewrite":{"headers":{"set":{"X-Group":"g1"}}}}}"#).status == 201)
        #expect(try admin.call("POST", "/apisix/admin/consumer_groups", #"{"plugins":{}}"#).status == 405)
        #expect(try Self.put(admin, "/consumer_groups/g2", #"{}"#).bodyText
            == errorBody(#"invalid configuration: property "plugins" is required"#))
        #expect(try Self.put(admin, "/consumers/jack", #"{"username":"jack","group_id":"g1"}"#).status == 201)
        #expect(try admin.call("DELETE", "/apisix/admin/consumer_groups/g1").bodyText
            == errorBody("can not delete this consumer group, consumer [jack] is still using it now"))
        #expect(try admin.call("DELETE", "/apisix/admin/consumers/jack").status == 200)
        #expect(try admin.call("DELETE", "/apisix/admin/consumer_groups/g1").status == 200)
    }

    /// plugin_metadata: the plugin's name is the id, no timestamps, PUT/GET/DELETE only.
    @Test func pluginMetadata() throws {
        let admin = try AdminFixture()
        let created = try Self.put(admin, "/plugin_metadata/key-auth", #"{"id":"other","note":"x"}"#)
        #expect(created.status == 201, "\(created.bodyText)")
        #expect(created.json == .object(["key": "/apisix/plugin_metadata/key-auth", "value": .object(["id": "key-auth", "note": "x"])]))
        #expect(try Self.put(admin, "/plugin_metadata/key-auth", #"{"note":"y"}"#).status == 200)
        let fetched = try admin.call("GET", "/apisix/admin/plugin_metadata/key-auth")
        #expect(fetched.json["value"] == .object(["id": "key-auth", "note": "y"]))
        #expect(fetched.json["modifiedIndex"] != nil)
        #expect(try admin.call("GET", "/apisix/admin/plugin_metadata").json["total"] == 1)
        let refusals: [(String, String, String?, Int, String)] = [
            ("PUT", "/plugin_metadata/no-such", "{}", 400, "invalid plugin name"),
            ("PUT", "/plugin_metadata", "{}", 400, "missing plugin name"),
            ("PUT", "/plugin_metadata/key-auth", #""x""#, 400, "invalid configuration: wrong type: expected object, got string"),
            ("POST", "/plugin_metadata", "{}", 405, "not supported `POST` method for plugin_metadata"),
            ("PATCH", "/plugin_metadata/key-auth", "{}", 405, "not supported `PATCH` method for plugin_metadata"),
        ]
        for (method, path, body, status, message) in refusals {
            let answer = try admin.call(method, "/apisix/admin" + path, body)
            #expect(answer.status == status, "\(method) \(path): \(answer.bodyText)")
            #expect(answer.bodyText == errorBody(message), "\(method) \(path)")
        }
        #expect(try admin.call("DELETE", "/apisix/admin/plugin_metadata/key-auth").status == 200)
        #expect(try admin.call("GET", "/apisix/admin/plugin_metadata/key-auth").status == 404)
    }
}
