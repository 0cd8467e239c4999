import Testing
@testable import Shared

@Suite struct JSONValueParseTests {
    /// Every JSON type parses to the matching case.
    @Test func parsesAllTypes() throws {
        let value = try JSONValue.parse(#"{"a":[1,-2.5,1e3,true,false,null,"x"],"b":{}, "c":[]}"#)
        #expect(value == .object([
            "a": .array([.number(1), .number(-2.5), .number(1000), .bool(true), .bool(false), .null, .string("x")]),
            "b": .object([:]), "c": .array([]),
        ]))
    }

    /// Escapes, `\/`, BMP and surrogate-pair `\u` escapes decode to UTF-8.
    @Test func decodesEscapes() throws {
        let value = try JSONValue.parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#)
        #expect(value == .string("a\"b\\c/d\n\té😀"))
    }

    /// Whitespace around tokens is accepted; a repeated key keeps the last value (cjson).
    @Test func whitespaceAndDuplicateKeys() throws {
        #expect(try JSONValue.parse(" \n{ \"k\" : 1 , \"k\":2 }\r\n\t") == .object(["k": .number(2)]))
    }

    /// Large integers and decimals keep their double value.
    @Test func numbers() throws {
        #expect(try JSONValue.parse("12345678901234568") == .number(12345678901234568))
        #expect(try JSONValue.parse("0.1") == .number(0.1))
        #expect(try JSONValue.parse("-0") == .number(0))
    }

    /// The parser reports lua-cjson's exact texts and positions.
    @Test(arguments: [
        ("x", "Expected value but found invalid token at character 1"),
        ("", "Expected value but found T_END at character 1"),
        (#"{"a":1"#, "Expected comma or object end but found T_END at character 7"),
        (#"{"a" 1}"#, "Expected colon but found T_NUMBER at character 6"),
        ("[1 2]", "Expected comma or array end but found T_NUMBER at character 4"),
        ("12x", "Expected the end but found invalid token at character 3"),
        (#""abc"#, "Expected value but found unexpected end of string at character 5"),
        ("{x}", "Expected object key string but found invalid token at character 2"),
        ("{\"a\":1,}", "Expected object key string but found T_OBJ_END at character 8"),
        ("[1,]", "Expected value but found T_ARR_END at character 4"),
        (#"{"a":tru}"#, "Expected value but found invalid token at character 6"),
        (#"{"a":1}}"#, "Expected the end but found T_OBJ_END at character 8"),
        (#""\x""#, "Expected value but found invalid escape code at character 2"),
        (#""\u12G4""#, "Expected value but found invalid unicode escape code at character 2"),
        ("-", "Expected value but found invalid number at character 1"),
        ("{1:2}", "Expected object key string but found T_NUMBER at character 2"),
        ("[true false]", "Expected comma or array end but found T_BOOLEAN at character 7"),
        ("{\"a\":1 \"b\":2}", "Expected comma or object end but found T_STRING at character 8"),
    ])
    func cjsonErrors(input: String, message: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(input) }
        do {
            _ = try JSONValue.parse(input)
        } catch {
            #expect(error.message == message)
        }
    }

    /// Nesting deeper than 1000 levels is refused with cjson's message.
    @Test func depthLimit() throws {
        _ = try JSONValue.parse(String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000))
        do {
            _ = try JSONValue.parse(String(repeating: "[", count: 1001) + String(repeating: "]", count: 1001))
            Issue.record("expected a depth error")
        } catch {
            #expect(error.message == "Found too many nested data structures (1001) at character 1001")
        }
    }

    /// Bytes from any collection parse like the same text.
    @Test func parsesByteCollections() throws {
        let bytes = Array(#"{"k":[1,2]}"#.utf8)
        #expect(try JSONValue.parse(bytes) == JSONValue.parse(bytes[...]))
        #expect(try JSONValue.parse(bytes.lazy.map { $0 }) == .object(["k": .array([1, 2])]))
    }
}
