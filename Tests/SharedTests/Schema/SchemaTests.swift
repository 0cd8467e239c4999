import Testing
@testable import Shared

/// The openfunction schema of apisix-compat.md 1.2, as a plugin would declare it.
private let openfunction = Schema(
    type: .object,
    properties: [
        "function_uri": Schema(type: .string),
        "timeout": Schema(type: .integer, minimum: 100, defaultValue: 3000),
        "ssl_verify": Schema(type: .boolean, defaultValue: true),
        "keepalive": Schema(type: .boolean, defaultValue: true),
        "keepalive_timeout": Schema(type: .integer, minimum: 1000, defaultValue: 60000),
        "keepalive_pool": Schema(type: .integer, minimum: 1, defaultValue: 5),
        "max_req_body_size": Schema(type: .integer, minimum: 1, defaultValue: 67_108_864),
    ],
    required: ["function_uri"]
)

private func message(_ schema: Schema, _ json: String) throws -> String? {
    schema.firstError(try JSONValue.parse(json))
}

@Suite struct SchemaTests {
    /// apisix-compat.md 1.3: the openfunction messages, word for word.
    @Test(arguments: [
        (#"{"function_uri":"http://127.0.0.1:30585/default/test-body"}"#, nil),
        (#"{"timeout":60000}"#, #"property "function_uri" is required"#),
        (#"{"function_uri":30858}"#, #"property "function_uri" validation failed: wrong type: expected string, got number"#),
        (#"{"function_uri":"u","timeout":99}"#, #"property "timeout" validation failed: expected 99 to be at least 100"#),
        (#"{"function_uri":"u","keepalive_timeout":999}"#,
         #"property "keepalive_timeout" validation failed: expected 999 to be at least 1000"#),
        (#"{"function_uri":"u","keepalive_pool":0}"#, #"property "keepalive_pool" validation failed: expected 0 to be at least 1"#),
        (#"{"function_uri":"u","max_req_body_size":0}"#,
         #"property "max_req_body_size" validation failed: expected 0 to be at least 1"#),
        (#"{"function_uri":"u","timeout":3000.5}"#,
         #"property "timeout" validation failed: wrong type: expected integer, got number"#),
        (#"{"function_uri":"u","timeout":3000.0}"#, nil),
        (#"{"function_uri":"u","ssl_verify":"yes"}"#,
         #"property "ssl_verify" validation failed: wrong type: expected boolean, got string"#),
        (#"{"function_uri":"u","unknown":1}"#, nil),
        (#"[]"#, #"property "function_uri" is required"#),
        (#""x""#, "wrong type: expected object, got string"),
        (#"null"#, "wrong type: expected object, got userdata"),
    ] as [(String, String?)])
    func openfunctionMessages(json: String, expected: String?) throws {
        #expect(try message(openfunction, json) == expected)
    }

    /// One row per keyword: the library's text.
    @Test(arguments: [
        (Schema(types: [.string, .number]), "true", "wrong type: expected one of string, number, got boolean"),
        (Schema(type: .array), #"{"a":1}"#, "wrong type: expected array, got table"),
        (Schema(type: .object, additionalProperties: .forbidden), #"{"zed":1}"#, "additional properties forbidden, found zed"),
        (Schema(type: .object, additionalProperties: .schema(Schema(type: .string))), #"{"k":1}"#,
         "failed to validate additional property k: wrong type: expected string, got number"),
        (Schema(patternProperties: ["^x-": Schema(type: .integer)]), #"{"x-a":"s"}"#,
         #"failed to validate x-a (matching "^x-"): wrong type: expected integer, got string"#),
        (Schema(minProperties: 1), "{}", "expect object to have at least 1 properties"),
        (Schema(maxProperties: 1), #"{"a":1,"b":2}"#, "expect object to have at most 1 properties"),
        (Schema(items: Schema(enumValues: ["GET"])), #"["GET","PUT"]"#, "failed to validate item 2: matches none of the enum values"),
        (Schema(minItems: 1), "[]", "expect array to have at least 1 items"),
        (Schema(maxItems: 1), "[1,2]", "expect array to have at most 1 items"),
        (Schema(uniqueItems: true), #"["a","b","a"]"#, "expected unique items but items 1 and 3 are equal"),
        (Schema(uniqueItems: true), #"[{"a":1},2,{"a":1}]"#, "expected unique items but items 1 and 3 are equal"),
        (Schema(minLength: 2), #""é""#, "string too short, expected at least 2, got 1"),
        (Schema(maxLength: 2), #""abc""#, "string too long, expected at most 2, got 3"),
        (Schema(pattern: #"^\*?[a-z]+$"#), #""a.b""#, #"failed to match pattern "^\\*?[a-z]+$" with "a.b""#),
        (Schema(minimum: 0), "-1", "expected -1 to be at least 0"),
        (Schema(exclusiveMinimum: 0), "0", "expected 0 to be greater than 0"),
        (Schema(maximum: 65535), "65536", "expected 65536 to be at most 65535"),
        (Schema(exclusiveMaximum: 1), "1.5", "expected 1.5 to be smaller than 1"),
        (Schema(enumValues: [1, 0]), "2", "matches none of the enum values"),
        (Schema(allOf: [Schema(type: .string), Schema(minLength: 3)]), #""ab""#,
         "allOf 2 failed: string too short, expected at least 3, got 2"),
        (Schema(anyOf: [Schema(type: .string), Schema(type: .integer)]), "1.5", "object matches none of the required"),
        (Schema(anyOf: [Schema(required: ["a", "b"]), Schema(required: ["c"])]), "{}",
         #"object matches none of the required: ["a","b"] or ["c"]"#),
        (Schema(oneOf: [Schema(required: ["uri"]), Schema(required: ["uris"])]), "{}",
         "value should match only one schema, but matches none"),
        (Schema(oneOf: [Schema(required: ["uri"]), Schema(required: ["uris"])]), #"{"uri":"/","uris":["/"]}"#,
         "value should match only one schema, but matches both schemas 1 and 2"),
        (Schema(not: Schema(required: ["script"])), #"{"script":"x"}"#, "value wasn't supposed to match schema"),
        (Schema(format: .ipv4), #""1.2.3.999""#, "expect valid ipv4 address but got: 1.2.3.999"),
        (Schema(format: .ipv6), #""::g""#, "expect valid ipv6 address but got: ::g"),
        (Schema(custom: { _ in "custom says no" }), "1", "custom says no"),
    ] as [(Schema, String, String)])
    func keywordMessages(schema: Schema, json: String, expected: String) throws {
        #expect(try message(schema, json) == expected)
    }

    /// When several properties fail, the first in name order is reported.
    @Test func deterministicOrder() throws {
        let schema = Schema(properties: ["b": Schema(type: .string), "a": Schema(type: .string), "c": Schema(type: .string)])
        #expect(try message(schema, #"{"c":1,"b":1}"#) == #"property "b" validation failed: wrong type: expected string, got number"#)
    }

    /// Defaults fill absent members recursively, never overwrite present ones.
    @Test func fillsDefaults() throws {
        var conf = try JSONValue.parse(#"{"function_uri":"u","timeout":500}"#)
        try openfunction.validateFillingDefaults(&conf)
        #expect(conf == .object(["function_uri": "u", "timeout": 500, "ssl_verify": true, "keepalive": true,
                                 "keepalive_timeout": 60000, "keepalive_pool": 5, "max_req_body_size": 67_108_864]))
        let nested = Schema(properties: ["pool": Schema(properties: ["size": Schema(defaultValue: 320)])])
        #expect(nested.applyingDefaults(to: .object(["pool": .object([:])])) == .object(["pool": .object(["size": 320])]))
    }

    /// A failing validation leaves the value unchanged and throws.
    @Test func validateThrows() throws {
        var conf: JSONValue = .object([:])
        #expect(throws: SchemaError(#"property "function_uri" is required"#)) { try openfunction.validateFillingDefaults(&conf) }
        #expect(conf == .object([:]))
    }

    /// The JSON form lists the keywords.
    @Test func jsonForm() {
        let schema = Schema(type: .integer, minimum: 100, defaultValue: 3000)
        #expect(schema.json.jsonText == #"{"default":3000,"minimum":100,"type":"integer"}"#)
    }

    /// Lua's %q quoting used in pattern messages.
    @Test func luaQuoting() {
        #expect(Schema.luaQuoted(#"a"b\c"#) == #""a\"b\\c""#)
        #expect(Schema.luaQuoted("a\nb") == "\"a\\\nb\"")
        #expect(Schema.luaQuoted("\u{1}2") == #""\0012""#)
    }
}
