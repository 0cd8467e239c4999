// Chunked transfer coding (RFC 9112 §7.1), after nginx's ngx_http_parse_chunked: a resumable
// state machine that hands back payload as ranges of the caller's input instead of copying it.
// It is stricter than nginx on line endings (CRLF only) so that no hop can disagree on where a
// chunk ends.

/// What `ChunkedDecoder.decode` found.
package enum ChunkedEvent: Sendable, Equatable {
    /// Chunk payload at this range of the input; `consumed` covers through its end.
    case data(Range<Int>)
    /// All input was consumed (framing only); call again with more bytes.
    case needMore
    /// The last chunk and the trailer section are complete; `consumed` covers through the final
    /// CRLF and any later bytes belong to the next message.
    case end
    /// The body is malformed (static description for error.log); the connection must be closed.
    case error(String)
}

/// A resumable decoder for one chunked message body.
///
/// Call `decode` with bytes not yet consumed; it consumes framing and returns at most one payload
/// span per call. Chunk extensions are skipped and trailer fields validated then discarded, both
/// within fixed bounds. `reset()` before the next body. Never allocates.
///
/// Confined to the connection's event loop.
package struct ChunkedDecoder {
    /// Longest chunk-size line after the digits (extensions and BWS), in bytes. 4096.
    package static let maxExtensionBytes = 4096
    /// Largest trailer section, including its final CRLF, in bytes. 8192.
    package static let maxTrailerBytes = 8192
    /// Most hex digits in a chunk size: 16 (`Int64` payload sizes, as nginx's `off_t`).
    package static let maxSizeDigits = 16

    /// Where the decoder is in the body.
    enum State: UInt8 {
        /// at the first hex digit of a chunk size
        case sizeStart
        /// inside the chunk-size digits
        case size
        /// after the digits: BWS before `;` (RFC 9112 §7.1.1)
        case sizeWhitespace
        /// inside chunk extensions, up to CR
        case chunkExtension
        /// after the CR of the chunk-size line
        case sizeLF
        /// inside chunk payload
        case data
        /// expecting the CR after the payload
        case dataCR
        /// expecting the LF after the payload
        case dataLF
        /// inside the trailer section (delegated to the header scanner)
        case trailers
        /// the body is complete
        case done
        /// an error was returned; it is returned again until `reset()`
        case failed
    }

    var state: State = .sizeStart
    /// Payload bytes left in the current chunk, or the size being accumulated.
    var remaining: UInt64 = 0
    var digits = 0
    var extensionBytes = 0
    var trailerBytes = 0
    var scanner = HTTPHeaderScanner()
    var failure = ""

    /// Creates a decoder positioned at the first chunk-size line.
    package init() {}

    /// Whether the last chunk and the trailers have been consumed.
    package var isFinished: Bool { state == .done }

    /// Prepares for the next chunked body.
    package mutating func reset() {
        state = .sizeStart
        remaining = 0
        digits = 0
        extensionBytes = 0
        trailerBytes = 0
        scanner.reset()
        failure = ""
    }

    /// Consumes framing from `input` up to the next event.
    ///
    /// - Parameter input: bytes of the body not consumed by earlier calls.
    /// - Returns: how many bytes of `input` were consumed, and what was found. On `.error`,
    ///   `consumed` is the offset of the offending byte.
    package mutating func decode(_ input: UnsafeRawBufferPointer) -> (consumed: Int, event: ChunkedEvent) {
        switch state {
        case .done: return (0, .end)
        case .failed: return (0, .error(failure))
        default: break
        }
        var index = 0
        let end = input.count
        while index < end {
            let byte = input[index]
            switch state {
            case .sizeStart:
                // chunk-size = 1*HEXDIG: an empty size or a sign is an error
                guard let digit = ASCII.hexValue(byte) else { return fail(index, "invalid chunk size") }
                remaining = UInt64(digit)
                digits = 1
                state = .size
            case .size:
                if let digit = ASCII.hexValue(byte) {
                    digits += 1
                    guard digits <= Self.maxSizeDigits else { return fail(index, "chunk size too large") }
                    remaining = remaining << 4 | UInt64(digit)
                } else if byte == ASCII.cr {
                    guard remaining <= UInt64(Int64.max) else { return fail(index, "chunk size too large") }
                    state = .sizeLF
                } else if byte == ASCII.semicolon {
                    guard remaining <= UInt64(Int64.max) else { return fail(index, "chunk size too large") }
                    extensionBytes = 1
                    state = .chunkExtension
                } else if ASCII.isWhitespace(byte) {
                    guard remaining <= UInt64(Int64.max) else { return fail(index, "chunk size too large") }
                    extensionBytes = 1
                    state = .sizeWhitespace
                } else {
                    return fail(index, "invalid chunk size")
                }
            case .sizeWhitespace:
                extensionBytes += 1
                guard extensionBytes <= Self.maxExtensionBytes else {
                    return fail(index, "chunk extension too long")
                }
                if byte == ASCII.semicolon {
                    state = .chunkExtension
                } else if !ASCII.isWhitespace(byte) {
                    // BWS is only allowed before `;`, never before the CRLF.
                    return fail(index, "invalid chunk size")
                }
            case .chunkExtension:
                if byte == ASCII.cr {
                    state = .sizeLF
                    break
                }
                extensionBytes += 1
                guard extensionBytes <= Self.maxExtensionBytes else {
                    return fail(index, "chunk extension too long")
                }
                // Extensions are ignored (RFC 9112 §7.1.1) but may not smuggle line breaks or CTLs.
                guard ASCII.isFieldValue(byte) else { return fail(index, "invalid chunk extension") }
            case .sizeLF:
                guard byte == ASCII.lf else { return fail(index, "expected LF after chunk size") }
                if remaining == 0 {
                    trailerBytes = 0
                    scanner.reset()
                    state = .trailers
                    index += 1
                    return trailers(input, from: index)
                }
                state = .data
            case .data:
                let available = UInt64(end - index)
                let take = Int(min(available, remaining))
                remaining -= UInt64(take)
                if remaining == 0 { state = .dataCR }
                return (index + take, .data(index..<(index + take)))
            case .dataCR:
                guard byte == ASCII.cr else { return fail(index, "expected CRLF after chunk data") }
                state = .dataLF
            case .dataLF:
                guard byte == ASCII.lf else { return fail(index, "expected CRLF after chunk data") }
                state = .sizeStart
            case .trailers:
                return trailers(input, from: index)
            case .done, .failed:
                preconditionFailure("unreachable decoder state")
            }
            index += 1
        }
        return (end, .needMore)
    }

    /// Scans trailer fields (RFC 9112 §7.1.2) from `start`, validating and discarding them.
    private mutating func trailers(
        _ input: UnsafeRawBufferPointer, from start: Int
    ) -> (consumed: Int, event: ChunkedEvent) {
        var index = start
        while true {
            let before = index
            let limit = index + (Self.maxTrailerBytes - trailerBytes)
            let event = scanner.next(input, position: &index, limit: limit)
            trailerBytes += index - before
            switch event {
            case .needMore:
                scanner.rebase(consumed: index)
                return (index, .needMore)
            case .field:
                continue
            case .end:
                state = .done
                return (index, .end)
            case .failure(let kind):
                return fail(
                    index, kind == .bareLF || kind == .bareCR ? "bare CR or LF in trailer" : "invalid trailer line")
            case .tooLarge:
                return fail(index, "trailer section too large")
            }
        }
    }

    private mutating func fail(_ index: Int, _ reason: String) -> (consumed: Int, event: ChunkedEvent) {
        failure = reason
        state = .failed
        return (index, .error(reason))
    }

    // MARK: - Encoding

    /// Writes a chunk-size line, `<lower-case hex>\r\n`, for re-framing a body.
    ///
    /// - Parameters:
    ///   - length: the payload size, `>= 0`; 0 writes the last-chunk line (the caller then adds the
    ///     final CRLF).
    ///   - buffer: room for at least 18 bytes (16 hex digits and CRLF).
    /// - Returns: the number of bytes written.
    package static func encodeChunkHeader(length: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(length >= 0, "negative chunk length")
        var digitCount = 1
        while digitCount < 16, length >> (4 * digitCount) != 0 { digitCount += 1 }
        precondition(buffer.count >= digitCount + 2, "chunk header buffer too small")
        for position in 0..<digitCount {
            let nibble = (length >> (4 * (digitCount - 1 - position))) & 0xF
            buffer[position] = Self.hexDigits[nibble]
        }
        buffer[digitCount] = ASCII.cr
        buffer[digitCount + 1] = ASCII.lf
        return digitCount + 2
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
