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
    /// `enable_websocket`. Default: false.
    package var enableWebsocket: Bool = false
    /// The APISIX object this route was built from, as validated, with `id` set to the route's
    /// id string (APISIX's data plane does the same). `.null` for a route built in code; the
    /// snapshot then stores `apisixJSON`, which is rebuilt from the fields.
    package var json: JSONValue = .null

    package init(id: String, uris: [String]) { self.id = id; self.uris = uris }
}
