/// One published state of the configuration, immutable once built (nginx's "cycle" for the data
/// plane). The control process writes it; workers read it and merge it (ConfigSnapshot+merge.swift)
/// once per snapshot.
package struct ConfigSnapshot: Sendable, Equatable {
    /// Grows by one with every publication.
    package var generation: UInt64
    /// As stored: services and plugin configs are not merged in yet.
    package var routes: [Route]
    /// By id.
    package var upstreams: [String: Upstream]
    /// By id.
    package var services: [String: Service]
    /// By id.
    package var pluginConfigs: [String: PluginSet]
    /// In id order.
    package var globalRules: [PluginSet]
    /// By username.
    package var consumers: [String: Consumer] = [:]
    /// In key order; one whose consumer is missing serves no one.
    package var credentials: [Credential] = []
    /// By id.
    package var consumerGroups: [String: PluginSet] = [:]
    /// `plugin_metadata` objects by plugin name (with `id` = the name).
    package var pluginMetadata: [String: JSONValue] = [:]

    package init(generation: UInt64 = 0, routes: [Route] = [], upstreams: [String: Upstream] = [:],
                 services: [String: Service] = [:], pluginConfigs: [String: PluginSet] = [:],
                 globalRules: [PluginSet] = []) {
        self.generation = generation; self.routes = routes; self.upstreams = upstreams
        self.services = services; self.pluginConfigs = pluginConfigs; self.globalRules = globalRules
    }
}
