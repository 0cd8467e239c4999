import Shared
import Worker

/// The plugins the control process validates against and lists at
/// `GET /apisix/admin/plugins/list`: the worker's plugin registry, narrowed to config.yaml's
/// `plugins:` list, so a new plugin's schema is validated by the Admin API, the yaml provider and
/// `sluice -t` with no extra code, and a plugin left out of the list is refused on routes
/// (`unknown plugin [name]`), as APISIX does.
enum PluginCatalog {
    /// The schema lookup of the plugins `config` enables. The specs are built once here (a
    /// plugin's spec builds its schemas on each read), so a check of thousands of objects
    /// (an etcd full read) looks each up in a table.
    static func lookup(_ config: GatewayConfig) -> PluginSchemaLookup {
        let specs = PluginRegistry.types(enabled: config.plugins).mapValues { $0.spec }
        return { name in specs[name] }
    }

    /// The enabled plugins' names, as `GET /apisix/admin/plugins/list` returns them.
    static func names(_ config: GatewayConfig) -> [String] {
        guard let enabled = config.plugins.map(Set.init) else { return PluginRegistry.names }
        return PluginRegistry.names.filter(enabled.contains)
    }

    /// A line for each listed name Sluice has no plugin for (APISIX logs and skips it too).
    static func warnings(_ config: GatewayConfig) -> [String] {
        (config.plugins ?? []).filter { PluginRegistry.type(named: $0) == nil }
            .map { "failed to load plugin [\($0)] err: Sluice has no plugin of that name" }
    }
}
