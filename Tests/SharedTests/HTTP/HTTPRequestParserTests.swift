import Shared
import Testing

/// One request-head fixture: raw bytes, the limits to parse with, and the expected summary keys.
struct RequestFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let limits: HTTPParserLimits
    let expect: [String: String]

    init(_ name: String, _ raw: String, limits: HTTPParserLimits = .init(), _ expect: [String: String]) {
        self.name = name
        self.bytes = Array(raw.utf8)
        self.limits = limits
        self.expect = expect
    }

    init(_ name: String, bytes: [UInt8], limits: HTTPParserLimits = .init(), _ expect: [String: String]) {
        self.name = name
        self.bytes = bytes
        self.limits = limits
        self.expect = expect
    }

    var testDescription: String { name }
}

/// Everything observable about a parse, as strings, so outcomes can be compared and spot-checked.
func summarize(_ status: HTTPParseStatus, _ parser: HTTPRequestParser, _ bytes: [UInt8]) -> [String: String] {
    switch status {
    case .incomplete:
        return ["status": "incomplete"]
    case .failure(let error):
        return ["status": "\(error.status)", "reason": error.reason]
    case .complete:
        let head = parser.head
        return [
            "status": "complete",
            "start": "\(head.start)",
            "method": text(bytes, head.methodRange),
            "methodCase": "\(head.method)",
            "target": text(bytes, head.targetRange),
            "form": "\(head.targetForm)",
            "path": text(bytes, head.pathRange),
            "query": text(bytes, head.queryRange),
            "version": "1.\(head.versionMinor)",
            "headers": head.headers.map {
                "\(text(bytes, $0.nameRange))=\(text(bytes, $0.valueRange))[\($0.known)]"
            }.joined(separator: "|"),
            "headerCount": "\(head.headers.count)",
            "contentLength": head.contentLength.map { "\($0)" } ?? "nil",
            "chunked": "\(head.isChunked)",
            "keepAlive": "\(head.keepAlive)",
            "expectContinue": "\(head.expectContinue)",
            "host": text(bytes, head.hostRange),
            "connection": head.connectionTokens.map { text(bytes, $0) }.joined(separator: ","),
            "upgrade": "\(head.hasUpgrade)",
            "headEnd": "\(head.headEnd)",
        ]
    }
}

private let small = HTTPParserLimits(maxRequestLine: 32, maxHeaderBytes: 128, maxHeaders: 4)
private let ok = "complete"

/// The fixture table: (raw request, expected outcome).
let requestFixtures: [RequestFixture] = [
    // MARK: accepted
    RequestFixture("simple GET", head("GET / HTTP/1.1", "Host: example.com"), [
        "status": ok, "start": "0", "method": "GET", "methodCase": "get", "target": "/", "form": "origin",
        "path": "/", "query": "nil", "version": "1.1", "host": "example.com", "keepAlive": "true",
        "contentLength": "nil", "chunked": "false", "headers": "Host=example.com[host]",
    ]),
    RequestFixture("path and query", head("GET /a/b?x=1&y=2?z HTTP/1.1", "Host: h"), [
        "status": ok, "path": "/a/b", "query": "x=1&y=2?z", "target": "/a/b?x=1&y=2?z",
    ]),
    RequestFixture("empty query", head("GET /a? HTTP/1.1", "Host: h"), ["status": ok, "path": "/a", "query": ""]),
    RequestFixture("leading empty lines skipped", "\r\n\r\n" + head("GET / HTTP/1.1", "Host: h"), [
        "status": ok, "start": "4", "method": "GET",
    ]),
    RequestFixture("HTTP/1.0 defaults to close, no Host needed", head("GET / HTTP/1.0"), [
        "status": ok, "version": "1.0", "keepAlive": "false", "host": "nil", "headerCount": "0",
    ]),
    RequestFixture("HTTP/1.0 keep-alive", head("GET / HTTP/1.0", "Connection: Keep-Alive"), [
        "status": ok, "version": "1.0", "keepAlive": "true", "connection": "Keep-Alive",
    ]),
    RequestFixture("HTTP/1.1 Connection close", head("GET / HTTP/1.1", "Host: h", "Connection: close"), [
        "status": ok, "keepAlive": "false",
    ]),
    RequestFixture("close wins over keep-alive", head("GET / HTTP/1.0", "Connection: keep-alive, close"), [
        "status": ok, "keepAlive": "false",
    ]),
    RequestFixture(
        "Connection tokens and upgrade",
        head("GET /ws HTTP/1.1", "Host: h", "Connection: keep-alive, X-Foo ,,Upgrade", "Upgrade: websocket"),
        ["status": ok, "connection": "keep-alive,X-Foo,Upgrade", "upgrade": "true", "keepAlive": "true"]
    ),
    RequestFixture(
        "Connection tokens: empty elements, OWS, case, look-alikes",
        head("GET / HTTP/1.1", "Host: h", "Connection: ,\t, CLOSED ,keep-alivE,\tclose\t,upgrades,"),
        ["status": ok, "connection": "CLOSED,keep-alivE,close,upgrades", "keepAlive": "false", "upgrade": "false"]
    ),
    RequestFixture("Connection: only commas", head("GET / HTTP/1.1", "Host: h", "Connection: , ,"), [
        "status": ok, "connection": "", "keepAlive": "true",
    ]),
    RequestFixture("Upgrade without Connection: upgrade", head("GET / HTTP/1.1", "Host: h", "Upgrade: h2c"), [
        "status": ok, "upgrade": "false",
    ]),
    RequestFixture(
        "absolute-form overrides Host", head("GET http://Example.com:8080/p/q?x HTTP/1.1", "Host: other"),
        [
            "status": ok, "form": "absolute", "host": "Example.com:8080", "path": "/p/q", "query": "x",
            "target": "http://Example.com:8080/p/q?x",
        ]
    ),
    RequestFixture("absolute-form without path", head("GET http://example.com HTTP/1.1", "Host: example.com"), [
        "status": ok, "form": "absolute", "host": "example.com", "path": "/", "query": "nil",
    ]),
    RequestFixture("absolute-form query, no path", head("GET HTTP://example.com?a=b HTTP/1.1", "Host: e"), [
        "status": ok, "host": "example.com", "path": "/", "query": "a=b",
    ]),
    RequestFixture("absolute-form https", head("GET https://h:443/x HTTP/1.1", "Host: h"), [
        "status": ok, "host": "h:443", "path": "/x",
    ]),
    RequestFixture("asterisk-form OPTIONS", head("OPTIONS * HTTP/1.1", "Host: h"), [
        "status": ok, "form": "asterisk", "path": "*", "methodCase": "options",
    ]),
    RequestFixture(
        "OWS trimmed, empty values kept",
        head("GET / HTTP/1.1", "Host: \t example.com  \t", "X-A:\tv a l\t", "X-Empty:", "X-Sp:   "),
        ["status": ok, "host": "example.com", "headers": "Host=example.com[host]|X-A=v a l[other]|X-Empty=[other]|X-Sp=[other]"]
    ),
    RequestFixture(
        "many headers",
        head(["GET / HTTP/1.1", "Host: h"] + (0..<60).map { "X-Header-\($0): value \($0)" }),
        ["status": ok, "headerCount": "61"]
    ),
    RequestFixture("Content-Length", head("POST /u HTTP/1.1", "Host: h", "Content-Length: 42"), [
        "status": ok, "methodCase": "post", "contentLength": "42", "chunked": "false",
    ]),
    RequestFixture("Content-Length zero", head("POST /u HTTP/1.1", "Host: h", "Content-Length: 0"), [
        "status": ok, "contentLength": "0",
    ]),
    RequestFixture(
        "identical duplicate Content-Length", head("PUT / HTTP/1.1", "Host: h", "Content-Length: 7", "content-length: 7"),
        ["status": ok, "contentLength": "7"]
    ),
    RequestFixture("chunked", head("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: CHUNKED"), [
        "status": ok, "chunked": "true", "contentLength": "nil",
    ]),
    RequestFixture("Expect 100-continue", head("POST / HTTP/1.1", "Host: h", "Expect: 100-Continue", "Content-Length: 1"), [
        "status": ok, "expectContinue": "true",
    ]),
    RequestFixture("Expect ignored in HTTP/1.0", head("POST / HTTP/1.0", "Expect: 100-continue"), [
        "status": ok, "expectContinue": "false",
    ]),
    RequestFixture("extension method", head("PROPFIND /d HTTP/1.1", "Host: h"), [
        "status": ok, "method": "PROPFIND", "methodCase": "other",
    ]),
    RequestFixture("methods are case-sensitive", head("get / HTTP/1.1", "Host: h"), [
        "status": ok, "method": "get", "methodCase": "other",
    ]),
    RequestFixture("PURGE", head("PURGE /c HTTP/1.1", "Host: h"), ["status": ok, "methodCase": "purge"]),
    RequestFixture("obs-text in value", head("GET / HTTP/1.1", "Host: h", "X-Name: café"), [
        "status": ok, "headers": "Host=h[host]|X-Name=café[other]",
    ]),
    RequestFixture(
        "known headers tagged case-insensitively",
        head(
            "GET / HTTP/1.1", "HOST: h", "x-forwarded-for: 1.2.3.4", "X-Forwarded-Proto: http", "x-FORWARDED-host: a",
            "X-Forwarded-Port: 80", "X-Real-IP: 1.1.1.1", "Forwarded: for=x", "Authorization: Bearer t",
            "Keep-Alive: timeout=5", "Proxy-Connection: close", "TE: trailers", "Trailer: X", "X-Forwarded-Fo: no"),
        [
            "status": ok,
            "headers": "HOST=h[host]|x-forwarded-for=1.2.3.4[xForwardedFor]|X-Forwarded-Proto=http[xForwardedProto]"
                + "|x-FORWARDED-host=a[xForwardedHost]|X-Forwarded-Port=80[xForwardedPort]|X-Real-IP=1.1.1.1[xRealIP]"
                + "|Forwarded=for=x[forwarded]|Authorization=Bearer t[authorization]|Keep-Alive=timeout=5[keepAlive]"
                + "|Proxy-Connection=close[proxyConnection]|TE=trailers[te]|Trailer=X[trailer]|X-Forwarded-Fo=no[other]",
            "keepAlive": "true",
        ]
    ),
    RequestFixture("underscore and token chars in names", head("GET / HTTP/1.1", "Host: h", "X_a!#$%&'*+-.^`|~: 1"), [
        "status": ok, "headerCount": "2",
    ]),
    RequestFixture("request line exactly at the limit", head("GET /" + String(repeating: "a", count: 18) + " HTTP/1.1", "Host: h"),
        limits: small, ["status": ok, "path": "/" + String(repeating: "a", count: 18)]),
    RequestFixture("four headers at the limit", head("GET / HTTP/1.1", "Host: h", "A: 1", "B: 2", "C: 3"), limits: small, [
        "status": ok, "headerCount": "4",
    ]),
    RequestFixture("incomplete head", "GET / HTTP/1.1\r\nHost: h\r\n", ["status": "incomplete"]),
    RequestFixture("incomplete request line", "GET /index.ht", ["status": "incomplete"]),

    // MARK: smuggling and framing rejections
    RequestFixture("CL then TE", head("POST / HTTP/1.1", "Host: h", "Content-Length: 5", "Transfer-Encoding: chunked"), [
        "status": "400", "reason": "client sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time",
    ]),
    RequestFixture("TE then CL", head("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked", "Content-Length: 5"), [
        "status": "400",
    ]),
    RequestFixture("differing Content-Lengths", head("POST / HTTP/1.1", "Host: h", "Content-Length: 5", "Content-Length: 6"), [
        "status": "400", "reason": "client sent duplicate \"Content-Length\" header",
    ]),
    RequestFixture("Content-Length list", head("POST / HTTP/1.1", "Host: h", "Content-Length: 5, 5"), ["status": "400"]),
    RequestFixture("Content-Length with letters", head("POST / HTTP/1.1", "Host: h", "Content-Length: 12a"), [
        "status": "400", "reason": "client sent invalid \"Content-Length\" header",
    ]),
    RequestFixture("Content-Length negative", head("POST / HTTP/1.1", "Host: h", "Content-Length: -1"), ["status": "400"]),
    RequestFixture("Content-Length plus sign", head("POST / HTTP/1.1", "Host: h", "Content-Length: +1"), ["status": "400"]),
    RequestFixture("Content-Length empty", head("POST / HTTP/1.1", "Host: h", "Content-Length: "), ["status": "400"]),
    RequestFixture("Content-Length inner space", head("POST / HTTP/1.1", "Host: h", "Content-Length: 1 2"), ["status": "400"]),
    RequestFixture("Content-Length overflow", head("POST / HTTP/1.1", "Host: h", "Content-Length: 9223372036854775808"), [
        "status": "400",
    ]),
    RequestFixture("Content-Length Int64.max", head("POST / HTTP/1.1", "Host: h", "Content-Length: 9223372036854775807"), [
        "status": ok, "contentLength": "9223372036854775807",
    ]),
    // 18 digits or fewer take the unchecked loop; more the overflow-checked one.
    RequestFixture("Content-Length 18 nines", head("POST / HTTP/1.1", "Host: h", "Content-Length: 999999999999999999"), [
        "status": ok, "contentLength": "999999999999999999",
    ]),
    RequestFixture("Content-Length 18 digits, last bad", head("POST / HTTP/1.1", "Host: h", "Content-Length: 99999999999999999/"), [
        "status": "400",
    ]),
    RequestFixture("Content-Length 20 digits with leading zeros", head("POST / HTTP/1.1", "Host: h", "Content-Length: 00000000000000000012"), [
        "status": ok, "contentLength": "12",
    ]),
    RequestFixture("Content-Length colon", head("POST / HTTP/1.1", "Host: h", "Content-Length: 1:"), ["status": "400"]),
    RequestFixture("TE chunked, identity", head("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked, identity"), [
        "status": "501", "reason": "client sent unknown \"Transfer-Encoding\"",
    ]),
    RequestFixture("TE gzip, chunked", head("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: gzip, chunked"), ["status": "501"]),
    RequestFixture("TE twice", head("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), [
        "status": "501",
    ]),
    RequestFixture("TE with space before colon", head("POST / HTTP/1.1", "Host: h", "Transfer-Encoding : chunked"), [
        "status": "400", "reason": "client sent whitespace before colon in header line",
    ]),
    RequestFixture("TE in HTTP/1.0", head("POST / HTTP/1.0", "Transfer-Encoding: chunked"), [
        "status": "400", "reason": "client sent HTTP/1.0 request with \"Transfer-Encoding\" header",
    ]),
    RequestFixture("obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", [
        "status": "400", "reason": "client sent obsolete line folding",
    ]),
    RequestFixture("first header line starts with space", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", ["status": "400"]),
    RequestFixture("bare LF line endings", "GET / HTTP/1.1\nHost: h\n\n", ["status": "400", "reason": "client sent bare LF"]),
    RequestFixture("bare LF after header", "GET / HTTP/1.1\r\nHost: h\n\r\n", ["status": "400", "reason": "client sent bare LF"]),
    RequestFixture("bare LF ending head", "GET / HTTP/1.1\r\nHost: h\r\n\n", ["status": "400"]),
    RequestFixture("bare LF before request line", "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", ["status": "400"]),
    RequestFixture("bare CR in value", "GET / HTTP/1.1\r\nHost: h\rX-A: b\r\n\r\n", ["status": "400", "reason": "client sent bare CR"]),
    RequestFixture("bare CR ending request line", "GET / HTTP/1.1\rHost: h\r\n\r\n", ["status": "400", "reason": "client sent bare CR"]),
    RequestFixture("bare CR ending head", "GET / HTTP/1.1\r\nHost: h\r\n\rX", ["status": "400", "reason": "client sent bare CR"]),
    RequestFixture("NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{0}b\r\n\r\n", [
        "status": "400", "reason": "client sent invalid character in header value",
    ]),
    RequestFixture("CTL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{1}b\r\n\r\n", ["status": "400"]),
    RequestFixture("DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{7F}\r\n\r\n", ["status": "400"]),
    RequestFixture("space in name", head("GET / HTTP/1.1", "Host: h", "X Foo: a"), [
        "status": "400", "reason": "client sent whitespace before colon in header line",
    ]),
    RequestFixture("empty name", head("GET / HTTP/1.1", "Host: h", ": a"), ["status": "400", "reason": "client sent invalid header line"]),
    RequestFixture("line without colon", head("GET / HTTP/1.1", "Host: h", "Foo"), ["status": "400"]),
    RequestFixture("non-token in name", head("GET / HTTP/1.1", "Host: h", "X(a): b"), ["status": "400"]),
    RequestFixture("invalid method G@T", head("G@T / HTTP/1.1", "Host: h"), ["status": "400", "reason": "client sent invalid method"]),
    RequestFixture("line starting with space", head(" GET / HTTP/1.1", "Host: h"), ["status": "400"]),
    RequestFixture("two spaces after method", head("GET  / HTTP/1.1", "Host: h"), ["status": "400"]),
    RequestFixture("two spaces before version", head("GET /  HTTP/1.1", "Host: h"), ["status": "400"]),
    RequestFixture("tab as separator", head("GET\t/ HTTP/1.1", "Host: h"), ["status": "400"]),
    RequestFixture("trailing space after version", head("GET / HTTP/1.1 ", "Host: h"), ["status": "400"]),
    RequestFixture("HTTP/0.9 request line", "GET /\r\n\r\n", ["status": "400"]),
    RequestFixture("CTL in target", head("GET /a\u{1}b HTTP/1.1", "Host: h"), ["status": "400"]),
    RequestFixture("non-ASCII in target", head("GET /café HTTP/1.1", "Host: h"), ["status": "400"]),
    RequestFixture("relative target", head("GET foo HTTP/1.1", "Host: h"), [
        "status": "400", "reason": "client sent invalid request-target",
    ]),
    RequestFixture("unknown scheme", head("GET ftp://h/ HTTP/1.1", "Host: h"), ["status": "400"]),
    RequestFixture("empty authority", head("GET http:///p HTTP/1.1", "Host: h"), ["status": "400"]),
    RequestFixture("userinfo in authority", head("GET http://u@h/p HTTP/1.1", "Host: h"), ["status": "400"]),
    RequestFixture("asterisk with GET", head("GET * HTTP/1.1", "Host: h"), ["status": "400"]),
    RequestFixture("HTTP/2.0", head("GET / HTTP/2.0", "Host: h"), [
        "status": "505", "reason": "client sent unsupported HTTP version",
    ]),
    RequestFixture("HTTP/1.2", head("GET / HTTP/1.2", "Host: h"), ["status": "505"]),
    RequestFixture("HTTP/0.9 version", head("GET / HTTP/0.9", "Host: h"), ["status": "505"]),
    RequestFixture("lower-case version", head("GET / http/1.1", "Host: h"), ["status": "400", "reason": "client sent invalid version"]),
    RequestFixture("short version", head("GET / HTTP/1", "Host: h"), ["status": "400"]),
    RequestFixture("long version", head("GET / HTTP/1.10", "Host: h"), ["status": "400"]),
    RequestFixture("garbage version", head("GET / FOO", "Host: h"), ["status": "400"]),
    RequestFixture("HTTP/1.1 without Host", head("GET / HTTP/1.1", "X-A: b"), [
        "status": "400", "reason": "client sent HTTP/1.1 request without \"Host\" header",
    ]),
    RequestFixture("absolute-form still needs Host", head("GET http://h/ HTTP/1.1"), ["status": "400"]),
    RequestFixture("two Hosts", head("GET / HTTP/1.1", "Host: a", "host: a"), [
        "status": "400", "reason": "client sent duplicate host header",
    ]),
    RequestFixture("empty Host", head("GET / HTTP/1.1", "Host: "), ["status": "400", "reason": "client sent invalid host header"]),
    RequestFixture("Host with slash", head("GET / HTTP/1.1", "Host: a/b"), ["status": "400"]),
    RequestFixture("Host with space", head("GET / HTTP/1.1", "Host: a b"), ["status": "400"]),

    // MARK: limits (small limits so byte-by-byte stays fast)
    RequestFixture("request line over the limit", head("GET /" + String(repeating: "a", count: 19) + " HTTP/1.1"),
        limits: small, ["status": "414", "reason": "client sent too long URI"]),
    RequestFixture("long method", head(String(repeating: "M", count: 40) + " / HTTP/1.1"), limits: small, ["status": "414"]),
    RequestFixture("head over the limit", head("GET / HTTP/1.1", "Host: h", "X-Big: " + String(repeating: "v", count: 120)),
        limits: small, ["status": "431", "reason": "client sent too large request head"]),
    RequestFixture("five headers", head("GET / HTTP/1.1", "Host: h", "A: 1", "B: 2", "C: 3", "D: 4"), limits: small, [
        "status": "431", "reason": "client sent too many header fields",
    ]),
    RequestFixture("empty lines over the head limit", String(repeating: "\r\n", count: 70) + head("GET / HTTP/1.1", "Host: h"),
        limits: small, ["status": "431"]),
]

private func head(_ lines: [String]) -> String { lines.map { $0 + "\r\n" }.joined() + "\r\n" }

@Suite struct HTTPRequestParserTests {
    /// Every fixture gives the expected outcome, and the same outcome whole, byte by byte and in
    /// random splits.
    @Test(arguments: requestFixtures)
    func fixture(_ fixture: RequestFixture) {
        var outcomes: [(String, [String: String])] = []
        for (mode, cuts) in Splits.all(length: fixture.bytes.count, seed: UInt64(fixture.bytes.count * 31 + 7)) {
            var parser = HTTPRequestParser(limits: fixture.limits)
            let status = feed(&parser, fixture.bytes, cuts: cuts)
            outcomes.append((mode, summarize(status, parser, fixture.bytes)))
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

    /// Default limits: a request line of exactly 8192 bytes passes, 8193 is 414.
    @Test func defaultRequestLineLimit() {
        let prefix = "GET /"
        let suffix = " HTTP/1.1"
        let fits = prefix + String(repeating: "a", count: 8192 - prefix.count - suffix.count) + suffix
        #expect(fits.utf8.count == 8192)
        #expect(parseWithSplits(head(fits, "Host: h")) == ["complete"])
        let tooLong = prefix + String(repeating: "a", count: 8193 - prefix.count - suffix.count) + suffix
        #expect(parseWithSplits(head(tooLong, "Host: h")) == ["414"])
    }

    /// Default limits: 100 headers pass, 101 is 431; a head over 32 KiB is 431.
    @Test func defaultHeaderLimits() {
        let hundred = ["GET / HTTP/1.1", "Host: h"] + (1..<100).map { "X-\($0): v" }
        #expect(parseWithSplits(head(hundred)) == ["complete"])
        #expect(parseWithSplits(head(hundred + ["X-Last: v"])) == ["431"])
        let big = ["GET / HTTP/1.1", "Host: h"] + (0..<9).map { "X-\($0): " + String(repeating: "v", count: 4000) }
        #expect(parseWithSplits(head(big)) == ["431"])
        let justUnder = ["GET / HTTP/1.1", "Host: h"] + (0..<8).map { "X-\($0): " + String(repeating: "v", count: 4000) }
        #expect(parseWithSplits(head(justUnder)) == ["complete"])
    }

    /// Two pipelined requests: the second is parsed after `reset()` from the first's `headEnd`.
    @Test func pipelined() {
        let first = head("POST /one HTTP/1.1", "Host: a", "Content-Length: 3") + "abc"
        let second = head("GET /two?q HTTP/1.1", "Host: b", "Connection: close")
        let bytes = Array((first + second).utf8)
        for (mode, cuts) in Splits.all(length: bytes.count, seed: 99) {
            var parser = HTTPRequestParser()
            #expect(feed(&parser, bytes, cuts: cuts) == .complete, "\(mode)")
            let headEnd = parser.head.headEnd
            #expect(text(bytes, parser.head.pathRange) == "/one")
            #expect(parser.head.contentLength == 3)
            #expect(String(decoding: bytes[headEnd..<(headEnd + 3)], as: UTF8.self) == "abc")
            let rest = Array(bytes[(headEnd + 3)...])
            parser.reset()
            let cutsRest = cuts.compactMap { $0 > headEnd + 3 ? $0 - headEnd - 3 : nil }
            #expect(feed(&parser, rest, cuts: cutsRest.isEmpty ? [rest.count] : cutsRest) == .complete, "\(mode)")
            #expect(text(rest, parser.head.pathRange) == "/two")
            #expect(text(rest, parser.head.queryRange) == "q")
            #expect(text(rest, parser.head.hostRange) == "b")
            #expect(parser.head.keepAlive == false)
            #expect(parser.head.headEnd == rest.count)
        }
    }

    /// Bytes after the head (body or the next request) do not affect the result.
    @Test func bytesAfterHeadAreNotConsumed() {
        let raw = Array((head("GET / HTTP/1.1", "Host: h") + "GARBAGE\0\n").utf8)
        var parser = HTTPRequestParser()
        let status = raw.withUnsafeBytes { parser.parse($0) }
        #expect(status == .complete)
        #expect(parser.head.headEnd == raw.count - 9)
    }

    /// `reset()` clears all per-request facts and keeps the arrays' capacity.
    @Test func resetKeepsCapacityAndClearsState() {
        var parser = HTTPRequestParser()
        let first = Array(head(["POST / HTTP/1.0", "Connection: keep-alive, x", "Content-Length: 1", "Expect: 100-continue"]
            + (0..<20).map { "X-\($0): v" }).utf8)
        #expect(first.withUnsafeBytes { parser.parse($0) } == .complete)
        let capacity = parser.head.headers.capacity
        let tokenCapacity = parser.head.connectionTokens.capacity
        parser.reset()
        #expect(parser.head.headers.isEmpty)
        #expect(parser.head.headers.capacity == capacity)
        #expect(parser.head.connectionTokens.capacity == tokenCapacity)
        let second = Array(head("GET /x HTTP/1.1", "Host: h").utf8)
        #expect(second.withUnsafeBytes { parser.parse($0) } == .complete)
        #expect(parser.head.contentLength == nil)
        #expect(parser.head.connectionTokens.isEmpty)
        #expect(parser.head.keepAlive)
        #expect(parser.head.expectContinue == false)
        #expect(parser.head.versionMinor == 1)
        #expect(parser.head.headers.count == 1)
    }

    /// `reset()` after a head with only a few fields (removed one by one rather than through
    /// `removeAll`) also empties the arrays and keeps their capacity, request after request.
    @Test func resetAfterFewFieldsKeepsCapacity() {
        var parser = HTTPRequestParser()
        let raw = Array(head("GET / HTTP/1.1", "Host: h", "Connection: keep-alive, te", "X: 1").utf8)
        for round in 0..<3 {
            #expect(raw.withUnsafeBytes { parser.parse($0) } == .complete)
            #expect(parser.head.headers.count == 3, "round \(round)")
            #expect(parser.head.connectionTokens.count == 2, "round \(round)")
            let capacity = parser.head.headers.capacity
            let tokenCapacity = parser.head.connectionTokens.capacity
            parser.reset()
            #expect(parser.head.headers.isEmpty && parser.head.connectionTokens.isEmpty)
            #expect(parser.head.headers.capacity == capacity)
            #expect(parser.head.connectionTokens.capacity == tokenCapacity)
        }
    }

    /// After a failure or completion, further calls return the same status without re-parsing.
    @Test func terminalStatusesAreSticky() {
        var parser = HTTPRequestParser()
        let bad = Array("G@T / HTTP/1.1\r\n".utf8)
        let status = bad.withUnsafeBytes { parser.parse($0) }
        #expect(status == .failure(HTTPParseError(status: 400, reason: "client sent invalid method")))
        #expect(bad.withUnsafeBytes { parser.parse($0) } == status)
        parser.reset()
        let good = Array(head("GET / HTTP/1.1", "Host: h").utf8)
        #expect(good.withUnsafeBytes { parser.parse($0) } == .complete)
        #expect(good.withUnsafeBytes { parser.parse($0) } == .complete)
    }

    /// `firstHeader` finds a tagged field.
    @Test func firstHeaderLookup() {
        var parser = HTTPRequestParser()
        let raw = Array(head("GET / HTTP/1.1", "Host: h", "X-Real-IP: 10.0.0.1").utf8)
        #expect(raw.withUnsafeBytes { parser.parse($0) } == .complete)
        let field = parser.head.firstHeader(.xRealIP)
        #expect(field.map { text(raw, $0.valueRange) } == "10.0.0.1")
        #expect(parser.head.firstHeader(.authorization) == nil)
    }

    /// Whole plus three random splits; returns the distinct statuses seen.
    private func parseWithSplits(_ raw: String) -> [String] {
        let bytes = Array(raw.utf8)
        var statuses: [String] = []
        for (_, cuts) in Splits.all(length: bytes.count, seed: 5, randomCount: 3, byteByByte: false) {
            var parser = HTTPRequestParser()
            let status = summarize(feed(&parser, bytes, cuts: cuts), parser, bytes)["status"] ?? "?"
            if !statuses.contains(status) { statuses.append(status) }
        }
        return statuses
    }
}
