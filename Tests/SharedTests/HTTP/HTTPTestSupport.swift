import Shared

/// SplitMix64: a tiny deterministic generator so random splits are reproducible across runs.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

/// The ways a fixture is delivered: each is a list of increasing cut points ending at the length.
enum Splits {
    /// Whole, one byte at a time, and `randomCount` seeded random splits.
    static func all(length: Int, seed: UInt64, randomCount: Int = 6, byteByByte: Bool = true) -> [(String, [Int])] {
        var result: [(String, [Int])] = [("whole", [length])]
        if byteByByte, length > 0 { result.append(("byte-by-byte", Array(1...length))) }
        var rng = SplitMix64(seed: seed)
        for round in 0..<randomCount {
            result.append(("random #\(round)", random(length: length, using: &rng)))
        }
        return result
    }

    /// 1...8 random cut points, sorted, ending at `length`.
    static func random(length: Int, using rng: inout SplitMix64) -> [Int] {
        guard length > 1 else { return [length] }
        let count = Int.random(in: 1...8, using: &rng)
        var cuts = Set<Int>()
        for _ in 0..<count { cuts.insert(Int.random(in: 1..<length, using: &rng)) }
        cuts.insert(length)
        return cuts.sorted()
    }
}

/// The head parsers share one shape; the tests drive both through it.
protocol HeadParser {
    mutating func parse(_ buffer: UnsafeRawBufferPointer) -> HTTPParseStatus
}

extension HTTPRequestParser: HeadParser {}
extension HTTPResponseParser: HeadParser {}

/// Feeds growing prefixes of `bytes` (a fresh copy each time, as a receive buffer that grows
/// would be) until the parser stops asking for more or the cuts run out.
func feed<Parser: HeadParser>(_ parser: inout Parser, _ bytes: [UInt8], cuts: [Int]) -> HTTPParseStatus {
    var status = HTTPParseStatus.incomplete
    for cut in cuts {
        let prefix = Array(bytes[0..<cut])
        status = prefix.withUnsafeBytes { parser.parse($0) }
        if status != .incomplete { break }
    }
    return status
}

/// `lines` joined with CRLF, plus the empty line ending a head.
func head(_ lines: String...) -> String {
    lines.map { $0 + "\r\n" }.joined() + "\r\n"
}

/// The text of `bytes[range]`, or "nil".
func text(_ bytes: [UInt8], _ range: Range<Int>?) -> String {
    guard let range else { return "nil" }
    return String(decoding: bytes[range], as: UTF8.self)
}
