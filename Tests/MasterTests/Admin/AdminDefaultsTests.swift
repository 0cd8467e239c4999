import Foundation
import Shared
import Testing
import TestSupport

/// The schema defaults APISIX's checks fill in are stored and echoed (issue 14 item 5).
@Suite struct AdminDefaultsTests {
    @Test func routeUpstreamAndPluginDefaults() throws {
        let admin = try AdminFixture()
        let put = try admin.call("PUT", "/apisix/admin/routes/1",
                                 #"{"uri":"/a","plugins":{"request-id":{}},"upstream":{"nodes":{"127.0.0.1:1980":1}}}"#)
        #expect(put.status == 201)
        let value = try #require(put.json["value"])
        #expect(value["priority"] == 0 && value["status"] == 1)
        #expect(value["upstream"]?["type"] == "roundrobin")
        #expect(value["upstream"]?["hash_on"] == "vars")
        #expect(value["upstream"]?["scheme"] == "http")
        #expect(value["upstream"]?["pass_host"] == "pass")
        #expect(value["plugins"]?["request-id"]?["header_name"] == "X-Request-Id")
        #expect(value["plugins"]?["request-id"]?["include_in_response"] == true)
        #expect(try admin.call("GET", "/apisix/admin/routes/1").json["value"] == value)
        // Values sent are kept.
        let own = try admin.call("PUT", "/apisix/admin/routes/2", #"{"uri":"/b","priority":7,"status":0,"upstream_id":"u"}"#)
        #expect(own.status == 400, "upstream u does not exist")
        let kept = try admin.call("PUT", "/apisix/admin/routes/2", #"{"uri":"/b","priority":7,"status":0,"plugins":{}}"#)
        #expect(kept.json["value"]?["priority"] == 7 && kept.json["value"]?["status"] == 0)
    }
}
