import Testing
@testable import Shared

/// A stand-in auth plugin: consumer conf `{"key": string}` required.
private let authSpec = PluginSpec(schema: Schema(type: .object),
                                  consumerSchema: Schema(type: .object, properties: ["key": Schema(type: .string)], required: ["key"]),
                                  isAuth: true, consumerKey: "key")
private func lookup(_ name: String) -> PluginSpec? {
    switch name {
    case "auth": authSpec
    case "shape": PluginSpec(schema: Schema(type: .object))
    default: nil
    }
}

/// Consumers, credentials and consumer groups in the providers' shared path: `ConfigItem`, the
/// yaml file and the snapshot file.
@Suite struct ConsumerConfigTests {
    @Test func standaloneFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("conf/apisix.yaml", """
            consumer_groups:
              - id: gold
                plugins:
                  shape: {}
            consumers:
              - username: jack
                group_id: gold
                labels: {custom_id: c-1}
                plugins:
                  auth: {key: k-jack}
              - id: jack/credentials/phone
                plugins:
                  auth: {key: k-phone}
              - id: jack/credentials/bad
                plugins:
                  shape: {}
              - username: bob
                plugins:
                  auth: {}
            #END
            """)
        let (snapshot, errors) = try StandaloneConfig.load(path: path, environment: [:], plugins: lookup)
        #expect(errors == [
            "failed to check item data of [consumers] err: only supports auth type plugins in consumer credential",
            #"failed to check item data of [consumers] err: invalid plugins configuration: failed to check the configuration of plugin auth err: property "key" is required"#,
        ])
        #expect(snapshot.consumers.keys.sorted() == ["jack"])
        #expect(snapshot.consumers["jack"]?.groupId == "gold")
        #expect(snapshot.consumers["jack"]?.customId == "c-1")
        #expect(snapshot.credentials.map(\.key) == ["jack/credentials/phone"])
        #expect(snapshot.credentials.first?.id == "phone")
        #expect(snapshot.consumerGroups["gold"]?.plugins.keys.sorted() == ["shape"])

        // The snapshot file carries them whole.
        let file = directory.path + "/snapshot.json"
        try SnapshotFile.write(snapshot, to: file)
        #expect(try SnapshotFile.read(path: file) == snapshot)
    }

    /// The store's and etcd's id decides what a `consumers` object is.
    @Test func credentialKeys() {
        #expect(Consumer.credentialKey("jack/credentials/a")! == ("jack", "a"))
        #expect(Consumer.credentialKey("jack") == nil)
        #expect(Consumer.credentialKey("/credentials/a") == nil)
        #expect(Consumer.credentialKey("jack/credentials/a/b") == nil)
        #expect(Consumer.credentialKey("jack/x/a") == nil)
    }

    /// A consumer's plugins use their consumer schemas; its group must exist when references are
    /// checked.
    @Test func checks() throws {
        let exists: ReferenceLookup = { resource, id in resource == "consumer_groups" && id == "gold" }
        func message(_ json: String, id: String = "jack") throws -> String? {
            switch ConfigItem.check(resource: "consumers", json: try JSONValue.parse(json), id: id, plugins: lookup, exists: exists) {
            case .success: nil
            case .failure(let error): error.message
            }
        }
        #expect(try message(#"{"username":"jack","group_id":"gold","plugins":{"auth":{"key":"k"}}}"#) == nil)
        #expect(try message(#"{"username":"jack","group_id":"tin"}"#)
            == "failed to fetch consumer group info by consumer group id [tin], response code: 404")
        #expect(try message(#"{"username":"jack","plugins":{"nope":{}}}"#) == "invalid plugins configuration: unknown plugin [nope]")
        #expect(try message(#"{"plugins":{}}"#) == #"invalid configuration: property "username" is required"#)
        #expect(try message(#"{"plugins":{"auth":{"key":"k"}}}"#, id: "jack/credentials/a") == nil)
        #expect(try message(#"{"plugins":{"auth":{"key":"k"}},"username":"x"}"#, id: "jack/credentials/a")
            == "invalid configuration: additional properties forbidden, found username")
    }

    /// plugin_metadata items name their plugin by `id`; one without is ignored.
    @Test func pluginMetadataInFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("conf/apisix.yaml", """
            plugin_metadata:
              - id: auth
                note: x
              - note: no id
              - id: nope
            #END
            """)
        let (snapshot, errors) = try StandaloneConfig.load(path: path, environment: [:], plugins: lookup)
        #expect(errors == ["failed to check item data of [plugin_metadata] err: invalid plugin name"])
        #expect(snapshot.pluginMetadata == ["auth": .object(["id": "auth", "note": "x"])])
        let file = directory.path + "/snapshot.json"
        try SnapshotFile.write(snapshot, to: file)
        #expect(try SnapshotFile.read(path: file) == snapshot)
    }
}
