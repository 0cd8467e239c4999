/// The small HTTP/1.x parsing both the test upstream and the test client use. Deliberately
/// independent of Sluice's own parser, so a bug there cannot hide itself in the tests.
enum HTTPParsing {
    /// Decodes header bytes as UTF-8 when valid, else as ISO-8859-1 (byte for byte).
    static func text(_ bytes: some Collection<UInt8>) -> String {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        return String(bytes.map { Character(Unicode.Scalar($0)) })
    }

    /// Trims spaces and tabs (HTTP's optional whitespace) from both ends.
    static func trimOWS(_ s: Substring) -> String {
        var s = s
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }

    /// Reads header lines up to the empty line. Obsolete line folding is joined with one space.
    /// Throws on a line without a colon or a head larger than `limit` bytes.
    static func readHeaders(_ stream: inout ByteStream, limit: Int = 1 << 20) throws -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        var total = 0
        while true {
            guard let line = try stream.readLine() else { throw TestSupportError.closed("inside the header block") }
            total += line.count + 2
            if total > limit { throw TestSupportError.malformed("header block larger than \(limit) bytes") }
            if line.isEmpty { return headers }
            if line[0] == 32 || line[0] == 9, !headers.isEmpty {
                headers[headers.count - 1].value += " " + trimOWS(Substring(text(line)))
                continue
            }
            guard let colon = line.firstIndex(of: 58) else {
                throw TestSupportError.malformed("header line without a colon: \(text(line))")
            }
            headers.append((text(line[..<colon]), trimOWS(Substring(text(line[(colon + 1)...])))))
        }
    }

    /// The first value of header `name` (case-insensitive).
    static func header(_ headers: [(name: String, value: String)], _ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of header `name` (case-insensitive), in order.
    static func headerValues(_ headers: [(name: String, value: String)], _ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// Whether `Transfer-Encoding`'s last coding is `chunked`.
    static func isChunked(_ headers: [(name: String, value: String)]) -> Bool {
        let codings = headerValues(headers, "transfer-encoding")
            .flatMap { $0.split(separator: ",") }
            .map { trimOWS($0).lowercased() }
        return codings.last == "chunked"
    }

    /// Whether a comma-separated header (e.g. `Connection`) has `token`.
    static func hasToken(_ headers: [(name: String, value: String)], _ name: String, _ token: String) -> Bool {
        headerValues(headers, name).flatMap { $0.split(separator: ",") }
            .contains { trimOWS($0).lowercased() == token.lowercased() }
    }

    /// Reads a chunked body: returns the decoded body, the raw bytes as received (sizes, extensions,
    /// CRLFs and trailers included) and the trailer fields.
    static func readChunked(_ stream: inout ByteStream) throws
        -> (body: [UInt8], raw: [UInt8], trailers: [(name: String, value: String)])
    {
        var body: [UInt8] = []
        var raw: [UInt8] = []
        while true {
            guard let line = try stream.readLine(limit: 4096) else { throw TestSupportError.closed("before a chunk size") }
            raw += line + [13, 10]
            let sizeText = text(line.prefix { $0 != 59 })  // before any ";extension"
            let trimmed = trimOWS(Substring(sizeText))
            guard !trimmed.isEmpty, trimmed.count <= 16, let size = Int(trimmed, radix: 16), size >= 0 else {
                throw TestSupportError.malformed("bad chunk size line: \(text(line))")
            }
            if size == 0 {
                var trailers: [(name: String, value: String)] = []
                while true {
                    guard let t = try stream.readLine() else { throw TestSupportError.closed("in the trailer section") }
                    raw += t + [13, 10]
                    if t.isEmpty { break }
                    if let colon = t.firstIndex(of: 58) {
                        trailers.append((text(t[..<colon]), trimOWS(Substring(text(t[(colon + 1)...])))))
                    }
                }
                return (body, raw, trailers)
            }
            let data = try stream.readExactly(size)
            body += data
            raw += data
            guard let end = try stream.readLine(limit: 16), end.isEmpty else {
                throw TestSupportError.malformed("chunk data not followed by CRLF")
            }
            raw += [13, 10]
        }
    }
}
