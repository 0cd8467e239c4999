package import Shared

/// Every plugin Sluice has: the one line added per plugin. Checked when first used (duplicate
/// names or priorities would make ordering ambiguous: a programming error).
package enum PluginRegistry {
    /// Computed (plugin metatypes are not Sendable): used when a snapshot is applied or a
    /// configuration validated, never per request.
    package static var all: [any Plugin.Type] {
        let types: [any Plugin.Type] = [
            OpenFunctionPlugin.self,
        ]
        precondition(Set(types.map { $0.name }).count == types.count, "duplicate plugin name")
        precondition(Set(types.map { $0.priority }).count == types.count, "duplicate plugin priority")
        return types
    }

    private static var byName: [String: any Plugin.Type] {
        Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
    }

    package static func type(named name: String) -> (any Plugin.Type)? { byName[name] }

    /// The schema lookup the validators take (Admin API, yaml provider, `sluice -t`):
    /// pass `PluginRegistry.schema(named:)` as their `PluginSchemaLookup`.
    package static func schema(named name: String) -> Schema? { byName[name]?.schema }

    /// Enabled plugin names, as `GET /apisix/admin/plugins/list` lists them.
    package static var names: [String] { all.map { $0.name }.sorted() }

    /// Builds a route's plugin chain in descending priority. A plugin disabled with
    /// `_meta.disable` is left out. Configurations get their schema defaults here.
    package static func chain(for plugins: [String: JSONValue]) -> (chain: [any Plugin], errors: [String]) {
        // Most routes have no plugins: no lookup table for them (10,000 routes apply in one pass).
        if plugins.isEmpty { return ([], []) }
        var built: [(priority: Int, plugin: any Plugin)] = []
        var errors: [String] = []
        let types = byName
        for (name, conf) in plugins {
            guard let type = types[name] else {
                errors.append("unknown plugin [\(name)]")
                continue
            }
            if conf["_meta"]?["disable"] == .bool(true) { continue }
            do {
                let plugin = try type.init(config: type.schema.applyingDefaults(to: conf))
                built.append((type.priority, plugin))
            } catch {
                errors.append("failed to build plugin \(name): \(error.message)")
            }
        }
        built.sort { $0.priority > $1.priority }
        return (built.map { $0.plugin }, errors)
    }
}
