// Consumer, credential and consumer group validation (admin/consumers.lua, admin/credentials.lua,
// admin/consumer_group.lua `check_conf`), shared by the Admin API and both providers. What needs
// the other stored objects besides the group reference (an auth key already used by another
// consumer) is the Admin API's (ResourceDescriptor+consumers.swift).

extension ResourceCheck {
    /// Order: the schema; the plugins with their consumer schemas (`invalid plugins
    /// configuration: <text>`); `failed to fetch consumer group info by consumer group id [X],
    /// response code: 404` (skipped when `exists` is nil).
    package static func consumer(_ json: JSONValue, plugins: PluginSchemaLookup,
                                 exists: ReferenceLookup?) -> Result<Consumer, CheckError> {
        Result { () throws(CheckError) -> Consumer in
            if let message = CoreSchemas.consumer.firstError(json) { throw CheckError(.schema, message) }
            try consumerPlugins(json, plugins: plugins)
            try checkReferences(json, exists: exists, [("group_id", "consumer_groups", "consumer group info by consumer group id")])
            return try Consumer(apisix: json)
        }
    }

    /// A credential stored as `key` (`<username>/credentials/<id>`): the schema, the plugins with
    /// their consumer schemas, and each an auth plugin (`only supports auth type plugins in
    /// consumer credential`).
    package static func credential(_ json: JSONValue, key: String, plugins: PluginSchemaLookup) -> Result<Credential, CheckError> {
        Result { () throws(CheckError) -> Credential in
            if let message = CoreSchemas.credential.firstError(json) { throw CheckError(.schema, message) }
            try consumerPlugins(json, plugins: plugins)
            for name in (json["plugins"]?.objectValue ?? [:]).keys.sorted() where plugins(name)?.isAuth != true {
                throw CheckError(.check, "only supports auth type plugins in consumer credential")
            }
            return try Credential(apisix: json, key: key)
        }
    }

    /// A consumer group: its schema (`id` and `plugins` required), then the plugins.
    package static func consumerGroup(_ json: JSONValue, id: String, plugins: PluginSchemaLookup) -> Result<PluginSet, CheckError> {
        Result { () throws(CheckError) -> PluginSet in
            if let message = CoreSchemas.consumerGroup.firstError(json) { throw CheckError(.schema, message) }
            if let list = json["plugins"]?.objectValue, let error = checkPlugins(list, lookup: plugins) { throw error }
            return try PluginSet(apisix: json, id: id)
        }
    }

    /// `plugin_metadata/<plugin>` (admin/plugin_metadata.lua `check_conf`): `missing plugin name`,
    /// `invalid plugin name` for a plugin Sluice does not have (or config.yaml leaves out), then
    /// the plugin's `metadata_schema` (any object without one). Returns the object with `id` set.
    package static func pluginMetadata(_ json: JSONValue, plugin: String, plugins: PluginSchemaLookup) -> Result<JSONValue, CheckError> {
        Result { () throws(CheckError) -> JSONValue in
            if plugin.isEmpty { throw CheckError(.check, "missing plugin name") }
            guard let spec = plugins(plugin) else { throw CheckError(.check, "invalid plugin name") }
            let schema = spec.metadataSchema ?? Schema(type: .object)
            if let message = schema.firstError(json) { throw CheckError(.schema, message) }
            // An empty array is an empty Lua table: an object to the schema and to APISIX.
            var members = json.objectValue ?? [:]
            members["id"] = .string(plugin)
            return .object(members)
        }
    }

    /// `plugins.check_schema(conf.plugins, TYPE_CONSUMER)`, its text prefixed as consumers.lua
    /// and credentials.lua print it.
    private static func consumerPlugins(_ json: JSONValue, plugins: PluginSchemaLookup) throws(CheckError) {
        guard let list = json["plugins"]?.objectValue,
              let error = checkPlugins(list, lookup: plugins, consumer: true) else { return }
        throw CheckError(.check, "invalid plugins configuration: " + error.message)
    }
}
