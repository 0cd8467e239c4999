// The "call a function URL" family (APISIX's apisix/plugins/serverless/generic-upstream.lua, shared
// by openfunction, azure-functions and aws-lambda): one schema and one access phase, parametrised
// by how each provider authorises the call. A new provider is one small file and one registry line.
package import Shared

/// A serverless provider: its name, priority, authorization schema and how it authorises a call.
package protocol ServerlessProvider {
    static var name: String { get }
    static var priority: Int { get }
    /// The `authorization` property's schema.
    static var authorizationSchema: Schema { get }
    /// The `Authorization` header value for a configuration, or nil to forward the client's.
    static func authorizationHeader(_ config: JSONValue) -> [UInt8]?
    /// The schema's `encrypt_fields`: secrets stored encrypted in etcd.
    static var encryptFields: [String] { get }
}

extension ServerlessProvider {
    package static var encryptFields: [String] { [] }
}

/// The shared configuration schema (generic-upstream.lua), with the provider's authorization.
/// No `additionalProperties: false`: unknown keys are accepted and ignored, as in APISIX.
package func serverlessSchema(authorization: Schema) -> Schema {
    Schema(type: .object, properties: [
        "function_uri": Schema(type: .string),
        "authorization": authorization,
        "timeout": Schema(type: .integer, minimum: 100, defaultValue: .number(3000)),
        "ssl_verify": Schema(type: .boolean, defaultValue: .bool(true)),
        "keepalive": Schema(type: .boolean, defaultValue: .bool(true)),
        "keepalive_timeout": Schema(type: .integer, minimum: 1000, defaultValue: .number(60000)),
        "keepalive_pool": Schema(type: .integer, minimum: 1, defaultValue: .number(5)),
        "max_req_body_size": Schema(type: .integer, minimum: 1, defaultValue: .number(67_108_864)),
    ], required: ["function_uri"])
}

/// A route's serverless plugin instance: the target is resolved once, the access phase only
/// hands it to the worker.
package class ServerlessPlugin<Provider: ServerlessProvider>: Plugin {
    package class var name: String { Provider.name }
    package class var priority: Int { Provider.priority }
    package class var schema: Schema { serverlessSchema(authorization: Provider.authorizationSchema) }
    package class var phases: PluginPhases { .access }
    package class var spec: PluginSpec { PluginSpec(schema: schema, encryptFields: Provider.encryptFields) }

    /// nil when `function_uri` cannot be used; then `failure` says why.
    let target: FunctionTarget?
    let failure: String?

    package required init(config: JSONValue) throws(PluginBuildError) {
        let uri = config["function_uri"]?.stringValue ?? ""
        guard let parts = FunctionURI(uri) else {
            target = nil
            failure = "failed to process \(Provider.name), err: bad uri: \(uri)"
            return
        }
        let timeoutSeconds = Double(config["timeout"]?.intValue ?? 3000) / 1000
        let keepalive = config["keepalive"]?.boolValue ?? true
        let poolSize = keepalive ? (config["keepalive_pool"]?.intValue ?? 5) : 0
        let idleSeconds = Double(config["keepalive_timeout"]?.intValue ?? 60000) / 1000
        let sslVerify = config["ssl_verify"]?.boolValue ?? true
        var upstream = Upstream(nodes: [Upstream.Node(host: parts.host, port: parts.port, weight: 1)])
        upstream.scheme = parts.scheme
        upstream.retries = 0
        upstream.timeout = Upstream.Timeout(connect: timeoutSeconds, send: timeoutSeconds, read: timeoutSeconds)
        upstream.keepalivePool = Upstream.KeepalivePool(size: poolSize, idleTimeout: idleSeconds, requests: Int.max)
        upstream.passHost = .node
        let key = "\(parts.scheme)://\(parts.host):\(parts.port)#verify=\(sslVerify)#pool=\(poolSize)/\(idleSeconds)/\(timeoutSeconds)"
        target = FunctionTarget(pluginName: Provider.name, upstreamConfig: upstream, poolKey: key,
                                hostHeader: Array(parts.hostHeader.utf8), basePath: Array(parts.path.utf8),
                                query: Array(parts.query.utf8), authorization: Provider.authorizationHeader(config),
                                maxBodySize: Int64(config["max_req_body_size"]?.intValue ?? 67_108_864),
                                sslVerify: sslVerify)
        failure = nil
    }

    package func bindUpstreams(_ make: (Upstream, String) -> UpstreamRuntime) {
        if let target { target.runtime = make(target.upstreamConfig, "fn:" + target.poolKey) }
    }

    package func access(_ ctx: RequestContext) -> PhaseResult {
        if let target { return .callFunction(target) }
        return .respond(status: 503, body: nil, errorLog: failure)
    }
}

/// `scheme://host[:port][/path][?query]` of a function URI (http or https only).
struct FunctionURI {
    var scheme: String
    /// Without brackets for IPv6.
    var host: String
    var port: Int
    /// `Host` header: lower-cased host, IPv6 in brackets, no port.
    var hostHeader: String
    var path: String
    var query: String

    init?(_ uri: String) {
        let lower = uri.lowercased()
        if lower.hasPrefix("http://") { scheme = "http" } else if lower.hasPrefix("https://") { scheme = "https" } else { return nil }
        var rest = Substring(uri.dropFirst(scheme.count + 3))
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var authority = rest
        path = ""
        query = ""
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) {
            authority = rest[..<end]
            let tail = rest[end...]
            if let q = tail.firstIndex(of: "?") {
                path = String(tail[..<q])
                query = String(tail[tail.index(after: q)...])
            } else {
                path = String(tail)
            }
        }
        if authority.contains("@") { return nil }
        var hostPart = Substring(authority)
        var portPart: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { return nil }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() } else if !after.isEmpty { return nil }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
            host = String(hostPart)
            hostHeader = "[\(host.lowercased())]"
        } else {
            if let colon = hostPart.lastIndex(of: ":") {
                portPart = hostPart[hostPart.index(after: colon)...]
                hostPart = hostPart[..<colon]
            }
            host = String(hostPart)
            hostHeader = host.lowercased()
        }
        guard !host.isEmpty else { return nil }
        if let portPart {
            guard let p = Int(portPart), (1...65535).contains(p) else { return nil }
            port = p
        } else {
            port = scheme == "https" ? 443 : 80
        }
    }
}
