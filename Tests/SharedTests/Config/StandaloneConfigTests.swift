import Testing
@testable import Shared

private func load(_ yaml: String, environment: [String: String] = [:],
                  plugins: PluginSchemaLookup = { _ in nil }) throws -> (snapshot: ConfigSnapshot, errors: [String]) {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = try directory.write("conf/apisix.yaml", yaml)
    return try StandaloneConfig.load(path: path, environment: environment, plugins: plugins)
}

@Suite struct StandaloneConfigTests {
    /// The file APISIX ships (apisix-compat.md 6) loads one route with an inline upstream.
    @Test func shippedDefault() throws {
        let yaml = """
        routes:
          -
            uri: /hello
            upstream:
              nodes:
                "127.0.0.1:1980": 1
              type: roundrobin
        #END
        """
        let (snapshot, errors) = try load(yaml)
        #expect(errors.isEmpty)
        #expect(snapshot.generation == 0)
        #expect(snapshot.routes.count == 1)
        let route = try #require(snapshot.routes.first)
        #expect(route.id == "arr_1")
        #expect(route.uris == ["/hello"])
        #expect(route.upstream?.nodes == [Upstream.Node(host: "127.0.0.1", port: 1980, weight: 1)])
    }

    /// Without `#END` in the last 10 bytes the whole file is refused.
    @Test(arguments: ["routes: []\n", "routes: []\n#END\n# trailing comment that is long\n", "#ENDING\n"])
    func missingEndMarker(yaml: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("apisix.yaml", yaml)
        #expect(throws: ConfigError("missing valid end flag in file \(path)")) { try StandaloneConfig.load(path: path, plugins: { _ in nil }) }
    }

    /// `#END` may be followed by whitespace only.
    @Test(arguments: ["#END", "#END\n", "#END  \n\n", "routes: []\n#END\r\n"])
    func endMarkerForms(tail: String) {
        #expect(StandaloneConfig.hasEndMarker("routes: []\n" + tail))
    }

    /// `${{VAR}}` and `${{VAR:=default}}` are substituted before YAML parsing.
    @Test func environmentSubstitution() throws {
        let yaml = """
        routes:
          - uri: ${{ROUTE_URI}}
            upstream:
              nodes:
                "${{UPSTREAM_HOST:=127.0.0.1}}:${{ UPSTREAM_PORT }}": 1
        #END
        """
        let (snapshot, errors) = try load(yaml, environment: ["ROUTE_URI": "/env", "UPSTREAM_PORT": "1981"])
        #expect(errors.isEmpty)
        #expect(snapshot.routes.first?.uris == ["/env"])
        #expect(snapshot.routes.first?.upstream?.nodes == [Upstream.Node(host: "127.0.0.1", port: 1981, weight: 1)])
    }

    /// An unset variable without default refuses the file.
    @Test func missingVariable() throws {
        #expect(throws: ConfigError.self) { try load("routes:\n  - uri: ${{NOPE}}\n#END\n") }
    }

    /// An invalid item is skipped with APISIX's log text while the others load; ids come from
    /// `id` or `arr_N`.
    @Test func invalidItemSkipped() throws {
        let yaml = """
        upstreams:
          - id: 1
            nodes:
              "127.0.0.1:1980": 1
            type: roundrobin
          - nodes:
              "127.0.0.1:1981": 1
            retries: -1
        routes:
          - uri: /a
            upstream_id: 1
          - uri: /b
            plugins:
              nope: {}
          - id: named
            uris: [/c]
            upstream_id: arr_9
          - uri: /d
            methods: [GET, GET]
            upstream_id: 1
        #END
        """
        let (snapshot, errors) = try load(yaml)
        #expect(snapshot.routes.map(\.id) == ["arr_1", "named"])
        #expect(snapshot.routes.first?.upstreamId == "1")
        #expect(Array(snapshot.upstreams.keys) == ["1"])
        #expect(errors == [
            #"failed to check item data of [upstreams] err: property "retries" validation failed: expected -1 to be at least 0"#,
            "failed to check item data of [routes] err: unknown plugin [nope]",
            "failed to find upstream by id: arr_9",
            #"failed to check item data of [routes] err: property "methods" validation failed: expected unique items but items 1 and 2 are equal"#,
        ])
    }

    /// Plugins known to the caller validate; the route keeps their configuration.
    @Test func pluginsLookup() throws {
        let yaml = "routes:\n  - uri: /f\n    plugins:\n      openfunction:\n        function_uri: http://127.0.0.1:30585/x\n#END\n"
        let (snapshot, errors) = try load(yaml, plugins: { $0 == "openfunction" ? PluginSpec(schema: Schema(type: .object)) : nil })
        #expect(errors.isEmpty)
        #expect(snapshot.routes.first?.plugins["openfunction"] == .object(["function_uri": "http://127.0.0.1:30585/x"]))
    }

    /// Unsupported resources with items and unknown keys are reported; empty ones are not.
    @Test func unsupportedResources() throws {
        let yaml = """
        ssls:
          - id: s1
        protos: []
        stream_routes:
        bogus: 1
        #END
        """
        let (snapshot, errors) = try load(yaml)
        #expect(snapshot.routes.isEmpty)
        #expect(errors == ["unknown resource type bogus, ignored", "ssls is not supported"])
    }

    /// An empty configuration (only the marker) is valid and empty.
    @Test func emptyFile() throws {
        let (snapshot, errors) = try load("#END\n")
        #expect(snapshot == ConfigSnapshot())
        #expect(errors.isEmpty)
    }

    /// Broken YAML refuses the file.
    @Test func brokenYAML() throws {
        #expect(throws: ConfigError.self) { try load("routes: [\n#END\n") }
    }
}
