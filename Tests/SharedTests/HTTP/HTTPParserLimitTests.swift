import Shared
import Testing

/// The start-line parsers skip runs of bytes in tight loops that stop short of the limits (and
/// take `HTTP/1.x` plus CRLF, or `HTTP/1.x NNN `, in one step when it is all there). Sweeping both
/// limits across every offset of a head checks each limit fires at the same byte whole, byte by
/// byte and in random splits, and at the offset the limits document.
@Suite struct HTTPParserLimitTests {
    @Test func requestLimitsAtEveryOffset() {
        let raw = "GET /a?b HTTP/1.1\r\nHost: h\r\nX: 1\r\n\r\n"
        let bytes = Array(raw.utf8)
        let requestLine = "GET /a?b HTTP/1.1".utf8.count
        for maxRequestLine in 1...(requestLine + 2) {
            for maxHeaderBytes in 1...(bytes.count + 1) {
                let limits = HTTPParserLimits(maxRequestLine: maxRequestLine, maxHeaderBytes: maxHeaderBytes)
                var statuses: [String] = []
                for (_, cuts) in Splits.all(length: bytes.count, seed: UInt64(maxRequestLine * 1000 + maxHeaderBytes), randomCount: 3) {
                    var parser = HTTPRequestParser(limits: limits)
                    let outcome = summarize(feed(&parser, bytes, cuts: cuts), parser, bytes)
                    statuses.append(outcome["status"] ?? "?")
                }
                // The head limit counts every byte through the final LF; the request-line limit
                // every byte before its CR. The head limit is checked first at each byte.
                let expected =
                    if maxHeaderBytes < requestLine, maxHeaderBytes <= maxRequestLine { "431" }
                    else if maxRequestLine < requestLine { "414" }
                    else if maxHeaderBytes < bytes.count { "431" }
                    else { "complete" }
                #expect(Set(statuses) == [expected], "maxRequestLine \(maxRequestLine) maxHeaderBytes \(maxHeaderBytes)")
            }
        }
    }

    @Test func responseLimitsAtEveryOffset() {
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        let bytes = Array(raw.utf8)
        let statusLine = "HTTP/1.1 200 OK".utf8.count
        for maxRequestLine in 1...(statusLine + 2) {
            for maxHeaderBytes in 1...(bytes.count + 1) {
                let limits = HTTPParserLimits(maxRequestLine: maxRequestLine, maxHeaderBytes: maxHeaderBytes)
                var reasons: [String] = []
                for (_, cuts) in Splits.all(length: bytes.count, seed: UInt64(maxRequestLine * 1000 + maxHeaderBytes), randomCount: 3) {
                    var parser = HTTPResponseParser(limits: limits)
                    let outcome = summarize(feed(&parser, bytes, cuts: cuts), parser, bytes, method: .get)
                    reasons.append(outcome["reason"] ?? outcome["status"] ?? "?")
                }
                // Only the reason phrase counts against the status-line limit; only the field
                // lines against the head limit.
                let expected =
                    if maxRequestLine < statusLine { "upstream sent too long status line" }
                    else if maxHeaderBytes < bytes.count { "upstream sent too big header" }
                    else { "OK" }
                #expect(Set(reasons) == [expected], "maxRequestLine \(maxRequestLine) maxHeaderBytes \(maxHeaderBytes)")
            }
        }
    }
}
