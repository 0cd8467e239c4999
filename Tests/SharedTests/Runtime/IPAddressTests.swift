#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Shared

@Suite struct IPAddressTests {
    /// inet_pton-compatible text forms parse to the expected bits.
    @Test(arguments: [
        ("127.0.0.1", IPAddress(v4: 0x7f00_0001)),
        ("0.0.0.0", IPAddress(v4: 0)),
        ("255.255.255.255", IPAddress(v4: 0xffff_ffff)),
        ("::", IPAddress(v6: 0, low: 0)),
        ("::1", IPAddress(v6: 0, low: 1)),
        ("fe80::1", IPAddress(v6: 0xfe80_0000_0000_0000, low: 1)),
        ("2001:db8::8:800:200c:417a", IPAddress(v6: 0x2001_0db8_0000_0000, low: 0x0008_0800_200c_417a)),
        ("1:2:3:4:5:6:7:8", IPAddress(v6: 0x0001_0002_0003_0004, low: 0x0005_0006_0007_0008)),
        ("1::", IPAddress(v6: 0x0001_0000_0000_0000, low: 0)),
        ("::ffff:1.2.3.4", IPAddress(v6: 0, low: 0x0000_ffff_0102_0304)),
        ("FE80::ABCD", IPAddress(v6: 0xfe80_0000_0000_0000, low: 0xabcd)),
    ])
    func parses(text: String, expected: IPAddress) {
        #expect(IPAddress(text) == expected)
    }

    /// Malformed text is rejected rather than guessed at.
    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.4 ", "1..2.3",
                      ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", ":1::", "1:", "1:2:3:4:5:6:7", "g::",
                      "::1.2.3", "fe80::1%eth0", "1:2:3:4:5:6:7::8:9"])
    func rejects(text: String) {
        #expect(IPAddress(text) == nil)
    }

    /// Accepted peer sockets convert without loss; unix sockets have no address.
    @Test func fromSockaddr() {
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_addr.s_addr = UInt32(0x0a01_0203).bigEndian
            raw.storeBytes(of: sin, as: sockaddr_in.self)
        }
        #expect(IPAddress(storage) == IPAddress("10.1.2.3"))

        storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { bytes in
                bytes.copyBytes(from: [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34] as [UInt8])
            }
            raw.storeBytes(of: sin6, as: sockaddr_in6.self)
        }
        #expect(IPAddress(storage) == IPAddress("fe80::1234"))

        storage = sockaddr_storage()
        storage.ss_family = sa_family_t(AF_UNIX)
        #expect(IPAddress(storage) == nil)
    }

    /// CIDR blocks: prefix lengths, host bits, single addresses, families kept apart.
    @Test func cidr() throws {
        let eight = try #require(CIDR("10.0.0.0/8"))
        #expect(eight.contains(IPAddress("10.255.1.2")!))
        #expect(!eight.contains(IPAddress("11.0.0.0")!))
        #expect(CIDR("10.1.2.3/8") == eight)
        #expect(CIDR("1.2.3.4")!.contains(IPAddress("1.2.3.4")!))
        #expect(!CIDR("1.2.3.4")!.contains(IPAddress("1.2.3.5")!))
        #expect(CIDR("0.0.0.0/0")!.contains(IPAddress("8.8.8.8")!))
        #expect(!CIDR("0.0.0.0/0")!.contains(IPAddress("::1")!))
        #expect(CIDR("::/0")!.contains(IPAddress("2001:db8::1")!))
        #expect(CIDR("fe80::/10")!.contains(IPAddress("febf::1")!))
        #expect(!CIDR("fe80::/10")!.contains(IPAddress("fec0::1")!))
        #expect(CIDR("2001:db8::/96")!.contains(IPAddress("2001:db8::ffff:ffff")!))
        #expect(!CIDR("2001:db8::/96")!.contains(IPAddress("2001:db8::1:0:0")!))
        #expect(CIDR("::1")!.contains(IPAddress("::1")!))
        #expect(!CIDR("::1")!.contains(IPAddress("::2")!))
        for bad in ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "/8", "10.0.0.0/8/8", "10.0.0.0/0008"] {
            #expect(CIDR(bad) == nil, "\(bad)")
        }
    }
}
