// What the functions and the gateway answer, as plain values: no libevent in here.

/// A request as the functions see it.
struct FunctionRequest {
    /// The path as sent (bytes, still percent-encoded), without the query.
    var rawPath: [UInt8]
    /// The values of every `Authorization` field (bytes), in order received.
    var authorization: [[UInt8]]
    /// The request body (de-chunked).
    var body: [UInt8]
}

/// A response to send.
struct FunctionResponse {
    /// Status code.
    var status: Int32
    /// Reason phrase (Go's `http.StatusText`).
    var reason: String
    /// Header fields besides `Date`, `Content-Length` and `Connection`, which the server adds.
    var headers: [(String, String)]
    /// The body.
    var body: [UInt8]
    /// Whether the connection closes after this response.
    var close = false
    /// Whether the response is a function's (delayed by `--delay`) rather than the gateway's.
    var fromFunction = true

    /// Go's `http.NotFound`: what functions-framework-go's router answers for an unmatched path.
    static let goNotFound = FunctionResponse(
        status: 404, reason: "Not Found",
        headers: [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
        body: Array("404 page not found\n".utf8))

    /// Go's net/http answer to a request target it cannot parse (e.g. a bad `%` escape in the path):
    /// the handler never runs and the connection is closed.
    static let goBadRequest = FunctionResponse(
        status: 400, reason: "Bad Request", headers: [("Content-Type", "text/plain; charset=utf-8")],
        body: Array("400 Bad Request".utf8), close: true, fromFunction: false)

    /// The gateway's refusal when `--basic` credentials are missing or wrong.
    static let unauthorized = FunctionResponse(
        status: 401, reason: "Unauthorized",
        headers: [("Content-Type", "text/plain; charset=utf-8"), ("WWW-Authenticate", "Basic realm=\"openfunction\"")],
        body: Array("Unauthorized\n".utf8), fromFunction: false)

    /// A `200 OK` written by a Go handler with `fmt.Fprintf` (no Content-Type set by the handler, so
    /// net/http sniffs one).
    static func goText(_ body: [UInt8]) -> FunctionResponse {
        FunctionResponse(status: 200, reason: "OK", headers: [("Content-Type", GoHTTP.sniffContentType(body))], body: body)
    }
}

extension FunctionKind {
    /// The answer of this function to `request`, whose path (`rawPath`) is already what the function
    /// sees (the gateway has stripped its prefix).
    func respond(to request: FunctionRequest) -> FunctionResponse {
        switch self {
        case .hello:
            // Go serves handlers `URL.Path`, i.e. the decoded path; the route `/{greeting}` takes
            // exactly one non-empty segment.
            guard let path = GoHTTP.unescapePath(request.rawPath), path.first == UInt8(ascii: "/") else {
                return .goBadRequest
            }
            let segment = path.dropFirst()
            guard !segment.isEmpty, !segment.contains(UInt8(ascii: "/")) else { return .goNotFound }
            return .goText(Array("Hello, ".utf8) + segment + Array("!\n".utf8))
        case .body:
            return .goText(Array("Hello, ".utf8) + request.body + Array("!\n".utf8))
        case .header:
            // fmt's %s of a []string: "[" + values joined by a space + "]"; no newline.
            return .goText(Array("[".utf8) + Array(request.authorization.joined(separator: [UInt8(ascii: " ")])) + Array("]".utf8))
        }
    }
}

/// The OpenFunction 0.5-0.6 gateway: routes `/<namespace>/<function>[/<rest>]` to a function.
struct Gateway {
    /// Function name to shape; the namespace is not checked (any namespace has every function).
    var functions: [String: FunctionKind]

    /// The function `rawPath` names and the path that function sees (`/<rest>`, or `/` when there is
    /// no rest), or nil when the path names no known function. The rest stays percent-encoded, as
    /// the ingress passes it on.
    func route(_ rawPath: [UInt8]) -> (kind: FunctionKind, name: String, path: [UInt8])? {
        let slash = UInt8(ascii: "/")
        guard rawPath.first == slash else { return nil }
        let parts = rawPath.dropFirst().split(separator: slash, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[0].isEmpty, !parts[1].isEmpty,
              let nameBytes = GoHTTP.unescapePath(Array(parts[1])),
              let name = String(validating: nameBytes, as: UTF8.self),
              let kind = functions[name] else { return nil }
        let rest = parts.count == 3 ? [slash] + parts[2] : [slash]
        return (kind, name, rest)
    }
}

/// The bits of Go's net/http whose exact output the functions reproduce.
enum GoHTTP {
    /// `url.PathUnescape` as the server applies it to request paths: `%XX` decoded, `+` kept; nil
    /// for a `%` not followed by two hex digits (Go then rejects the request with 400).
    static func unescapePath(_ bytes: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    return nil
                }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `http.DetectContentType` for the bodies these functions write. They all start with `Hello, `
    /// or `[`, which no signature of Go's sniffer (HTML, images, archives, ...) can match, so only
    /// its last rule decides: text unless a binary control byte occurs in the first 512 bytes.
    static func sniffContentType(_ body: [UInt8]) -> String {
        for byte in body.prefix(512) {
            switch byte {
            case 0x00...0x08, 0x0B, 0x0E...0x1A, 0x1C...0x1F: return "application/octet-stream"
            default: continue
            }
        }
        return "text/plain; charset=utf-8"
    }
}

/// Standard base64 (RFC 4648, with padding), for the expected `Authorization: Basic` value.
func base64Encode(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var out: [UInt8] = []
    var index = 0
    while index < bytes.count {
        let count = min(3, bytes.count - index)
        var group = UInt32(bytes[index]) << 16
        if count > 1 { group |= UInt32(bytes[index + 1]) << 8 }
        if count > 2 { group |= UInt32(bytes[index + 2]) }
        for position in 0..<4 {
            if position <= count {
                out.append(alphabet[Int(group >> UInt32(18 - 6 * position) & 0x3F)])
            } else {
                out.append(UInt8(ascii: "="))
            }
        }
        index += 3
    }
    return String(decoding: out, as: UTF8.self)
}
