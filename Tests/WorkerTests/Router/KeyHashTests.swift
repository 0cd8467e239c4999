import Testing
@testable import Worker

@Suite struct KeyHashTests {
    /// The router's hash can drop its last byte: hashing "abc" then removing "c" gives hash("ab").
    @Test func keyHashIsInvertible() {
        #expect(KeyHash.multiplier &* KeyHash.inverse == 1)
        var full: UInt64 = 0
        for byte in "abc".utf8 { full = KeyHash.appending(full, byte) }
        var prefix: UInt64 = 0
        for byte in "ab".utf8 { prefix = KeyHash.appending(prefix, byte) }
        #expect(KeyHash.removingLast(full, UInt8(ascii: "c"), inverse: KeyHash.inverse) == prefix)
    }
}
