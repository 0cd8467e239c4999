// The request-head parser, after nginx's ngx_http_parse_request_line / ngx_http_parse_header_line:
// a resumable byte state machine that records offsets into the caller's buffer and never copies.
// Unlike nginx it is strict everywhere framing is concerned (RFC 9112 §6.3, §11.2), so a request
// that another hop could frame differently is rejected rather than repaired.

/// A resumable HTTP/1.x request-head parser.
///
/// Owned by one connection and reused for every request on it: call `parse` with all bytes received
/// for the current request so far (starting at its first byte) until it stops returning
/// `.incomplete`, then `reset()` before the next request. Each call resumes at the first byte not
/// yet examined, so feeding a head in pieces costs the same as feeding it whole. No heap allocation
/// happens in steady state: `headers` and `connectionTokens` keep their capacity across `reset()`.
///
/// Confined to the connection's event loop.
package struct HTTPRequestParser {
    /// Where the parser is in the head.
    enum State: UInt8 {
        /// before the request line, skipping empty lines
        case start
        /// after a CR of an empty line before the request line
        case startLF
        /// inside the method token
        case method
        /// inside the request-target
        case target
        /// inside the HTTP-version
        case version
        /// after the CR ending the request line
        case requestLineLF
        /// in the field lines (delegated to the header scanner)
        case headers
        /// `head` is complete
        case complete
        /// a failure was returned; it is returned again until `reset()`
        case failed
    }

    /// The limits this parser enforces.
    package let limits: HTTPParserLimits
    /// The head parsed so far; meaningful once `parse` returned `.complete`.
    package private(set) var head = HTTPRequestHead()

    var state: State = .start
    /// The next byte to examine.
    var position = 0
    var targetStart = 0
    /// Offset of the first `?` in the target, or -1.
    var queryMark = -1
    var versionStart = 0
    /// Absolute-form target without a path: `pathRange` is set once the version is known.
    var implicitRootPath = false
    var scanner = HTTPHeaderScanner()
    var failure = HTTPParseError(status: 400, reason: "")
    var hostHeaderSeen = false
    var transferEncodingCount = 0
    var transferEncodingValue: Range<Int> = 0..<0
    var connection = ConnectionOptions()
    var upgradeSeen = false
    var expectContinueSeen = false

    /// Creates a parser enforcing `limits`.
    package init(limits: HTTPParserLimits = .init()) {
        self.limits = limits
    }

    /// Prepares for the next request on the connection, keeping allocated capacity.
    package mutating func reset() {
        head.reset()
        state = .start
        position = 0
        targetStart = 0
        queryMark = -1
        versionStart = 0
        implicitRootPath = false
        scanner.reset()
        hostHeaderSeen = false
        transferEncodingCount = 0
        transferEncodingValue = 0..<0
        connection = ConnectionOptions()
        upgradeSeen = false
        expectContinueSeen = false
    }

    /// Continues parsing the request head.
    ///
    /// - Parameter buffer: every byte received for this request so far, starting at its first
    ///   byte. Bytes already examined must be unchanged; only more may be appended.
    /// - Returns: `.incomplete` (call again with more bytes), `.complete` (`head` is filled in;
    ///   `head.headEnd` bytes belong to the head) or `.failure` (answer with its status and close).
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
            let bytes = base.assumingMemoryBound(to: UInt8.self)
            if state == .start, ASCII.isToken(bytes[index]) {
                if case .failure(let error) = parseWholeRequestLine(buffer, bytes, &index) { return fail(error) }
            }
            if state != .headers, let status = parseRequestLine(buffer, bytes, &index) {
                return status
            }
        }

        while true {
            switch scanner.next(buffer, position: &index, limit: limits.maxHeaderBytes) {
            case .needMore:
                return .incomplete
            case .field(let name, let value):
                if head.headers.count >= limits.maxHeaders {
                    return fail(431, "client sent too many header fields")
                }
                let known = KnownHeader(name: UnsafeRawBufferPointer(rebasing: buffer[name]))
                head.headers.append(HTTPHeaderField(nameRange: name, valueRange: value, known: known))
                if let error = applyField(known, value: value, buffer) { return fail(error) }
            case .end:
                head.headEnd = index
                if let error = finishHead(buffer) { return fail(error) }
                state = .complete
                return .complete
            case .failure(let kind):
                return fail(400, Self.reason(kind))
            case .tooLarge:
                return fail(431, "client sent too large request head")
            }
        }
    }

    // MARK: - Request line

    /// The common case: a whole `method SP target SP HTTP/1.x CRLF` at `index`, within both
    /// limits, read in one pass. On success the state is `.headers` and `index` is after the LF;
    /// `.failure` is a target `finishTarget` rejects. Anything else returns `.incomplete` with
    /// nothing changed, and `parseRequestLine` takes the line byte by byte to the same result.
    private mutating func parseWholeRequestLine(
        _ buffer: UnsafeRawBufferPointer, _ bytes: UnsafePointer<UInt8>, _ index: inout Int
    ) -> HTTPParseStatus {
        let start = index
        let end = buffer.count
        let headStop = min(end, limits.maxHeaderBytes)
        // Method and target bytes must be below both limits (checked before each byte).
        let lineStop = min(headStop, start + limits.maxRequestLine)
        var cursor = start + 1
        while cursor < lineStop, ASCII.isToken(bytes[cursor]) { cursor += 1 }
        guard cursor < lineStop, bytes[cursor] == ASCII.space else { return .incomplete }
        let methodEnd = cursor
        cursor += 1
        let pathStart = cursor
        var query = -1
        while cursor < lineStop {
            let byte = bytes[cursor]
            guard ASCII.isVisible(byte) else { break }
            if byte == ASCII.question, query < 0 { query = cursor }
            cursor += 1
        }
        guard cursor < lineStop, cursor > pathStart, bytes[cursor] == ASCII.space else { return .incomplete }
        let targetEnd = cursor
        let version = targetEnd + 1
        // The version's CR is exempt from the line limit; its LF must be below the head limit.
        guard version + 10 <= headStop, version + 8 <= start + limits.maxRequestLine,
            bytes[version + 8] == ASCII.cr, bytes[version + 9] == ASCII.lf,
            Self.versionMinor(bytes + version) != nil
        else { return .incomplete }

        head.start = start
        head.methodRange = start..<methodEnd
        head.method = HTTPMethod(bytes: UnsafeRawBufferPointer(rebasing: buffer[head.methodRange]))
        targetStart = pathStart
        queryMark = query
        if let error = finishTarget(buffer, end: targetEnd) {
            index = targetEnd
            return .failure(error)
        }
        versionStart = version
        if let error = finishVersion(buffer, end: version + 8) {
            index = version + 8
            return .failure(error)
        }
        index = version + 10
        state = .headers
        return .complete
    }

    /// Parses from `index` up to the end of the request line (state `.headers`) or of `buffer`.
    /// Returns nil when the field lines are next, else the status to return.
    ///
    /// Byte by byte like nginx, with the limit checks in the same order; runs of method, target
    /// and version bytes that cannot reach a limit are skipped in tight loops.
    private mutating func parseRequestLine(
        _ buffer: UnsafeRawBufferPointer, _ bytes: UnsafePointer<UInt8>, _ index: inout Int
    ) -> HTTPParseStatus? {
        let end = buffer.count
        while index < end, state != .headers {
            // RFC 9112 §2.2 leading empty lines count toward the head limit so they cannot be
            // used to hold a connection open forever.
            if index >= limits.maxHeaderBytes {
                return fail(431, "client sent too large request head")
            }
            let byte = bytes[index]
            switch state {
            case .start:
                if byte == ASCII.cr {
                    state = .startLF
                } else if ASCII.isToken(byte) {
                    head.start = index
                    state = .method
                } else if byte == ASCII.lf {
                    return fail(400, "client sent bare LF")
                } else {
                    return fail(400, "client sent invalid request")
                }
            case .startLF:
                guard byte == ASCII.lf else { return fail(400, "client sent bare CR") }
                state = .start
            case .method:
                if index - head.start >= limits.maxRequestLine {
                    return fail(414, "client sent too long URI")
                }
                if ASCII.isToken(byte) {
                    break
                } else if byte == ASCII.space {
                    head.methodRange = head.start..<index
                    head.method = HTTPMethod(bytes: UnsafeRawBufferPointer(rebasing: buffer[head.methodRange]))
                    targetStart = index + 1
                    state = .target
                } else {
                    return fail(400, "client sent invalid method")
                }
            case .target:
                if index - head.start >= limits.maxRequestLine {
                    return fail(414, "client sent too long URI")
                }
                if ASCII.isVisible(byte) {
                    if byte == ASCII.question, queryMark < 0 { queryMark = index }
                } else if byte == ASCII.space, index > targetStart {
                    if let error = finishTarget(buffer, end: index) { return fail(error) }
                    versionStart = index + 1
                    state = .version
                } else if byte == ASCII.lf {
                    return fail(400, "client sent bare LF")
                } else {
                    // RFC 9112 §3: exactly one SP between the parts; no CTLs or whitespace in the
                    // target (§3.2). A CR here is an HTTP/0.9 request line, which we do not serve.
                    return fail(400, "client sent invalid request")
                }
            case .version:
                if byte == ASCII.cr {
                    if let error = finishVersion(buffer, end: index) { return fail(error) }
                    state = .requestLineLF
                } else if index - head.start >= limits.maxRequestLine {
                    return fail(414, "client sent too long URI")
                } else if byte == ASCII.lf {
                    return fail(400, "client sent bare LF")
                } else if index - versionStart >= 8 || !ASCII.isVisible(byte) {
                    return fail(400, "client sent invalid version")
                }
            case .requestLineLF:
                guard byte == ASCII.lf else { return fail(400, "client sent bare CR") }
                state = .headers
            case .headers, .complete, .failed:
                preconditionFailure("unreachable parser state")
            }
            index += 1

            // Fast paths: bytes the checks above would accept without any effect but the query
            // mark, stopping short of both limits so the loop above sees the byte that hits one.
            switch state {
            case .method:
                let stop = min(end, limits.maxHeaderBytes, head.start + limits.maxRequestLine)
                while index < stop, ASCII.isToken(bytes[index]) { index += 1 }
            case .target:
                let stop = min(end, limits.maxHeaderBytes, head.start + limits.maxRequestLine)
                while index < stop {
                    let byte = bytes[index]
                    guard ASCII.isVisible(byte) else { break }
                    if byte == ASCII.question, queryMark < 0 { queryMark = index }
                    index += 1
                }
            case .version where index == versionStart:
                // `HTTP/1.1` or `HTTP/1.0` then CRLF, all within both limits: what the loop would
                // accept byte by byte.
                guard versionStart + 10 <= min(end, limits.maxHeaderBytes),
                    versionStart + 8 <= head.start + limits.maxRequestLine,
                    bytes[versionStart + 8] == ASCII.cr, bytes[versionStart + 9] == ASCII.lf,
                    Self.versionMinor(bytes + versionStart) != nil
                else { break }
                if let error = finishVersion(buffer, end: versionStart + 8) { return fail(error) }
                index = versionStart + 10
                state = .headers
            default:
                break
            }
        }
        return state == .headers ? nil : .incomplete
    }

    /// 1 for `HTTP/1.1` and 0 for `HTTP/1.0` in the eight bytes at `bytes`, else nil.
    @inline(__always)
    private static func versionMinor(_ bytes: UnsafePointer<UInt8>) -> Int? {
        let word = UInt64(littleEndian: UnsafeRawPointer(bytes).loadUnaligned(as: UInt64.self))
        // "HTTP/1.1" and "HTTP/1.0" as little-endian words.
        switch word {
        case 0x312E_312F_5054_5448: return 1
        case 0x302E_312F_5054_5448: return 0
        default: return nil
        }
    }

    /// Classifies and splits the target `targetStart..<end` (RFC 9112 §3.2).
    private mutating func finishTarget(_ buffer: UnsafeRawBufferPointer, end: Int) -> HTTPParseError? {
        let target = targetStart..<end
        head.targetRange = target
        let pathEnd = queryMark >= 0 ? queryMark : end
        head.queryRange = queryMark >= 0 ? (queryMark + 1)..<end : nil
        let first = buffer[targetStart]
        if first == ASCII.slash {
            head.targetForm = .origin
            head.pathRange = targetStart..<pathEnd
            return nil
        }
        if first == UInt8(ascii: "*") {
            // RFC 9112 §3.2.4: asterisk-form is only for a server-wide OPTIONS.
            guard target.count == 1, head.method == .options else {
                return HTTPParseError(status: 400, reason: "client sent invalid request-target")
            }
            head.targetForm = .asterisk
            head.pathRange = target
            return nil
        }
        let authorityStart: Int
        if target.count > 7, ASCII.caseInsensitiveEquals(buffer, targetStart..<(targetStart + 7), "http://") {
            authorityStart = targetStart + 7
        } else if target.count > 8,
            ASCII.caseInsensitiveEquals(buffer, targetStart..<(targetStart + 8), "https://")
        {
            authorityStart = targetStart + 8
        } else {
            return HTTPParseError(status: 400, reason: "client sent invalid request-target")
        }
        var authorityEnd = authorityStart
        while authorityEnd < pathEnd, buffer[authorityEnd] != ASCII.slash { authorityEnd += 1 }
        let authority = authorityStart..<authorityEnd
        // RFC 9110 §4.2.4: userinfo in an http(s) URI is deprecated and a phishing vector; reject.
        guard HTTPRequestParser.isValidHost(buffer, authority) else {
            return HTTPParseError(status: 400, reason: "client sent invalid request-target")
        }
        head.targetForm = .absolute
        head.hostRange = authority
        if authorityEnd < pathEnd {
            head.pathRange = authorityEnd..<pathEnd
        } else {
            implicitRootPath = true
        }
        return nil
    }

    /// Validates `HTTP/1.0` or `HTTP/1.1` (RFC 9112 §2.3: the name is case-sensitive).
    private mutating func finishVersion(_ buffer: UnsafeRawBufferPointer, end: Int) -> HTTPParseError? {
        let version = UnsafeRawBufferPointer(rebasing: buffer[versionStart..<end])
        if version.count == 8, let base = version.baseAddress,
            let minor = Self.versionMinor(base.assumingMemoryBound(to: UInt8.self))
        {
            head.versionMinor = minor
        } else if version.count == 8, ASCII.equals(UnsafeRawBufferPointer(rebasing: version[0..<5]), "HTTP/"),
            ASCII.isDigit(version[5]), version[6] == ASCII.dot, ASCII.isDigit(version[7])
        {
            return HTTPParseError(status: 505, reason: "client sent unsupported HTTP version")
        } else {
            return HTTPParseError(status: 400, reason: "client sent invalid version")
        }
        if implicitRootPath {
            // The `/` of "HTTP/1.x" (see `HTTPRequestHead.pathRange`).
            head.pathRange = (versionStart + 4)..<(versionStart + 5)
        }
        return nil
    }

    // MARK: - Header fields

    /// Records what a proxy needs from one field.
    private mutating func applyField(
        _ known: KnownHeader, value: Range<Int>, _ buffer: UnsafeRawBufferPointer
    ) -> HTTPParseError? {
        switch known {
        case .host:
            // RFC 9112 §3.2: more than one Host is a 400.
            guard !hostHeaderSeen else {
                return HTTPParseError(status: 400, reason: "client sent duplicate host header")
            }
            hostHeaderSeen = true
            guard HTTPRequestParser.isValidHost(buffer, value) else {
                return HTTPParseError(status: 400, reason: "client sent invalid host header")
            }
            // RFC 9112 §3.2.2: an absolute-form authority overrides Host.
            if head.targetForm != .absolute { head.hostRange = value }
        case .contentLength:
            guard let length = HTTPFieldSemantics.contentLength(buffer, value) else {
                return HTTPParseError(status: 400, reason: "client sent invalid \"Content-Length\" header")
            }
            // RFC 9110 §8.6: identical duplicates may be accepted; differing ones are a smuggling attempt.
            if let previous = head.contentLength, previous != length {
                return HTTPParseError(status: 400, reason: "client sent duplicate \"Content-Length\" header")
            }
            head.contentLength = length
        case .transferEncoding:
            transferEncodingCount += 1
            transferEncodingValue = value
        case .connection:
            HTTPFieldSemantics.connectionTokens(buffer, value, into: &head.connectionTokens, options: &connection)
        case .upgrade:
            upgradeSeen = true
        case .expect:
            if ASCII.caseInsensitiveEquals(buffer, value, "100-continue") { expectContinueSeen = true }
        default:
            break
        }
        return nil
    }

    /// Cross-field checks once the whole head is in (nginx's ngx_http_process_request_header).
    private mutating func finishHead(_ buffer: UnsafeRawBufferPointer) -> HTTPParseError? {
        if head.versionMinor == 1, !hostHeaderSeen {
            return HTTPParseError(status: 400, reason: "client sent HTTP/1.1 request without \"Host\" header")
        }
        if transferEncodingCount > 0 {
            // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
            if head.versionMinor == 0 {
                return HTTPParseError(
                    status: 400, reason: "client sent HTTP/1.0 request with \"Transfer-Encoding\" header")
            }
            // RFC 9112 §6.3 item 3: a server MAY reject CL+TE; a proxy must, or it smuggles.
            if head.contentLength != nil {
                return HTTPParseError(
                    status: 400,
                    reason: "client sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time")
            }
            // RFC 9112 §6.1: only `chunked` is implemented; any other coding gets 501.
            guard transferEncodingCount == 1,
                ASCII.caseInsensitiveEquals(buffer, transferEncodingValue, "chunked")
            else {
                return HTTPParseError(status: 501, reason: "client sent unknown \"Transfer-Encoding\"")
            }
            head.isChunked = true
        }
        head.keepAlive =
            head.versionMinor == 1 ? !connection.close : (connection.keepAlive && !connection.close)
        // RFC 9110 §10.1.1: a server MUST ignore 100-continue in an HTTP/1.0 request.
        head.expectContinue = expectContinueSeen && head.versionMinor == 1
        head.hasUpgrade = upgradeSeen && connection.upgrade
        return nil
    }

    // MARK: - Helpers

    /// Whether `range` is an acceptable Host value / absolute-form authority: non-empty visible
    /// ASCII without `/`, `\`, `@`, `?` or `#` (nginx's ngx_http_validate_host is similar).
    static func isValidHost(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        guard !range.isEmpty, let base = buffer.baseAddress else { return false }
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count, "range outside buffer")
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var index = range.lowerBound
        while index < range.upperBound {
            guard ASCII.isHostByte(bytes[index]) else { return false }
            index &+= 1
        }
        return true
    }

    private static func reason(_ kind: HTTPHeaderScanner.Failure) -> String {
        switch kind {
        case .invalidName: "client sent invalid header line"
        case .whitespaceBeforeColon: "client sent whitespace before colon in header line"
        case .obsFold: "client sent obsolete line folding"
        case .invalidValue: "client sent invalid character in header value"
        case .bareLF: "client sent bare LF"
        case .bareCR: "client sent bare CR"
        }
    }

    private mutating func fail(_ status: Int, _ reason: String) -> HTTPParseStatus {
        fail(HTTPParseError(status: status, reason: reason))
    }

    private mutating func fail(_ error: HTTPParseError) -> HTTPParseStatus {
        failure = error
        state = .failed
        return .failure(error)
    }
}
