import Testing
@testable import Shared

@Suite struct RouteApisixTests {
    /// A route built in code has an APISIX form that passes the checks and converts back.
    @Test func apisixJSONRoundTrip() throws {
        var route = Route(id: "r1", uris: ["/a", "/b"])
        route.methods = ["GET", "POST"]
        route.hosts = ["example.com"]
        route.remoteAddrs = ["10.0.0.0/8"]
        route.priority = -2
        route.enabled = false
        route.upstreamId = "u"
        route.plugins = ["p": .object(["k": 1])]
        let json = route.apisixJSON
        let back = try Route(apisix: json, id: "r1")
        #expect(back.uris == route.uris)
        #expect(back.methods == route.methods)
        #expect(back.hosts == route.hosts)
        #expect(back.remoteAddrs == route.remoteAddrs)
        #expect(back.priority == -2)
        #expect(back.enabled == false)
        #expect(back.upstreamId == "u")
        #expect(back.plugins == route.plugins)
        #expect(ResourceCheck.route(json, plugins: { _ in PluginSpec(schema: Schema()) }, exists: nil).isSuccess)
    }

    /// Integer ids print without fraction; other JSON is no id.
    @Test func idStrings() {
        #expect(Route.idString(.number(12)) == "12")
        #expect(Route.idString(.string("a")) == "a")
        #expect(Route.idString(.number(1.5)) == nil)
        #expect(Route.idString(.bool(true)) == nil)
    }
}
