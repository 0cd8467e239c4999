extension Expr {
    /// Whether the request whose variables `vars` reads matches. Generic, so a lookup is a direct
    /// call and nothing is boxed.
    package func matches<V: RequestVariables>(_ vars: V) -> Bool {
        switch self {
        case .always: return true
        case .and(let items): return items.allSatisfy { $0.matches(vars) }
        case .or(let items): return items.contains { $0.matches(vars) }
        case .notAnd(let items): return !items.allSatisfy { $0.matches(vars) }
        case .notOr(let items): return !items.contains { $0.matches(vars) }
        case .compare(let c):
            let result = vars.withValue(of: c.variable) { Self.compare($0, c.op, c.operand) }
            return result != c.negated
        }
    }

    /// One comparison, as lua-resty-expr's `compare_funcs` (an unset variable is Lua's nil).
    static func compare(_ value: UnsafeRawBufferPointer?, _ op: Op, _ operand: Operand) -> Bool {
        switch op {
        case .eq, .ne:
            let equal: Bool
            switch operand {
            case .null: equal = value == nil
            case .string(let s): equal = value.map { Self.equal($0, s) } ?? false
            case .number(let n):
                // A value that is not a number: `==` false, `~=` true.
                guard let v = value.flatMap(Self.number) else { return op == .ne }
                equal = v == n
            case .bool, .strings, .regex, .cidrs, .unusable: equal = false
            }
            return op == .eq ? equal : !equal
        case .gt, .ge, .lt, .le:
            guard let v = value.flatMap(Self.number) else { return false }
            let r: Double
            switch operand {
            case .number(let n): r = n
            case .string(let s):
                guard let n = s.withUnsafeBytes({ Self.number($0) }) else { return false }
                r = n
            default: return false
            }
            switch op {
            case .gt: return v > r
            case .ge: return v >= r
            case .lt: return v < r
            default: return v <= r
            }
        case .regex, .regexCaseless:
            guard let value, case .regex(let regex?) = operand else { return false }
            return regex.matches(value)
        case .in:
            guard let value, case .strings(let items) = operand else { return false }
            return items.contains { Self.equal(value, $0) }
        case .has:
            return false
        case .ipmatch:
            guard let value, case .cidrs(let cidrs) = operand, let ip = IPAddress(bytes: value) else { return false }
            return cidrs.contains { $0.contains(ip) }
        }
    }

    @inline(__always)
    static func equal(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return b.withUnsafeBytes { a.elementsEqual($0) }
    }

    /// Lua's `tonumber` for decimal text: optional sign, digits, fraction, exponent, surrounding
    /// spaces; nil otherwise. Reads the bytes in place.
    static func number(_ bytes: UnsafeRawBufferPointer) -> Double? {
        var i = 0
        var end = bytes.count
        while i < end && (bytes[i] == 0x20 || bytes[i] == 0x09) { i += 1 }
        while end > i && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
        guard i < end, end - i <= 64 else { return nil }
        var sign = 1.0
        if bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
            if bytes[i] == UInt8(ascii: "-") { sign = -1 }
            i += 1
        }
        var mantissa = 0.0
        var digits = 0
        var scale = 0
        while i < end, ASCII.isDigit(bytes[i]) { mantissa = mantissa * 10 + Double(bytes[i] - 0x30); digits += 1; i += 1 }
        if i < end, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < end, ASCII.isDigit(bytes[i]) { mantissa = mantissa * 10 + Double(bytes[i] - 0x30); digits += 1; scale -= 1; i += 1 }
        }
        guard digits > 0 else { return nil }
        if i < end, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            var expSign = 1
            if i < end, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
                if bytes[i] == UInt8(ascii: "-") { expSign = -1 }
                i += 1
            }
            var exp = 0
            var expDigits = 0
            while i < end, ASCII.isDigit(bytes[i]), exp < 10_000 { exp = exp * 10 + Int(bytes[i] - 0x30); expDigits += 1; i += 1 }
            guard expDigits > 0 else { return nil }
            scale += expSign * exp
        }
        guard i == end else { return nil }
        // One rounding for the common case (powers up to 1e22 are exact doubles).
        var value = mantissa
        var s = scale
        while s > 22 { value *= 1e22; s -= 22 }
        while s < -22 { value /= 1e22; s += 22 }
        if s > 0 { value *= powersOfTen[s] } else if s < 0 { value /= powersOfTen[-s] }
        return sign * value
    }

    private static let powersOfTen: [Double] = (0...22).map { exponent in
        var p = 1.0
        for _ in 0..<exponent { p *= 10 }
        return p
    }
}
