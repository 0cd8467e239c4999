import Shared
import Testing

/// One chunked-body fixture: raw body bytes (possibly followed by the next message) and the outcome.
struct ChunkedFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    /// `end`, `needMore` or `error:<reason>`.
    let outcome: String
    /// The decoded payload (for `end`/`needMore`).
    let payload: String
    /// Bytes left after `.end` (the next message).
    let leftover: String

    init(_ name: String, _ raw: String, _ outcome: String, payload: String = "", leftover: String = "") {
        self.name = name
        self.bytes = Array(raw.utf8)
        self.outcome = outcome
        self.payload = payload
        self.leftover = leftover
    }

    var testDescription: String { name }
}

/// What feeding a body produced.
struct ChunkedResult: Equatable {
    var payload: [UInt8] = []
    var outcome = "needMore"
    /// Absolute offset of the end (or of the offending byte).
    var offset = 0
    var leftover: [UInt8] = []
}

/// Feeds `bytes` arriving in pieces ending at `cuts`, the way a connection with a receive buffer
/// would: unconsumed bytes are kept and handed back with the next piece.
func decodeChunked(_ bytes: [UInt8], cuts: [Int]) -> ChunkedResult {
    var decoder = ChunkedDecoder()
    var result = ChunkedResult()
    var pending: [UInt8] = []
    var pendingStart = 0
    var previousCut = 0
    for cut in cuts {
        pending += bytes[previousCut..<cut]
        previousCut = cut
        while true {
            let (consumed, event) = pending.withUnsafeBytes { decoder.decode($0) }
            switch event {
            case .data(let range):
                #expect(range.upperBound == consumed)
                #expect(!range.isEmpty)
                result.payload += pending[range]
            case .needMore:
                #expect(consumed == pending.count)
            case .end:
                result.outcome = "end"
                result.offset = pendingStart + consumed
                result.leftover = Array(pending[consumed...]) + bytes[cut...]
                return result
            case .error(let reason):
                result.outcome = "error:" + reason
                result.offset = pendingStart + consumed
                return result
            }
            pending.removeFirst(consumed)
            pendingStart += consumed
            if case .needMore = event { break }
            if pending.isEmpty { break }
        }
    }
    result.outcome = "needMore"
    result.offset = pendingStart
    return result
}

/// The chunked fixture table.
let chunkedFixtures: [ChunkedFixture] = [
    ChunkedFixture("single chunk", "5\r\nhello\r\n0\r\n\r\n", "end", payload: "hello"),
    ChunkedFixture("several chunks, hex sizes", "3\r\nabc\r\nA\r\n0123456789\r\n1\r\nZ\r\n0\r\n\r\n", "end", payload: "abc0123456789Z"),
    ChunkedFixture("upper and lower case hex", "a\r\n0123456789\r\nB\r\n0123456789a\r\n0\r\n\r\n", "end", payload: "01234567890123456789a"),
    ChunkedFixture("leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "end", payload: "hello"),
    ChunkedFixture("empty body", "0\r\n\r\n", "end"),
    ChunkedFixture("extensions", "5;name=value;flag\r\nhello\r\n0;last=\"yes\"\r\n\r\n", "end", payload: "hello"),
    ChunkedFixture("BWS before extension", "5 \t;x=y\r\nhello\r\n0\r\n\r\n", "end", payload: "hello"),
    ChunkedFixture("trailers", "4\r\nwiki\r\n0\r\nExpires: never\r\nX-Sum:  abc \r\n\r\n", "end", payload: "wiki"),
    ChunkedFixture("next message after end", "2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "end", payload: "hi", leftover: "GET / HTTP/1.1\r\n"),
    ChunkedFixture("payload containing CRLF", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "end", payload: "\r\n\r\n"),
    ChunkedFixture("16 hex digits", "0000000000000003\r\nabc\r\n0\r\n\r\n", "end", payload: "abc"),
    ChunkedFixture("truncated in data", "5\r\nhel", "needMore", payload: "hel"),
    ChunkedFixture("truncated in trailers", "0\r\nX: y\r\n", "needMore"),

    ChunkedFixture("size g", "g\r\nhello\r\n0\r\n\r\n", "error:invalid chunk size"),
    ChunkedFixture("size with trailing g", "5g\r\nhello\r\n0\r\n\r\n", "error:invalid chunk size"),
    ChunkedFixture("empty size", "\r\nhello\r\n0\r\n\r\n", "error:invalid chunk size"),
    ChunkedFixture("extension without size", ";x\r\n0\r\n\r\n", "error:invalid chunk size"),
    ChunkedFixture("negative size", "-5\r\nhello\r\n0\r\n\r\n", "error:invalid chunk size"),
    ChunkedFixture("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", "error:invalid chunk size"),
    ChunkedFixture("17 hex digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", "error:chunk size too large"),
    ChunkedFixture("size above Int64.max", "8000000000000000\r\n", "error:chunk size too large"),
    ChunkedFixture("space before CRLF", "5 \r\nhello\r\n0\r\n\r\n", "error:invalid chunk size"),
    ChunkedFixture("bare LF after size", "5\nhello\r\n0\r\n\r\n", "error:invalid chunk size"),
    ChunkedFixture("bare CR after size", "5\rhello\r\n0\r\n\r\n", "error:expected LF after chunk size"),
    ChunkedFixture("missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", "error:expected CRLF after chunk data", payload: "hello"),
    ChunkedFixture("bare LF after data", "5\r\nhello\n0\r\n\r\n", "error:expected CRLF after chunk data", payload: "hello"),
    ChunkedFixture("CR without LF after data", "5\r\nhello\r0\r\n\r\n", "error:expected CRLF after chunk data", payload: "hello"),
    ChunkedFixture("LF in extension", "5;a\nb\r\nhello\r\n0\r\n\r\n", "error:invalid chunk extension"),
    ChunkedFixture("NUL in extension", "5;a\u{0}\r\nhello\r\n0\r\n\r\n", "error:invalid chunk extension"),
    ChunkedFixture("bare LF ending trailers", "0\r\nX: y\r\n\n", "error:bare CR or LF in trailer"),
    ChunkedFixture("obs-fold in trailers", "0\r\nX: y\r\n z\r\n\r\n", "error:invalid trailer line"),
    ChunkedFixture("bad trailer name", "0\r\nX Y: z\r\n\r\n", "error:invalid trailer line"),
    ChunkedFixture("bare LF after last chunk", "0\n\r\n", "error:invalid chunk size"),
]

@Suite struct ChunkedDecoderTests {
    /// Every fixture decodes to the expected payload and outcome, identically whole, byte by byte
    /// and in random splits.
    @Test(arguments: chunkedFixtures)
    func fixture(_ fixture: ChunkedFixture) {
        var results: [(String, ChunkedResult)] = []
        for (mode, cuts) in Splits.all(length: fixture.bytes.count, seed: UInt64(fixture.bytes.count) &* 7919) {
            results.append((mode, decodeChunked(fixture.bytes, cuts: cuts)))
        }
        let whole = results[0].1
        for (mode, result) in results.dropFirst() {
            #expect(result == whole, "\(mode) differs from whole")
        }
        #expect(whole.outcome == fixture.outcome)
        #expect(String(decoding: whole.payload, as: UTF8.self) == fixture.payload)
        #expect(String(decoding: whole.leftover, as: UTF8.self) == fixture.leftover)
        if whole.outcome == "end" {
            #expect(whole.offset == fixture.bytes.count - fixture.leftover.utf8.count)
        }
    }

    /// A large random body with random chunk sizes, extensions and trailers round-trips in every split.
    @Test func randomBodies() {
        var rng = SplitMix64(seed: 42)
        for round in 0..<20 {
            var payload: [UInt8] = []
            var encoded: [UInt8] = []
            var header = [UInt8](repeating: 0, count: 18)
            for _ in 0..<Int.random(in: 0...12, using: &rng) {
                let length = Int.random(in: 1...3000, using: &rng)
                let chunk = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                payload += chunk
                let written = header.withUnsafeMutableBytes { ChunkedDecoder.encodeChunkHeader(length: length, into: $0) }
                encoded += header[0..<written]
                if Bool.random(using: &rng) {
                    encoded.removeLast(2)
                    encoded += Array(";ext=\(round)\r\n".utf8)
                }
                encoded += chunk + [13, 10]
            }
            encoded += Array("0\r\nX-Trailer: \(round)\r\n\r\n".utf8)
            for (mode, cuts) in Splits.all(length: encoded.count, seed: UInt64(round), randomCount: 4, byteByByte: round < 2) {
                let result = decodeChunked(encoded, cuts: cuts)
                #expect(result.outcome == "end", "\(mode)")
                #expect(result.payload == payload, "round \(round) \(mode)")
                #expect(result.offset == encoded.count)
            }
        }
    }

    /// Extension and trailer sections are bounded.
    @Test func boundedSections() {
        let longExtension = "1;" + String(repeating: "x", count: ChunkedDecoder.maxExtensionBytes) + "\r\na\r\n0\r\n\r\n"
        #expect(decodeChunked(Array(longExtension.utf8), cuts: [longExtension.utf8.count]).outcome == "error:chunk extension too long")
        let fitting = "1;" + String(repeating: "x", count: ChunkedDecoder.maxExtensionBytes - 1) + "\r\na\r\n0\r\n\r\n"
        #expect(decodeChunked(Array(fitting.utf8), cuts: [fitting.utf8.count]).outcome == "end")
        let bigTrailers = "0\r\n" + (0..<200).map { "X-\($0): " + String(repeating: "t", count: 40) + "\r\n" }.joined() + "\r\n"
        let bytes = Array(bigTrailers.utf8)
        for (mode, cuts) in Splits.all(length: bytes.count, seed: 3, randomCount: 3, byteByByte: false) {
            #expect(decodeChunked(bytes, cuts: cuts).outcome == "error:trailer section too large", "\(mode)")
        }
    }

    /// After `.end` or `.error` the decoder keeps reporting it until `reset()`.
    @Test func terminalEventsAreStickyAndResetWorks() {
        var decoder = ChunkedDecoder()
        let body = Array("0\r\n\r\n".utf8)
        #expect(body.withUnsafeBytes { decoder.decode($0) }.event == .end)
        #expect(decoder.isFinished)
        #expect(body.withUnsafeBytes { decoder.decode($0) } == (0, .end))
        decoder.reset()
        let bad = Array("z".utf8)
        #expect(bad.withUnsafeBytes { decoder.decode($0) }.event == .error("invalid chunk size"))
        #expect(body.withUnsafeBytes { decoder.decode($0) }.event == .error("invalid chunk size"))
        decoder.reset()
        #expect(body.withUnsafeBytes { decoder.decode($0) } == (5, .end))
    }

    /// `encodeChunkHeader` writes lower-case hex and CRLF.
    @Test(arguments: [(0, "0\r\n"), (1, "1\r\n"), (15, "f\r\n"), (16, "10\r\n"), (4096, "1000\r\n"),
                      (0x7FFF_FFFF_FFFF_FFFF, "7fffffffffffffff\r\n")])
    func encodeChunkHeader(length: Int, expected: String) {
        var buffer = [UInt8](repeating: 0, count: 18)
        let written = buffer.withUnsafeMutableBytes { ChunkedDecoder.encodeChunkHeader(length: length, into: $0) }
        #expect(String(decoding: buffer[0..<written], as: UTF8.self) == expected)
    }
}
