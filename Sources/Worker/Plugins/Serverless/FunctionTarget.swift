package import Shared

/// A function endpoint as a route calls it, resolved once per snapshot from the serverless
/// plugin's configuration: where to connect, how to authenticate, which path and query to send.
/// The worker's connector performs the call through `upstream` (one node; its keepalive pool is
/// shared by every route calling the same function with the same settings).
package final class FunctionTarget {
    /// The plugin's name, for `failed to process <name>, err: ...`.
    package let pluginName: String
    /// The call as an upstream: one node, `timeout` for connect/send/read, the keepalive pool.
    package let upstreamConfig: Upstream
    /// Key of the shared runtime (scheme, host, port, TLS and pool settings).
    package let poolKey: String
    /// `Host` header value: the host alone, lower-cased, no port (APISIX's generic-upstream).
    package let hostHeader: [UInt8]
    /// The function URI's path as written ("" when it has none).
    package let basePath: [UInt8]
    /// The function URI's own query, without `?` ("" when none).
    package let query: [UInt8]
    /// `Authorization` value replacing the client's, or nil to forward the client's.
    package let authorization: [UInt8]?
    /// Largest request body accepted, bytes (`max_req_body_size`).
    package let maxBodySize: Int64
    /// Whether TLS certificates and host names are checked (`ssl_verify`).
    package let sslVerify: Bool
    /// Bound by `RuntimeConfig` when the snapshot is applied.
    package var runtime: UpstreamRuntime?

    package init(pluginName: String, upstreamConfig: Upstream, poolKey: String, hostHeader: [UInt8],
                 basePath: [UInt8], query: [UInt8], authorization: [UInt8]?, maxBodySize: Int64, sslVerify: Bool) {
        self.pluginName = pluginName
        self.upstreamConfig = upstreamConfig
        self.poolKey = poolKey
        self.hostHeader = hostHeader
        self.basePath = basePath
        self.query = query
        self.authorization = authorization
        self.maxBodySize = maxBodySize
        self.sslVerify = sslVerify
    }

    /// Appends the request target: base path joined with the route's `:ext` capture (one `/`
    /// between them; an empty capture keeps the trailing `/`; no path at all is `/`), the capture
    /// re-encoded per RFC 3986, then the function URI's query followed by the client's raw query.
    package func appendTarget(ext: UnsafeRawBufferPointer?, clientQuery: UnsafeRawBufferPointer?, to out: inout ByteBuffer) {
        if let ext {
            out.append(basePath)
            let baseEndsWithSlash = basePath.last == UInt8(ascii: "/")
            let extStartsWithSlash = ext.first == UInt8(ascii: "/")
            if !baseEndsWithSlash && !extStartsWithSlash { out.append(UInt8(ascii: "/")) }
            URIEncoding.appendPath(ext, to: &out)
        } else if basePath.isEmpty {
            out.append(UInt8(ascii: "/"))
        } else {
            out.append(basePath)
        }
        let hasClientQuery = (clientQuery?.count ?? 0) > 0
        if !query.isEmpty {
            out.append(UInt8(ascii: "?"))
            out.append(query)
            if hasClientQuery { out.append(UInt8(ascii: "&")) }
        } else if hasClientQuery {
            out.append(UInt8(ascii: "?"))
        }
        if hasClientQuery, let clientQuery { out.append(clientQuery) }
    }
}

/// RFC 3986 encoding of a decoded path for a request target.
package enum URIEncoding {
    /// pchar and `/` stay (unreserved, sub-delims, `:`, `@`); every other byte becomes `%XX`.
    package static func appendPath(_ bytes: UnsafeRawBufferPointer, to out: inout ByteBuffer) {
        for b in bytes {
            if isPathChar(b) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigit(b >> 4))
                out.append(hexDigit(b & 0xF))
            }
        }
    }

    @inline(__always)
    static func isPathChar(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
             UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
             UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
             UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 48 + v : 55 + v }
}
