import Foundation
import Shared
import Testing
import TestSupport

/// Routes and upstreams through the Admin API of the real binary: apisix-compat.md section 3.4.
@Suite struct AdminResourceTests {
    static let upstream = #"{"type":"roundrobin","nodes":{"127.0.0.1:1980":1}}"#

    /// PUT creates (201) then replaces (200), keeping create_time; the envelope and headers are APISIX's.
    @Test func putCreatesThenReplaces() throws {
        let admin = try AdminFixture()
        let created = try admin.call("PUT", "/apisix/admin/upstreams/1", Self.upstream)
        #expect(created.status == 201)
        #expect(created.header("content-type") == "application/json")
        #expect(created.header("x-api-version") == "v3")
        #expect(created.header("server") == "sluice/0.1.0")
        #expect(created.header("access-control-allow-origin") == "*")
        #expect(created.json["key"] == "/apisix/upstreams/1")
        let value = try #require(created.json["value"])
        #expect(value["id"] == "1")
        #expect(value["nodes"] == .object(["127.0.0.1:1980": 1]))
        let createTime = try #require(value["create_time"]?.intValue)
        #expect(value["update_time"]?.intValue == createTime)
        #expect(created.json.objectValue?.keys.sorted() == ["key", "value"])

        let replaced = try admin.call("PUT", "/apisix/admin/upstreams/1", #"{"type":"roundrobin","nodes":{"127.0.0.1:1981":2}}"#)
        #expect(replaced.status == 200)
        #expect(replaced.json["value"]?["create_time"]?.intValue == createTime)
        #expect(replaced.json["value"]?["nodes"] == .object(["127.0.0.1:1981": 2]))

        let fetched = try admin.call("GET", "/apisix/admin/upstreams/1")
        #expect(fetched.status == 200)
        #expect(fetched.json["createdIndex"] == 1)
        #expect(fetched.json["modifiedIndex"] == 2)
        #expect(fetched.json["value"] == replaced.json["value"])
    }

    /// Id rules: body id, mismatches, missing ids, POST with an id, missing body, id syntax.
    @Test func idRules() throws {
        let admin = try AdminFixture()
        let route = #"{"uri":"/a","upstream":\#(Self.upstream)}"#
        let withBodyId = try admin.call("PUT", "/apisix/admin/routes", #"{"id":1,"uri":"/a","upstream":\#(Self.upstream)}"#)
        #expect(withBodyId.status == 201)
        #expect(withBodyId.json["key"] == "/apisix/routes/1")
        #expect(withBodyId.json["value"]?["id"] == 1)

        let cases: [(String, String, String?, Int, String)] = [
            ("PUT", "/apisix/admin/routes/2", #"{"id":"3","uri":"/a","upstream":\#(Self.upstream)}"#, 400, "wrong route id"),
            ("PUT", "/apisix/admin/routes", route, 400, "missing route id"),
            ("PUT", "/apisix/admin/upstreams", Self.upstream, 400, "missing upstream id"),
            ("PUT", "/apisix/admin/routes/2", nil, 400, "missing configurations"),
            ("POST", "/apisix/admin/routes/5", route, 400, "wrong route id, do not need it"),
            ("POST", "/apisix/admin/routes", #"{"id":"5","uri":"/a","upstream":\#(Self.upstream)}"#, 400,
             "wrong route id, do not need it"),
            ("POST", "/apisix/admin/routes", nil, 400, "missing configurations"),
            ("DELETE", "/apisix/admin/routes", nil, 400, "missing route id"),
            ("PATCH", "/apisix/admin/routes", #"{"uri":"/b"}"#, 400, "missing route id"),
            ("PUT", "/apisix/admin/routes/*invalid", route, 400,
             #"invalid configuration: property "id" validation failed: object matches none of the required"#),
            ("PUT", "/apisix/admin/routes", #"{"id":-100,"uri":"/a","upstream":\#(Self.upstream)}"#, 400,
             #"invalid configuration: property "id" validation failed: object matches none of the required"#),
        ]
        for (method, path, body, status, message) in cases {
            let response = try admin.call(method, path, body)
            #expect(response.status == status, "\(method) \(path)")
            #expect(response.bodyText == errorBody(message), "\(method) \(path)")
        }
    }

    /// POST creates with a 20-digit id made of the store revision.
    @Test func postGeneratesTwentyDigitIds() throws {
        let admin = try AdminFixture()
        _ = try admin.call("PUT", "/apisix/admin/upstreams/u", Self.upstream)
        let posted = try admin.call("POST", "/apisix/admin/routes", #"{"uri":"/p","upstream_id":"u"}"#)
        #expect(posted.status == 201)
        let id = try #require(posted.json["value"]?["id"]?.stringValue)
        #expect(id == "00000000000000000002")
        #expect(posted.json["key"] == .string("/apisix/routes/\(id)"))
        let fetched = try admin.call("GET", "/apisix/admin/routes/\(id)")
        #expect(fetched.json["createdIndex"] == 2 && fetched.json["modifiedIndex"] == 2)
    }

    /// GET of a missing id is 404 `{"message":"Key not found"}`; lists are in key order with paging and filters.
    @Test func getListPagingAndFilters() throws {
        let admin = try AdminFixture()
        let missing = try admin.call("GET", "/apisix/admin/routes/404")
        #expect(missing.status == 404)
        #expect(missing.bodyText == #"{"message":"Key not found"}"# + "\n")
        #expect(try admin.call("GET", "/apisix/admin/routes").bodyText == #"{"list":[],"total":0}"# + "\n")

        for (id, name, uri) in [("2", "beta", "/b"), ("10", "alpha", "/a/x"), ("1", "gamma", "/c")] {
            let body = #"{"name":"\#(name)","uri":"\#(uri)","labels":{"team":"\#(name)"},"upstream":\#(Self.upstream)}"#
            #expect(try admin.call("PUT", "/apisix/admin/routes/\(id)", body).status == 201)
        }
        let list = try admin.call("GET", "/apisix/admin/routes")
        #expect(list.status == 200)
        #expect(list.json["total"] == 3)
        #expect(list.json["list"]?.arrayValue?.compactMap { $0["key"]?.stringValue }
            == ["/apisix/routes/1", "/apisix/routes/10", "/apisix/routes/2"])
        let first = try #require(list.json["list"]?.arrayValue?.first)
        #expect(first.objectValue?.keys.sorted() == ["createdIndex", "key", "modifiedIndex", "value"])

        let paged = try admin.call("GET", "/apisix/admin/routes?page=1&page_size=10")
        #expect(paged.json["list"]?.arrayValue?.compactMap { $0["value"]?["id"]?.stringValue } == ["2", "10", "1"])
        let empty = try admin.call("GET", "/apisix/admin/routes?page=2&page_size=10")
        #expect(empty.json["list"] == .array([]) && empty.json["total"] == 3)
        let badSize = try admin.call("GET", "/apisix/admin/routes?page=1&page_size=5")
        #expect(badSize.status == 400 && badSize.bodyText == "page_size must be between 10 and 500")

        let byName = try admin.call("GET", "/apisix/admin/routes?name=^al")
        #expect(byName.json["total"] == 1 && byName.json["list"]?.arrayValue?.first?["value"]?["id"] == "10")
        let byLabel = try admin.call("GET", "/apisix/admin/routes?label=team")
        #expect(byLabel.json["total"] == 3)
        let byURI = try admin.call("GET", "/apisix/admin/routes?uri=%2Fa")
        #expect(byURI.json["total"] == 1)
    }

    /// DELETE answers `{"deleted":"1","key":...}`; an upstream in use is protected unless `force=true`.
    @Test func deleteAndUpstreamProtection() throws {
        let admin = try AdminFixture()
        _ = try admin.call("PUT", "/apisix/admin/upstreams/1", Self.upstream)
        _ = try admin.call("PUT", "/apisix/admin/routes/1", #"{"uri":"/a","upstream_id":"1"}"#)
        let refused = try admin.call("DELETE", "/apisix/admin/upstreams/1")
        #expect(refused.status == 400)
        #expect(refused.bodyText == errorBody("can not delete this upstream, route [1] is still using it now"))
        #expect(try admin.call("DELETE", "/apisix/admin/upstreams/1?force=yes").status == 400)
        let forced = try admin.call("DELETE", "/apisix/admin/upstreams/1?force=true")
        #expect(forced.status == 200)
        #expect(forced.bodyText == #"{"deleted":"1","key":"\/apisix\/upstreams\/1"}"# + "\n")
        let deleted = try admin.call("DELETE", "/apisix/admin/routes/1")
        #expect(deleted.status == 200 && deleted.json["deleted"] == "1")
        let again = try admin.call("DELETE", "/apisix/admin/routes/1")
        #expect(again.status == 404 && again.bodyText == #"{"message":"Key not found"}"# + "\n")
        // A route referring to an upstream that does not exist is refused.
        let dangling = try admin.call("PUT", "/apisix/admin/routes/2", #"{"uri":"/a","upstream_id":"99999999"}"#)
        #expect(dangling.bodyText == errorBody("failed to fetch upstream info by upstream id [99999999], response code: 404"))
    }

    /// PATCH merges objects, deletes with null, replaces arrays; sub-path PATCH sets one value.
    @Test func patchMergesAndSetsSubPaths() throws {
        let admin = try AdminFixture()
        let put = try admin.call("PUT", "/apisix/admin/routes/1",
                                 #"{"uri":"/a","methods":["GET","POST"],"desc":"d","labels":{"a":"1","b":"2"},"upstream":\#(Self.upstream)}"#)
        let createTime = try #require(put.json["value"]?["create_time"])
        let merged = try admin.call("PATCH", "/apisix/admin/routes/1", #"{"methods":["PUT"],"desc":null,"labels":{"b":"3","c":"4"}}"#)
        #expect(merged.status == 200)
        let value = try #require(merged.json["value"])
        #expect(value["methods"] == .array(["PUT"]))
        #expect(value["desc"] == nil)
        #expect(value["labels"] == .object(["a": "1", "b": "3", "c": "4"]))
        #expect(value["create_time"] == createTime)
        #expect(merged.json.objectValue?.keys.sorted() == ["key", "value"])

        let uri = try admin.call("PATCH", "/apisix/admin/routes/1/uri", #""/x""#)
        #expect(uri.status == 200 && uri.json["value"]?["uri"] == "/x")
        let methods = try admin.call("PATCH", "/apisix/admin/routes/1/methods", #"["POST"]"#)
        #expect(methods.json["value"]?["methods"] == .array(["POST"]))
        let nodes = try admin.call("PATCH", "/apisix/admin/routes/1/upstream/nodes", #"{"127.0.0.1:1999":3}"#)
        #expect(nodes.json["value"]?["upstream"]?["nodes"] == .object(["127.0.0.1:1999": 3]))
        let timed = try admin.call("PATCH", "/apisix/admin/routes/1", #"{"update_time":12345}"#)
        #expect(timed.json["value"]?["update_time"] == 12345)

        let cases: [(String, String?, Int, String)] = [
            ("/apisix/admin/routes/1/uri/deeper", #""/y""#, 400, "invalid sub-path: /uri"),
            ("/apisix/admin/routes/1", nil, 400, "missing new configuration"),
            ("/apisix/admin/routes/1", #"["x"]"#, 400, "invalid configuration"),
            ("/apisix/admin/routes/1", #"{"uri":7}"#, 400,
             #"invalid configuration: property "uri" validation failed: wrong type: expected string, got number"#),
        ]
        for (path, body, status, message) in cases {
            let response = try admin.call("PATCH", path, body)
            #expect(response.status == status, "\(path) \(body ?? "")")
            #expect(response.bodyText == errorBody(message), "\(path) \(body ?? "")")
        }
        let missing = try admin.call("PATCH", "/apisix/admin/routes/9", #"{"uri":"/b"}"#)
        #expect(missing.status == 404 && missing.json["message"] == "Key not found")
        // The refused PATCH changed nothing.
        #expect(try admin.call("GET", "/apisix/admin/routes/1").json["value"]?["uri"] == "/x")
    }

    /// Forbidden timestamps, schema and reference errors, unknown plugins, unsupported resources.
    @Test func validationMessages() throws {
        let admin = try AdminFixture()
        let cases: [(String, String, String?, Int, String)] = [
            ("PUT", "/apisix/admin/routes/1", #"{"uri":"/a","create_time":1,"upstream":\#(Self.upstream)}"#, 400,
             "the property is forbidden:  create_time"),
            ("PUT", "/apisix/admin/routes/1",
             #"{"uri":"/a","upstream":{"type":"roundrobin","nodes":{"127.0.0.1:1980":1},"update_time":1}}"#, 400,
             "the property is forbidden:  upstream.update_time"),
            ("POST", "/apisix/admin/routes", #"{"uri":"/a","plugins":{"create_time":{}}}"#, 400,
             "the property is forbidden:  plugins.create_time"),
            ("PUT", "/apisix/admin/routes/1", #"{"uri":"/a","plugins":{"x":{}}}"#, 400, "unknown plugin [x]"),
            ("PUT", "/apisix/admin/routes/1", #"{"uri":"/a"}"#, 400,
             #"invalid configuration: object matches none of the required: ["plugins","uri"] or ["upstream","uri"] or ["upstream_id","uri"] or ["service_id","uri"] or ["plugins","uris"] or ["upstream","uris"] or ["upstream_id","uris"] or ["service_id","uris"] or ["script","uri"] or ["script","uris"]"#),
            ("PUT", "/apisix/admin/routes/1", #"{"uri":"/a","host":"a","hosts":["b"],"upstream":\#(Self.upstream)}"#, 400,
             "only one of host or hosts is allowed"),
            ("PUT", "/apisix/admin/upstreams/1", #"{"nodes":{"127.0.0.1:1980":1},"retries":-1}"#, 400,
             #"invalid configuration: property "retries" validation failed: expected -1 to be at least 0"#),
            ("PUT", "/apisix/admin/ssls/1", "{}", 400, "ssls is not supported"),
            ("GET", "/apisix/admin/stream_routes/1", nil, 400, "stream_routes is not supported"),
            ("GET", "/apisix/admin/foo", nil, 404, "Unsupported resource type: foo"),
            ("PUT", "/apisix/admin/routes/1?ttl=x", #"{"uri":"/a"}"#, 400, "invalid argument ttl: should be a number"),
        ]
        for (method, path, body, status, message) in cases {
            let response = try admin.call(method, path, body)
            #expect(response.status == status, "\(method) \(path) \(body ?? "")")
            #expect(response.bodyText == errorBody(message), "\(method) \(path) \(body ?? "")")
        }
        let invalidJSON = try admin.call("PUT", "/apisix/admin/routes/1", "{x")
        #expect(invalidJSON.status == 400)
        #expect(invalidJSON.json == .object([
            "error_msg": "invalid request body: Expected object key string but found invalid token at character 2",
            "req_body": "{x",
        ]))
        let large = String(repeating: " ", count: 1_572_865)
        let tooLarge = try admin.call("PUT", "/apisix/admin/routes/1", large)
        #expect(tooLarge.status == 400)
        #expect(tooLarge.bodyText == errorBody(
            "invalid request body: request size 1572865 is greater than the maximum size 1572864 allowed"))
        // Nothing of the above was stored.
        #expect(try admin.call("GET", "/apisix/admin/routes").json["total"] == 0)
    }

    /// The plugin list, schema validation, HEAD and OPTIONS, nginx's 404 outside the admin location.
    @Test func otherEndpoints() throws {
        let admin = try AdminFixture()
        let plugins = try admin.call("GET", "/apisix/admin/plugins/list")
        #expect(plugins.status == 200 && plugins.bodyText == "[\"request-id\",\"ip-restriction\",\"basic-auth\",\"key-auth\",\"proxy-rewrite\",\"response-rewrite\",\"openfunction\"]\n")
        let valid = try admin.call("POST", "/apisix/admin/schema/validate/routes", #"{"uri":"/a","upstream_id":"9"}"#)
        #expect(valid.status == 200 && valid.body.isEmpty)
        let invalid = try admin.call("POST", "/apisix/admin/schema/validate/upstreams", #"{"nodes":{},"retries":-1}"#)
        #expect(invalid.status == 400)
        #expect(invalid.bodyText == errorBody(#"property "retries" validation failed: expected -1 to be at least 0"#))
        let head = try admin.call("HEAD", "/apisix/admin", key: nil)
        #expect(head.status == 200)
        let options = try admin.call("OPTIONS", "/apisix/admin/routes/1", key: nil)
        #expect(options.status == 200)
        #expect(options.header("access-control-allow-methods") == "POST, GET, PUT, OPTIONS, DELETE, PATCH")
        #expect(options.header("access-control-allow-headers") == "*")
        #expect(options.header("content-length") == "0")
        let outside = try admin.call("GET", "/other")
        #expect(outside.status == 404 && outside.header("content-type") == "text/html")
        #expect(outside.bodyText.contains("<center>sluice</center>"))
        let trace = try admin.call("TRACE", "/apisix/admin/routes")
        #expect(trace.status == 404 && trace.header("content-type") == "text/html")
    }
}
