/// Byte helpers for the request path: comparisons that neither allocate nor build strings.
package enum Bytes {
    @inline(__always)
    package static func lower(_ b: UInt8) -> UInt8 { (b >= 65 && b <= 90) ? b | 0x20 : b }

    /// ASCII case-insensitive equality of two byte ranges.
    @inline(__always)
    package static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var i = 0
        while i < a.count {
            if lower(a[i]) != lower(b[i]) { return false }
            i += 1
        }
        return true
    }

    /// ASCII case-insensitive equality with a static lower-case string.
    @inline(__always)
    package static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ lowercased: StaticString) -> Bool {
        equalsIgnoringCase(a, UnsafeRawBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount))
    }

    /// Whether `name` contains `_` and reads as `Content-Length` or `Transfer-Encoding` once every
    /// `_` is read as `-`: CGI and WSGI upstreams (`CONTENT_LENGTH`, `HTTP_TRANSFER_ENCODING`)
    /// merge such a field into the real one, so forwarding it would let a client reframe the body.
    /// Framing and hop-by-hop names (RFC 9110 §7.6.1, §6.4): the gateway writes these itself, a
    /// plugin's edit of one is not sent.
    package static func isFramingOrHopByHop(_ name: UnsafeRawBufferPointer) -> Bool {
        equalsIgnoringCase(name, "content-length") || equalsIgnoringCase(name, "transfer-encoding")
            || equalsIgnoringCase(name, "connection") || equalsIgnoringCase(name, "keep-alive")
            || equalsIgnoringCase(name, "upgrade") || equalsIgnoringCase(name, "te")
            || equalsIgnoringCase(name, "trailer") || equalsIgnoringCase(name, "proxy-connection")
            || isFramingNameWithUnderscore(name)
    }

    package static func isFramingNameWithUnderscore(_ name: UnsafeRawBufferPointer) -> Bool {
        guard name.count == 14 || name.count == 17 else { return false }
        var sawUnderscore = false
        for b in name where b == UInt8(ascii: "_") { sawUnderscore = true }
        guard sawUnderscore else { return false }
        let framing: StaticString = name.count == 14 ? "content-length" : "transfer-encoding"
        let literal = UnsafeRawBufferPointer(start: framing.utf8Start, count: framing.utf8CodeUnitCount)
        for i in 0..<name.count {
            let b = name[i] == UInt8(ascii: "_") ? UInt8(ascii: "-") : lower(name[i])
            if b != literal[i] { return false }
        }
        return true
    }

    /// The `:port` of a Host header value (`example.com:8080`, `[::1]:8080`), or nil.
    package static func port(ofHost host: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var i = host.count - 1
        while i >= 0 {
            let c = host[i]
            if c == UInt8(ascii: ":") {
                return i + 1 < host.count ? UnsafeRawBufferPointer(rebasing: host[(i + 1)...]) : nil
            }
            if c == UInt8(ascii: "]") || !(c >= 48 && c <= 57) { return nil }
            i -= 1
        }
        return nil
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes of `range` (offsets into this buffer).
    @inline(__always)
    package func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}
