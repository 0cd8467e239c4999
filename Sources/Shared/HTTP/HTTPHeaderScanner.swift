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
    ///
    /// A complete line at a line start is read in one pass, inlined into the caller's loop; the
    /// rest goes to the state machine in `resume`.
    @inline(__always)
    mutating func next(_ buffer: UnsafeRawBufferPointer, position: inout Int, limit: Int) -> Event {
        let stop = min(buffer.count, limit)
        if state == .lineStart, position < stop, let base = buffer.baseAddress,
            let event = Self.wholeLine(base.assumingMemoryBound(to: UInt8.self), &position, stop: stop)
        {
            if case .end = event { state = .endLF }
            return event
        }
        return resume(buffer, position: &position, limit: limit)
    }

    /// `next` for a line that is incomplete, invalid or already begun: each state runs its own
    /// tight loop over the bytes it accepts (a field value is checked eight bytes at a time), so
    /// the state is dispatched once per token rather than once per byte.
    @inline(never)
    private mutating func resume(_ buffer: UnsafeRawBufferPointer, position: inout Int, limit: Int) -> Event {
        let end = buffer.count
        // Bytes in `index..<stop` may be consumed; stopping early with bytes left is `.tooLarge`.
        let stop = min(end, limit)
        var index = position
        guard index < stop, let base = buffer.baseAddress else {
            return index < end ? .tooLarge : .needMore
        }
        defer { position = index }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        while index < stop {
            switch state {
            case .lineStart:
                let byte = bytes[index]
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
                index += 1
            case .name:
                while index < stop, ASCII.isToken(bytes[index]) { index += 1 }
                guard index < stop else { break }
                let byte = bytes[index]
                if byte == ASCII.colon {
                    nameEnd = index
                    state = .valueLeadingWhitespace
                } else if ASCII.isWhitespace(byte) {
                    return .failure(.whitespaceBeforeColon)
                } else if byte == ASCII.lf {
                    return .failure(.bareLF)
                } else {
                    return .failure(.invalidName)
                }
                index += 1
            case .valueLeadingWhitespace:
                while index < stop, ASCII.isWhitespace(bytes[index]) { index += 1 }
                guard index < stop else { break }
                let byte = bytes[index]
                if byte == ASCII.cr {
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
                index += 1
            case .value:
                // Every byte up to the first CTL or DEL is value; trailing OWS is excluded from
                // `valueEnd` unless more content follows.
                let runStart = index
                index = Self.skipFieldValue(bytes, from: index, to: stop)
                var contentEnd = index
                while contentEnd > runStart, ASCII.isWhitespace(bytes[contentEnd - 1]) { contentEnd -= 1 }
                if contentEnd > runStart { valueEnd = contentEnd }
                guard index < stop else { break }
                let byte = bytes[index]
                if byte == ASCII.cr {
                    state = .lineLF
                } else if byte == ASCII.lf {
                    return .failure(.bareLF)
                } else {
                    return .failure(.invalidValue)
                }
                index += 1
            case .lineLF:
                guard bytes[index] == ASCII.lf else { return .failure(.bareCR) }
                index += 1
                state = .lineStart
                return .field(name: nameStart..<nameEnd, value: valueStart..<valueEnd)
            case .endLF:
                guard bytes[index] == ASCII.lf else { return .failure(.bareCR) }
                index += 1
                return .end
            }
        }
        return index < end ? .tooLarge : .needMore
    }

    /// The common case: a complete, valid field line (or the empty line) at `index`, with its
    /// CRLF before `stop`, read without touching the scanner's state. Returns nil, leaving `index`
    /// at the line start, for anything else: the state machine then takes the line byte by byte
    /// and finds the same field, error or end of input.
    @inline(__always)
    private static func wholeLine(_ bytes: UnsafePointer<UInt8>, _ index: inout Int, stop: Int) -> Event? {
        let nameStart = index
        let first = bytes[nameStart]
        guard ASCII.isToken(first) else {
            guard first == ASCII.cr, nameStart + 1 < stop, bytes[nameStart + 1] == ASCII.lf else { return nil }
            index = nameStart + 2
            return .end
        }
        var cursor = nameStart + 1
        while cursor < stop, ASCII.isToken(bytes[cursor]) { cursor += 1 }
        guard cursor < stop, bytes[cursor] == ASCII.colon else { return nil }
        let nameEnd = cursor
        cursor += 1
        while cursor < stop, ASCII.isWhitespace(bytes[cursor]) { cursor += 1 }
        guard cursor < stop else { return nil }
        let valueStart = cursor
        let lineEnd = skipFieldValue(bytes, from: valueStart, to: stop)
        guard lineEnd + 1 < stop, bytes[lineEnd] == ASCII.cr, bytes[lineEnd + 1] == ASCII.lf else { return nil }
        // `valueStart` is not whitespace, so this stops there at the latest.
        var valueEnd = lineEnd
        while valueEnd > valueStart, ASCII.isWhitespace(bytes[valueEnd - 1]) { valueEnd -= 1 }
        index = lineEnd + 2
        return .field(name: nameStart..<nameEnd, value: valueStart..<valueEnd)
    }

    /// The index of the first byte in `from..<to` that cannot appear in a field value (a CTL other
    /// than HTAB, or DEL), or `to`. HTAB itself is handled by the byte loop.
    @inline(__always)
    static func skipFieldValue(_ bytes: UnsafePointer<UInt8>, from start: Int, to stop: Int) -> Int {
        var index = start
        // Eight bytes at a time: a word with no byte below 0x20 and none equal to 0x7F is all
        // value. `(x - 0x20..) & ~x & 0x80..` flags bytes below 0x20 (bytes >= 0x80 never), and
        // the same test on `x ^ 0x7F..` flags DEL; the lowest flag is always exact.
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while stop - index >= 8 {
            let word = UInt64(littleEndian: UnsafeRawPointer(bytes + index).loadUnaligned(as: UInt64.self))
            let del = word ^ (0x7F &* ones)
            let flags = ((word &- 0x20 &* ones) & ~word | (del &- ones) & ~del) & highs
            if flags != 0 {
                let found = index + flags.trailingZeroBitCount >> 3
                // A flagged HTAB is value: continue byte by byte from there.
                if bytes[found] != ASCII.tab { return found }
                index = found + 1
                continue
            }
            index += 8
        }
        while index < stop {
            let byte = bytes[index]
            if byte < 0x20 ? byte != ASCII.tab : byte == 0x7F { return index }
            index += 1
        }
        return index
    }
}
