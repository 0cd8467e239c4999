package import Shared

/// Every plugin Sluice has: the one line added per plugin. Checked when first used (duplicate
/// names or priorities would make ordering ambiguous: a programming error).
package enum PluginRegistry {
    /// Computed (plugin metatypes are not Sendable): used when a snapshot is applied or a
    /// configuration validated, never per request.
    package static var all: [any Plugin.Type] {
        let types: [any Plugin.Type] = [
            OpenFunctionPlugin.self,
            RequestIDPlugin.self,
            KeyAuthPlugin.self,
            IPRestrictionPlugin.self,
            BasicAuthPlugin.self,
            ResponseRewritePlugin.self,
            ProxyRewritePlugin.self,
        ]
        precondition(Set(types.map { $0.name }).count == types.count, "duplicate plugin name")
        precondition(Set(types.map { $0.priority }).count == types.count, "duplicate plugin priority")
        return types
    }

    private static var byName: [String: any Plugin.Type] {
        Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
    }

    package static func type(named name: String) -> (any Plugin.Type)? { byName[name] }

    /// The lookup the validators take (Admin API, yaml provider, `sluice -t`): pass
    /// `PluginRegistry.spec(named:)` as their `PluginSchemaLookup`.
    package static func spec(named name: String) -> PluginSpec? { byName[name]?.spec }

    /// Enabled plugin names, as `GET /apisix/admin/plugins/list` lists them: by priority, highest
    /// first (`admin/plugins.lua` `get_plugins_list`).
    package static var names: [String] { all.sorted { $0.priority > $1.priority }.map { $0.name } }

    /// The plugins config.yaml's `plugins:` list enables (nil: all), by name.
    package static func types(enabled: [String]?) -> [String: any Plugin.Type] {
        guard let enabled = enabled.map(Set.init) else { return byName }
        return byName.filter { enabled.contains($0.key) }
    }
}
