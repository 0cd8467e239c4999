/// The field-line state machine shared by the request parser, the response parser and the
/// chunked decoder's trailer section (RFC 9112 §5, §7.1.2).
///
/// It only validates syntax and reports offsets; the owner gives fields their meaning.
struct HTTPHeaderScanner {
    /// Where the scanner is within a field line.
    enum State: UInt8 {
        /// at the first byte of a line: a field name or the CR of the empty line
        case lineStart
        /// inside a field name
        case name
        /// after the colon, skipping leading OWS
        case valueLeadingWhitespace
        /// inside a field value
        case value
        /// after the CR ending a field line
        case lineLF
        /// after the CR of the empty line ending the section
        case endLF
    }

    /// A syntax error in a field line.
    enum Failure: UInt8 {
        /// a byte that is not a tchar in a field name, or a line without a colon
        case invalidName
        /// SP or HTAB between the field name and the colon (RFC 9112 §5.1: MUST reject)
        case whitespaceBeforeColon
        /// a line starting with SP or HTAB (RFC 9112 §5.2: obs-fold, rejected)
        case obsFold
        /// a CTL other than HTAB (or NUL) in a field value (RFC 9110 §5.5)
        case invalidValue
        /// LF not preceded by CR (RFC 9112 §2.2: we accept only CRLF)
        case bareLF
        /// CR not followed by LF (RFC 9112 §2.2)
        case bareCR
    }

    /// What `next` found.
    enum Event {
        /// All bytes up to the end of the buffer were consumed.
        case needMore
        /// A complete field line.
        case field(name: Range<Int>, value: Range<Int>)
        /// The empty line ending the section was consumed.
        case end
        /// A field line is malformed.
        case failure(Failure)
        /// The section reached `limit` before ending.
        case tooLarge
    }

    var state: State = .lineStart
    var nameStart = 0
    var nameEnd = 0
    var valueStart = 0
    var valueEnd = 0

    mutating func reset() {
        state = .lineStart
    }

    /// Moves recorded offsets into the coordinates of a buffer whose index 0 is this buffer's
    /// index `consumed` (the chunked decoder's inputs are not cumulative).
    mutating func rebase(consumed: Int) {
        nameStart -= consumed
        nameEnd -= consumed
        valueStart -= consumed
        valueEnd -= consumed
    }

    /// Scans from `position` until an event; `position` is left after the last consumed byte.
    /// Bytes at indices `>= limit` are not consumed: reaching one while bytes remain is `.tooLarge`.
    mutating func next(_ buffer: UnsafeRawBufferPointer, position: inout Int, limit: Int) -> Event {
        var index = position
        defer { position = index }
        let end = buffer.count
        while index < end {
            if index >= limit { return .tooLarge }
            let byte = buffer[index]
            switch state {
            case .lineStart:
                if ASCII.isToken(byte) {
                    nameStart = index
                    state = .name
                } else if byte == ASCII.cr {
                    state = .endLF
                } else if ASCII.isWhitespace(byte) {
                    return .failure(.obsFold)
                } else if byte == ASCII.lf {
                    return .failure(.bareLF)
                } else {
                    return .failure(.invalidName)
                }
            case .name:
                if ASCII.isToken(byte) {
                    break
                } else if byte == ASCII.colon {
                    nameEnd = index
                    state = .valueLeadingWhitespace
                } else if ASCII.isWhitespace(byte) {
                    return .failure(.whitespaceBeforeColon)
                } else if byte == ASCII.lf {
                    return .failure(.bareLF)
                } else {
                    return .failure(.invalidName)
                }
            case .valueLeadingWhitespace:
                if ASCII.isWhitespace(byte) {
                    break
                } else if byte == ASCII.cr {
                    valueStart = index
                    valueEnd = index
                    state = .lineLF
                } else if ASCII.isFieldValue(byte) {
                    valueStart = index
                    valueEnd = index + 1
                    state = .value
                } else if byte == ASCII.lf {
                    return .failure(.bareLF)
                } else {
                    return .failure(.invalidValue)
                }
            case .value:
                if ASCII.isWhitespace(byte) {
                    // trailing OWS is excluded unless more content follows
                    break
                } else if ASCII.isFieldValue(byte) {
                    valueEnd = index + 1
                } else if byte == ASCII.cr {
                    state = .lineLF
                } else if byte == ASCII.lf {
                    return .failure(.bareLF)
                } else {
                    return .failure(.invalidValue)
                }
            case .lineLF:
                guard byte == ASCII.lf else { return .failure(.bareCR) }
                index += 1
                state = .lineStart
                return .field(name: nameStart..<nameEnd, value: valueStart..<valueEnd)
            case .endLF:
                guard byte == ASCII.lf else { return .failure(.bareCR) }
                index += 1
                return .end
            }
            index += 1
        }
        return .needMore
    }
}
