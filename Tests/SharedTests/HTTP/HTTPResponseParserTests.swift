import Shared
import Testing

/// One response-head fixture: raw bytes, the method of the request it answers, expected summary keys.
struct ResponseFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let method: HTTPMethod
    let expect: [String: String]

    init(_ name: String, _ raw: String, method: HTTPMethod = .get, _ expect: [String: String]) {
        self.name = name
        self.bytes = Array(raw.utf8)
        self.method = method
        self.expect = expect
    }

    var testDescription: String { name }
}

/// Everything observable about a response parse, as strings.
func summarize(
    _ status: HTTPParseStatus, _ parser: HTTPResponseParser, _ bytes: [UInt8], method: HTTPMethod
) -> [String: String] {
    switch status {
    case .incomplete:
        return ["status": "incomplete"]
    case .failure(let error):
        return ["status": "\(error.status)", "reason": error.reason]
    case .complete:
        let head = parser.head
        return [
            "status": "complete",
            "code": "\(head.status)",
            "reason": text(bytes, head.reasonRange),
            "version": "1.\(head.versionMinor)",
            "headers": head.headers.map {
                "\(text(bytes, $0.nameRange))=\(text(bytes, $0.valueRange))[\($0.known)]"
            }.joined(separator: "|"),
            "contentLength": head.contentLength.map { "\($0)" } ?? "nil",
            "chunked": "\(head.isChunked)",
            "keepAlive": "\(head.keepAlive)",
            "connection": head.connectionTokens.map { text(bytes, $0) }.joined(separator: ","),
            "upgrade": "\(head.hasUpgrade)",
            "informational": "\(head.isInformational)",
            "framing": "\(parser.bodyFraming(requestMethod: method))",
            "headEnd": "\(head.headEnd)",
        ]
    }
}

private let ok = "complete"

/// The response fixture table.
let responseFixtures: [ResponseFixture] = [
    ResponseFixture("200 with Content-Length", head("HTTP/1.1 200 OK", "Content-Length: 12", "Server: x"), [
        "status": ok, "code": "200", "reason": "OK", "version": "1.1", "contentLength": "12",
        "framing": "length(12)", "keepAlive": "true", "headers": "Content-Length=12[contentLength]|Server=x[other]",
    ]),
    ResponseFixture("chunked", head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), [
        "status": ok, "chunked": "true", "framing": "chunked", "keepAlive": "true",
    ]),
    ResponseFixture("close-delimited", head("HTTP/1.1 200 OK", "Content-Type: text/plain"), [
        "status": ok, "framing": "untilClose", "contentLength": "nil",
    ]),
    ResponseFixture("HTTP/1.0 close-delimited", head("HTTP/1.0 200 OK"), [
        "status": ok, "version": "1.0", "keepAlive": "false", "framing": "untilClose",
    ]),
    ResponseFixture("HTTP/1.0 keep-alive", head("HTTP/1.0 200 OK", "Connection: keep-alive", "Content-Length: 0"), [
        "status": ok, "keepAlive": "true", "framing": "length(0)",
    ]),
    ResponseFixture("Connection close", head("HTTP/1.1 200 OK", "Connection: close, X-Hop", "Content-Length: 1"), [
        "status": ok, "keepAlive": "false", "connection": "close,X-Hop",
    ]),
    ResponseFixture("204 has no body", head("HTTP/1.1 204 No Content"), ["status": ok, "framing": "none"]),
    ResponseFixture("304 has no body despite CL", head("HTTP/1.1 304 Not Modified", "Content-Length: 100"), [
        "status": ok, "framing": "none", "contentLength": "100",
    ]),
    ResponseFixture("HEAD response has no body", head("HTTP/1.1 200 OK", "Content-Length: 100"), method: .head, [
        "status": ok, "framing": "none",
    ]),
    ResponseFixture("100 Continue", head("HTTP/1.1 100 Continue"), ["status": ok, "informational": "true", "framing": "none"]),
    ResponseFixture(
        "101 Switching Protocols", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"),
        ["status": ok, "upgrade": "true", "informational": "true"]
    ),
    ResponseFixture("no reason phrase, no SP", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", ["status": ok, "reason": ""]),
    ResponseFixture("empty reason phrase", head("HTTP/1.1 404 ", "Content-Length: 0"), ["status": ok, "code": "404", "reason": ""]),
    ResponseFixture("reason with spaces and obs-text", head("HTTP/1.1 500 Très Mal\tx", "Content-Length: 0"), [
        "status": ok, "reason": "Très Mal\tx",
    ]),
    ResponseFixture("identical duplicate CL", head("HTTP/1.1 200 OK", "Content-Length: 3", "Content-Length: 3"), [
        "status": ok, "contentLength": "3",
    ]),
    ResponseFixture("CL and TE: chunked, not reusable", head("HTTP/1.1 200 OK", "Content-Length: 3", "Transfer-Encoding: chunked"), [
        "status": ok, "chunked": "true", "contentLength": "nil", "framing": "chunked", "keepAlive": "false",
    ]),
    ResponseFixture("TE in HTTP/1.0: chunked, not reusable", head("HTTP/1.0 200 OK", "Connection: keep-alive", "Transfer-Encoding: chunked"), [
        "status": ok, "chunked": "true", "keepAlive": "false",
    ]),
    ResponseFixture("status 999 accepted", head("HTTP/1.1 999 Custom"), ["status": ok, "code": "999"]),
    ResponseFixture("incomplete", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", ["status": "incomplete"]),

    // MARK: rejections (502)
    ResponseFixture("differing CLs", head("HTTP/1.1 200 OK", "Content-Length: 3", "Content-Length: 4"), [
        "status": "502", "reason": "upstream sent duplicate \"Content-Length\" header",
    ]),
    ResponseFixture("invalid CL", head("HTTP/1.1 200 OK", "Content-Length: abc"), [
        "status": "502", "reason": "upstream sent invalid \"Content-Length\" header",
    ]),
    ResponseFixture("unknown TE", head("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked"), [
        "status": "502", "reason": "upstream sent unknown \"Transfer-Encoding\"",
    ]),
    ResponseFixture("HTTP/2.0", head("HTTP/2.0 200 OK"), ["status": "502", "reason": "upstream sent unsupported HTTP version"]),
    ResponseFixture("HTTP/1.2", head("HTTP/1.2 200 OK"), ["status": "502", "reason": "upstream sent unsupported HTTP version"]),
    ResponseFixture("lower-case version", head("http/1.1 200 OK"), ["status": "502"]),
    ResponseFixture("two-digit status", head("HTTP/1.1 20 OK"), ["status": "502"]),
    ResponseFixture("four-digit status", head("HTTP/1.1 2000 OK"), ["status": "502"]),
    ResponseFixture("status 099", head("HTTP/1.1 099 Low"), ["status": "502"]),
    ResponseFixture("not HTTP", "SSH-2.0-OpenSSH\r\n", ["status": "502"]),
    ResponseFixture("bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", ["status": "502"]),
    ResponseFixture("bare LF in headers", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", ["status": "502", "reason": "upstream sent bare LF"]),
    ResponseFixture("obs-fold", "HTTP/1.1 200 OK\r\nX-A: a\r\n\tb\r\n\r\n", ["status": "502", "reason": "upstream sent obsolete line folding"]),
    ResponseFixture("space before colon", head("HTTP/1.1 200 OK", "Content-Length : 0"), ["status": "502"]),
    ResponseFixture("NUL in value", "HTTP/1.1 200 OK\r\nX-A: \u{0}\r\n\r\n", ["status": "502"]),
    ResponseFixture("CTL in reason", head("HTTP/1.1 200 O\u{1}K"), ["status": "502"]),
]

@Suite struct HTTPResponseParserTests {
    /// Every fixture gives the expected outcome, identically whole, byte by byte and in random splits.
    @Test(arguments: responseFixtures)
    func fixture(_ fixture: ResponseFixture) {
        var outcomes: [(String, [String: String])] = []
        for (mode, cuts) in Splits.all(length: fixture.bytes.count, seed: UInt64(fixture.bytes.count * 17 + 3)) {
            var parser = HTTPResponseParser()
            let status = feed(&parser, fixture.bytes, cuts: cuts)
            outcomes.append((mode, summarize(status, parser, fixture.bytes, method: fixture.method)))
        }
        let whole = outcomes[0].1
        for (mode, outcome) in outcomes.dropFirst() {
            #expect(outcome == whole, "\(mode) differs from whole")
        }
        for (key, value) in fixture.expect {
            #expect(whole[key] == value, "\(key)")
        }
        if whole["status"] == ok {
            #expect(whole["headEnd"] == "\(fixture.bytes.count)")
        }
    }

    /// A 100-continue interim response, then the final 200 parsed after `reset()` from `headEnd`.
    @Test func continueThenFinal() {
        let bytes = Array((head("HTTP/1.1 100 Continue") + head("HTTP/1.1 200 OK", "Content-Length: 2") + "hi").utf8)
        for (mode, cuts) in Splits.all(length: bytes.count, seed: 1234) {
            var parser = HTTPResponseParser()
            #expect(feed(&parser, bytes, cuts: cuts) == .complete, "\(mode)")
            #expect(parser.head.status == 100)
            #expect(parser.head.isInformational)
            let rest = Array(bytes[parser.head.headEnd...])
            let restCuts = cuts.compactMap { $0 > parser.head.headEnd ? $0 - parser.head.headEnd : nil }
            parser.reset()
            #expect(feed(&parser, rest, cuts: restCuts) == .complete, "\(mode)")
            #expect(parser.head.status == 200)
            #expect(parser.bodyFraming(requestMethod: .post) == .length(2))
            #expect(String(decoding: rest[parser.head.headEnd...], as: UTF8.self) == "hi")
        }
    }

    /// The status line is bounded by `maxRequestLine`; the head by `maxHeaderBytes` and `maxHeaders`.
    @Test func limits() {
        let limits = HTTPParserLimits(maxRequestLine: 20, maxHeaderBytes: 64, maxHeaders: 2)
        func status(_ raw: String) -> HTTPParseStatus {
            var parser = HTTPResponseParser(limits: limits)
            let bytes = Array(raw.utf8)
            return bytes.withUnsafeBytes { parser.parse($0) }
        }
        func failure(_ reason: String) -> HTTPParseStatus {
            .failure(HTTPParseError(status: 502, reason: reason))
        }
        #expect(status(head("HTTP/1.1 200 abcdefg", "A: 1")) == .complete)
        #expect(status(head("HTTP/1.1 200 abcdefgh")) == failure("upstream sent too long status line"))
        #expect(status(head("HTTP/1.1 200 OK", "A: 1", "B: 2", "C: 3")) == failure("upstream sent too many header fields"))
        let big = head("HTTP/1.1 200 OK", "A: " + String(repeating: "x", count: 60))
        #expect(status(big) == failure("upstream sent too big header"))
    }

    /// `reset()` keeps capacity and forgets the previous head's framing.
    @Test func resetReuse() {
        var parser = HTTPResponseParser()
        let first = Array(head(["HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Connection: close"] + (0..<10).map { "X-\($0): v" }).utf8)
        #expect(first.withUnsafeBytes { parser.parse($0) } == .complete)
        let capacity = parser.head.headers.capacity
        parser.reset()
        #expect(parser.head.headers.capacity == capacity)
        let second = Array(head("HTTP/1.1 200 OK", "Content-Length: 5").utf8)
        #expect(second.withUnsafeBytes { parser.parse($0) } == .complete)
        #expect(parser.head.isChunked == false)
        #expect(parser.head.keepAlive)
        #expect(parser.head.connectionTokens.isEmpty)
        #expect(parser.bodyFraming(requestMethod: .get) == .length(5))
    }
}

private func head(_ lines: [String]) -> String { lines.map { $0 + "\r\n" }.joined() + "\r\n" }
