import Shared
import Worker

/// The plugins the control process validates against and lists at
/// `GET /apisix/admin/plugins/list`: the worker's plugin registry, so a new plugin's schema is
/// validated by the Admin API, the yaml provider and `sluice -t` with no extra code.
enum PluginCatalog {
    /// The schema of plugin `name`; nil for an unknown plugin.
    static func schema(named name: String) -> Schema? { PluginRegistry.schema(named: name) }

    /// Every known plugin's name, as `GET /apisix/admin/plugins/list` returns them.
    static var names: [String] { PluginRegistry.names }
}
