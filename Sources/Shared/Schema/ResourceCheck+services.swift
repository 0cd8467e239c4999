// Service, plugin config and global rule validation (admin/services.lua, admin/plugin_config.lua,
// admin/global_rules.lua `check_conf`), shared by the Admin API and both providers. What needs the
// other stored objects besides references (a global rule's plugin already in another rule) is
// the Admin API's (ResourceDescriptor).

extension ResourceCheck {
    /// Order: the schema; the inline upstream's checks; `failed to fetch upstream info by
    /// upstream id [X], response code: 404` (skipped when `exists` is nil); the plugins;
    /// `script is not supported`; the inline upstream's unsupported features.
    package static func service(_ json: JSONValue, id: String, plugins: PluginSchemaLookup,
                                exists: ReferenceLookup?) -> Result<Service, CheckError> {
        Result { () throws(CheckError) -> Service in
            if let message = CoreSchemas.service.firstError(json) { throw CheckError(.schema, message) }
            if let inline = json["upstream"] { _ = try upstreamChecks(inline, id: nil) }
            try checkReferences(json, exists: exists, [("upstream_id", "upstreams", "upstream info by upstream id")])
            if let list = json["plugins"]?.objectValue, let error = checkPlugins(list, lookup: plugins) { throw error }
            if json["script"] != nil { throw CheckError(.check, "script is not supported") }
            if let inline = json["upstream"] { try refuseUnsupported(inline) }
            return try Service(apisix: json, id: id)
        }
    }

    /// A plugin config: its schema (`id` and `plugins` required), then the plugins.
    package static func pluginConfig(_ json: JSONValue, id: String, plugins: PluginSchemaLookup) -> Result<PluginSet, CheckError> {
        pluginSet(json, id: id, schema: CoreSchemas.pluginConfig, plugins: plugins)
    }

    /// A global rule: its schema (`id` and `plugins` required, nothing else), then the plugins.
    package static func globalRule(_ json: JSONValue, id: String, plugins: PluginSchemaLookup) -> Result<PluginSet, CheckError> {
        pluginSet(json, id: id, schema: CoreSchemas.globalRule, plugins: plugins)
    }

    private static func pluginSet(_ json: JSONValue, id: String, schema: Schema,
                                  plugins: PluginSchemaLookup) -> Result<PluginSet, CheckError> {
        Result { () throws(CheckError) -> PluginSet in
            if let message = schema.firstError(json) { throw CheckError(.schema, message) }
            if let list = json["plugins"]?.objectValue, let error = checkPlugins(list, lookup: plugins) { throw error }
            return try PluginSet(apisix: json, id: id)
        }
    }
}
