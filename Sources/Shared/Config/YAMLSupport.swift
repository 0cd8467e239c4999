// Helpers shared by the two YAML files Sluice reads (config.yaml, apisix.yaml): reading a file,
// composing its node tree with Yams, turning nodes into `JSONValue` the way APISIX's lyaml +
// cjson round trip would, and the nginx time/size syntaxes.

import Foundation
import Yams

enum YAMLSupport {
    /// The file's text; throws naming the path and the OS reason.
    static func readText(_ path: String) throws(ConfigError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
            throw ConfigError("failed to read \(path): \(reason)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The root node (nil for an empty document); throws `invalid YAML in <path>: ...`.
    static func compose(_ text: String, path: String) throws(ConfigError) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch {
            throw ConfigError("invalid YAML in \(path): \(error)")
        }
    }

    /// A node as JSON: tagged scalars become numbers, booleans and null; mapping keys become
    /// strings (an unquoted `80` key is `"80"`).
    static func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return node.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case .int: return node.int.map { .number(Double($0)) } ?? .string(scalar.string)
            case .float: return node.float.map(JSONValue.number) ?? .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping { members[key.scalar?.string ?? json(key).jsonText] = json(value) }
            return .object(members)
        case .sequence(let sequence):
            return .array(sequence.map(json))
        case .alias:
            return .null
        }
    }

    /// How a value is quoted in error messages: scalars as `"text"`, collections as JSON.
    static func display(_ node: Node) -> String {
        if let scalar = node.scalar { return "\"\(scalar.string)\"" }
        return json(node).jsonText
    }

    /// nginx's time syntax: `500ms`, `60s`, `10m`, `1h`, `2d`, `1w`, `1M` (30 days), `1y`
    /// (365 days), concatenations like `1h30m`, and a bare number meaning seconds. Returns
    /// seconds, or nil for anything else.
    static func seconds(_ text: String) -> Double? {
        let units: [String: Double] = ["ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800,
                                       "M": 2_592_000, "y": 31_536_000]
        if let bare = Double(text), bare >= 0, !text.contains(where: { $0.isLetter }) { return bare }
        var total = 0.0
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let amount = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.hasPrefix("ms") ? "ms" : rest.first.map(String.init) ?? "s"
            guard let factor = units[unit] else { return nil }
            rest = rest.dropFirst(rest.isEmpty ? 0 : unit.count)
            total += amount * factor
        }
        return total
    }

    /// nginx's size syntax: bytes, or a number with `k`/`K`, `m`/`M`, `g`/`G`. Nil for anything else.
    static func bytes(_ text: String) -> Int64? {
        var text = Substring(text.trimmingCharacters(in: .whitespaces))
        var factor: Int64 = 1
        switch text.last {
        case "k", "K": factor = 1024
        case "m", "M": factor = 1024 * 1024
        case "g", "G": factor = 1024 * 1024 * 1024
        default: break
        }
        if factor != 1 { text = text.dropLast() }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let amount = Int64(text) else { return nil }
        let (product, overflow) = amount.multipliedReportingOverflow(by: factor)
        return overflow ? nil : product
    }
}
