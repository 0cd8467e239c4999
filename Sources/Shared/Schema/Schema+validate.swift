// Validation and default filling, in the order api7/jsonschema's generated validators check
// things: type, object keywords (properties with their `required` check, remaining `required`,
// patternProperties/additionalProperties, property counts), array keywords (counts, items,
// uniqueness), string keywords, numeric keywords, enum, allOf, anyOf, oneOf, not, format.
// The first failure wins and is returned as the library's text.

#if canImport(Glibc)
import Glibc
#endif

extension Schema {
    /// Validates `value`; throws the first violation with APISIX's message.
    package func validate(_ value: JSONValue) throws(SchemaError) {
        if let message = firstError(value) { throw SchemaError(message) }
    }

    /// True when `value` satisfies the schema.
    package func isValid(_ value: JSONValue) -> Bool { firstError(value) == nil }

    /// Validates `value` and, if it is valid, fills in the defaults (as APISIX's
    /// `core.schema.check` does for plugin configurations). On failure `value` is unchanged.
    package func validateFillingDefaults(_ value: inout JSONValue) throws(SchemaError) {
        try validate(value)
        value = applyingDefaults(to: value)
    }

    /// `value` with every absent property that declares a `default` set to it, recursively
    /// (into present properties, array items, `allOf`, and the first matching `anyOf`/`oneOf`
    /// branch). Values that are not objects/arrays are returned as they are.
    package func applyingDefaults(to value: JSONValue) -> JSONValue {
        var value = value
        if case .object(var members) = value {
            for (name, schema) in properties {
                if let present = members[name] {
                    members[name] = schema.applyingDefaults(to: present)
                } else if let defaultValue = schema.defaultValue {
                    members[name] = defaultValue
                }
            }
            value = .object(members)
        }
        if let items, case .array(let elements) = value {
            value = .array(elements.map { items.applyingDefaults(to: $0) })
        }
        for schema in allOf ?? [] { value = schema.applyingDefaults(to: value) }
        if let branch = (anyOf ?? []).first(where: { $0.isValid(value) }) { value = branch.applyingDefaults(to: value) }
        if let branch = (oneOf ?? []).first(where: { $0.isValid(value) }) { value = branch.applyingDefaults(to: value) }
        return value
    }

    /// The first violation's message, or nil.
    package func firstError(_ value: JSONValue) -> String? {
        if let types, !types.contains(where: { Schema.value(value, hasType: $0) }) {
            if types.count == 1 { return "wrong type: expected \(types[0].rawValue), got \(value.luaTypeName)" }
            return "wrong type: expected one of \(types.map(\.rawValue).joined(separator: ", ")), got \(value.luaTypeName)"
        }
        if let message = objectError(value) { return message }
        if let message = arrayError(value) { return message }
        if case .string(let text) = value, let message = stringError(text) { return message }
        if case .number(let number) = value, let message = numberError(number) { return message }
        if let enumValues, !enumValues.contains(where: { Schema.luaEqual($0, value) }) {
            return "matches none of the enum values"
        }
        if let message = combinatorError(value) { return message }
        if let format, case .string(let text) = value, !Schema.matches(format, text) {
            return "expect valid \(format.rawValue) address but got: \(text)"
        }
        if let custom, let message = custom(value) { return message }
        return nil
    }

    // MARK: - keywords

    private var hasObjectKeywords: Bool {
        !properties.isEmpty || required != nil || !patternProperties.isEmpty
            || minProperties != nil || maxProperties != nil || { if case .allowed = additionalProperties { false } else { true } }()
    }

    private func objectError(_ value: JSONValue) -> String? {
        guard hasObjectKeywords else { return nil }
        // An empty array is an empty Lua table, so object keywords apply to it too.
        let members: [String: JSONValue]
        switch value {
        case .object(let object): members = object
        case .array(let elements) where elements.isEmpty: members = [:]
        default: return nil
        }
        var requiredLeft = Set(required ?? [])
        for (name, schema) in properties {
            if let present = members[name] {
                if let message = schema.firstError(present) { return "property \"\(name)\" validation failed: \(message)" }
            } else if requiredLeft.contains(name) {
                return "property \"\(name)\" is required"
            }
            requiredLeft.remove(name)
        }
        for name in (required ?? []) where requiredLeft.contains(name) && members[name] == nil {
            return "property \"\(name)\" is required"
        }
        let checksExtras: Bool = { if case .allowed = additionalProperties { false } else { true } }()
        if checksExtras || !patternProperties.isEmpty {
            for name in members.keys.sorted() {
                let member = members[name]!
                var matched = false
                for (pattern, schema) in patternProperties where pattern.matches(name) {
                    if let message = schema.firstError(member) {
                        return "failed to validate \(name) (matching \"\(pattern.source)\"): \(message)"
                    }
                    matched = true
                }
                if matched || property(name) != nil { continue }
                switch additionalProperties {
                case .allowed: break
                case .forbidden: return "additional properties forbidden, found \(name)"
                case .schema(let schema):
                    if let message = schema.firstError(member) {
                        return "failed to validate additional property \(name): \(message)"
                    }
                }
            }
        }
        if let minProperties, members.count < minProperties {
            return "expect object to have at least \(minProperties) properties"
        }
        if let maxProperties, members.count > maxProperties {
            return "expect object to have at most \(maxProperties) properties"
        }
        return nil
    }

    private func arrayError(_ value: JSONValue) -> String? {
        guard items != nil || minItems != nil || maxItems != nil || uniqueItems else { return nil }
        let elements: [JSONValue]
        switch value {
        case .array(let array): elements = array
        case .object(let object) where object.isEmpty: elements = []
        default: return nil
        }
        if let minItems, elements.count < minItems { return "expect array to have at least \(minItems) items" }
        if let maxItems, elements.count > maxItems { return "expect array to have at most \(maxItems) items" }
        if let items {
            for (index, element) in elements.enumerated() {
                if let message = items.firstError(element) { return "failed to validate item \(index + 1): \(message)" }
            }
        }
        if uniqueItems, let (first, second) = Schema.firstDuplicate(elements) {
            return "expected unique items but items \(first) and \(second) are equal"
        }
        return nil
    }

    private func stringError(_ text: String) -> String? {
        if let minLength {
            let count = text.unicodeScalars.count
            if count < minLength { return "string too short, expected at least \(minLength), got \(count)" }
        }
        if let maxLength {
            let count = text.unicodeScalars.count
            if count > maxLength { return "string too long, expected at most \(maxLength), got \(count)" }
        }
        if let pattern, !pattern.matches(text) {
            // The library formats both with Lua's %q; the pattern's %q output lands in a long
            // string literal, so its backslashes stay doubled in the message.
            return "failed to match pattern \(Schema.luaQuoted(pattern.source)) with \(Schema.luaQuoted(text))"
        }
        return nil
    }

    private func numberError(_ number: Double) -> String? {
        let shown = JSONValue.formatNumber(number)
        if let minimum, number < minimum { return "expected \(shown) to be at least \(JSONValue.formatNumber(minimum))" }
        if let exclusiveMinimum, number <= exclusiveMinimum {
            return "expected \(shown) to be greater than \(JSONValue.formatNumber(exclusiveMinimum))"
        }
        if let maximum, number > maximum { return "expected \(shown) to be at most \(JSONValue.formatNumber(maximum))" }
        if let exclusiveMaximum, number >= exclusiveMaximum {
            return "expected \(shown) to be smaller than \(JSONValue.formatNumber(exclusiveMaximum))"
        }
        return nil
    }

    private func combinatorError(_ value: JSONValue) -> String? {
        for (index, schema) in (allOf ?? []).enumerated() {
            if let message = schema.firstError(value) { return "allOf \(index + 1) failed: \(message)" }
        }
        if let anyOf, !anyOf.contains(where: { $0.isValid(value) }) {
            let requireds = anyOf.compactMap { $0.required.map { JSONValue.array($0.map { .string($0) }).jsonText } }
            return "object matches none of the required" + (requireds.isEmpty ? "" : ": " + requireds.joined(separator: " or "))
        }
        if let oneOf {
            var matched: Int?
            for (index, schema) in oneOf.enumerated() where schema.isValid(value) {
                if let matched { return "value should match only one schema, but matches both schemas \(matched) and \(index + 1)" }
                matched = index + 1
            }
            if matched == nil { return "value should match only one schema, but matches none" }
        }
        if let not, not.isValid(value) { return "value wasn't supposed to match schema" }
        return nil
    }

    // MARK: - helpers

    /// The library's type test; an empty table passes both `object` and `array`.
    static func value(_ value: JSONValue, hasType type: JSONType) -> Bool {
        switch (type, value) {
        case (.string, .string), (.boolean, .bool), (.number, .number), (.null, .null): true
        case (.integer, .number(let number)): number.rounded(.towardZero) == number && number.isFinite
        case (.object, .object): true
        case (.object, .array(let elements)): elements.isEmpty
        case (.array, .array): true
        case (.array, .object(let members)): members.isEmpty
        default: false
        }
    }

    /// Lua equality for enum members: tables compare deeply, empty object equals empty array.
    static func luaEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .array(let y)), (.array(let y), .object(let x)): x.isEmpty && y.isEmpty
        default: a == b
        }
    }

    /// `lib.unique_item_in_array`: scalars first (the first repeat and the index it repeats),
    /// then tables pairwise. 1-based indexes.
    static func firstDuplicate(_ elements: [JSONValue]) -> (Int, Int)? {
        var seen: [JSONValue: Int] = [:]
        var tables: [(Int, JSONValue)] = []
        for (offset, element) in elements.enumerated() {
            switch element {
            case .array, .object: tables.append((offset + 1, element))
            default:
                if let earlier = seen[element] { return (earlier, offset + 1) }
                seen[element] = offset + 1
            }
        }
        for i in tables.indices {
            for j in tables.indices where j > i && luaEqual(tables[i].1, tables[j].1) {
                return (tables[i].0, tables[j].0)
            }
        }
        return nil
    }

    /// Lua's `string.format("%q", text)`.
    package static func luaQuoted(_ text: String) -> String {
        var out = "\""
        let scalars = Array(text.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\\n"
            case "\r": out += "\\r"
            case "\0": out += index + 1 < scalars.count && ("0"..."9").contains(scalars[index + 1]) ? "\\000" : "\\0"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let nextIsDigit = index + 1 < scalars.count && ("0"..."9").contains(scalars[index + 1])
                let digits = String(scalar.value)
                out += "\\" + (nextIsDigit ? String(repeating: "0", count: 3 - digits.count) + digits : digits)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func matches(_ format: Format, _ text: String) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        switch format {
        case .ipv4: return inet_pton(AF_INET, text, &buffer) == 1
        case .ipv6: return inet_pton(AF_INET6, text, &buffer) == 1
        }
    }
}

/// Hashable so that `uniqueItems` can find scalar repeats in one pass.
extension JSONValue: Hashable {
    /// Hashes the case and payload (objects by content).
    package func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let flag): hasher.combine(flag)
        case .number(let number): hasher.combine(number)
        case .string(let text): hasher.combine(text)
        case .array(let elements): hasher.combine(elements)
        case .object(let members): hasher.combine(members)
        }
    }
}
