// The regular expressions of JSON-schema `pattern` and `patternProperties`. APISIX runs them
// through PCRE (`ngx.re.find`, unanchored unless the pattern says `^`); its schemas use a small
// subset, which this backtracking matcher implements over UTF-8 bytes: literals, `.`, classes
// with ranges (`[0-9a-zA-Z-._\[\]:]`), `\d \D \s \S \w \W` and escaped punctuation, groups,
// alternation, `^` `$`, and the quantifiers `? * + {n} {n,} {n,m}` (greedy).

/// A compiled `pattern`. `source` is the text as written, which messages quote.
package struct SchemaPattern: Sendable {
    /// The pattern text as written in the schema.
    package let source: String
    private let root: [Alternative]

    fileprivate typealias Alternative = [Node]
    fileprivate indirect enum Node: Sendable {
        case byte(UInt8)
        case anyByte
        case set(ranges: [ClosedRange<UInt8>], negated: Bool)
        case lineStart
        case lineEnd
        case group([Alternative])
        case repeated(Node, min: Int, max: Int)
    }

    /// Compiles `source`; nil when it uses syntax outside the supported subset.
    package init?(_ source: String) {
        self.source = source
        var parser = PatternParser(bytes: Array(source.utf8))
        guard let alternatives = parser.parseAlternatives(), parser.index == parser.bytes.count else { return nil }
        root = alternatives
    }

    /// True when the pattern matches somewhere in `text` (PCRE search semantics).
    package func matches(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        for start in 0...bytes.count {
            if Self.match(alternatives: root, bytes, start, { _ in true }) { return true }
        }
        return false
    }

    private static func match(alternatives: [Alternative], _ bytes: [UInt8], _ index: Int,
                              _ next: (Int) -> Bool) -> Bool {
        for alternative in alternatives where match(sequence: alternative[...], bytes, index, next) {
            return true
        }
        return false
    }

    private static func match(sequence: ArraySlice<Node>, _ bytes: [UInt8], _ index: Int,
                              _ next: (Int) -> Bool) -> Bool {
        guard let node = sequence.first else { return next(index) }
        let rest = sequence.dropFirst()
        return match(node: node, bytes, index) { match(sequence: rest, bytes, $0, next) }
    }

    private static func match(node: Node, _ bytes: [UInt8], _ index: Int, _ next: (Int) -> Bool) -> Bool {
        switch node {
        case .byte(let expected):
            return index < bytes.count && bytes[index] == expected && next(index + 1)
        case .anyByte:
            return index < bytes.count && bytes[index] != 0x0A && next(index + 1)
        case .set(let ranges, let negated):
            guard index < bytes.count else { return false }
            let inSet = ranges.contains { $0.contains(bytes[index]) }
            return inSet != negated && next(index + 1)
        case .lineStart:
            return index == 0 && next(index)
        case .lineEnd:
            // PCRE's `$` also matches before a final newline.
            return (index == bytes.count || (index == bytes.count - 1 && bytes[index] == 0x0A)) && next(index)
        case .group(let alternatives):
            return match(alternatives: alternatives, bytes, index, next)
        case .repeated(let inner, let min, let max):
            return matchRepeated(inner, min: min, max: max, count: 0, bytes, index, next)
        }
    }

    private static func matchRepeated(_ node: Node, min: Int, max: Int, count: Int, _ bytes: [UInt8],
                                      _ index: Int, _ next: (Int) -> Bool) -> Bool {
        // Greedy: one more repetition first, then the continuation. An empty repetition ends the
        // loop so `(a*)*` cannot spin.
        if count < max {
            let more = match(node: node, bytes, index) { after in
                after != index && matchRepeated(node, min: min, max: max, count: count + 1, bytes, after, next)
            }
            if more { return true }
        }
        return count >= min && next(index)
    }

    fileprivate struct PatternParser {
        let bytes: [UInt8]
        var index = 0

        mutating func parseAlternatives() -> [Alternative]? {
            var alternatives: [Alternative] = []
            var current: Alternative = []
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: ")") { break }
                if byte == UInt8(ascii: "|") {
                    alternatives.append(current); current = []; index += 1; continue
                }
                guard let atom = parseAtom() else { return nil }
                guard let quantified = parseQuantifier(atom) else { return nil }
                current.append(quantified)
            }
            alternatives.append(current)
            return alternatives
        }

        mutating func parseAtom() -> Node? {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "^"): return .lineStart
            case UInt8(ascii: "$"): return .lineEnd
            case UInt8(ascii: "."): return .anyByte
            case UInt8(ascii: "("):
                // A non-capturing group `(?:...)` behaves the same here.
                if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "?"), bytes[index + 1] == UInt8(ascii: ":") {
                    index += 2
                }
                guard let alternatives = parseAlternatives(), index < bytes.count,
                      bytes[index] == UInt8(ascii: ")") else { return nil }
                index += 1
                return .group(alternatives)
            case UInt8(ascii: "["): return parseClass()
            case UInt8(ascii: "\\"): return parseEscape(inClass: false)
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"): return nil
            default: return .byte(byte)
            }
        }

        mutating func parseEscape(inClass: Bool) -> Node? {
            guard index < bytes.count else { return nil }
            let byte = bytes[index]
            index += 1
            let digits: [ClosedRange<UInt8>] = [UInt8(ascii: "0")...UInt8(ascii: "9")]
            let spaces: [ClosedRange<UInt8>] = [0x09...0x0D, 0x20...0x20]
            let word: [ClosedRange<UInt8>] = digits + [UInt8(ascii: "a")...UInt8(ascii: "z"),
                                                       UInt8(ascii: "A")...UInt8(ascii: "Z"),
                                                       UInt8(ascii: "_")...UInt8(ascii: "_")]
            switch byte {
            case UInt8(ascii: "d"): return .set(ranges: digits, negated: false)
            case UInt8(ascii: "D"): return .set(ranges: digits, negated: true)
            case UInt8(ascii: "s"): return .set(ranges: spaces, negated: false)
            case UInt8(ascii: "S"): return .set(ranges: spaces, negated: true)
            case UInt8(ascii: "w"): return .set(ranges: word, negated: false)
            case UInt8(ascii: "W"): return .set(ranges: word, negated: true)
            case UInt8(ascii: "n"): return .byte(0x0A)
            case UInt8(ascii: "t"): return .byte(0x09)
            case UInt8(ascii: "r"): return .byte(0x0D)
            default:
                // Escaped punctuation stands for itself; escaped letters would be PCRE features
                // this matcher does not have.
                let isLetterOrDigit = (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                return isLetterOrDigit ? nil : .byte(byte)
            }
        }

        mutating func parseClass() -> Node? {
            var negated = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "^") { negated = true; index += 1 }
            var ranges: [ClosedRange<UInt8>] = []
            var first = true
            while index < bytes.count {
                var byte = bytes[index]
                if byte == UInt8(ascii: "]") && !first { index += 1; return .set(ranges: ranges, negated: negated) }
                first = false
                index += 1
                if byte == UInt8(ascii: "\\") {
                    guard let escaped = parseEscape(inClass: true) else { return nil }
                    switch escaped {
                    case .byte(let literal): byte = literal
                    case .set(let more, false): ranges += more; continue
                    default: return nil
                    }
                }
                // `a-z` is a range unless `-` is last in the class or follows a range
                // (`[0-9a-zA-Z-._]`: the `-` after `Z` is literal in PCRE).
                if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "-"), bytes[index + 1] != UInt8(ascii: "]") {
                    var upper = bytes[index + 1]
                    index += 2
                    if upper == UInt8(ascii: "\\") {
                        guard case .byte(let literal)? = parseEscape(inClass: true) else { return nil }
                        upper = literal
                    }
                    guard upper >= byte else { return nil }
                    ranges.append(byte...upper)
                    // A `-` right after a range is a literal.
                    if index < bytes.count, bytes[index] == UInt8(ascii: "-"),
                       index + 1 < bytes.count, bytes[index + 1] != UInt8(ascii: "]") {
                        ranges.append(UInt8(ascii: "-")...UInt8(ascii: "-"))
                        index += 1
                    }
                } else {
                    ranges.append(byte...byte)
                }
            }
            return nil
        }

        mutating func parseQuantifier(_ atom: Node) -> Node? {
            guard index < bytes.count else { return atom }
            switch bytes[index] {
            case UInt8(ascii: "?"): index += 1; return .repeated(atom, min: 0, max: 1)
            case UInt8(ascii: "*"): index += 1; return .repeated(atom, min: 0, max: Int.max)
            case UInt8(ascii: "+"): index += 1; return .repeated(atom, min: 1, max: Int.max)
            case UInt8(ascii: "{"):
                var scan = index + 1
                func number() -> Int? {
                    let start = scan
                    while scan < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[scan]) { scan += 1 }
                    return scan > start ? Int(String(decoding: bytes[start..<scan], as: UTF8.self)) : nil
                }
                guard let min = number() else { return .byte(UInt8(ascii: "{")) }
                var max = min
                if scan < bytes.count, bytes[scan] == UInt8(ascii: ",") {
                    scan += 1
                    max = number() ?? Int.max
                }
                guard scan < bytes.count, bytes[scan] == UInt8(ascii: "}"), max >= min else { return nil }
                index = scan + 1
                return .repeated(atom, min: min, max: max)
            default: return atom
            }
        }
    }
}
