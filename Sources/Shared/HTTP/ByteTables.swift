// Byte classes for the HTTP/1.1 parsers, in the manner of nginx's `lowcase` and `usual` tables in
// ngx_http_parse.c. The hot predicates are range tests or read a table kept in a string literal:
// a Swift `static let` array is initialised lazily and every access from another module pays a
// `swift_once` check (measured at 1-2% of a worker's CPU); constants and literals cost nothing.

/// ASCII byte constants and lookup tables shared by the HTTP parsers.
///
/// Everything here is allocation-free once the tables are initialized (once per process).
package enum ASCII {
    /// `\r` (0x0D).
    package static let cr: UInt8 = 0x0D
    /// `\n` (0x0A).
    package static let lf: UInt8 = 0x0A
    /// Space (0x20).
    package static let space: UInt8 = 0x20
    /// Horizontal tab (0x09).
    package static let tab: UInt8 = 0x09
    /// `:` (0x3A).
    package static let colon: UInt8 = 0x3A
    /// `,` (0x2C).
    package static let comma: UInt8 = 0x2C
    /// `;` (0x3B).
    package static let semicolon: UInt8 = 0x3B
    /// `/` (0x2F).
    package static let slash: UInt8 = 0x2F
    /// `?` (0x3F).
    package static let question: UInt8 = 0x3F
    /// `%` (0x25).
    package static let percent: UInt8 = 0x25
    /// `.` (0x2E).
    package static let dot: UInt8 = 0x2E

    // MARK: - Tables

    /// Maps every byte to its ASCII lower-case form; bytes outside `A`...`Z` map to themselves.
    package static let lowercase: [UInt8] = (0...255).map { byte in
        (0x41...0x5A).contains(byte) ? UInt8(byte + 0x20) : UInt8(byte)
    }

    /// Set in `classes` for an RFC 9110 §5.6.2 `tchar` (the characters of a token).
    package static let tokenBit: UInt8 = 0b0000_0001
    /// Set in `classes` for a `VCHAR` (0x21...0x7E): a byte allowed in a request-target.
    package static let visibleBit: UInt8 = 0b0000_0010
    /// Set in `classes` for a byte allowed in a field value (RFC 9110 §5.5): VCHAR, obs-text
    /// (0x80...0xFF), SP and HTAB.
    package static let fieldValueBit: UInt8 = 0b0000_0100
    /// Set in `classes` for a hexadecimal digit (`0-9`, `a-f`, `A-F`).
    package static let hexBit: UInt8 = 0b0000_1000
    /// Set in `classes` for a decimal digit (`0-9`).
    package static let digitBit: UInt8 = 0b0001_0000

    /// Character classes, one byte of flags per input byte.
    ///
    /// ```
    ///   bit  7 6 5 4 3 2 1 0
    ///        . . . | | | | +-- tokenBit       tchar: ALPHA DIGIT ! # $ % & ' * + - . ^ _ ` | ~
    ///              | | | +---- visibleBit     VCHAR 0x21...0x7E
    ///              | | +------ fieldValueBit  VCHAR, obs-text 0x80...0xFF, SP, HTAB
    ///              | +-------- hexBit         0-9 a-f A-F
    ///              +---------- digitBit       0-9
    /// ```
    /// Bits 5-7 are zero. NUL, CR, LF, DEL and the other CTLs have no bit except HTAB's
    /// `fieldValueBit`.
    package static let classes: [UInt8] = (0...255).map { value in
        let byte = UInt8(value)
        var flags: UInt8 = 0
        let isDigit = (0x30...0x39).contains(byte)
        let isAlpha = (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        if isDigit || isAlpha || "!#$%&'*+-.^_`|~".utf8.contains(byte) { flags |= tokenBit }
        if (0x21...0x7E).contains(byte) { flags |= visibleBit }
        if (0x21...0x7E).contains(byte) || byte >= 0x80 || byte == space || byte == tab {
            flags |= fieldValueBit
        }
        if isDigit || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte) { flags |= hexBit }
        if isDigit { flags |= digitBit }
        return flags
    }

    // MARK: - Predicates

    /// Whether `byte` may appear in an RFC 9110 token (method, field name, coding name).
    @inline(__always)
    package static func isToken(_ byte: UInt8) -> Bool {
        classTable[Int(byte)] & 0b01 != 0
    }

    /// Whether `byte` may appear in a Host value (see `HTTPRequestParser.isValidHost`): VCHAR
    /// except `/ \ @ ? #`.
    @inline(__always)
    static func isHostByte(_ byte: UInt8) -> Bool {
        classTable[Int(byte)] & 0b10 != 0
    }

    /// The classes of the bytes scanned in the longest runs (field names, Host values), 32 a
    /// row: `0x40` plus bit 0 for a tchar and bit 1 for a Host byte, so `@` is neither, `A` a
    /// tchar only, `B` a Host byte only and `C` both. One load per byte; and as a string literal
    /// it is constant data in the binary, with none of a `static let` array's lazy initialization.
    @inline(__always)
    private static var classTable: UnsafePointer<UInt8> {
        let table: StaticString = """
        @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\
        @CBACCCCBBCCBCC@CCCCCCCCCCBBBBB@\
        @CCCCCCCCCCCCCCCCCCCCCCCCCCB@BCC\
        CCCCCCCCCCCCCCCCCCCCCCCCCCCBCBC@\
        @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\
        @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\
        @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\
        @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
        """
        return table.utf8Start
    }

    /// Whether `byte` is a visible ASCII character (0x21...0x7E).
    @inline(__always)
    package static func isVisible(_ byte: UInt8) -> Bool { byte &- 0x21 < 0x5E }

    /// Whether `byte` may appear in a field value (VCHAR, obs-text, SP, HTAB).
    @inline(__always)
    package static func isFieldValue(_ byte: UInt8) -> Bool {
        (byte >= 0x20 && byte != 0x7F) || byte == tab
    }

    /// Whether `byte` is a decimal digit.
    @inline(__always)
    package static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    /// `byte` in ASCII lower case.
    @inline(__always)
    package static func lower(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

    /// Whether `byte` is SP or HTAB (RFC 9110 §5.6.3 OWS).
    @inline(__always)
    package static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    /// The value of a hexadecimal digit, or nil if `byte` is not one.
    @inline(__always)
    package static func hexValue(_ byte: UInt8) -> UInt8? {
        if byte &- 0x30 < 10 { return byte - 0x30 }
        let l = byte | 0x20
        if l &- 0x61 < 6 { return l - 0x61 + 10 }
        return nil
    }

    // MARK: - Comparison
    //
    // The comparisons below read both sides a word at a time with overlapping unaligned loads
    // (a 14-byte name is two 8-byte loads, a 3-byte method two 2-byte loads), so a known header
    // costs a couple of compares whatever its length. Case folding is done on the whole word.

    /// `word` with the bytes `A`...`Z` turned into `a`...`z` and every other byte unchanged.
    @inline(__always)
    static func lowercased(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low7 = word & (0x7F &* ones)
        // High bit of each byte: set where low7 > 0x5A (`Z`), and where low7 >= 0x41 (`A`).
        let aboveZ = low7 &+ ((0x7F - 0x5A) &* ones)
        let atLeastA = low7 &+ ((0x80 - 0x41) &* ones)
        let upper = atLeastA & ~aboveZ & ~word & (0x80 &* ones)
        return word | upper >> 2
    }

    /// Whether the `count` bytes at `a` and `b` are equal, ignoring ASCII case if `foldCase`.
    @inline(__always)
    static func wordsEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int, foldCase: Bool) -> Bool {
        @inline(__always)
        func same(_ x: UInt64, _ y: UInt64) -> Bool { foldCase ? lowercased(x) == lowercased(y) : x == y }
        @inline(__always)
        func load<Word: FixedWidthInteger & UnsignedInteger>(_ p: UnsafeRawPointer, _ offset: Int, _: Word.Type) -> UInt64 {
            UInt64(Word(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: Word.self)))
        }
        if count >= 8 {
            var offset = 0
            while offset < count - 8 {
                guard same(load(a, offset, UInt64.self), load(b, offset, UInt64.self)) else { return false }
                offset += 8
            }
            return same(load(a, count - 8, UInt64.self), load(b, count - 8, UInt64.self))
        }
        if count >= 4 {
            return same(load(a, 0, UInt32.self), load(b, 0, UInt32.self))
                && same(load(a, count - 4, UInt32.self), load(b, count - 4, UInt32.self))
        }
        if count >= 2 {
            return same(load(a, 0, UInt16.self), load(b, 0, UInt16.self))
                && same(load(a, count - 2, UInt16.self), load(b, count - 2, UInt16.self))
        }
        if count == 1 { return same(load(a, 0, UInt8.self), load(b, 0, UInt8.self)) }
        return true
    }

    /// Whether `bytes` equals `literal` ignoring ASCII case, without allocating.
    ///
    /// Inlined so the literal's words are constants at each call site.
    @inline(__always)
    package static func caseInsensitiveEquals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        guard literal.hasPointerRepresentation, let base = bytes.baseAddress else {
            return literal.withUTF8Buffer { expected in
                for index in 0..<expected.count where lower(bytes[index]) != lower(expected[index]) {
                    return false
                }
                return true
            }
        }
        return wordsEqual(base, UnsafeRawPointer(literal.utf8Start), count: bytes.count, foldCase: true)
    }

    /// Whether `buffer[range]` equals `literal` ignoring ASCII case, without allocating.
    package static func caseInsensitiveEquals(
        _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString
    ) -> Bool {
        caseInsensitiveEquals(UnsafeRawBufferPointer(rebasing: buffer[range]), literal)
    }

    /// Whether `bytes` equals `literal` exactly (case-sensitive), without allocating.
    @inline(__always)
    package static func equals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        guard literal.hasPointerRepresentation, let base = bytes.baseAddress else {
            return literal.withUTF8Buffer { expected in
                for index in 0..<expected.count where bytes[index] != expected[index] { return false }
                return true
            }
        }
        return wordsEqual(base, UnsafeRawPointer(literal.utf8Start), count: bytes.count, foldCase: false)
    }

    /// `range` with leading and trailing SP/HTAB removed.
    package static func trimmingWhitespace(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, isWhitespace(buffer[lower]) { lower += 1 }
        while upper > lower, isWhitespace(buffer[upper - 1]) { upper -= 1 }
        return lower..<upper
    }
}
