// One `remote_addrs` entry, as lua-resty-ipmatcher reads it: an address, or an address with a
// `/prefix` (host bits may be set: `10.1.2.3/8` means 10.0.0.0/8).

/// An address block (`10.0.0.0/8`, `fe80::/10`, or a single address such as `::1`).
package struct CIDR: Sendable, Hashable {
    /// The network address with its host bits cleared.
    package let network: IPAddress
    /// Prefix length in bits: 0...32 for IPv4, 0...128 for IPv6.
    package let prefixLength: Int

    /// A block from an address and a prefix length; nil if the length is out of range.
    package init?(network: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0 && prefixLength <= network.bitWidth else { return nil }
        self.prefixLength = prefixLength
        let (maskHigh, maskLow) = Self.mask(family: network.family, prefixLength: prefixLength)
        self.network = network.family == .v4
            ? IPAddress(v4: UInt32(truncatingIfNeeded: network.low & maskLow))
            : IPAddress(v6: network.high & maskHigh, low: network.low & maskLow)
    }

    /// Parses `"1.2.3.4"`, `"10.0.0.0/8"`, `"::1"`, `"fe80::/10"`; nil if invalid.
    package init?(_ text: String) {
        let utf8 = Array(text.utf8)
        let slash = utf8.firstIndex(of: UInt8(ascii: "/"))
        let addressEnd = slash ?? utf8.count
        let address = utf8.withUnsafeBytes { IPAddress(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<addressEnd])) }
        guard let address else { return nil }
        guard let slash else {
            self.init(network: address, prefixLength: address.bitWidth)
            return
        }
        let digits = utf8[(slash + 1)...]
        // At most 3 digits: "/128"; also keeps the accumulator from overflowing.
        guard !digits.isEmpty, digits.count <= 3 else { return nil }
        var length = 0
        for byte in digits {
            guard let digit = IPAddress.decimalValue(byte) else { return nil }
            length = length * 10 + Int(digit)
        }
        self.init(network: address, prefixLength: length)
    }

    /// Whether `address` lies in this block; always false across families.
    @inline(__always)
    package func contains(_ address: IPAddress) -> Bool {
        guard address.family == network.family else { return false }
        let (maskHigh, maskLow) = Self.mask(family: network.family, prefixLength: prefixLength)
        return address.high & maskHigh == network.high && address.low & maskLow == network.low
    }

    /// The (high, low) masks selecting the first `prefixLength` bits of an address.
    @inline(__always)
    static func mask(family: IPAddress.Family, prefixLength: Int) -> (UInt64, UInt64) {
        switch family {
        case .v4:
            let bits: UInt64 = prefixLength == 0 ? 0 : (0xffff_ffff << (32 - prefixLength)) & 0xffff_ffff
            return (0, bits)
        case .v6:
            let high: UInt64 = prefixLength >= 64 ? ~0 : (prefixLength == 0 ? 0 : ~0 << (64 - prefixLength))
            let low: UInt64 = prefixLength <= 64 ? 0 : ~0 << (128 - prefixLength)
            return (high, low)
        }
    }
}
