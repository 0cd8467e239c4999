import Shared

/// The plugins the control process validates against and lists at
/// `GET /apisix/admin/plugins/list`: the one place to wire the plugin registry in.
// TODO(openfunction): return the Worker's plugin registry here (its names and each plugin's
// schema); until it exists no plugin is known, so `plugins: {"x": {}}` gives `unknown plugin [x]`.
enum PluginCatalog {
    /// The schema of plugin `name`; nil for an unknown plugin.
    static func schema(named name: String) -> Schema? { nil }

    /// Every known plugin's name, as `GET /apisix/admin/plugins/list` returns them.
    static var names: [String] { [] }
}
