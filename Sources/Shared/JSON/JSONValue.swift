/// A JSON document as APISIX's cjson sees it: numbers are doubles (an "integer" is a number with
/// no fractional part), objects are unordered maps.
package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue {
    /// The member `key` of an object; nil for a missing key or a non-object.
    package subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The payload of `.string`, else nil.
    package var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The payload of `.number`, else nil.
    package var numberValue: Double? {
        if case .number(let number) = self { return number }
        return nil
    }

    /// The number as an `Int` when it has no fractional part and fits; else nil.
    package var intValue: Int? {
        guard case .number(let number) = self, number.rounded(.towardZero) == number,
              abs(number) < 9.2e18 else { return nil }
        return Int(number)
    }

    /// The payload of `.bool`, else nil.
    package var boolValue: Bool? {
        if case .bool(let flag) = self { return flag }
        return nil
    }

    /// The members of `.object`, else nil.
    package var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The elements of `.array`, else nil.
    package var arrayValue: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The type name Lua's `type()` gives this value once cjson decoded it: objects and arrays are
    /// both `table`, and `null` is cjson's light userdata. Used in schema messages
    /// (`wrong type: expected string, got table`).
    package var luaTypeName: String {
        switch self {
        case .null: "userdata"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array, .object: "table"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    /// `"text"` as `.string`.
    package init(stringLiteral value: String) { self = .string(value) }
    /// `3` as `.number(3)`.
    package init(integerLiteral value: Int) { self = .number(Double(value)) }
    /// `true` as `.bool(true)`.
    package init(booleanLiteral value: Bool) { self = .bool(value) }
}
