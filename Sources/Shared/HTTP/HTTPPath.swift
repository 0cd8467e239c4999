// nginx's `$uri` normalization (ngx_http_parse_complex_uri), which APISIX routes on: the path is
// percent-decoded, repeated slashes are merged and dot-segments resolved (RFC 3986 §5.2.4).

/// Request-path normalization for routing.
package enum HTTPPath {
    /// Normalizes a raw request path the way nginx builds `$uri`.
    ///
    /// Percent-escapes are decoded first (`%2F` included, so an encoded slash separates segments
    /// and `%2E%2E` is a `..` segment, as in nginx); then empty segments are merged and `.` / `..`
    /// segments resolved. A trailing `/`, `/.` or `/..` leaves a trailing slash.
    ///
    /// - Parameters:
    ///   - raw: the path part of an origin-form target (no query); must start with `/`.
    ///   - out: receives the normalized path; cleared first, capacity kept.
    /// - Returns: false (nginx answers 400) for a path not starting with `/`, an invalid or `%00`
    ///   escape, or a `..` that would climb above the root.
    package static func normalize(_ raw: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Bool {
        if isNormal(raw) {
            // Already normal (the usual case): one copy instead of an append per byte.
            out.replaceSubrange(out.startIndex..<out.endIndex, with: raw)
            return true
        }
        out.removeAll(keepingCapacity: true)
        guard let first = raw.first, first == ASCII.slash else { return false }
        out.append(ASCII.slash)
        // Index in `out` just after the last slash: where the current segment starts.
        var segmentStart = 1
        var index = 1
        let end = raw.count
        while index < end {
            var byte = raw[index]
            index += 1
            if byte == ASCII.percent {
                guard index + 2 <= end, let high = ASCII.hexValue(raw[index]), let low = ASCII.hexValue(raw[index + 1])
                else { return false }
                byte = high << 4 | low
                index += 2
                // A decoded NUL would truncate the path for anything treating it as a C string.
                guard byte != 0 else { return false }
            }
            if byte == ASCII.slash {
                guard closeSegment(&out, segmentStart: &segmentStart) else { return false }
            } else {
                out.append(byte)
            }
        }
        return closeSegment(&out, segmentStart: &segmentStart, isLast: true)
    }

    /// Whether `normalize` would return `raw` unchanged because there is nothing to do: it starts
    /// with `/` and has no `%`, no `//` and no `/.` (so no empty, `.` or `..` segment).
    private static func isNormal(_ raw: UnsafeRawBufferPointer) -> Bool {
        guard !raw.isEmpty, let base = raw.baseAddress else { return false }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        guard bytes[0] == ASCII.slash else { return false }
        var previous = ASCII.slash
        var index = 1
        while index < raw.count {
            let byte = bytes[index]
            if byte == ASCII.percent || (previous == ASCII.slash && (byte == ASCII.slash || byte == ASCII.dot)) {
                return false
            }
            previous = byte
            index &+= 1
        }
        return true
    }

    /// Resolves the segment `out[segmentStart...]` that a slash (or the end) just closed.
    private static func closeSegment(_ out: inout [UInt8], segmentStart: inout Int, isLast: Bool = false) -> Bool {
        let length = out.count - segmentStart
        if length == 1, out[segmentStart] == ASCII.dot {
            // `.`: drop it, keep the slash before it
            out.removeLast()
            return true
        }
        if length == 2, out[segmentStart] == ASCII.dot, out[segmentStart + 1] == ASCII.dot {
            // `..`: drop it and the segment before it
            guard segmentStart > 1 else { return false }
            out.removeLast(3)
            while out.last != ASCII.slash { out.removeLast() }
            segmentStart = out.count
            return true
        }
        if length == 0 || isLast {
            // empty segment (`//`) merges; the last segment needs no slash after it
            return true
        }
        out.append(ASCII.slash)
        segmentStart = out.count
        return true
    }
}
