// A JSON reader that follows lua-cjson (the decoder APISIX runs on every Admin API body and every
// etcd value): same accepted language, same error texts and positions, same nesting limit. It
// reads straight from a byte buffer and copies only the strings it returns, so a worker can load
// a 10,000-route snapshot in a few milliseconds.

extension JSONValue {
    /// lua-cjson's `decode_max_depth`: objects and arrays nested deeper than this are refused.
    /// Default: 1000.
    package static let maximumNestingDepth = 1000

    /// Parses one JSON document from `bytes` (UTF-8).
    ///
    /// Errors carry cjson's wording and 1-based byte position, e.g.
    /// `Expected value but found invalid token at character 1`,
    /// `Expected object key string but found invalid token at character 2`,
    /// `Expected comma or object end but found T_END at character 7`. Empty input is
    /// `Expected value but found T_END at character 1`.
    package static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parseBuffer(buffer) }
        }
        if let result { return try result.get() }
        let copy = Array(bytes)
        return try copy.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parseBuffer(buffer) }
        }.get()
    }

    /// Parses one JSON document from `text`.
    package static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var text = text
        return try text.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parseBuffer(buffer) }
        }.get()
    }

    private static func parseBuffer(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var reader = JSONReader(bytes: buffer)
        let value = try reader.parseValue(depth: 0)
        reader.skipWhitespace()
        if reader.position < buffer.count { throw reader.unexpected("the end", at: reader.position) }
        return value
    }
}

private struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    // Scratch stacks shared by all nesting levels: members and elements are collected here and
    // copied out once per container, so no container grows (and reallocates) as it is read.
    var keyStack: [String] = []
    var valueStack: [JSONValue] = []

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    // cjson's whitespace set: no form feed or vertical tab.
    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard position < bytes.count else { throw unexpected("value", at: position) }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString(context: "value"))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber(context: "value"))
        case UInt8(ascii: "t"):
            if matchLiteral("true") { return .bool(true) }
        case UInt8(ascii: "f"):
            if matchLiteral("false") { return .bool(false) }
        case UInt8(ascii: "n"):
            if matchLiteral("null") { return .null }
        default: break
        }
        throw unexpected("value", at: position)
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        let open = position
        position += 1
        if depth > JSONValue.maximumNestingDepth { throw tooDeep(depth, open) }
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object([:])
        }
        let base = keyStack.count
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw unexpected("object key string", at: position)
            }
            let key = try parseString(context: "object key string")
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                throw unexpected("colon", at: position)
            }
            position += 1
            let value = try parseValue(depth: depth)
            keyStack.append(key)
            valueStack.append(value)
            skipWhitespace()
            guard position < bytes.count else { throw unexpected("comma or object end", at: position) }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") {
                position += 1
                let count = keyStack.count - base
                let valueBase = valueStack.count - count
                var members = [String: JSONValue](minimumCapacity: count)
                // A repeated key keeps the last value, as cjson's table assignment does.
                for offset in 0..<count { members[keyStack[base + offset]] = valueStack[valueBase + offset] }
                keyStack.removeLast(count)
                valueStack.removeLast(count)
                return .object(members)
            }
            throw unexpected("comma or object end", at: position)
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        let open = position
        position += 1
        if depth > JSONValue.maximumNestingDepth { throw tooDeep(depth, open) }
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array([])
        }
        let base = valueStack.count
        while true {
            let value = try parseValue(depth: depth)
            valueStack.append(value)
            skipWhitespace()
            guard position < bytes.count else { throw unexpected("comma or array end", at: position) }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") {
                position += 1
                let elements = Array(valueStack[base...])
                valueStack.removeLast(valueStack.count - base)
                return .array(elements)
            }
            throw unexpected("comma or array end", at: position)
        }
    }

    mutating func matchLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count else { return false }
        let text = literal.utf8Start
        for offset in 0..<count where bytes[position + offset] != text[offset] { return false }
        position += count
        return true
    }

    /// A string token starting at the opening quote; `context` names what the caller expected,
    /// because cjson reports a broken token as `Expected <context> but found <problem>`.
    /// Bytes that are not UTF-8 are refused rather than replaced by U+FFFD: a value is stored as
    /// sent or not at all.
    mutating func parseString(context: String) throws(JSONParseError) -> String {
        let start = position + 1
        var scan = start
        // Fast path: no escapes, the bytes are the string.
        while scan < bytes.count {
            let byte = bytes[scan]
            if byte == UInt8(ascii: "\"") {
                guard let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<scan]), as: UTF8.self) else {
                    throw JSONParseError.found(context, "invalid UTF-8 in string", at: start - 1)
                }
                position = scan + 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            scan += 1
        }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(scan - start + 16)
        decoded.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<scan]))
        while scan < bytes.count {
            let byte = bytes[scan]
            if byte == UInt8(ascii: "\"") {
                guard let text = String(validating: decoded, as: UTF8.self) else {
                    throw JSONParseError.found(context, "invalid UTF-8 in string", at: start - 1)
                }
                position = scan + 1
                return text
            }
            if byte != UInt8(ascii: "\\") {
                decoded.append(byte)
                scan += 1
                continue
            }
            guard scan + 1 < bytes.count else { break }
            let escape = bytes[scan + 1]
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "u"):
                guard let (scalar, length) = unicodeEscape(at: scan) else {
                    throw JSONParseError.found(context, "invalid unicode escape code", at: scan)
                }
                appendUTF8(scalar, to: &decoded)
                scan += length
                continue
            default:
                throw JSONParseError.found(context, "invalid escape code", at: scan)
            }
            scan += 2
        }
        throw JSONParseError.found(context, "unexpected end of string", at: bytes.count)
    }

    /// `\uXXXX` (or a surrogate pair `\uD83D\uDE00`) at `index`: the scalar and the bytes used.
    func unicodeEscape(at index: Int) -> (UInt32, Int)? {
        guard let high = hex4(at: index + 2) else { return nil }
        if (0xDC00...0xDFFF).contains(high) { return nil }
        if (0xD800...0xDBFF).contains(high) {
            guard index + 7 < bytes.count, bytes[index + 6] == UInt8(ascii: "\\"),
                  bytes[index + 7] == UInt8(ascii: "u"), let low = hex4(at: index + 8),
                  (0xDC00...0xDFFF).contains(low) else { return nil }
            return (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00), 12)
        }
        return (high, 6)
    }

    func hex4(at index: Int) -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6)); out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12)); out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18)); out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F)); out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// The extent of a number token at `position` (JSON grammar, with strtod's tolerance for a
    /// bare trailing `.`); nil when no digit follows the sign.
    func numberEnd(from start: Int) -> (end: Int, integral: Bool)? {
        var index = start
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 { index += 1 }
        guard index > digitsStart else { return nil }
        var integral = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            integral = false
            index += 1
            while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 { index += 1 }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            var exponent = index + 1
            if exponent < bytes.count, bytes[exponent] == UInt8(ascii: "+") || bytes[exponent] == UInt8(ascii: "-") {
                exponent += 1
            }
            let exponentDigits = exponent
            while exponent < bytes.count, bytes[exponent] &- UInt8(ascii: "0") < 10 { exponent += 1 }
            if exponent > exponentDigits { index = exponent; integral = false }
        }
        return (index, integral)
    }

    mutating func parseNumber(context: String) throws(JSONParseError) -> Double {
        let start = position
        guard let (end, integral) = numberEnd(from: start) else {
            throw JSONParseError.found(context, "invalid number", at: start)
        }
        position = end
        // Up to 15 digits fit a Double exactly: skip the string conversion for the common case.
        if integral, end - start <= 16 {
            var value = 0
            var index = start
            let negative = bytes[index] == UInt8(ascii: "-")
            if negative { index += 1 }
            if end - index <= 15 {
                while index < end { value = value * 10 + Int(bytes[index] - UInt8(ascii: "0")); index += 1 }
                return Double(negative ? -value : value)
            }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        guard let value = Double(text) else { throw JSONParseError.found(context, "invalid number", at: start) }
        return value
    }

    /// `Expected <what> but found <token> at character N`, naming the token at `index` the way
    /// cjson's lexer does (`T_END`, `T_OBJ_END`, `invalid token`, ...).
    func unexpected(_ what: String, at index: Int) -> JSONParseError {
        var index = index
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        guard index < bytes.count else { return .found(what, "T_END", at: index) }
        let name: String
        switch bytes[index] {
        case UInt8(ascii: "{"): name = "T_OBJ_BEGIN"
        case UInt8(ascii: "}"): name = "T_OBJ_END"
        case UInt8(ascii: "["): name = "T_ARR_BEGIN"
        case UInt8(ascii: "]"): name = "T_ARR_END"
        case UInt8(ascii: ":"): name = "T_COLON"
        case UInt8(ascii: ","): name = "T_COMMA"
        case UInt8(ascii: "\""):
            var probe = self
            probe.position = index
            do { _ = try probe.parseString(context: what) } catch { return error }
            name = "T_STRING"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            name = numberEnd(from: index) == nil ? "invalid number" : "T_NUMBER"
            if numberEnd(from: index) == nil { return .found(what, name, at: index) }
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            var probe = self
            probe.position = index
            if probe.matchLiteral("true") || probe.matchLiteral("false") {
                name = "T_BOOLEAN"
            } else if probe.matchLiteral("null") {
                name = "T_NULL"
            } else {
                name = "invalid token"
            }
        default: name = "invalid token"
        }
        return .found(what, name, at: index)
    }

    func tooDeep(_ depth: Int, _ index: Int) -> JSONParseError {
        JSONParseError(message: "Found too many nested data structures (\(depth)) at character \(index + 1)",
                       character: index + 1)
    }
}

extension JSONParseError {
    fileprivate static func found(_ what: String, _ token: String, at index: Int) -> JSONParseError {
        JSONParseError(message: "Expected \(what) but found \(token) at character \(index + 1)", character: index + 1)
    }
}
