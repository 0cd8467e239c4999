/// One header field of a parsed head, as offsets into the caller's buffer.
package struct HTTPHeaderField: Sendable, Equatable {
    /// The field name, exactly as received (original case).
    package var nameRange: Range<Int>
    /// The field value with leading and trailing OWS removed (RFC 9110 §5.5); may be empty.
    package var valueRange: Range<Int>
    /// The name's classification, for headers a proxy acts on.
    package var known: KnownHeader

    /// Creates a field.
    package init(nameRange: Range<Int>, valueRange: Range<Int>, known: KnownHeader) {
        self.nameRange = nameRange
        self.valueRange = valueRange
        self.known = known
    }
}

/// Header names a proxy acts on, recognized case-insensitively at parse time without allocating.
package enum KnownHeader: UInt8, Sendable, Hashable, CaseIterable {
    /// `Host`
    case host
    /// `Content-Length`
    case contentLength
    /// `Transfer-Encoding`
    case transferEncoding
    /// `Connection`
    case connection
    /// `Keep-Alive`
    case keepAlive
    /// `Proxy-Connection`
    case proxyConnection
    /// `Upgrade`
    case upgrade
    /// `TE`
    case te
    /// `Trailer`
    case trailer
    /// `Expect`
    case expect
    /// `X-Forwarded-For`
    case xForwardedFor
    /// `X-Forwarded-Proto`
    case xForwardedProto
    /// `X-Forwarded-Host`
    case xForwardedHost
    /// `X-Forwarded-Port`
    case xForwardedPort
    /// `X-Real-IP`
    case xRealIP
    /// `Forwarded`
    case forwarded
    /// `Authorization`
    case authorization
    /// Any other name.
    case other

    /// The lower-case field name; empty for `.other`.
    package var lowercaseName: StaticString {
        switch self {
        case .host: "host"
        case .contentLength: "content-length"
        case .transferEncoding: "transfer-encoding"
        case .connection: "connection"
        case .keepAlive: "keep-alive"
        case .proxyConnection: "proxy-connection"
        case .upgrade: "upgrade"
        case .te: "te"
        case .trailer: "trailer"
        case .expect: "expect"
        case .xForwardedFor: "x-forwarded-for"
        case .xForwardedProto: "x-forwarded-proto"
        case .xForwardedHost: "x-forwarded-host"
        case .xForwardedPort: "x-forwarded-port"
        case .xRealIP: "x-real-ip"
        case .forwarded: "forwarded"
        case .authorization: "authorization"
        case .other: ""
        }
    }

    /// Whether the field is hop-by-hop (RFC 9110 §7.6.1) and so never forwarded as received.
    package var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .upgrade, .te, .trailer, .transferEncoding: true
        default: false
        }
    }

    /// Classifies a field name case-insensitively, without allocating.
    package init(name: UnsafeRawBufferPointer) {
        // Dispatch on length, then compare whole words against each candidate: a name costs one
        // switch and a few word compares, and most unknown names are rejected by length alone.
        @inline(__always)
        func matches(_ literal: StaticString) -> Bool { ASCII.caseInsensitiveEquals(name, literal) }
        switch name.count {
        case 2: self = matches("te") ? .te : .other
        case 4: self = matches("host") ? .host : .other
        case 6: self = matches("expect") ? .expect : .other
        case 7: self = matches("upgrade") ? .upgrade : matches("trailer") ? .trailer : .other
        case 9: self = matches("x-real-ip") ? .xRealIP : matches("forwarded") ? .forwarded : .other
        case 10: self = matches("connection") ? .connection : matches("keep-alive") ? .keepAlive : .other
        case 13: self = matches("authorization") ? .authorization : .other
        case 14: self = matches("content-length") ? .contentLength : .other
        case 15: self = matches("x-forwarded-for") ? .xForwardedFor : .other
        case 16:
            self =
                matches("x-forwarded-host")
                ? .xForwardedHost
                : matches("x-forwarded-port")
                    ? .xForwardedPort : matches("proxy-connection") ? .proxyConnection : .other
        case 17:
            self =
                matches("transfer-encoding")
                ? .transferEncoding : matches("x-forwarded-proto") ? .xForwardedProto : .other
        default: self = .other
        }
    }
}

// MARK: - Field-value semantics shared by the request and response parsers

/// What a `Connection` field's tokens asked for.
struct ConnectionOptions {
    /// `close` was listed.
    var close = false
    /// `keep-alive` was listed.
    var keepAlive = false
    /// `upgrade` was listed.
    var upgrade = false
}

enum HTTPFieldSemantics {
    /// Parses a Content-Length value: 1*DIGIT (RFC 9110 §8.6) that fits an Int64; nil otherwise.
    static func contentLength(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int64? {
        guard !range.isEmpty else { return nil }
        var value: Int64 = 0
        if range.count <= 18, let base = buffer.baseAddress {
            // 18 digits cannot overflow an Int64 (max 9_223_372_036_854_775_807, 19 digits).
            precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count, "range outside buffer")
            let bytes = base.assumingMemoryBound(to: UInt8.self)
            for index in range {
                let digit = bytes[index] &- 0x30
                guard digit < 10 else { return nil }
                value = value &* 10 &+ Int64(digit)
            }
            return value
        }
        for index in range {
            let byte = buffer[index]
            guard ASCII.isDigit(byte) else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int64(byte - 0x30))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// Appends the comma-separated, OWS-trimmed, non-empty elements of a `Connection` value
    /// (RFC 9110 §7.6.1) to `tokens` and notes the ones the parsers act on.
    static func connectionTokens(
        _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>,
        into tokens: inout [Range<Int>], options: inout ConnectionOptions
    ) {
        guard !range.isEmpty, let base = buffer.baseAddress else { return }
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count, "range outside buffer")
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var elementStart = range.lowerBound
        while true {
            var elementEnd = elementStart
            while elementEnd < range.upperBound, bytes[elementEnd] != ASCII.comma { elementEnd += 1 }
            var lower = elementStart
            var upper = elementEnd
            while lower < upper, ASCII.isWhitespace(bytes[lower]) { lower += 1 }
            while upper > lower, ASCII.isWhitespace(bytes[upper - 1]) { upper -= 1 }
            if lower < upper {
                tokens.append(lower..<upper)
                // The three tokens acted on have different lengths.
                let element = UnsafeRawBufferPointer(start: bytes + lower, count: upper - lower)
                switch element.count {
                case 5: if ASCII.caseInsensitiveEquals(element, "close") { options.close = true }
                case 10: if ASCII.caseInsensitiveEquals(element, "keep-alive") { options.keepAlive = true }
                case 7: if ASCII.caseInsensitiveEquals(element, "upgrade") { options.upgrade = true }
                default: break
                }
            }
            guard elementEnd < range.upperBound else { return }
            elementStart = elementEnd + 1
        }
    }
}

extension Array {
    /// `removeAll(keepingCapacity: true)` for the handful of elements a head has.
    ///
    /// That call goes through the generic `replaceSubrange`, and on an array that never
    /// allocated it allocates (the shared empty storage is not uniquely referenced). A few
    /// `removeLast()` calls, each a uniqueness check and a count decrement, are cheaper.
    @inline(__always)
    mutating func removeAllKeepingCapacity() {
        if count > 4 {
            removeAll(keepingCapacity: true)
        } else {
            while !isEmpty { removeLast() }
        }
    }
}
