import Foundation
import Shared
import Testing
import TestSupport

/// Ids and bodies are stored as sent or refused, never silently altered (issue 14 item 6).
@Suite struct AdminIdentityTests {
    static let route = #"{"uri":"/a","upstream":{"type":"roundrobin","nodes":{"127.0.0.1:1980":1}}}"#

    /// Extra segments after the id are a sub path: PATCH takes one; PUT, GET and DELETE refuse
    /// it instead of acting on the first segment's object, whether sent as `/` or as `%2F`.
    @Test func extraSegmentsAreRefused() throws {
        let admin = try AdminFixture()
        for path in ["/apisix/admin/routes/a/b", "/apisix/admin/routes/a%2Fb"] {
            let put = try admin.call("PUT", path, Self.route)
            #expect(put.status == 400, "\(path)")
            #expect(put.bodyText == errorBody("invalid route id [a/b]: only PATCH takes a sub path"), "\(path)")
        }
        #expect(try admin.call("GET", "/apisix/admin/routes/a").status == 404, "nothing was written to route a")
        #expect(try admin.call("PUT", "/apisix/admin/routes/a", Self.route).status == 201)
        #expect(try admin.call("PUT", "/apisix/admin/routes/a/", Self.route).status == 200, "a trailing slash is no sub path")
        #expect(try admin.call("GET", "/apisix/admin/routes/a/uri").status == 400)
        #expect(try admin.call("DELETE", "/apisix/admin/routes/a/uri").status == 400)
        let patched = try admin.call("PATCH", "/apisix/admin/routes/a/uri", #""/b""#)
        #expect(patched.status == 200 && patched.json["value"]?["uri"] == "/b")
        #expect(try admin.call("GET", "/apisix/admin/routes/a").status == 200)
    }

    /// A body whose strings are not UTF-8 is refused; one that is keeps its characters exactly.
    @Test func invalidUTF8IsRefused() throws {
        let admin = try AdminFixture()
        var bytes = Array(#"{"uri":"/a","desc":"x"#.utf8)
        bytes += [0xFF, 0xFE]
        bytes += Array(#"","upstream":{"type":"roundrobin","nodes":{"127.0.0.1:1980":1}}}"#.utf8)
        let refused = try HTTPClient.request(port: admin.sluice.adminPort, method: "PUT", path: "/apisix/admin/routes/1",
                                             headers: [("X-API-KEY", SluiceProcess.adminKey)], body: bytes)
        #expect(refused.status == 400)
        #expect(refused.json["error_msg"]?.stringValue?.hasPrefix("invalid request body: ") == true)
        #expect(refused.json["error_msg"]?.stringValue?.contains("invalid UTF-8 in string") == true, "\(refused.bodyText)")
        #expect(try admin.call("GET", "/apisix/admin/routes/1").status == 404)

        let accepted = try admin.call("PUT", "/apisix/admin/routes/1",
                                      #"{"uri":"/a","desc":"caf\u00e9 ☕ é","upstream":{"type":"roundrobin","nodes":{"127.0.0.1:1980":1}}}"#)
        #expect(accepted.status == 201)
        #expect(try admin.call("GET", "/apisix/admin/routes/1").json["value"]?["desc"] == "café ☕ é")
    }
}
