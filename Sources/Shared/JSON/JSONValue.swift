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
