import Testing
@testable import Shared

private func json(_ text: String) throws -> JSONValue { try JSONValue.parse(Array(text.utf8)) }
private func anyPlugin(_ name: String) -> PluginSpec? { ["p", "q", "r", "s"].contains(name) ? PluginSpec(schema: Schema(type: .object)) : nil }

private func route(_ text: String, id: String = "r1") throws -> Route {
    try ResourceCheck.route(json(text), id: id, plugins: anyPlugin, exists: nil).get()
}

private func service(_ text: String, id: String = "s1") throws -> Service {
    try ResourceCheck.service(json(text), id: id, plugins: anyPlugin, exists: nil).get()
}

/// plugin.lua `merge_service_route`, plugin_config.lua `merge`, plugin.lua `merge_global_rules`.
@Suite struct ServiceMergeTests {
    /// Route plugins replace the service's of the same name whole; the service's others stay;
    /// the service's upstream, hosts and websocket flag apply when the route has none.
    @Test func serviceIntoRoute() throws {
        let snapshot = ConfigSnapshot(services: ["s1": try service(
            #"{"plugins":{"p":{"from":"service","x":1},"q":{"from":"service"}},"upstream_id":"u1","hosts":["A.example"],"enable_websocket":true}"#)])
        let merged = snapshot.merged(try route(#"{"uri":"/a","service_id":"s1","plugins":{"p":{"from":"route"}}}"#))
        #expect(merged.plugins == ["p": .object(["from": "route"]), "q": .object(["from": "service"])])
        #expect(merged.upstreamId == "u1")
        #expect(merged.hosts == ["a.example"])
        #expect(merged.enableWebsocket)
        #expect(merged.unavailable == nil)
        #expect(merged.id == "r1")
        #expect(merged.serviceId == "s1")
    }

    /// A route's own upstream, hosts and `enable_websocket: false` win over the service's.
    @Test func routeWins() throws {
        let snapshot = ConfigSnapshot(services: ["s1": try service(
            #"{"upstream":{"nodes":{"127.0.0.1:1":1}},"hosts":["a.example"],"enable_websocket":true}"#)])
        let merged = snapshot.merged(try route(
            #"{"uri":"/a","service_id":"s1","upstream_id":"u2","host":"b.example","enable_websocket":false}"#))
        #expect(merged.upstreamId == "u2")
        #expect(merged.upstream == nil)
        #expect(merged.hosts == ["b.example"])
        #expect(!merged.enableWebsocket)
        let inline = snapshot.merged(try route(#"{"uri":"/a","service_id":"s1","upstream":{"nodes":{"127.0.0.1:2":1}}}"#))
        #expect(inline.upstream?.nodes.first?.port == 2)
        #expect(inline.upstreamId == nil)
    }

    /// A plugin config adds only the plugins the route lacks; the service comes under both:
    /// route > plugin config > service.
    @Test func precedence() throws {
        let snapshot = ConfigSnapshot(
            services: ["s1": try service(#"{"plugins":{"p":{"by":"s"},"q":{"by":"s"},"r":{"by":"s"}}}"#)],
            pluginConfigs: ["c1": try ResourceCheck.pluginConfig(json(#"{"id":"c1","plugins":{"p":{"by":"c"},"q":{"by":"c"}}}"#),
                                                                 id: "c1", plugins: anyPlugin).get()])
        let merged = snapshot.merged(try route(#"{"uri":"/a","service_id":"s1","plugin_config_id":"c1","plugins":{"p":{"by":"r"}}}"#))
        #expect(merged.plugins == ["p": .object(["by": "r"]), "q": .object(["by": "c"]), "r": .object(["by": "s"])])
    }

    /// Missing references make the route unavailable; the plugin config is checked first.
    @Test func missingReferences() throws {
        let snapshot = ConfigSnapshot()
        #expect(snapshot.merged(try route(#"{"uri":"/a","service_id":"gone"}"#)).unavailable == .missingService("gone"))
        #expect(snapshot.merged(try route(#"{"uri":"/a","service_id":"gone","plugin_config_id":"none","plugins":{}}"#)).unavailable
            == .missingPluginConfig("none"))
    }

    /// One set of all global rules; a name in two rules runs in neither.
    @Test func globalPlugins() throws {
        func rule(_ id: String, _ plugins: String) throws -> PluginSet {
            try ResourceCheck.globalRule(json(#"{"id":"\#(id)","plugins":\#(plugins)}"#), id: id, plugins: anyPlugin).get()
        }
        let snapshot = ConfigSnapshot(globalRules: [try rule("1", #"{"p":{},"q":{"n":1}}"#), try rule("2", #"{"p":{},"r":{}}"#),
                                                    try rule("3", #"{"p":{}}"#)])
        let (plugins, dropped) = snapshot.globalPlugins()
        #expect(plugins == ["q": .object(["n": 1]), "r": .object([:])])
        #expect(dropped == ["p"])
    }

    /// Services, plugin configs and global rules survive the snapshot file.
    @Test func snapshotRoundTrip() throws {
        let snapshot = ConfigSnapshot(
            generation: 3, routes: [try route(#"{"uri":"/a","service_id":"s1","plugin_config_id":"c1"}"#)],
            services: ["s1": try service(#"{"plugins":{"p":{}},"hosts":["a.example"],"upstream":{"nodes":{"127.0.0.1:1":1}}}"#)],
            pluginConfigs: ["c1": try ResourceCheck.pluginConfig(json(#"{"id":"c1","plugins":{"q":{}}}"#), id: "c1", plugins: anyPlugin).get()],
            globalRules: [try ResourceCheck.globalRule(json(#"{"id":1,"plugins":{"r":{}}}"#), id: "1", plugins: anyPlugin).get()])
        let read = try SnapshotFile.decode(SnapshotFile.encode(snapshot), path: "t")
        #expect(read == snapshot)
        #expect(read.routes[0].serviceId == "s1")
        #expect(read.routes[0].pluginConfigId == "c1")
    }

    /// APISIX's messages for services, plugin configs and global rules.
    @Test(arguments: [
        ("services", #"{"hosts":[]}"#, #"invalid configuration: property "hosts" validation failed: expect array to have at least 1 items"#),
        ("services", #"{"upstream_id":"invalid$"}"#,
         #"invalid configuration: property "upstream_id" validation failed: object matches none of the required"#),
        ("services", #"{"upstream_id":"9"}"#, "failed to fetch upstream info by upstream id [9], response code: 404"),
        ("services", #"{"plugins":{"nope":{}}}"#, "unknown plugin [nope]"),
        ("services", #"{"script":"local x = 1"}"#, "script is not supported"),
        ("services", #"{"desc":"x","bogus":1}"#, "invalid configuration: additional properties forbidden, found bogus"),
        ("services", "{}", nil),
        ("plugin_configs", #"{"id":"1"}"#, #"invalid configuration: property "plugins" is required"#),
        ("plugin_configs", #"{"id":"1","plugins":{},"name":""}"#, nil),
        ("global_rules", #"{"id":"1","plugins":{},"desc":"x"}"#, "invalid configuration: additional properties forbidden, found desc"),
        ("global_rules", #"{"id":"1","plugins":{"p":"x"}}"#, #"invalid plugin conf "x" for plugin [p]"#),
        ("global_rules", #"{"id":"1","plugins":{}}"#, nil),
    ] as [(String, String, String?)])
    func messages(resource: String, body: String, expected: String?) throws {
        let result = ConfigItem.check(resource: resource, json: try json(body), id: "1", plugins: anyPlugin,
                                      exists: { $0 == "upstreams" && $1 == "1" })
        switch result {
        case .success: #expect(expected == nil)
        case .failure(let error): #expect(error.message == expected)
        }
    }

    /// The yaml provider loads every resource, reports invalid items and serves dangling
    /// references as APISIX does (the route is kept; merging marks it unavailable).
    @Test func standaloneFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("conf/apisix.yaml", """
        routes:
          - id: r1
            uri: /a
            service_id: s1
          - id: r2
            uri: /b
            service_id: missing
        services:
          - id: s1
            upstream:
              nodes:
                "127.0.0.1:1980": 1
          - id: s2
            hosts: []
        plugin_configs:
          - plugins: {}
        global_rules:
          - id: g1
            plugins:
              p: {}
        #END
        """)
        let (snapshot, errors) = try StandaloneConfig.load(path: path, environment: [:], plugins: anyPlugin)
        #expect(snapshot.routes.map(\.id) == ["r1", "r2"])
        #expect(Array(snapshot.services.keys) == ["s1"])
        #expect(snapshot.globalRules.map(\.id) == ["g1"])
        #expect(errors == [
            #"failed to check item data of [services] err: property "hosts" validation failed: expect array to have at least 1 items"#,
            #"failed to check item data of [plugin_configs] err: property "id" is required"#,
        ])
        #expect(snapshot.merged(snapshot.routes[0]).upstream?.nodes.first?.port == 1980)
        #expect(snapshot.merged(snapshot.routes[1]).unavailable == .missingService("missing"))
    }
}
