// APISIX route JSON <-> `Route`; see Upstream+apisix.swift for the conventions.

extension Route {
    /// Builds the model from an APISIX route object that passed `CoreSchemas.route`: `uri`
    /// becomes `uris: [uri]`, hosts are lower-cased, `status: 0` disables, an inline `upstream`
    /// is converted (without id). `id` is also written into `json` as a string.
    package init(apisix source: JSONValue, id: String) throws(CheckError) {
        guard case .object(var members) = source else { throw CheckError(.check, "invalid route: not an object") }
        let uris: [String]
        if let uri = members["uri"]?.stringValue {
            uris = [uri]
        } else if let list = members["uris"]?.arrayValue {
            uris = list.compactMap(\.stringValue)
        } else {
            throw CheckError(.check, "invalid route: no uri")
        }
        self.init(id: id, uris: uris)
        // The schema's enum already admits upper-case names only.
        methods = (members["methods"]?.arrayValue ?? []).compactMap(\.stringValue)
        if let host = members["host"]?.stringValue {
            hosts = [Route.lowercasedHost(host)]
        } else {
            hosts = (members["hosts"]?.arrayValue ?? []).compactMap { $0.stringValue.map(Route.lowercasedHost) }
        }
        if let addr = members["remote_addr"]?.stringValue {
            remoteAddrs = [addr]
        } else {
            remoteAddrs = (members["remote_addrs"]?.arrayValue ?? []).compactMap(\.stringValue)
        }
        priority = members["priority"]?.intValue ?? 0
        enabled = members["status"]?.intValue != 0
        if let timeout = members["timeout"] { self.timeout = try Upstream.Timeout(apisix: timeout) }
        if let inline = members["upstream"] { upstream = try Upstream(apisix: inline, id: nil) }
        upstreamId = members["upstream_id"].flatMap(Route.idString)
        plugins = members["plugins"]?.objectValue ?? [:]
        enableWebsocket = members["enable_websocket"]?.boolValue ?? false
        setsWebsocket = members["enable_websocket"]?.boolValue != nil
        serviceId = members["service_id"].flatMap(Route.idString)
        vars = members["vars"]
        pluginConfigId = members["plugin_config_id"].flatMap(Route.idString)
        // Writing into `members` copies the whole dictionary; snapshots already carry the id.
        if members["id"] != .string(id) {
            members["id"] = .string(id)
            json = .object(members)
        } else {
            json = source
        }
    }

    /// `host` lower-cased, without allocating when it already is.
    static func lowercasedHost(_ host: String) -> String {
        host.utf8.contains { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) } ? host.lowercased() : host
    }

    /// An APISIX id (`"1"` or `1`) as the string the store keys it by.
    package static func idString(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): text
        case .number: value.intValue.map { String($0) }
        default: nil
        }
    }

    /// The APISIX JSON form: `json` when this route came from JSON, else rebuilt from the fields.
    package var apisixJSON: JSONValue {
        if case .object = json { return json }
        var members: [String: JSONValue] = ["id": .string(id), "priority": .number(Double(priority)),
                                            "status": .number(enabled ? 1 : 0)]
        if uris.count == 1 { members["uri"] = .string(uris[0]) } else { members["uris"] = .array(uris.map { .string($0) }) }
        if !methods.isEmpty { members["methods"] = .array(methods.map { .string($0) }) }
        if !hosts.isEmpty { members["hosts"] = .array(hosts.map { .string($0) }) }
        if !remoteAddrs.isEmpty { members["remote_addrs"] = .array(remoteAddrs.map { .string($0) }) }
        if let timeout { members["timeout"] = timeout.apisixJSON }
        if let upstream { members["upstream"] = upstream.apisixJSON }
        if let upstreamId { members["upstream_id"] = .string(upstreamId) }
        if !plugins.isEmpty { members["plugins"] = .object(plugins) }
        if setsWebsocket || enableWebsocket { members["enable_websocket"] = .bool(enableWebsocket) }
        if let serviceId { members["service_id"] = .string(serviceId) }
        if let vars { members["vars"] = vars }
        if let pluginConfigId { members["plugin_config_id"] = .string(pluginConfigId) }
        return .object(members)
    }
}
