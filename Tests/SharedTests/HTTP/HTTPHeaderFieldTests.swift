import Shared
import Testing

@Suite struct HTTPHeaderFieldTests {
    /// Every known header is recognized in lower, upper and original case.
    @Test(arguments: KnownHeader.allCases.filter { $0 != .other })
    func knownHeaderClassification(_ known: KnownHeader) {
        let lower = known.lowercaseName.description
        for name in [lower, lower.uppercased(), lower.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: "-")] {
            let bytes = Array(name.utf8)
            #expect(bytes.withUnsafeBytes { KnownHeader(name: $0) } == known, "\(name)")
        }
    }

    /// Changing any one byte of a known name to any other value gives `.other`, except the other
    /// case of a letter (names are compared a word at a time; this pins down every lane).
    @Test(arguments: KnownHeader.allCases.filter { $0 != .other })
    func everySingleByteChange(_ known: KnownHeader) {
        let name = Array(known.lowercaseName.description.utf8)
        for index in name.indices {
            for value in UInt8.min...UInt8.max {
                var changed = name
                changed[index] = value
                let sameLetter = value == name[index] || (name[index] >= 0x61 && name[index] <= 0x7A && value == name[index] - 0x20)
                let result = changed.withUnsafeBytes { KnownHeader(name: $0) }
                #expect(result == (sameLetter ? known : .other), "\(known) byte \(index) = \(value)")
            }
        }
    }

    /// Near misses and unrelated names are `.other`.
    @Test(arguments: ["", "hos", "hostx", "x-forwarded-fo", "x-forwarded-hosts", "content_length", "te ", "Server", "X-Forwarded-Prot0"])
    func otherNames(_ name: String) {
        #expect(Array(name.utf8).withUnsafeBytes { KnownHeader(name: $0) } == .other)
    }

    /// Hop-by-hop tagging follows RFC 9110 §7.6.1 (plus Proxy-Connection and Transfer-Encoding).
    @Test func hopByHop() {
        let hop: Set<KnownHeader> = [.connection, .keepAlive, .proxyConnection, .upgrade, .te, .trailer, .transferEncoding]
        for known in KnownHeader.allCases {
            #expect(known.isHopByHop == hop.contains(known))
        }
    }
}
