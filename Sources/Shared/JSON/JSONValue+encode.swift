// A JSON writer that prints what lua-cjson prints (APISIX echoes stored objects through it):
// numbers with `%.14g` (so integral values carry no `.0`), `/` escaped as `\/`. Object keys are
// sorted bytewise, unlike cjson's hash order, so that equal values always give equal text
// (snapshots and tests compare bytes).

#if canImport(Glibc)
import Glibc
#endif

extension JSONValue {
    /// The compact JSON text of this value (sorted keys, cjson number and escape rules).
    package var jsonText: String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        encode(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The compact JSON text as UTF-8 bytes.
    package var jsonBytes: [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Appends the compact JSON text of this value to `out`.
    package func encode(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number): out.append(contentsOf: JSONValue.formatNumber(number).utf8)
        case .string(let text): JSONValue.encodeString(text, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                element.encode(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.encodeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                members[key]!.encode(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// `number` as cjson and LuaJIT's `tostring` print it: C's `%.14g` (`3000`, `0.5`, `1e+15`).
    /// NaN and infinities, which cjson refuses to encode, print as `null`.
    package static func formatNumber(_ number: Double) -> String {
        guard number.isFinite else { return "null" }
        // %.14g prints integers of up to 14 digits plainly; skip the C call for them.
        if number.rounded(.towardZero) == number, abs(number) < 1e14 {
            return number == 0 ? "0" : String(Int(number))
        }
        var buffer = [CChar](repeating: 0, count: 40)
        let count = withVaList([number]) { arguments in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, 40, "%.14g", arguments) }
        }
        return String(decoding: buffer[0..<Int(count)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// cjson's string escaping: `"` `\` `/`, the short escapes, other control bytes as `\u00XX`.
    static func encodeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(byte)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(byte)
            case UInt8(ascii: "/"): out.append(UInt8(ascii: "\\")); out.append(byte)
            case 0x08: out.append(contentsOf: "\\b".utf8)
            case 0x0C: out.append(contentsOf: "\\f".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)]); out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
