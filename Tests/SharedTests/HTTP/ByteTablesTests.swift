import Shared
import Testing

@Suite struct ByteTablesTests {
    /// The lowercase table folds A-Z only.
    @Test func lowercase() {
        for byte in 0...255 {
            let expected = (65...90).contains(byte) ? byte + 32 : byte
            #expect(Int(ASCII.lowercase[byte]) == expected)
        }
    }

    /// The token bit matches RFC 9110 §5.6.2 tchar exactly.
    @Test func tokenCharacters() {
        let tchar = Set(Array("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8))
        for byte in UInt8.min...UInt8.max {
            #expect(ASCII.isToken(byte) == tchar.contains(byte), "byte \(byte)")
        }
    }

    /// Visible, field-value and digit classes.
    @Test func otherClasses() {
        for byte in UInt8.min...UInt8.max {
            #expect(ASCII.isVisible(byte) == (0x21...0x7E).contains(byte))
            #expect(ASCII.isFieldValue(byte) == ((0x20...0x7E).contains(byte) || byte == 0x09 || byte >= 0x80))
            #expect(ASCII.isDigit(byte) == (0x30...0x39).contains(byte))
            #expect(ASCII.classes[Int(byte)] & 0b1110_0000 == 0)
        }
    }

    /// Hex digit values, both cases; everything else is nil.
    @Test func hexValues() {
        for byte in UInt8.min...UInt8.max {
            let expected = UInt8(String(UnicodeScalar(byte)), radix: 16)
            #expect(ASCII.hexValue(byte) == expected, "byte \(byte)")
        }
    }

    /// Case-insensitive comparison against a static string, with length mismatch handled.
    @Test func caseInsensitiveEquals() {
        func check(_ text: String, _ literal: StaticString) -> Bool {
            Array(text.utf8).withUnsafeBytes { ASCII.caseInsensitiveEquals($0, literal) }
        }
        #expect(check("Content-Length", "content-length"))
        #expect(check("CHUNKED", "chunked"))
        #expect(check("chunked", "CHUNKED"))
        #expect(!check("chunke", "chunked"))
        #expect(!check("chunkedx", "chunked"))
        #expect(!check("chunkeD\u{0}", "chunked"))
        #expect(check("", ""))
        // '@' (0x40) and '`' (0x60) differ by 0x20 but are not letters
        #expect(!check("@", "`"))
        let buffer = Array("xxKeep-Alivexx".utf8)
        #expect(buffer.withUnsafeBytes { ASCII.caseInsensitiveEquals($0, 2..<12, "keep-alive") })
        #expect(Array("GET".utf8).withUnsafeBytes { ASCII.equals($0, "GET") })
        #expect(!Array("get".utf8).withUnsafeBytes { ASCII.equals($0, "GET") })
    }

    /// Word-at-a-time comparison agrees with a byte-by-byte one for literals of every length
    /// (including ones longer than two words) when any single byte of the input changes.
    @Test func comparisonAgreesWithBytewise() {
        let literals: [StaticString] = [
            "", "a", "ab", "A@Z", "te", "get", "host", "close", "expect", "chunked", "HTTP/1.1", "x-real-ip",
            "keep-alive", "@[`{AZaz09", "authorization", "content-length", "x-forwarded-for", "proxy-connection",
            "transfer-encoding", "x-forwarded-proto-and-then-some-more",
        ]
        func lower(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte + 0x20 : byte }
        for literal in literals {
            let expected = literal.withUTF8Buffer { Array($0) }
            for index in expected.indices {
                for value in UInt8.min...UInt8.max {
                    var bytes = expected
                    bytes[index] = value
                    let folded = lower(value) == lower(expected[index])
                    #expect(bytes.withUnsafeBytes { ASCII.caseInsensitiveEquals($0, literal) } == folded, "\(literal) \(index) \(value)")
                    #expect(bytes.withUnsafeBytes { ASCII.equals($0, literal) } == (value == expected[index]), "\(literal) \(index) \(value)")
                }
            }
            let upper = expected.map { (0x61...0x7A).contains($0) ? $0 - 0x20 : $0 }
            #expect(upper.withUnsafeBytes { ASCII.caseInsensitiveEquals($0, literal) })
            #expect(expected.withUnsafeBytes { ASCII.equals($0, literal) })
            #expect(!(expected + [0x61]).withUnsafeBytes { ASCII.caseInsensitiveEquals($0, literal) })
        }
    }

    /// OWS trimming of a range.
    @Test func trimming() {
        let buffer = Array(" \t a b \t".utf8)
        let range = buffer.withUnsafeBytes { ASCII.trimmingWhitespace($0, 0..<buffer.count) }
        #expect(range == 3..<6)
        let blank = Array("  ".utf8)
        #expect(blank.withUnsafeBytes { ASCII.trimmingWhitespace($0, 0..<2) }.isEmpty)
    }
}
