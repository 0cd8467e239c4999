/// A value with `$var` / `${var}` / `${var ?? default}` references, as APISIX's
/// `core.utils.resolve_var` renders it (response-rewrite header values, proxy-rewrite headers):
/// a name is `[\w.]+`; a `$` preceded by `\` is left as it is (backslash included); an unset
/// variable renders empty, or as its `??` default. Parsed once; rendering copies slices.
package struct Template: Sendable {
    package enum Part: Sendable {
        case literal([UInt8])
        case variable(RequestVariable, fallback: [UInt8]?)
    }

    package let parts: [Part]
    /// No variable: `parts` is at most one literal.
    package var isLiteral: Bool { !parts.contains { if case .variable = $0 { true } else { false } } }

    package init(_ text: String) {
        let bytes = Array(text.utf8)
        var parts: [Part] = []
        var literal: [UInt8] = []
        var i = 0
        func isWord(_ b: UInt8) -> Bool { ASCII.isDigit(b) || (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A || b == 0x5F || b == 0x2E }
        while i < bytes.count {
            let b = bytes[i]
            guard b == UInt8(ascii: "$"), i == 0 || bytes[i - 1] != UInt8(ascii: "\\"), i + 1 < bytes.count else {
                literal.append(b)
                i += 1
                continue
            }
            if bytes[i + 1] == UInt8(ascii: "{"), let close = bytes[(i + 2)...].firstIndex(of: UInt8(ascii: "}")), close > i + 2 {
                let inner = String(decoding: bytes[(i + 2)..<close], as: UTF8.self).trimmingSpaces()
                var name = inner
                var fallback: [UInt8]?
                if let range = inner.range(of: "??") {
                    name = String(inner[..<range.lowerBound]).trimmingSpaces()
                    fallback = Array(String(inner[range.upperBound...]).trimmingSpaces().utf8)
                }
                if !name.isEmpty {
                    if !literal.isEmpty { parts.append(.literal(literal)); literal = [] }
                    parts.append(.variable(RequestVariable(name: name), fallback: fallback))
                    i = close + 1
                    continue
                }
            }
            var end = i + 1
            while end < bytes.count && isWord(bytes[end]) { end += 1 }
            guard end > i + 1 else {
                literal.append(b)
                i += 1
                continue
            }
            if !literal.isEmpty { parts.append(.literal(literal)); literal = [] }
            parts.append(.variable(RequestVariable(name: String(decoding: bytes[(i + 1)..<end], as: UTF8.self)), fallback: nil))
            i = end
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// Calls `append` with each piece of the rendered value, in order.
    package func render<V: RequestVariables>(_ vars: V, _ append: (UnsafeRawBufferPointer) -> Void) {
        for part in parts {
            switch part {
            case .literal(let bytes):
                bytes.withUnsafeBytes(append)
            case .variable(let variable, let fallback):
                vars.withValue(of: variable) { value in
                    if let value {
                        append(value)
                    } else if let fallback {
                        fallback.withUnsafeBytes(append)
                    }
                }
            }
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
