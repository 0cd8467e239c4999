package import CPCRE2

/// A PCRE2 regular expression, compiled once (per snapshot) with JIT when available, matched
/// without allocating: the match data is allocated with the expression and reused. Used from one
/// thread at a time (each process runs one loop); `@unchecked Sendable` so that configuration
/// values holding one can cross into the worker's loop.
package final class PCRERegex: @unchecked Sendable {
    package let pattern: String
    private let code: OpaquePointer
    private let matchData: OpaquePointer

    /// Compiles `pattern`; `caseless` is PCRE's `i` option (APISIX's `~*` and `jo`+`i`).
    /// - Throws: `PCRERegexError` with PCRE2's message, as APISIX reports a bad regex.
    package convenience init(_ pattern: String, caseless: Bool = false) throws(PCRERegexError) {
        try self.init(pattern, options: caseless ? UInt32(PCRE2_CASELESS) : 0)
    }

    /// Compiles `pattern` with ngx.re's option letters (`jo` and the like: `i` caseless, `m`
    /// multiline, `s` dot-all, `x` extended, `u` UTF-8; `j`, `o`, `d`, `J` need nothing more here:
    /// the expression is compiled once and JIT is always tried).
    package convenience init(_ pattern: String, ngxOptions: String) throws(PCRERegexError) {
        var options: UInt32 = 0
        for letter in ngxOptions {
            switch letter {
            case "i": options |= UInt32(PCRE2_CASELESS)
            case "m": options |= UInt32(PCRE2_MULTILINE)
            case "s": options |= UInt32(PCRE2_DOTALL)
            case "x": options |= UInt32(PCRE2_EXTENDED)
            case "u": options |= UInt32(PCRE2_UTF)
            default: break
            }
        }
        try self.init(pattern, options: options)
    }

    package init(_ pattern: String, options: UInt32) throws(PCRERegexError) {
        self.pattern = pattern
        var error: Int32 = 0
        var offset = 0
        let compiled: OpaquePointer? = Array(pattern.utf8).withUnsafeBufferPointer { bytes in
            sluice_pcre2_compile(bytes.baseAddress, bytes.count, options, &error, &offset)
        }
        guard let compiled else {
            var message = [UInt8](repeating: 0, count: 256)
            let n = pcre2_get_error_message_8(error, &message, message.count)
            let text = n > 0 ? String(decoding: message.prefix(Int(n)), as: UTF8.self) : "error \(error)"
            throw PCRERegexError(message: "\(text) in \"\(pattern)\" at \"\(String(pattern.utf8.dropFirst(offset)) ?? "")\"")
        }
        code = compiled
        // JIT is an optimisation: matching works (slower) when it is unavailable.
        _ = pcre2_jit_compile_8(code, UInt32(PCRE2_JIT_COMPLETE))
        matchData = pcre2_match_data_create_from_pattern_8(code, nil)
    }

    deinit {
        pcre2_match_data_free_8(matchData)
        pcre2_code_free_8(code)
    }

    /// Whether the expression matches anywhere in `subject` (ngx.re.find).
    package func matches(_ subject: UnsafeRawBufferPointer) -> Bool {
        if let base = subject.baseAddress?.assumingMemoryBound(to: UInt8.self) {
            return pcre2_match_8(code, base, subject.count, 0, 0, matchData, nil) >= 0
        }
        var none: UInt8 = 0
        return pcre2_match_8(code, &none, 0, 0, 0, matchData, nil) >= 0
    }

    /// `subject` with the first (or, `global`, every) match replaced by `replacement` (ngx.re.sub /
    /// gsub templates: `$0`, `$1`, `${1}`, `$$`), written to `output`. Returns the length written,
    /// or `.needed(n)` when `output` is too small, or `.failed(message)`.
    package func substitute(_ subject: UnsafeRawBufferPointer, _ replacement: [UInt8], global: Bool,
                            into output: UnsafeMutableRawBufferPointer) -> Substitution {
        var none: UInt8 = 0
        var length = output.count
        let options = UInt32(PCRE2_SUBSTITUTE_OVERFLOW_LENGTH) | (global ? UInt32(PCRE2_SUBSTITUTE_GLOBAL) : 0)
        let rc: Int32 = replacement.withUnsafeBufferPointer { rep in
            withUnsafePointer(to: &none) { empty in
                let subjectBase = subject.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? empty
                let repBase = rep.baseAddress ?? empty
                let outBase = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
                return pcre2_substitute_8(code, subjectBase, subject.count, 0, options, matchData, nil,
                                          repBase, rep.count, outBase, &length)
            }
        }
        if rc >= 0 { return .done(length) }
        if rc == PCRE2_ERROR_NOMEMORY { return .needed(length) }
        var message = [UInt8](repeating: 0, count: 256)
        let n = pcre2_get_error_message_8(rc, &message, message.count)
        return .failed(n > 0 ? String(decoding: message.prefix(Int(n)), as: UTF8.self) : "error \(rc)")
    }

    package enum Substitution: Equatable {
        case done(Int)
        case needed(Int)
        case failed(String)
    }

    /// Matches `subject`; on a match calls `capture(n, range)` for group 0 (the whole match) and each
    /// group that took part, and returns true.
    package func match(_ subject: UnsafeRawBufferPointer, _ capture: (Int, Range<Int>) -> Void) -> Bool {
        var none: UInt8 = 0
        let base = subject.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let rc = withUnsafePointer(to: &none) { empty in
            pcre2_match_8(code, base ?? empty, subject.count, 0, 0, matchData, nil)
        }
        guard rc >= 0 else { return false }
        let pairs = rc == 0 ? Int(pcre2_get_ovector_count_8(matchData)) : Int(rc)
        let ovector = pcre2_get_ovector_pointer_8(matchData)!
        for n in 0..<pairs {
            let start = ovector[2 * n], end = ovector[2 * n + 1]
            // PCRE2_UNSET (~0) marks a group that did not take part.
            if start != ~0 && end >= start { capture(n, Int(start)..<Int(end)) }
        }
        return true
    }

    package func matches(_ subject: String) -> Bool {
        var s = subject
        return s.withUTF8 { matches(UnsafeRawBufferPointer($0)) }
    }
}

package struct PCRERegexError: Error, Sendable {
    package var message: String
}
