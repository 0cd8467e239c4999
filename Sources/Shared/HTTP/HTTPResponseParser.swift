// The upstream response-head parser, after nginx's ngx_http_parse_status_line plus the header
// handling of ngx_http_proxy_module: same offset-recording state machine as the request parser.
// Reason phrases may be sloppy; framing may not (RFC 9112 §6.3).

/// How an upstream response body is delimited (RFC 9112 §6.3).
package enum HTTPBodyFraming: Sendable, Equatable {
    /// No body: a response to HEAD, or status 1xx, 204 or 304.
    case none
    /// Exactly this many bytes follow the head.
    case length(Int64)
    /// A chunked body follows; decode it with `ChunkedDecoder`.
    case chunked
    /// The body runs until the upstream closes the connection (which is then not reusable).
    case untilClose
}

/// A parsed response head: offsets into the buffer given to `HTTPResponseParser.parse`.
package struct HTTPResponseHead: Sendable {
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    package internal(set) var versionMinor = 1
    /// The three-digit status code (100...999).
    package internal(set) var status = 0
    /// The reason phrase (may be empty).
    package internal(set) var reasonRange: Range<Int> = 0..<0
    /// Every header field in arrival order.
    package internal(set) var headers: [HTTPHeaderField] = []
    /// The Content-Length value, unless absent or overridden by Transfer-Encoding.
    package internal(set) var contentLength: Int64?
    /// Whether the body is chunked.
    package internal(set) var isChunked = false
    /// Whether the connection may be reused for another request once this response's body is read:
    /// per version and `Connection` (RFC 9112 §9.3), and false after conflicting framing.
    /// A `.untilClose` body also ends the connection whatever this says.
    package internal(set) var keepAlive = true
    /// The elements of every `Connection` field: a proxy strips the headers they name.
    package internal(set) var connectionTokens: [Range<Int>] = []
    /// Whether the response has an `Upgrade` field and `upgrade` in `Connection` (as a 101 does).
    package internal(set) var hasUpgrade = false
    /// Bytes consumed through the final CRLFCRLF; the body or the next response starts here.
    package internal(set) var headEnd = 0

    /// Creates an empty head.
    package init() {}

    /// Whether this is an interim response (1xx): the final response follows it.
    package var isInformational: Bool { (100..<200).contains(status) }

    /// The first field tagged `known`, if any.
    package func firstHeader(_ known: KnownHeader) -> HTTPHeaderField? {
        headers.first { $0.known == known }
    }

    /// How the body that follows this head is delimited, given the method of the request it
    /// answers (RFC 9112 §6.3 items 1-2 and 4-8).
    package func bodyFraming(requestMethod: HTTPMethod) -> HTTPBodyFraming {
        if requestMethod == .head || isInformational || status == 204 || status == 304 { return .none }
        if isChunked { return .chunked }
        if let contentLength { return .length(contentLength) }
        return .untilClose
    }

    /// Clears every field, keeping the arrays' capacity.
    mutating func reset() {
        versionMinor = 1
        status = 0
        reasonRange = 0..<0
        headers.removeAllKeepingCapacity()
        contentLength = nil
        isChunked = false
        keepAlive = true
        connectionTokens.removeAllKeepingCapacity()
        hasUpgrade = false
        headEnd = 0
    }
}

/// A resumable HTTP/1.x response-head parser for upstream responses.
///
/// Same contract as `HTTPRequestParser`: call `parse` with every byte of this response received so
/// far until it stops returning `.incomplete`; `reset()` before the next head (including the final
/// response after a 1xx interim one, which starts at the interim head's `headEnd`). Failures carry
/// status 502, the proxy's answer to an invalid upstream head.
///
/// Confined to the connection's event loop.
package struct HTTPResponseParser {
    /// Where the parser is in the head.
    enum State: UInt8 {
        /// inside `HTTP/1.x`
        case version
        /// the SP after the version
        case versionSpace
        /// inside the three status digits
        case status
        /// after the digits: SP or the CR of a status line without a reason phrase
        case statusEnd
        /// inside the reason phrase
        case reason
        /// after the CR ending the status line
        case statusLineLF
        /// in the field lines (delegated to the header scanner)
        case headers
        /// `head` is complete
        case complete
        /// a failure was returned; it is returned again until `reset()`
        case failed
    }

    /// The limits this parser enforces (`maxRequestLine` bounds the status line).
    package let limits: HTTPParserLimits
    /// The head parsed so far; meaningful once `parse` returned `.complete`.
    package private(set) var head = HTTPResponseHead()

    var state: State = .version
    var position = 0
    var reasonStart = 0
    var scanner = HTTPHeaderScanner()
    var failure = HTTPParseError(status: 502, reason: "")
    var transferEncodingCount = 0
    var transferEncodingValue: Range<Int> = 0..<0
    var connection = ConnectionOptions()
    var upgradeSeen = false

    /// Creates a parser enforcing `limits`.
    package init(limits: HTTPParserLimits = .init()) {
        self.limits = limits
    }

    /// Prepares for the next response head, keeping allocated capacity.
    package mutating func reset() {
        head.reset()
        state = .version
        position = 0
        reasonStart = 0
        scanner.reset()
        transferEncodingCount = 0
        transferEncodingValue = 0..<0
        connection = ConnectionOptions()
        upgradeSeen = false
    }

    /// How the body is delimited; see `HTTPResponseHead.bodyFraming(requestMethod:)`.
    package func bodyFraming(requestMethod: HTTPMethod) -> HTTPBodyFraming {
        head.bodyFraming(requestMethod: requestMethod)
    }

    /// Continues parsing the response head.
    ///
    /// - Parameter buffer: every byte received for this response so far, starting at its first
    ///   byte. Bytes already examined must be unchanged; only more may be appended.
    /// - Returns: `.incomplete`, `.complete` (`head` is filled in) or `.failure` (status 502).
    package mutating func parse(_ buffer: UnsafeRawBufferPointer) -> HTTPParseStatus {
        switch state {
        case .complete: return .complete
        case .failed: return .failure(failure)
        default: break
        }
        var index = position
        defer { position = index }
        let end = buffer.count

        if state != .headers {
            guard let base = buffer.baseAddress, index < end else { return .incomplete }
            if let status = parseStatusLine(base.assumingMemoryBound(to: UInt8.self), end: end, &index) {
                return status
            }
        }

        while true {
            switch scanner.next(buffer, position: &index, limit: limits.maxHeaderBytes) {
            case .needMore:
                return .incomplete
            case .field(let name, let value):
                if head.headers.count >= limits.maxHeaders {
                    return fail("upstream sent too many header fields")
                }
                let known = KnownHeader(name: UnsafeRawBufferPointer(rebasing: buffer[name]))
                head.headers.append(HTTPHeaderField(nameRange: name, valueRange: value, known: known))
                if let reason = applyField(known, value: value, buffer) { return fail(reason) }
            case .end:
                head.headEnd = index
                if let reason = finishHead(buffer) { return fail(reason) }
                state = .complete
                return .complete
            case .failure(let kind):
                return fail(Self.reason(kind))
            case .tooLarge:
                return fail("upstream sent too big header")
            }
        }
    }

    /// Parses from `index` up to the end of the status line (state `.headers`) or of the
    /// buffer (`end`). Returns nil when the field lines are next, else the status to return.
    private mutating func parseStatusLine(
        _ bytes: UnsafePointer<UInt8>, end: Int, _ index: inout Int
    ) -> HTTPParseStatus? {
        if state == .version, index == 0, end >= 13, let minor = Self.statusLinePrefix(bytes) {
            // `HTTP/1.x NNN` and SP or CR, as the loop below would accept it byte by byte.
            head.versionMinor = minor
            head.status = Int(bytes[9] &- 0x30) * 100 + Int(bytes[10] &- 0x30) * 10 + Int(bytes[11] &- 0x30)
            if bytes[12] == ASCII.space {
                reasonStart = 13
                state = .reason
            } else {
                head.reasonRange = 12..<12
                state = .statusLineLF
            }
            index = 13
        }
        while index < end, state != .headers {
            let byte = bytes[index]
            switch state {
            case .version:
                // "HTTP/1." then 0 or 1 (RFC 9112 §2.3: case-sensitive).
                if index < 7 {
                    let expected = UInt8(truncatingIfNeeded: Self.versionPrefix >> (8 * UInt64(index)))
                    guard byte == expected else {
                        // `HTTP/2.0`, `HTTP/0.9`: a version, not ours.
                        if index == 5 && ASCII.isDigit(byte) { return fail("upstream sent unsupported HTTP version") }
                        return fail("upstream sent invalid status line")
                    }
                } else {
                    guard byte == UInt8(ascii: "0") || byte == UInt8(ascii: "1") else {
                        return fail("upstream sent unsupported HTTP version")
                    }
                    head.versionMinor = Int(byte - 0x30)
                    state = .versionSpace
                }
            case .versionSpace:
                guard byte == ASCII.space else { return fail("upstream sent invalid status line") }
                state = .status
            case .status:
                guard ASCII.isDigit(byte) else { return fail("upstream sent invalid status line") }
                head.status = head.status * 10 + Int(byte - 0x30)
                if index == 11 {
                    // RFC 9110 §15: the first digit is the class; 0xx does not exist.
                    guard head.status >= 100 else { return fail("upstream sent invalid status line") }
                    state = .statusEnd
                }
            case .statusEnd:
                if byte == ASCII.space {
                    reasonStart = index + 1
                    state = .reason
                } else if byte == ASCII.cr {
                    // Servers omit the SP before an empty reason; harmless for framing.
                    head.reasonRange = index..<index
                    state = .statusLineLF
                } else if byte == ASCII.lf {
                    return fail("upstream sent bare LF")
                } else {
                    return fail("upstream sent invalid status line")
                }
            case .reason:
                // Field-value bytes below the length limit are skipped in one run.
                index = HTTPHeaderScanner.skipFieldValue(bytes, from: index, to: min(end, limits.maxRequestLine))
                guard index < end else { return .incomplete }
                let byte = bytes[index]
                if byte == ASCII.cr {
                    head.reasonRange = reasonStart..<index
                    state = .statusLineLF
                } else if index >= limits.maxRequestLine {
                    return fail("upstream sent too long status line")
                } else if byte == ASCII.lf {
                    return fail("upstream sent bare LF")
                } else {
                    return fail("upstream sent invalid status line")
                }
            case .statusLineLF:
                guard byte == ASCII.lf else { return fail("upstream sent bare CR") }
                state = .headers
            case .headers, .complete, .failed:
                preconditionFailure("unreachable parser state")
            }
            index += 1
        }
        return state == .headers ? nil : .incomplete
    }

    /// "HTTP/1." as a little-endian word (its top byte is zero).
    private static let versionPrefix: UInt64 = 0x002E_312F_5054_5448

    /// The minor version if the 13 bytes at `bytes` are a valid `HTTP/1.x NNN` followed by SP or
    /// CR, else nil (the byte loop then finds the error).
    @inline(__always)
    private static func statusLinePrefix(_ bytes: UnsafePointer<UInt8>) -> Int? {
        let word = UInt64(littleEndian: UnsafeRawPointer(bytes).loadUnaligned(as: UInt64.self))
        guard word & 0x00FF_FFFF_FFFF_FFFF == versionPrefix else { return nil }
        let minor = bytes[7]
        guard minor == UInt8(ascii: "0") || minor == UInt8(ascii: "1"), bytes[8] == ASCII.space,
            bytes[9] &- 0x31 < 9, ASCII.isDigit(bytes[10]), ASCII.isDigit(bytes[11]),
            bytes[12] == ASCII.space || bytes[12] == ASCII.cr
        else { return nil }
        return Int(minor &- 0x30)
    }

    private mutating func applyField(
        _ known: KnownHeader, value: Range<Int>, _ buffer: UnsafeRawBufferPointer
    ) -> String? {
        switch known {
        case .contentLength:
            guard let length = HTTPFieldSemantics.contentLength(buffer, value) else {
                return "upstream sent invalid \"Content-Length\" header"
            }
            if let previous = head.contentLength, previous != length {
                return "upstream sent duplicate \"Content-Length\" header"
            }
            head.contentLength = length
        case .transferEncoding:
            transferEncodingCount += 1
            transferEncodingValue = value
        case .connection:
            HTTPFieldSemantics.connectionTokens(buffer, value, into: &head.connectionTokens, options: &connection)
        case .upgrade:
            upgradeSeen = true
        default:
            break
        }
        return nil
    }

    private mutating func finishHead(_ buffer: UnsafeRawBufferPointer) -> String? {
        head.keepAlive =
            head.versionMinor == 1 ? !connection.close : (connection.keepAlive && !connection.close)
        head.hasUpgrade = upgradeSeen && connection.upgrade
        guard transferEncodingCount > 0 else { return nil }
        // Like nginx's proxy module: only `chunked` alone is understood; anything else could be
        // framed differently by the client, so the response is not passed on.
        guard transferEncodingCount == 1, ASCII.caseInsensitiveEquals(buffer, transferEncodingValue, "chunked")
        else {
            return "upstream sent unknown \"Transfer-Encoding\""
        }
        head.isChunked = true
        // RFC 9112 §6.3 item 3: Transfer-Encoding overrides Content-Length, and the connection
        // must be closed afterwards; RFC 9112 §6.1: the same for TE in an HTTP/1.0 message.
        if head.contentLength != nil || head.versionMinor == 0 {
            head.contentLength = nil
            head.keepAlive = false
        }
        return nil
    }

    private static func reason(_ kind: HTTPHeaderScanner.Failure) -> String {
        switch kind {
        case .invalidName: "upstream sent invalid header line"
        case .whitespaceBeforeColon: "upstream sent whitespace before colon in header line"
        case .obsFold: "upstream sent obsolete line folding"
        case .invalidValue: "upstream sent invalid character in header value"
        case .bareLF: "upstream sent bare LF"
        case .bareCR: "upstream sent bare CR"
        }
    }

    private mutating func fail(_ reason: String) -> HTTPParseStatus {
        failure = HTTPParseError(status: 502, reason: reason)
        state = .failed
        return .failure(failure)
    }
}
