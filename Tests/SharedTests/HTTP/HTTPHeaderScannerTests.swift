import Shared
import Testing

/// The field-value scan checks eight bytes at a time; these walk a bad byte, OWS and obs-text
/// through every offset of a long value (so every lane of a word and the scalar tail are hit),
/// delivered whole, byte by byte and in random splits.
@Suite struct HTTPHeaderScannerTests {
    /// A 37-byte value: visible ASCII, obs-text and inner SP/HTAB.
    static let value: [UInt8] = Array("a\u{80}b c\td~e\u{FF}".utf8) + Array("0123456789abcdefghijklmnopq".utf8)

    private func parse(_ bytes: [UInt8], seed: UInt64) -> [[String: String]] {
        Splits.all(length: bytes.count, seed: seed, randomCount: 4).map { _, cuts in
            var parser = HTTPRequestParser()
            return summarize(feed(&parser, bytes, cuts: cuts), parser, bytes)
        }
    }

    private func request(value: [UInt8]) -> [UInt8] {
        Array("GET / HTTP/1.1\r\nHost: h\r\nX-Value:".utf8) + value + Array("\r\nX-After: z\r\n\r\n".utf8)
    }

    /// A CTL or DEL at any offset is rejected with the reason for that byte.
    @Test(arguments: [UInt8(0x00), 0x01, 0x08, 0x0B, 0x1F, 0x7F, 0x0A, 0x0D])
    func badByteAtEveryOffset(_ bad: UInt8) {
        for offset in 0...Self.value.count {
            var value = Self.value
            value.insert(bad, at: offset)
            // A CR must be followed by LF; give it an 'x' instead.
            if bad == 0x0D { value.insert(UInt8(ascii: "x"), at: offset + 1) }
            let expected =
                switch bad {
                case 0x0A: "client sent bare LF"
                case 0x0D: "client sent bare CR"
                default: "client sent invalid character in header value"
                }
            for outcome in parse(request(value: [0x20] + value), seed: UInt64(offset)) {
                #expect(outcome["status"] == "400", "byte \(bad) at \(offset)")
                #expect(outcome["reason"] == expected, "byte \(bad) at \(offset)")
            }
        }
    }

    /// Leading and trailing OWS of any length around a value of any length is trimmed, whatever
    /// the split; inner OWS is kept.
    @Test func owsTrimmedAtEveryOffset() {
        let ows: [UInt8] = [0x20, 0x09, 0x20, 0x20, 0x09, 0x20, 0x20, 0x20, 0x09, 0x20]
        for length in [0, 1, 2, 7, 8, 9, 15, 16, 17, Self.value.count] {
            for leading in [0, 1, 3, 9] {
                for trailing in [0, 1, 2, 7, 8, 9, 10] {
                    let content = Array(Self.value.prefix(length))
                    var trimmed = content[...]
                    while let last = trimmed.last, last == 0x20 || last == 0x09 { trimmed.removeLast() }
                    let value = Array(ows.prefix(leading)) + content + Array(ows.prefix(trailing))
                    let bytes = request(value: value)
                    let expected = "Host=h[host]|X-Value=\(String(decoding: trimmed, as: UTF8.self))[other]|X-After=z[other]"
                    for outcome in parse(bytes, seed: UInt64(length * 100 + leading * 10 + trailing)) {
                        #expect(outcome["status"] == "complete", "\(length) \(leading) \(trailing)")
                        #expect(outcome["headers"] == expected, "\(length) \(leading) \(trailing)")
                    }
                }
            }
        }
    }

    /// A head split into two pieces at every offset, so each line ending (CR | LF) and every
    /// state boundary straddles a split once, parses like the whole head.
    @Test func everyTwoPieceSplit() {
        let raw = Array(
            ("GET /proxy?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Long: " + String(repeating: "v", count: 20)
                + "  \r\nX-Empty:\r\nConnection: keep-alive, Upgrade\r\nContent-Length: 1024\r\n\r\n").utf8)
        var parser = HTTPRequestParser()
        let whole = summarize(feed(&parser, raw, cuts: [raw.count]), parser, raw)
        #expect(whole["status"] == "complete")
        for cut in 1..<raw.count {
            var parser = HTTPRequestParser()
            let outcome = summarize(feed(&parser, raw, cuts: [cut, raw.count]), parser, raw)
            #expect(outcome == whole, "cut at \(cut)")
        }
        var response = HTTPResponseParser()
        let upstream = Array(
            ("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 29 Nov 2025 08:04:00 GMT\r\n"
                + "Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\nhello world\n").utf8)
        let wholeResponse = summarize(feed(&response, upstream, cuts: [upstream.count]), response, upstream, method: .get)
        #expect(wholeResponse["status"] == "complete")
        for cut in 1..<upstream.count {
            var response = HTTPResponseParser()
            let outcome = summarize(feed(&response, upstream, cuts: [cut, upstream.count]), response, upstream, method: .get)
            #expect(outcome == wholeResponse, "cut at \(cut)")
        }
    }

    /// Every byte value inside a field name and inside a Host value: names take exactly the
    /// tchars, Host values exactly VCHAR without `/ \ @ ? #` (both are read from a class table).
    @Test func everyByteInNameAndHost() {
        let tchar = Set(Array("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8))
        let notHost = Set(Array("/\\@?#".utf8))
        for byte in UInt8.min...UInt8.max {
            let name = Array("GET / HTTP/1.1\r\nHost: h\r\nX-".utf8) + [byte] + Array("y: 1\r\n\r\n".utf8)
            let nameStatus = parse(name, seed: UInt64(byte)).map { $0["status"] ?? "?" }
            // A colon just ends the name early ("X-" with value "y: 1").
            let validName = tchar.contains(byte) || byte == UInt8(ascii: ":")
            #expect(Set(nameStatus) == [validName ? "complete" : "400"], "name byte \(byte)")
            let host = Array("GET / HTTP/1.1\r\nHost: a".utf8) + [byte] + Array("b:80\r\n\r\n".utf8)
            let isHost = (0x21...0x7E).contains(byte) && !notHost.contains(byte)
            let hostStatus = parse(host, seed: UInt64(byte)).map { $0["status"] ?? "?" }
            #expect(Set(hostStatus) == [isHost ? "complete" : "400"], "host byte \(byte)")
        }
    }
}
