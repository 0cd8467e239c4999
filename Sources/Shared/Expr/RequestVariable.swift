/// A variable an expression or a template reads (APISIX's `ctx.var`: nginx's variables plus
/// APISIX's own), resolved from its name once when the configuration is built, so a request
/// looks it up with a switch, never by string.
package enum RequestVariable: Equatable, Sendable {
    /// `$uri`: the normalised path, without the query.
    case uri
    /// `$request_uri`: the target as the client sent it, query included.
    case requestURI
    /// `$host`: the Host header without its port, lower-cased as nginx does (else the server name).
    case host
    case remoteAddr
    case remotePort
    case requestMethod
    /// `$args` / `$query_string`.
    case queryString
    case scheme
    case serverAddr
    case serverPort
    /// `$status`: the response status (header_filter and later).
    case status
    case routeID
    case serviceID
    case consumerName
    /// `$arg_<name>`: the first query argument named so (ASCII case-insensitive), raw.
    case arg([UInt8])
    /// `$http_<name>`: the first request header named so (`_` read as `-`, case-insensitive).
    case http([UInt8])
    /// `$cookie_<name>`: the value of the cookie named so.
    case cookie([UInt8])
    /// `$1`, `$2`...: a capture of the regex a plugin matched (proxy-rewrite's `regex_uri`).
    case capture(Int)
    /// A name Sluice does not know: always unset (nginx answers an unknown variable with empty).
    case unknown(String)

    package init(name: String) {
        switch name {
        case "uri": self = .uri
        case "request_uri": self = .requestURI
        case "host": self = .host
        case "remote_addr": self = .remoteAddr
        case "remote_port": self = .remotePort
        case "request_method": self = .requestMethod
        case "args", "query_string": self = .queryString
        case "scheme": self = .scheme
        case "server_addr": self = .serverAddr
        case "server_port": self = .serverPort
        case "status": self = .status
        case "route_id": self = .routeID
        case "service_id": self = .serviceID
        case "consumer_name": self = .consumerName
        // nginx's `$content_type` / `$content_length` are the request headers.
        case "content_type": self = .http(Array("content-type".utf8))
        case "content_length": self = .http(Array("content-length".utf8))
        default:
            if !name.isEmpty, name.utf8.allSatisfy({ ASCII.isDigit($0) }), let n = Int(name), n < 100 {
                self = .capture(n)
            } else if let rest = Self.suffix(of: name, after: "arg_") {
                self = .arg(Array(rest.utf8))
            } else if let rest = Self.suffix(of: name, after: "http_") {
                self = .http(rest.utf8.map { $0 == UInt8(ascii: "_") ? UInt8(ascii: "-") : ASCII.lower($0) })
            } else if let rest = Self.suffix(of: name, after: "cookie_") {
                self = .cookie(Array(rest.utf8))
            } else {
                self = .unknown(name)
            }
        }
    }

    private static func suffix(of name: String, after prefix: String) -> Substring? {
        guard name.hasPrefix(prefix), name.count > prefix.count else { return nil }
        return name.dropFirst(prefix.count)
    }
}

/// Where a request's variables come from: the data plane implements it over the connection's
/// parsed head, so lookups copy nothing.
package protocol RequestVariables {
    /// Calls `body` with the variable's bytes, or nil when it is unset; returns what `body` returns.
    func withValue<R>(of variable: RequestVariable, _ body: (UnsafeRawBufferPointer?) -> R) -> R
}
