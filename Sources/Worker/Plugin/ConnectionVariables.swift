package import Shared
#if canImport(Glibc)
import Glibc
#endif

/// APISIX's variables read from a connection's current request, in place: the values are slices
/// of the request head (or of the connection's own fields); numbers are formatted into a scratch
/// buffer of the connection. Valid only during the call that receives them.
package struct ConnectionVariables: RequestVariables {
    unowned(unsafe) let connection: ClientConnection?

    package func withValue<R>(of variable: RequestVariable, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let c = connection else { return body(nil) }
        let bytes = c.head.readable
        let head = c.parser.head
        switch variable {
        case .uri:
            return c.path.withUnsafeBytes { body($0) }
        case .requestURI:
            return body(bytes.slice(head.targetRange))
        case .host:
            guard let range = head.hostRange else { return body(nil) }
            let host = bytes.slice(range)
            // Without the port, as nginx's $host.
            if let port = Bytes.port(ofHost: host), let start = port.baseAddress, let base = host.baseAddress {
                return body(UnsafeRawBufferPointer(start: base, count: start - base - 1))
            }
            return body(host)
        case .remoteAddr:
            if let range = c.realIPRange { return body(bytes.slice(range)) }
            return c.peerText.withUnsafeBytes { body($0) }
        case .remotePort:
            return number(Int64(c.peer.port), body)
        case .requestMethod:
            return body(bytes.slice(head.methodRange))
        case .queryString:
            return body(head.queryRange.map { bytes.slice($0) })
        case .scheme:
            return body(UnsafeRawBufferPointer(start: Self.http.utf8Start, count: Self.http.utf8CodeUnitCount))
        case .serverAddr:
            return c.withLocalAddress(body)
        case .serverPort:
            return number(Int64(c.listenerPort), body)
        case .status:
            return c.context.status > 0 ? number(Int64(c.context.status), body) : body(nil)
        case .routeID:
            // The global rules' entry of an unmatched request has no id.
            guard let route = c.context.route, !route.idBytes.isEmpty else { return body(nil) }
            return route.idBytes.withUnsafeBytes { body($0) }
        case .serviceID:
            guard let id = c.context.route?.serviceIdBytes else { return body(nil) }
            return id.withUnsafeBytes { body($0) }
        case .capture(let n):
            return body(c.context.capture(n))
        case .consumerName:
            guard let consumer = c.context.consumer else { return body(nil) }
            return consumer.usernameBytes.withUnsafeBytes { body($0) }
        case .unknown:
            return body(nil)
        case .arg(let name):
            return body(head.queryRange.flatMap { Self.argument(name, in: bytes.slice($0)) })
        case .http(let name):
            return name.withUnsafeBytes { wanted in
                for field in head.headers where Bytes.equalsIgnoringCase(bytes.slice(field.nameRange), wanted) {
                    return body(bytes.slice(field.valueRange))
                }
                return body(nil)
            }
        case .cookie(let name):
            for field in head.headers where Bytes.equalsIgnoringCase(bytes.slice(field.nameRange), "cookie") {
                if let value = Self.cookie(name, in: bytes.slice(field.valueRange)) { return body(value) }
            }
            return body(nil)
        }
    }

    private static let http: StaticString = "http"

    private func number<R>(_ value: Int64, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let c = connection else { return body(nil) }
        c.scratch.clear()
        c.scratch.append(decimal: value)
        return body(c.scratch.readable)
    }

    /// The first `name=value` of a query string (name ASCII case-insensitive, as nginx's
    /// `$arg_name`), raw; `name` alone gives an empty value.
    static func argument(_ name: [UInt8], in query: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var start = 0
        while start <= query.count {
            var end = start
            while end < query.count && query[end] != UInt8(ascii: "&") { end += 1 }
            let pair = query.slice(start..<end)
            var eq = 0
            while eq < pair.count && pair[eq] != UInt8(ascii: "=") { eq += 1 }
            let key = pair.slice(0..<eq)
            if name.withUnsafeBytes({ Bytes.equalsIgnoringCase(key, $0) }) {
                return eq < pair.count ? pair.slice((eq + 1)..<pair.count) : pair.slice(eq..<eq)
            }
            start = end + 1
        }
        return nil
    }

    /// The value of cookie `name` in a `Cookie` header (`a=1; b=2`), quotes kept as sent.
    static func cookie(_ name: [UInt8], in header: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var i = 0
        while i < header.count {
            while i < header.count && (header[i] == UInt8(ascii: " ") || header[i] == UInt8(ascii: ";")) { i += 1 }
            var end = i
            while end < header.count && header[end] != UInt8(ascii: ";") { end += 1 }
            let pair = header.slice(i..<end)
            var eq = 0
            while eq < pair.count && pair[eq] != UInt8(ascii: "=") { eq += 1 }
            if eq < pair.count, name.withUnsafeBytes({ Bytes.equalsIgnoringCase(pair.slice(0..<eq), $0) }) {
                var valueEnd = pair.count
                while valueEnd > eq + 1 && pair[valueEnd - 1] == UInt8(ascii: " ") { valueEnd -= 1 }
                return pair.slice((eq + 1)..<valueEnd)
            }
            i = end + 1
        }
        return nil
    }
}
