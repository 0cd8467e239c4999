package import Shared

/// `response-rewrite` (apisix/plugins/response-rewrite.lua; plugins.md section 10): priority 899,
/// header_filter and body_filter, on every response of the route whose `vars` match (the worker's
/// own answers included).
///
/// header_filter: `status_code` replaces the status; with `body` or `filters`, Content-Length,
/// Content-Encoding, Last-Modified and ETag are removed (the body is re-framed); `headers` (a map,
/// or `add`/`set`/`remove`) apply in that order, values rendered with `$variables`.
/// body_filter: `body` (base64-decoded with `body_base64`) replaces the whole body; `filters` hold
/// the body (up to `max_resp_body_size`, the rest dropped as APISIX truncates) and substitute each
/// regex once or globally at its end.
///
/// Not done: decoding a gzip/brotli body before `filters` (the body passes unchanged and error.log
/// says so, as APISIX does for an encoding it cannot decode).
package final class ResponseRewritePlugin: Plugin {
    package static let name = "response-rewrite"
    package static let priority = 899
    package static let phases: PluginPhases = [.headerFilter, .bodyFilter]

    package static var schema: Schema {
        let headerValue = Schema(oneOf: [Schema(type: .string), Schema(type: .number)])
        let headerMap = Schema(type: .object, patternProperties: ["^[^:]+$": headerValue], minProperties: 1)
        return Schema(type: .object, properties: [
            "max_resp_body_size": Schema(type: .integer, minimum: 1, defaultValue: .number(67_108_864)),
            "headers": Schema(anyOf: [
                headerMap,
                Schema(properties: [
                    "add": Schema(type: .array, items: Schema(type: .string, pattern: "^[^:]+:[^:]*[^/]$"), minItems: 1),
                    "set": headerMap,
                    "remove": Schema(type: .array, items: Schema(type: .string, pattern: "^[^:]+$"), minItems: 1),
                ]),
            ]),
            "body": Schema(type: .string),
            "body_base64": Schema(type: .boolean, defaultValue: .bool(false)),
            "status_code": Schema(type: .integer, minimum: 200, maximum: 598),
            "vars": Schema(type: .array),
            "filters": Schema(type: .array, items: Schema(type: .object, properties: [
                "regex": Schema(type: .string, minLength: 1),
                "scope": Schema(type: .string, enumValues: [.string("once"), .string("global")], defaultValue: .string("once")),
                "replace": Schema(type: .string),
                "options": Schema(type: .string, defaultValue: .string("jo")),
            ], required: ["regex", "replace"]), minItems: 1),
        ], custom: check)
    }

    /// The checks after the schema (`_M.check_schema`), in its order and words.
    @Sendable static func check(_ conf: JSONValue) -> String? {
        // The schema's `dependencies`: body and filters exclude each other.
        if conf["body"] != nil && conf["filters"] != nil {
            return "failed to validate dependent schema for \"body\": value wasn't supposed to match schema"
        }
        if conf["body_base64"] == .bool(true) {
            guard let body = conf["body"]?.stringValue, !body.isEmpty, Base64.decode(body) != nil else {
                return "invalid base64 content"
            }
        }
        if let vars = conf["vars"] {
            do throws(ExprError) { _ = try Expr(vars) } catch { return "failed to validate the 'vars' expression: \(error.message)" }
        }
        for filter in conf["filters"]?.arrayValue ?? [] {
            let regex = filter["regex"]?.stringValue ?? ""
            do throws(PCRERegexError) { _ = try PCRERegex(regex, ngxOptions: filter["options"]?.stringValue ?? "jo") } catch {
                return "regex \"\(regex)\" validation failed: \(error.message)"
            }
        }
        return nil
    }

    struct Filter {
        let regex: PCRERegex
        let replace: [UInt8]
        let global: Bool
    }

    let vars: Expr?
    let status: Int?
    let body: [UInt8]?
    let filters: [Filter]
    let maxBody: Int
    let adds: [(name: [UInt8], value: Template)]
    let sets: [(name: [UInt8], value: Template)]
    let removes: [[UInt8]]

    package init(config: JSONValue) throws(PluginBuildError) {
        do throws(ExprError) { vars = try config["vars"].map { (v: JSONValue) throws(ExprError) in try Expr(v) } } catch {
            throw PluginBuildError("failed to validate the 'vars' expression: \(error.message)")
        }
        status = config["status_code"]?.intValue
        if let text = config["body"]?.stringValue {
            body = config["body_base64"] == .bool(true) ? Base64.decode(text) : Array(text.utf8)
        } else {
            body = nil
        }
        var filters: [Filter] = []
        for filter in config["filters"]?.arrayValue ?? [] {
            let pattern = filter["regex"]?.stringValue ?? ""
            do throws(PCRERegexError) {
                let regex = try PCRERegex(pattern, ngxOptions: filter["options"]?.stringValue ?? "jo")
                filters.append(Filter(regex: regex, replace: Array((filter["replace"]?.stringValue ?? "").utf8),
                                      global: filter["scope"]?.stringValue == "global"))
            } catch {
                throw PluginBuildError("regex \"\(pattern)\" validation failed: \(error.message)")
            }
        }
        self.filters = filters
        maxBody = min(config["max_resp_body_size"]?.intValue ?? 67_108_864, RequestContext.maxHeldBody)
        var adds: [(name: [UInt8], value: Template)] = []
        var sets: [(name: [UInt8], value: Template)] = []
        var removes: [[UInt8]] = []
        if let headers = config["headers"] {
            let isNewForm = headers["add"]?.arrayValue != nil || headers["set"]?.objectValue != nil || headers["remove"]?.arrayValue != nil
            if isNewForm {
                for line in headers["add"]?.arrayValue ?? [] {
                    // `Name: value` (`^([^:\s]+)\s*:\s*([^:]+)$`).
                    guard let text = line.stringValue, let colon = text.firstIndex(of: ":") else { continue }
                    let name = text[..<colon].trimmingCharacters(in: " \t")
                    let value = text[text.index(after: colon)...].trimmingCharacters(in: " \t", trailing: false)
                    adds.append((Array(name.utf8), Template(value)))
                }
                for (name, value) in (headers["set"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    sets.append((Array(name.utf8), Template(Self.text(value))))
                }
                removes = (headers["remove"]?.arrayValue ?? []).compactMap { $0.stringValue.map { Array($0.utf8) } }
            } else {
                for (name, value) in (headers.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    sets.append((Array(name.utf8), Template(Self.text(value))))
                }
            }
        }
        self.adds = adds
        self.sets = sets
        self.removes = removes
    }

    /// A header value from JSON: a string as it is, a number as Lua's `tostring` writes it.
    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        default: return ""
        }
    }

    /// `state`: 1 = this response matched `vars`; 2 = the replacement body was sent.
    private static let matched: UInt64 = 1
    private static let bodySent: UInt64 = 2

    package func headerFilter(_ ctx: RequestContext) {
        if let vars, !vars.matches(ctx.vars) { return }
        ctx.state = Self.matched
        if let status { ctx.setStatus(status) }
        if body != nil || !filters.isEmpty {
            for name in Self.bodyHeaders { name.withUnsafeBytes { ctx.removeResponseHeader($0) } }
            ctx.markBodyChanged()
        }
        for (name, value) in adds {
            let rendered = ctx.render(value)
            name.withUnsafeBytes { ctx.addResponseHeader($0, rendered) }
        }
        for (name, value) in sets {
            let rendered = ctx.render(value)
            name.withUnsafeBytes { ctx.setResponseHeader($0, rendered) }
        }
        for name in removes { name.withUnsafeBytes { ctx.removeResponseHeader($0) } }
    }

    private static let bodyHeaders: [[UInt8]] = ["content-length", "content-encoding", "last-modified", "etag"].map { Array($0.utf8) }

    package func bodyFilter(_ ctx: RequestContext, _ chunk: UnsafeRawBufferPointer, last: Bool) {
        guard ctx.state & Self.matched != 0 else { return }
        if let body {
            // The whole new body goes out in place of the first piece; later pieces are dropped.
            if ctx.state & Self.bodySent == 0 {
                ctx.state |= Self.bodySent
                body.withUnsafeBytes { ctx.replaceBodyChunk($0) }
            } else {
                ctx.replaceBodyChunk(UnsafeRawBufferPointer(start: nil, count: 0))
            }
            return
        }
        guard !filters.isEmpty else { return }
        // Held until the end, up to max_resp_body_size (APISIX truncates a longer body).
        let room = maxBody - ctx.held.count
        if room > 0 { ctx.held.append(UnsafeRawBufferPointer(rebasing: chunk.prefix(room))) }
        guard last else {
            ctx.replaceBodyChunk(UnsafeRawBufferPointer(start: nil, count: 0))
            return
        }
        var useFirst = true
        var source = ctx.held.readable
        for filter in filters {
            let ok = useFirst ? substitute(filter, source, into: &ctx.work.0, ctx) : substitute(filter, source, into: &ctx.work.1, ctx)
            guard ok else { continue }
            source = useFirst ? ctx.work.0.readable : ctx.work.1.readable
            useFirst.toggle()
        }
        ctx.replaceBodyChunk(source)
    }

    /// One filter from `source` into `out`; false (logged) when the substitution failed.
    private func substitute(_ filter: Filter, _ source: UnsafeRawBufferPointer, into out: inout ByteBuffer, _ ctx: RequestContext) -> Bool {
        out.clear()
        var want = max(source.count + 64, 256)
        for _ in 0..<2 {
            guard out.reserve(want) else { break }
            let space = UnsafeMutableRawBufferPointer(start: out.base + out.writeIndex, count: out.freeSpace)
            switch filter.regex.substitute(source, filter.replace, global: filter.global, into: space) {
            case .done(let n):
                out.writeIndex += n
                return true
            case .needed(let n):
                want = n
            case .failed(let message):
                ctx.connection?.worker.logger.log(.error, "regex \"\(filter.regex.pattern)\" substitutes failed:\(message)")
                return false
            }
        }
        ctx.connection?.worker.logger.log(.error, "regex \"\(filter.regex.pattern)\" substitutes failed:result too large")
        return false
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String, trailing: Bool = true) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s.removeFirst() }
        if trailing { while let c = s.last, set.contains(c) { s.removeLast() } }
        return String(s)
    }
}
