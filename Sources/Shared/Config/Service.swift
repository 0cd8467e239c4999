// APISIX's services (`/apisix/services/<id>`, schema_def.lua `_M.service`) and the plugin sets
// that plugin configs and global rules are (`_M.plugin_config`, `_M.global_rule`): validated
// models the snapshot carries beside routes and upstreams. How they apply to a route is
// ConfigSnapshot+merge.swift.

/// A validated APISIX service: what routes with its `service_id` inherit.
package struct Service: Sendable, Equatable {
    package var id: String
    /// name -> configuration, as stored.
    package var plugins: [String: JSONValue] = [:]
    /// Inline `upstream`.
    package var upstream: Upstream?
    package var upstreamId: String?
    /// `hosts`, lower-cased (APISIX lower-cases them when loading); empty = none.
    package var hosts: [String] = []
    /// `enable_websocket`; nil when not set.
    package var enableWebsocket: Bool?
    /// The APISIX object, with `id` set to the service's id string.
    package var json: JSONValue = .null

    package init(id: String) { self.id = id }

    /// Builds the model from an object that passed `CoreSchemas.service`.
    package init(apisix source: JSONValue, id: String) throws(CheckError) {
        guard case .object(var members) = source else { throw CheckError(.check, "invalid service: not an object") }
        self.init(id: id)
        plugins = members["plugins"]?.objectValue ?? [:]
        if let inline = members["upstream"] { upstream = try Upstream(apisix: inline, id: nil) }
        upstreamId = members["upstream_id"].flatMap(Route.idString)
        hosts = (members["hosts"]?.arrayValue ?? []).compactMap { $0.stringValue.map(Route.lowercasedHost) }
        enableWebsocket = members["enable_websocket"]?.boolValue
        if members["id"] != .string(id) { members["id"] = .string(id) }
        json = .object(members)
    }
}

/// A plugin config or a global rule: an id and a `plugins` object.
package struct PluginSet: Sendable, Equatable {
    package var id: String
    package var plugins: [String: JSONValue]
    /// The APISIX object, with `id` set to the id string.
    package var json: JSONValue

    /// Builds the model from an object that passed `CoreSchemas.pluginConfig` or `.globalRule`.
    package init(apisix source: JSONValue, id: String) throws(CheckError) {
        guard case .object(var members) = source, let plugins = members["plugins"]?.objectValue else {
            throw CheckError(.check, "invalid plugin set: no plugins object")
        }
        self.id = id
        self.plugins = plugins
        if members["id"] != .string(id) { members["id"] = .string(id) }
        json = .object(members)
    }
}
