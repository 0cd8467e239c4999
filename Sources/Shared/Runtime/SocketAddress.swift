package import CLibevent
#if canImport(Glibc)
package import Glibc
#endif

/// A resolved IPv4 or IPv6 socket address.
package struct SocketAddress: Sendable {
    package var storage = sockaddr_storage()
    package var length: socklen_t = 0

    package init() {}

    /// Parses a numeric IPv4 or IPv6 address (brackets allowed) and a port; nil when not numeric.
    package init?(numericHost host: String, port: Int) {
        var h = host
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, h, &v4) == 1 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = in_port_t(UInt16(port).bigEndian)
            sin.sin_addr = v4
            store(sin)
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, h, &v6) == 1 {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = in_port_t(UInt16(port).bigEndian)
            sin6.sin6_addr = v6
            store(sin6)
            return
        }
        return nil
    }

    /// Copies a `sockaddr_in` or `sockaddr_in6` into `storage` and sets `length`.
    private mutating func store<Address>(_ address: Address) {
        var address = address
        withUnsafeMutableBytes(of: &storage) { dst in
            withUnsafeBytes(of: &address) { dst.copyMemory(from: $0) }
        }
        length = socklen_t(MemoryLayout<Address>.size)
    }

    package var family: Int32 { Int32(storage.ss_family) }

    /// `127.0.0.1` or `::1` (no port).
    package var hostText: String {
        var bytes: [UInt8] = []
        appendHostText(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the host as text without allocating (a stack buffer for `inet_ntop`; `out` keeps
    /// its capacity): an accepted connection's `$remote_addr` costs no heap allocation.
    package func appendHostText(to out: inout [UInt8]) {
        var text: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        var copy = storage
        let family = self.family
        withUnsafeMutableBytes(of: &text) { buf in
            let cbuf = buf.baseAddress!.assumingMemoryBound(to: CChar.self)
            withUnsafeBytes(of: &copy) { raw in
                if family == AF_INET {
                    var a = raw.load(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \.sin_addr)!, as: in_addr.self)
                    _ = inet_ntop(AF_INET, &a, cbuf, socklen_t(buf.count))
                } else if family == AF_INET6 {
                    var a = raw.load(fromByteOffset: MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr)!, as: in6_addr.self)
                    _ = inet_ntop(AF_INET6, &a, cbuf, socklen_t(buf.count))
                }
            }
            var i = 0
            while i < buf.count && buf[i] != 0 { out.append(buf[i]); i += 1 }
        }
    }

    package var port: Int {
        var copy = storage
        return withUnsafeBytes(of: &copy) { raw in
            let be = raw.load(fromByteOffset: 2, as: UInt16.self)  // sin_port and sin6_port share the offset
            return Int(UInt16(bigEndian: be))
        }
    }

    /// `127.0.0.1:1980` or `[::1]:1980`.
    package var description: String {
        family == AF_INET6 ? "[\(hostText)]:\(port)" : "\(hostText):\(port)"
    }
}
