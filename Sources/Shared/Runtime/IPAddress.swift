// Client addresses for route `remote_addrs` matching: the value lua-resty-ipmatcher compares
// against (APISIX passes `$remote_addr`). Parsing follows inet_pton(3): dotted quads without leading
// zeros, RFC 4291 text for IPv6 (one `::`, optional dotted-quad tail), no zone ids.
#if canImport(Glibc)
package import Glibc
#elseif canImport(Darwin)
package import Darwin
#endif

/// An IPv4 or IPv6 address as a plain value (no allocation to build, copy or compare).
package struct IPAddress: Sendable, Hashable {
    /// Address family.
    package enum Family: Sendable, Hashable { case v4, v6 }

    /// Address family; a v4 address never equals a v6 one (`::ffff:1.2.3.4` stays v6, as in
    /// ipmatcher, which keys its tables by family).
    package let family: Family
    /// Upper 64 bits of an IPv6 address, host order; always 0 for IPv4.
    package let high: UInt64
    /// Lower 64 bits of an IPv6 address, or the IPv4 address in the low 32 bits; host order.
    package let low: UInt64

    /// An IPv4 address from its 32-bit value in host order (`0x7f000001` is 127.0.0.1).
    package init(v4 value: UInt32) {
        family = .v4; high = 0; low = UInt64(value)
    }

    /// An IPv6 address from its two 64-bit halves in host order.
    package init(v6 high: UInt64, low: UInt64) {
        family = .v6; self.high = high; self.low = low
    }

    /// The peer address of an accepted socket; nil for families other than AF_INET / AF_INET6
    /// (a unix socket peer has no IP address: `remote_addrs` routes then never match).
    package init?(_ storage: sockaddr_storage) {
        var copy = storage
        let parsed: IPAddress? = withUnsafeBytes(of: &copy) { raw in
            switch Int32(raw.load(fromByteOffset: 0, as: sockaddr.self).sa_family) {
            case AF_INET:
                let sin = raw.load(as: sockaddr_in.self)
                return IPAddress(v4: UInt32(bigEndian: sin.sin_addr.s_addr))
            case AF_INET6:
                let sin6 = raw.load(as: sockaddr_in6.self)
                return withUnsafeBytes(of: sin6.sin6_addr) { IPAddress(v6Bytes: $0) }
            default:
                return nil
            }
        }
        guard let parsed else { return nil }
        self = parsed
    }

    /// An IPv6 address from its 16 bytes in network order.
    package init(v6Bytes bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == 16, "an IPv6 address is 16 bytes")
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
        for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
        self.init(v6: high, low: low)
    }

    /// Parses `1.2.3.4` or an IPv6 text form (`::1`, `fe80::1`, `::ffff:1.2.3.4`); nil if invalid.
    package init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ IPAddress(bytes: UnsafeRawBufferPointer($0)) }) else {
            return nil
        }
        self = parsed
    }

    /// Parses address text from raw bytes (e.g. an `X-Real-IP` header value) without allocating.
    package init?(bytes: UnsafeRawBufferPointer) {
        if let value = Self.parseV4(bytes, from: 0, to: bytes.count) {
            self.init(v4: value)
        } else if let (high, low) = Self.parseV6(bytes) {
            self.init(v6: high, low: low)
        } else {
            return nil
        }
    }

    /// Number of bits in an address of this family (32 or 128).
    package var bitWidth: Int { family == .v4 ? 32 : 128 }
}

// MARK: - Parsing

extension IPAddress {
    /// Dotted quad in `bytes[start..<end]`. inet_pton rejects leading zeros ("01") because some
    /// libcs read them as octal; we do the same so `remote_addrs` means what it says.
    static func parseV4(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> UInt32? {
        var value: UInt32 = 0
        var parts = 0
        var index = start
        while true {
            var part: UInt32 = 0
            var digits = 0
            while index < end, let digit = decimalValue(bytes[index]) {
                if digits == 1 && part == 0 { return nil }
                part = part * 10 + UInt32(digit)
                digits += 1
                if digits > 3 || part > 255 { return nil }
                index += 1
            }
            guard digits > 0 else { return nil }
            value = value << 8 | part
            parts += 1
            if parts == 4 { return index == end ? value : nil }
            guard index < end, bytes[index] == UInt8(ascii: ".") else { return nil }
            index += 1
        }
    }

    /// RFC 4291 section 2.2 text forms; returns the two 64-bit halves.
    static func parseV6(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64)? {
        let end = bytes.count
        var head = Bits128()
        var tail = Bits128()
        var headGroups = 0
        var tailGroups = 0
        var compressed = false
        var index = 0
        let colon = UInt8(ascii: ":")

        if end >= 2 && bytes[0] == colon && bytes[1] == colon {
            compressed = true
            index = 2
        } else if end >= 1 && bytes[0] == colon {
            return nil
        }
        while index < end {
            let groupStart = index
            var group: UInt64 = 0
            var digits = 0
            while index < end, let digit = hexValue(bytes[index]) {
                group = group << 4 | UInt64(digit)
                digits += 1
                index += 1
            }
            if index < end && bytes[index] == UInt8(ascii: ".") {
                // An embedded dotted quad (`::ffff:1.2.3.4`) ends the address and fills two groups.
                guard let v4 = parseV4(bytes, from: groupStart, to: end) else { return nil }
                if compressed {
                    tail.append16(UInt64(v4 >> 16)); tail.append16(UInt64(v4 & 0xffff)); tailGroups += 2
                } else {
                    head.append16(UInt64(v4 >> 16)); head.append16(UInt64(v4 & 0xffff)); headGroups += 2
                }
                index = end
                break
            }
            guard digits >= 1 && digits <= 4 else { return nil }
            if compressed { tail.append16(group); tailGroups += 1 } else { head.append16(group); headGroups += 1 }
            if index == end { break }
            guard bytes[index] == colon else { return nil }
            index += 1
            if index < end && bytes[index] == colon {
                guard !compressed else { return nil }
                compressed = true
                index += 1
            } else if index == end {
                return nil
            }
        }
        let groups = headGroups + tailGroups
        if compressed ? groups > 7 : groups != 8 { return nil }
        head.shiftLeft(by: 16 * (8 - headGroups))
        return (head.high | tail.high, head.low | tail.low)
    }

    @inline(__always)
    static func decimalValue(_ byte: UInt8) -> UInt8? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? byte - UInt8(ascii: "0") : nil
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// 128-bit accumulator for IPv6 parsing; UInt128 needs macOS 15, the package targets 14.
struct Bits128 {
    var high: UInt64 = 0
    var low: UInt64 = 0

    mutating func append16(_ group: UInt64) { shiftLeft(by: 16); low |= group }

    mutating func shiftLeft(by count: Int) {
        if count == 0 { return }
        if count >= 128 { high = 0; low = 0; return }
        if count >= 64 { high = low << (count - 64); low = 0; return }
        high = high << count | low >> (64 - count)
        low = low << count
    }
}
