/// Size limits enforced while parsing a message head.
///
/// The defaults match nginx's `large_client_header_buffers 4 8k` closely enough for APISIX users:
/// a request line of at most 8 KiB and a head of at most 32 KiB.
package struct HTTPParserLimits: Sendable, Equatable {
    /// Longest request line (status line for responses), excluding its CRLF, in bytes.
    /// Longer → 414 (requests). Default: 8192.
    package var maxRequestLine: Int
    /// Largest head, from the first byte received through the final CRLFCRLF, in bytes.
    /// Larger → 431 (requests). Default: 32768.
    package var maxHeaderBytes: Int
    /// Most header fields in one head. More → 431 (requests). Default: 100.
    package var maxHeaders: Int

    /// Creates limits; every argument defaults to the documented value.
    package init(maxRequestLine: Int = 8192, maxHeaderBytes: Int = 32768, maxHeaders: Int = 100) {
        self.maxRequestLine = maxRequestLine
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaders = maxHeaders
    }
}

/// Why a head was rejected: the status to answer with and a static reason for error.log.
package struct HTTPParseError: Error, Sendable, Equatable {
    /// The HTTP status to respond with: 400, 414, 431, 501 or 505 for requests; 502 for upstream
    /// responses (the proxy's answer to an upstream that sent an invalid head).
    package var status: Int
    /// A static, nginx-style description, e.g. `client sent invalid header line`.
    package var reason: String

    /// Creates an error.
    package init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }
}

/// The result of feeding bytes to a head parser.
package enum HTTPParseStatus: Sendable, Equatable {
    /// The head is not complete yet: append more bytes and call `parse` again.
    case incomplete
    /// The head is complete; the parser's `head` is filled in.
    case complete
    /// The head is invalid; the connection must not be reused for another message.
    case failure(HTTPParseError)
}
