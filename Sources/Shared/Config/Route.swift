/// A validated APISIX route, ready for the router and the proxy.
package struct Route: Sendable, Equatable {
    package var id: String
    /// `uri`, or `uris`: at least one.
    package var uris: [String]
    /// Upper-case method names; empty = any method.
    package var methods: [String] = []
    /// `host` or `hosts`, lower-cased; empty = any host.
    package var hosts: [String] = []
    /// `remote_addr` / `remote_addrs` as written (IPv4/IPv6, optional `/prefix`); empty = any.
    package var remoteAddrs: [String] = []
    package var priority: Int = 0
    /// false when `status: 0`.
    package var enabled: Bool = true
    /// Route `timeout`; wins over the upstream's.
    package var timeout: Upstream.Timeout?
    /// Inline `upstream`.
    package var upstream: Upstream?
    package var upstreamId: String?
    /// `plugins`: name -> configuration as stored (validated against the plugin's schema).
    package var plugins: [String: JSONValue] = [:]
    /// `enable_websocket`. Default: false (a service's value applies when the route sets none).
    package var enableWebsocket: Bool = false
    /// Whether the object set `enable_websocket` (merging keeps a service's value otherwise).
    package var setsWebsocket = false
    /// `vars`, as validated (`Expr.routeVars`); the worker compiles it once per snapshot.
    package var vars: JSONValue?
    /// `service_id`: the service whose plugins, upstream and hosts the route inherits.
    package var serviceId: String?
    /// `plugin_config_id`: the plugin config whose plugins the route adds where it lacks them.
    package var pluginConfigId: String?
    /// Set by merging when a reference is missing at serve time: the route matches but answers
    /// this instead of proxying (APISIX's init.lua).
    package var unavailable: Unavailable?
    /// The APISIX object this route was built from, as validated, with `id` set to the route's
    /// id string (APISIX's data plane does the same). `.null` for a route built in code; the
    /// snapshot then stores `apisixJSON`, which is rebuilt from the fields.
    package var json: JSONValue = .null

    package init(id: String, uris: [String]) { self.id = id; self.uris = uris }

    /// Why a matched route cannot be served.
    package enum Unavailable: Sendable, Equatable {
        /// Its service does not exist: 404 with nginx's page, log
        /// `failed to fetch service configuration by id: <id>`.
        case missingService(String)
        /// Its plugin config does not exist: 503, log `failed to fetch plugin config by id: <id>`.
        case missingPluginConfig(String)
    }
}
