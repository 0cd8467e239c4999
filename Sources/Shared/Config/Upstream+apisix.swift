// APISIX upstream JSON <-> `Upstream`. The conversion trusts the schema for shapes but never
// crashes on an unexpected one (a corrupt snapshot file comes through here too): it throws.

extension Upstream {
    /// Builds the model from an APISIX upstream object that passed `CoreSchemas.upstream`.
    ///
    /// Map-form node keys are `host`, `host:port`, `[v6]` or `[v6]:port`; a missing port is 80,
    /// or 443 for `https`/`grpcs`. Map-form nodes are ordered by key for determinism.
    /// Throws `invalid port N` for a port outside 1..65535 and
    /// `invalid configuration: IPv6 address must be enclosed with '[' and ']'` for a bare IPv6
    /// host in array form. `id` (nil for an inline upstream) is also written into `json`.
    package init(apisix source: JSONValue, id: String?) throws(CheckError) {
        guard case .object(var members) = source else { throw CheckError(.check, "invalid upstream: not an object") }
        let scheme = members["scheme"]?.stringValue ?? "http"
        let defaultPort = scheme == "https" || scheme == "grpcs" ? 443 : 80
        var nodes: [Node] = []
        switch members["nodes"] {
        case .object(let map)?:
            for key in map.keys.sorted() {
                guard let weight = map[key]!.intValue else { throw CheckError(.check, "invalid weight of node \(key)") }
                let (host, port) = try Upstream.splitAddress(key, defaultPort: defaultPort)
                nodes.append(Node(host: host, port: port, weight: weight))
            }
        case .array(let list)?:
            for item in list {
                guard var host = item["host"]?.stringValue, let weight = item["weight"]?.intValue else {
                    throw CheckError(.check, "invalid node \(item.jsonText)")
                }
                if host.hasPrefix("["), host.hasSuffix("]") {
                    host = String(host.dropFirst().dropLast())
                } else if host.contains(":") {
                    throw CheckError(.check, "invalid configuration: IPv6 address must be enclosed with '[' and ']'")
                }
                let port = item["port"]?.intValue ?? defaultPort
                guard (1...65535).contains(port) else { throw CheckError(.check, "invalid port \(port)") }
                nodes.append(Node(host: host, port: port, weight: weight, priority: item["priority"]?.intValue ?? 0))
            }
        case nil: break
        default: throw CheckError(.check, "invalid nodes")
        }
        self.init(id: id, nodes: nodes)
        type = members["type"]?.stringValue ?? "roundrobin"
        retries = members["retries"]?.intValue
        retryTimeout = members["retry_timeout"]?.numberValue
        if let timeout = members["timeout"] { self.timeout = try Upstream.Timeout(apisix: timeout) }
        if let pool = members["keepalive_pool"] {
            keepalivePool = KeepalivePool(size: pool["size"]?.intValue ?? 320,
                                          idleTimeout: pool["idle_timeout"]?.numberValue ?? 60,
                                          requests: pool["requests"]?.intValue ?? 1000)
        }
        self.scheme = scheme
        if let mode = members["pass_host"]?.stringValue {
            guard let passHost = PassHost(rawValue: mode) else { throw CheckError(.check, "invalid pass_host \(mode)") }
            self.passHost = passHost
        }
        upstreamHost = members["upstream_host"]?.stringValue
        // Writing into `members` copies the whole dictionary; snapshots already carry the id.
        if let id, members["id"] != .string(id) {
            members["id"] = .string(id)
            json = .object(members)
        } else {
            json = source
        }
    }

    /// `host[:port]` / `[v6][:port]` split; the port checked against 1..65535.
    static func splitAddress(_ address: String, defaultPort: Int) throws(CheckError) -> (String, Int) {
        var host = Substring(address)
        var portText: Substring?
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else { throw CheckError(.check, "invalid address \(address)") }
            host = address[address.index(after: address.startIndex)..<close]
            let rest = address[address.index(after: close)...]
            if rest.hasPrefix(":") { portText = rest.dropFirst() } else if !rest.isEmpty {
                throw CheckError(.check, "invalid address \(address)")
            }
        } else if let colon = address.firstIndex(of: ":"), address.lastIndex(of: ":") == colon {
            host = address[..<colon]
            portText = address[address.index(after: colon)...]
        }
        guard let portText else { return (String(host), defaultPort) }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw CheckError(.check, "invalid port \(portText)")
        }
        return (String(host), port)
    }

    /// The APISIX JSON form: `json` when this upstream came from JSON, else rebuilt from the
    /// fields (array-form nodes).
    package var apisixJSON: JSONValue {
        if case .object = json { return json }
        var members: [String: JSONValue] = [
            "type": .string(type),
            "scheme": .string(scheme),
            "pass_host": .string(passHost.rawValue),
            "nodes": .array(nodes.map { node in
                .object(["host": .string(node.host.contains(":") ? "[\(node.host)]" : node.host),
                         "port": .number(Double(node.port)), "weight": .number(Double(node.weight)),
                         "priority": .number(Double(node.priority))])
            }),
        ]
        if let id { members["id"] = .string(id) }
        if let retries { members["retries"] = .number(Double(retries)) }
        if let retryTimeout { members["retry_timeout"] = .number(retryTimeout) }
        if let timeout { members["timeout"] = timeout.apisixJSON }
        if let keepalivePool {
            members["keepalive_pool"] = .object(["size": .number(Double(keepalivePool.size)),
                                                 "idle_timeout": .number(keepalivePool.idleTimeout),
                                                 "requests": .number(Double(keepalivePool.requests))])
        }
        if let upstreamHost { members["upstream_host"] = .string(upstreamHost) }
        return .object(members)
    }
}

extension Upstream.Timeout {
    /// From `{connect, send, read}` (seconds).
    package init(apisix source: JSONValue) throws(CheckError) {
        guard let connect = source["connect"]?.numberValue, let send = source["send"]?.numberValue,
              let read = source["read"]?.numberValue else { throw CheckError(.check, "invalid timeout \(source.jsonText)") }
        self.init(connect: connect, send: send, read: read)
    }

    /// `{connect, send, read}`.
    package var apisixJSON: JSONValue {
        .object(["connect": .number(connect), "send": .number(send), "read": .number(read)])
    }
}
