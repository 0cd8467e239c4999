/// How the request-target was written (RFC 9112 §3.2).
package enum HTTPRequestTargetForm: UInt8, Sendable {
    /// `/path?query`
    case origin
    /// `http://authority/path?query`
    case absolute
    /// `*` (OPTIONS only)
    case asterisk
}

/// A parsed request head: offsets into the buffer given to `HTTPRequestParser.parse` plus the
/// framing and connection facts a proxy needs.
///
/// Owned by its parser and reused across requests; copying it out of the parser while the parser
/// is still in use costs a copy-on-write of `headers`.
package struct HTTPRequestHead: Sendable {
    /// Offset of the request line's first byte (after any leading empty lines, RFC 9112 §2.2).
    package internal(set) var start = 0
    /// The method token.
    package internal(set) var methodRange: Range<Int> = 0..<0
    /// The method, classified.
    package internal(set) var method: HTTPMethod = .other
    /// The raw request-target, exactly as received.
    package internal(set) var targetRange: Range<Int> = 0..<0
    /// Which form the target has.
    package internal(set) var targetForm: HTTPRequestTargetForm = .origin
    /// The path: the target up to `?` (origin-form), the path after the authority (absolute-form)
    /// or `*` (asterisk-form).
    ///
    /// An absolute-form target with an empty path (`http://h?q`) has no `/` byte of its own, so
    /// this range then covers the `/` of the `HTTP/1.x` version token, keeping it readable as `/`.
    package internal(set) var pathRange: Range<Int> = 0..<0
    /// The query after `?` (possibly empty), or nil when the target has no `?`.
    package internal(set) var queryRange: Range<Int>?
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    package internal(set) var versionMinor = 1
    /// Every header field in arrival order.
    package internal(set) var headers: [HTTPHeaderField] = []
    /// The Content-Length value, if one (or several identical ones) was sent.
    package internal(set) var contentLength: Int64?
    /// Whether the body is chunked (`Transfer-Encoding: chunked`).
    package internal(set) var isChunked = false
    /// Whether the connection may carry another request after this one (RFC 9112 §9.3).
    package internal(set) var keepAlive = true
    /// Whether the client sent `Expect: 100-continue` (HTTP/1.1 only, RFC 9110 §10.1.1).
    package internal(set) var expectContinue = false
    /// The Host header value, or the authority of an absolute-form target (which takes
    /// precedence, RFC 9112 §3.2.2); nil when neither exists (HTTP/1.0).
    package internal(set) var hostRange: Range<Int>?
    /// The elements of every `Connection` field: a proxy strips the headers they name.
    package internal(set) var connectionTokens: [Range<Int>] = []
    /// Whether the client asks for a protocol upgrade: an `Upgrade` field and `upgrade` in
    /// `Connection` (RFC 9110 §7.8).
    package internal(set) var hasUpgrade = false
    /// Bytes consumed through the final CRLFCRLF; the body or the next request starts here.
    package internal(set) var headEnd = 0

    /// Creates an empty head.
    package init() {}

    /// The first field tagged `known`, if any.
    package func firstHeader(_ known: KnownHeader) -> HTTPHeaderField? {
        headers.first { $0.known == known }
    }

    /// Clears every field, keeping the arrays' capacity.
    mutating func reset() {
        start = 0
        methodRange = 0..<0
        method = .other
        targetRange = 0..<0
        targetForm = .origin
        pathRange = 0..<0
        queryRange = nil
        versionMinor = 1
        headers.removeAllKeepingCapacity()
        contentLength = nil
        isChunked = false
        keepAlive = true
        expectContinue = false
        hostRange = nil
        connectionTokens.removeAllKeepingCapacity()
        hasUpgrade = false
        headEnd = 0
    }
}
