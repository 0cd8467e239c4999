import Foundation
import Shared
import Testing
import TestSupport

/// `?ttl=<seconds>` on PUT, POST and PATCH (admin/resource.lua passes it to etcd's set as a
/// lease): the object serves, then lapses from reads, the store and the data plane.
@Suite struct AdminTTLTests {
    @Test func localStoreItemsLapse() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let admin = try AdminFixture()
        let route = #"{"uri":"/t","upstream":{"nodes":{"\#(upstream.address)":1}}}"#
        #expect(try admin.call("PUT", "/apisix/admin/routes/t?ttl=x", route).bodyText
            == errorBody("invalid argument ttl: should be a number"))
        #expect(try admin.call("PUT", "/apisix/admin/routes/t?ttl=1.5", route).status == 201)
        let posted = try admin.call("POST", "/apisix/admin/upstreams?ttl=1", #"{"nodes":{"127.0.0.1:1":1}}"#)
        #expect(posted.status == 201)
        #expect(try admin.call("PUT", "/apisix/admin/routes/kept", #"{"uri":"/kept","upstream":{"nodes":{"\#(upstream.address)":1}}}"#).status == 201)
        #expect(admin.sluice.waitUntil(timeout: 5) { (try? admin.proxy("/t").status) == 200 })
        #expect(try admin.call("GET", "/apisix/admin/routes/t").status == 200)

        #expect(admin.sluice.waitUntil(timeout: 6) { (try? admin.call("GET", "/apisix/admin/routes/t").status) == 404 })
        #expect(admin.sluice.waitUntil(timeout: 5) { (try? admin.proxy("/t").status) == 404 }, "the data plane drops it too")
        #expect(try admin.call("GET", "/apisix/admin/upstreams").json["total"] == 0)
        #expect(try admin.call("GET", "/apisix/admin/routes").json["total"] == 1)
        #expect(try admin.proxy("/kept").status == 200)
        // The lapse is durable: the store file no longer has it.
        let store = try String(contentsOfFile: admin.sluice.prefix + "/data/store.json", encoding: .utf8)
        #expect(!store.contains("\"/t\""))

        // A later PUT without ttl keeps the key for good.
        #expect(try admin.call("PUT", "/apisix/admin/routes/t?ttl=1", route).status == 201)
        #expect(try admin.call("PUT", "/apisix/admin/routes/t", route).status == 200)
        Thread.sleep(forTimeInterval: 2.2)
        #expect(try admin.call("GET", "/apisix/admin/routes/t").status == 200)
    }
}
