import Testing
@testable import Shared

@Suite struct JSONValueEncodeTests {
    /// Keys are sorted, numbers print like cjson's %.14g, `/` is escaped.
    @Test func encodesLikeCjson() {
        let value: JSONValue = .object(["uri": "/hello", "b": .number(3000), "a": .number(0.5), "n": .null,
                                        "t": true, "list": .array([1, .number(1e15), .number(-2)])])
        #expect(value.jsonText == #"{"a":0.5,"b":3000,"list":[1,1e+15,-2],"n":null,"t":true,"uri":"\/hello"}"#)
    }

    /// %.14g: 14 significant digits, exponent form beyond.
    @Test(arguments: [
        (3000.0, "3000"), (0.1, "0.1"), (1.0 / 3.0, "0.33333333333333"), (123456789012345.0, "1.2345678901234e+14"),
        (-0.0, "0"), (1e-7, "1e-07"), (99999999999999.0, "99999999999999"), (2.5e20, "2.5e+20"),
    ])
    func numberFormat(number: Double, text: String) {
        #expect(JSONValue.formatNumber(number) == text)
    }

    /// Control characters use cjson's escapes.
    @Test func escapes() {
        #expect(JSONValue.string("\"\\\u{08}\u{0C}\n\r\t\u{01}é").jsonText == #""\"\\\b\f\n\r\t\u0001é""#)
    }

    /// Empty containers keep their kind.
    @Test func emptyContainers() {
        #expect(JSONValue.array([]).jsonText == "[]")
        #expect(JSONValue.object([:]).jsonText == "{}")
    }

    /// Encoding then parsing gives the same value.
    @Test func roundTrip() throws {
        let value: JSONValue = .object(["a": .array([.string("x/y\u{0}"), .number(-12.25), .bool(false)]),
                                        "nested": .object(["k": .object([:]), "e": .string("😀")])])
        #expect(try JSONValue.parse(value.jsonBytes) == value)
        #expect(try JSONValue.parse(value.jsonText) == value)
    }

    /// Accessors return payloads only for the matching case.
    @Test func accessors() {
        let value: JSONValue = .object(["n": 3, "s": "x", "f": .number(1.5), "b": true])
        #expect(value["n"]?.intValue == 3)
        #expect(value["f"]?.intValue == nil)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["b"]?.boolValue == true)
        #expect(value["missing"] == nil)
        #expect(JSONValue.array([]).luaTypeName == "table")
        #expect(JSONValue.null.luaTypeName == "userdata")
    }
}
