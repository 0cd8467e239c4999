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
