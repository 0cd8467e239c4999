// The request and response values the Admin API works on, independent of sockets: the server
// fills an `AdminRequest` and writes out whatever `AdminResponse` comes back.

import Shared
import Worker

/// One Admin API request, complete with its body.
struct AdminRequest {
    /// The method token as sent (`GET`, `PUT`, ...).
    var method: String
    /// nginx's `$uri`: percent-decoded, dot-segments resolved, slashes merged.
    var path: String
    /// Query arguments, percent-decoded with `+` as space; the first value of a repeated key.
    var query: [String: String] = [:]
    /// Header fields, names lower-cased, in order.
    var headers: [(name: String, value: String)] = []
    /// The body; nil when the request had none (an empty body counts as none, as in APISIX).
    var body: [UInt8]?
    /// Set instead of `body` when the body was larger than the limit: its size.
    var oversizedBody: Int?
    /// The client's address; nil for a peer that is neither IPv4 nor IPv6.
    var peer: IPAddress?

    /// The first header named `lowercaseName`.
    func header(_ lowercaseName: String) -> String? {
        headers.first { $0.name == lowercaseName }?.value
    }

    /// The cookie `name` from the `Cookie` headers (nginx's `$cookie_<name>`).
    func cookie(_ name: String) -> String? {
        for field in headers where field.name == "cookie" {
            for pair in field.value.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<equals] == name { return String(trimmed[trimmed.index(after: equals)...]) }
            }
        }
        return nil
    }

    /// Decodes `a=1&b=x%20y&c` (nginx's `ngx.req.get_uri_args`): a key without `=` gets "".
    static func parseQuery(_ text: Substring) -> [String: String] {
        var arguments: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = percentDecode(parts[0])
            guard !key.isEmpty, arguments[key] == nil else { continue }
            arguments[key] = parts.count > 1 ? percentDecode(parts[1]) : ""
        }
        return arguments
    }

    static func percentDecode(_ text: Substring) -> String {
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                out.append(0x20)
            } else if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
                      let high = ASCII.hexValue(bytes[index + 1]), let low = ASCII.hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// One Admin API response; the server adds `Server`, `Date`, `Content-Length` and `Connection`.
struct AdminResponse {
    var status: Int
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []

    /// A JSON body as APISIX's `core.response.exit(code, table)` prints it: cjson text and a newline.
    static func json(_ status: Int, _ value: JSONValue) -> AdminResponse {
        var body = value.jsonBytes
        body.append(0x0A)
        return AdminResponse(status: status, headers: [("Content-Type", "application/json")], body: body)
    }

    /// `{"error_msg":"<message>"}`.
    static func error(_ status: Int, _ message: String) -> AdminResponse {
        json(status, .object(["error_msg": .string(message)]))
    }

    /// A bare string body (`core.response.exit(code, "text")` prints it as it is).
    static func text(_ status: Int, _ text: String) -> AdminResponse {
        AdminResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(text.utf8))
    }

    /// nginx's own HTML page for `status` (the allow-list's 403, an unknown location's 404).
    static func page(_ status: Int) -> AdminResponse {
        AdminResponse(status: status, headers: [("Content-Type", "text/html")], body: ResponsePages.htmlPage(status))
    }

    /// The reason phrase nginx sends with `status`.
    static func reason(_ status: Int) -> String { HTTPStatusPhrase.of(status).description }
}
