package import Shared

/// `proxy-rewrite` (apisix/plugins/proxy-rewrite.lua; plugins.md section 9): priority 1008,
/// rewrite. Changes what goes upstream: the URI (`uri` template, or the first matching
/// `regex_uri` pair, whose captures `$1`... header values may use), the method, the `Host` (with
/// the upstream's `pass_host: pass`), and headers (`add`, then `set`, then `remove`; values are
/// templates; an empty value removes). The new path is percent-encoded as nginx's
/// `ngx_escape_uri` does and the client's query string appended, unless
/// `use_real_request_uri_unsafe` starts from the raw target.
package final class ProxyRewritePlugin: Plugin {
    package static let name = "proxy-rewrite"
    package static let priority = 1008
    package static let phases: PluginPhases = .rewrite
    static let methods = ["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "MKCOL", "COPY", "MOVE",
                          "PROPFIND", "LOCK", "UNLOCK", "PATCH", "TRACE"]

    package static var schema: Schema {
        let scalar = Schema(oneOf: [Schema(type: .string), Schema(type: .number)])
        let values = Schema(oneOf: [Schema(type: .string), Schema(type: .number),
                                    Schema(type: .array, items: scalar, minItems: 1)])
        return Schema(type: .object, properties: [
            "uri": Schema(type: .string, minLength: 1, maxLength: 4096, pattern: "^\\/.*"),
            "method": Schema(type: .string, enumValues: methods.map(JSONValue.string)),
            "regex_uri": Schema(type: .array, items: Schema(type: .string), minItems: 2),
            "host": Schema(type: .string, pattern: "^[0-9a-zA-Z-.]+(:\\d{1,5})?$"),
            "headers": Schema(oneOf: [
                Schema(type: .object, properties: [
                    "add": Schema(type: .object, patternProperties: ["^[^:]+$": values], minProperties: 1),
                    "set": Schema(type: .object, patternProperties: ["^[^:]+$": values], minProperties: 1),
                    "remove": Schema(type: .array, items: Schema(type: .string, pattern: "^[^:]+$"), minItems: 1),
                ], additionalProperties: .forbidden, minProperties: 1),
                Schema(type: .object, patternProperties: ["^[^:]+$": scalar], minProperties: 1),
            ]),
            "use_real_request_uri_unsafe": Schema(type: .boolean, defaultValue: .bool(false)),
        ], minProperties: 1, custom: check)
    }

    /// `_M.check_schema` after the schema, in its words.
    @Sendable static func check(_ conf: JSONValue) -> String? {
        if let pairs = conf["regex_uri"]?.arrayValue {
            guard pairs.count % 2 == 0 else { return "The length of regex_uri should be an even number" }
            for i in stride(from: 0, to: pairs.count, by: 2) {
                let pattern = pairs[i].stringValue ?? "", replacement = pairs[i + 1].stringValue ?? ""
                do throws(PCRERegexError) { _ = try PCRERegex(pattern) } catch {
                    return "invalid regex_uri(\(pattern), \(replacement)): \(error.message)"
                }
            }
        }
        if let headers = conf["headers"]?.objectValue, !isNewForm(conf["headers"]!) {
            for (field, value) in headers {
                if !field.utf8.allSatisfy({ ASCII.isToken($0) }) { return "invalid field character in header" }
                if case .string(let text) = value, text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) {
                    return "invalid value character in header"
                }
            }
        }
        return nil
    }

    static func isNewForm(_ headers: JSONValue) -> Bool {
        headers["add"]?.objectValue != nil || headers["set"]?.objectValue != nil || headers["remove"]?.arrayValue != nil
    }

    let uri: Template?
    let regexURI: [(regex: PCRERegex, replacement: [UInt8])]
    let method: [UInt8]?
    let host: [UInt8]?
    let unsafeURI: Bool
    let adds: [(name: [UInt8], value: Template)]
    let sets: [(name: [UInt8], values: [Template])]
    let removes: [[UInt8]]

    package init(config: JSONValue) throws(PluginBuildError) {
        uri = config["uri"]?.stringValue.map(Template.init)
        var pairs: [(regex: PCRERegex, replacement: [UInt8])] = []
        let list = config["regex_uri"]?.arrayValue ?? []
        for i in stride(from: 0, to: list.count - 1, by: 2) {
            let pattern = list[i].stringValue ?? ""
            do throws(PCRERegexError) {
                pairs.append((try PCRERegex(pattern), Array((list[i + 1].stringValue ?? "").utf8)))
            } catch {
                throw PluginBuildError("invalid regex_uri(\(pattern)): \(error.message)")
            }
        }
        regexURI = pairs
        method = config["method"]?.stringValue.map { Array($0.utf8) }
        host = config["host"]?.stringValue.map { Array($0.utf8) }
        unsafeURI = config["use_real_request_uri_unsafe"]?.boolValue ?? false
        var adds: [(name: [UInt8], value: Template)] = []
        var sets: [(name: [UInt8], values: [Template])] = []
        var removes: [[UInt8]] = []
        if let headers = config["headers"] {
            func templates(_ value: JSONValue) -> [Template] {
                if case .array(let items) = value { return items.map { Template(ResponseRewritePlugin.text($0)) } }
                return [Template(ResponseRewritePlugin.text(value))]
            }
            if Self.isNewForm(headers) {
                for (name, value) in (headers["add"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    for t in templates(value) { adds.append((Array(name.utf8), t)) }
                }
                for (name, value) in (headers["set"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    sets.append((Array(name.utf8), templates(value)))
                }
                removes = (headers["remove"]?.arrayValue ?? []).compactMap { $0.stringValue.map { Array($0.utf8) } }
            } else {
                for (name, value) in (headers.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    sets.append((Array(name.utf8), templates(value)))
                }
            }
        }
        self.adds = adds
        self.sets = sets
        self.removes = removes
    }

    package func rewrite(_ ctx: RequestContext) -> PhaseResult {
        if let host { host.withUnsafeBytes { ctx.setUpstreamHost($0) } }
        if let result = rewriteURI(ctx) { return result }
        for (name, value) in adds {
            let rendered = ctx.render(value)
            name.withUnsafeBytes { ctx.addRequestHeader($0, rendered) }
        }
        for (name, values) in sets {
            for (i, value) in values.enumerated() {
                let rendered = ctx.render(value)
                name.withUnsafeBytes { i == 0 ? ctx.setRequestHeader($0, rendered) : ctx.addRequestHeader($0, rendered) }
            }
        }
        for name in removes { name.withUnsafeBytes { ctx.removeRequestHeader($0) } }
        if let method { method.withUnsafeBytes { ctx.setUpstreamMethod($0) } }
        return .next
    }

    /// Builds the upstream URI into `ctx.work.0`, then records it; a 500 when a substitution fails.
    private func rewriteURI(_ ctx: RequestContext) -> PhaseResult? {
        ctx.work.0.clear()
        ctx.work.1.clear()
        var separatorEscaped = false
        var rawQuery: UnsafeRawBufferPointer?
        // ctx.work.1: the URI before encoding.
        if unsafeURI {
            ctx.variable(.requestURI) { ctx.work.1.append($0 ?? UnsafeRawBufferPointer(start: nil, count: 0)) }
        } else {
            ctx.variable(.uri) { ctx.work.1.append($0 ?? UnsafeRawBufferPointer(start: nil, count: 0)) }
        }
        if unsafeURI, let q = ctx.work.1.readable.firstIndex(of: UInt8(ascii: "?")) {
            rawQuery = UnsafeRawBufferPointer(rebasing: ctx.work.1.readable[q...])
        }
        if let uri {
            separatorEscaped = true
            ctx.work.0.clear()
            for part in uri.parts {
                switch part {
                case .literal(let bytes): ctx.work.0.append(bytes)
                case .variable(let variable, let fallback):
                    // A `?` coming from a variable is data, not the query's start.
                    ctx.variable(variable) { value in
                        if let value {
                            Self.appendEscapingQuery(value, to: &ctx.work.0)
                        } else if let fallback {
                            fallback.withUnsafeBytes { Self.appendEscapingQuery($0, to: &ctx.work.0) }
                        }
                    }
                }
            }
            if let rawQuery, rawQuery.count > 1 {
                ctx.work.0.append(ctx.work.0.readable.contains(UInt8(ascii: "?")) ? UInt8(ascii: "&") : UInt8(ascii: "?"))
                ctx.work.0.append(UnsafeRawBufferPointer(rebasing: rawQuery.dropFirst()))
            }
            ctx.work = (ctx.work.1, ctx.work.0)
        } else if !regexURI.isEmpty {
            if !ctx.work.1.readable.contains(UInt8(ascii: "?")) { separatorEscaped = true }
            for (regex, replacement) in regexURI where ctx.setCaptures(regex, ctx.work.1.readable) {
                ctx.work.0.clear()
                let subject = ctx.work.1.readable
                var want = subject.count + replacement.count + 64
                var done = false
                for _ in 0..<2 where !done {
                    guard ctx.work.0.reserve(want) else { break }
                    let space = UnsafeMutableRawBufferPointer(start: ctx.work.0.base, count: ctx.work.0.freeSpace)
                    switch regex.substitute(subject, replacement, global: false, into: space) {
                    case .done(let n): ctx.work.0.writeIndex = n; done = true
                    case .needed(let n): want = n
                    case .failed(let message):
                        let uriText = ctx.variable(.uri) { String(decoding: $0 ?? UnsafeRawBufferPointer(start: nil, count: 0), as: UTF8.self) }
                        let error = "failed to substitute the uri \(uriText) (\(regex.pattern)) with \(String(decoding: replacement, as: UTF8.self)) : \(message)"
                        return .respond(status: 500, body: Array((JSONValue.object(["error_msg": .string(error)]).jsonText + "\n").utf8), errorLog: error)
                    }
                }
                if done { ctx.work = (ctx.work.1, ctx.work.0) }
                break
            }
        }
        // ctx.work.1 holds the new URI; encode it into ctx.work.0.
        ctx.work.0.clear()
        if unsafeURI {
            ctx.work.0.append(ctx.work.1.readable)
        } else {
            let built = ctx.work.1.readable
            let index = separatorEscaped ? built.firstIndex(of: UInt8(ascii: "?")) : nil
            Self.escape(UnsafeRawBufferPointer(rebasing: built[..<(index ?? built.count)]), into: &ctx.work.0, uriTable: true)
            if let index { Self.escape(UnsafeRawBufferPointer(rebasing: built[index...]), into: &ctx.work.0, uriTable: false) }
            ctx.variable(.queryString) { args in
                guard let args else { return }
                ctx.work.0.append(index == nil ? UInt8(ascii: "?") : UInt8(ascii: "&"))
                ctx.work.0.append(args)
            }
        }
        ctx.setUpstreamURI(ctx.work.0.readable)
        return nil
    }

    /// A variable's value in a `uri` template: a `?` in it is data, not the query's start.
    private static func appendEscapingQuery(_ value: UnsafeRawBufferPointer, to out: inout ByteBuffer) {
        for byte in value {
            if byte == UInt8(ascii: "?") { out.append("%3F") } else { out.append(byte) }
        }
    }

    private static let hex: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// nginx's `ngx_escape_uri` (NGX_ESCAPE_URI: controls, space, `#`, `%`, `?`, 0x7F and up) with
    /// `uriTable`, else `escape_uri_control_chars` (controls and 0x7F only).
    static func escape(_ bytes: UnsafeRawBufferPointer, into out: inout ByteBuffer, uriTable: Bool) {
        for byte in bytes {
            let escaped = byte < 0x20 || byte == 0x7F
                || (uriTable && (byte == 0x20 || byte == 0x23 || byte == 0x25 || byte == 0x3F || byte > 0x7F))
            if escaped {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            } else {
                out.append(byte)
            }
        }
    }
}
