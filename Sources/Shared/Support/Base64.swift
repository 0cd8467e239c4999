/// Base64 (RFC 4648): `Authorization: Basic` values for functions, and the keys and values of
/// etcd's JSON gateway (protobuf `bytes`).
package enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        table[Int(UInt8(ascii: "-"))] = 62  // base64url too
        table[Int(UInt8(ascii: "_"))] = 63
        return table
    }()

    /// The standard alphabet, with padding.
    package static func encode(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < input.count {
            let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = input.count - i
        if rest == 1 {
            let n = UInt32(input[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], 61, 61]
        } else if rest == 2 {
            let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], 61]
        }
        return out
    }

    /// `encode` as text.
    package static func encodedText(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: encode(Array(bytes)), as: UTF8.self)
    }

    /// Decodes standard-alphabet base64 as nginx's `ngx_decode_base64` (`ngx.decode_base64`) does,
    /// handing each byte to `emit`: padding optional, `=` only at the end, a length of 4n+1 or a
    /// byte outside the alphabet invalid (false). Allocates nothing.
    package static func decodeStandard(_ input: UnsafeRawBufferPointer, _ emit: (UInt8) -> Void) -> Bool {
        var length = input.count
        var padding = 0
        while length > 0, padding < 2, input[length - 1] == UInt8(ascii: "=") { length -= 1; padding += 1 }
        if length % 4 == 1 { return false }
        return decodeSymbols(UnsafeRawBufferPointer(rebasing: input[0..<length]), urlAlphabet: false, emit)
    }

    /// nil for anything that is not base64 (standard or url alphabet, padding optional).
    package static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count / 4 * 3)
        // Whatever follows the first `=` is ignored.
        return decodeSymbols(text.utf8.prefix { $0 != UInt8(ascii: "=") }, urlAlphabet: true) { out.append($0) } ? out : nil
    }

    /// The one decoding loop: base64 symbols (no padding) to bytes; false at a byte outside the
    /// alphabet (the url one's `-` and `_` too, unless `urlAlphabet`).
    private static func decodeSymbols(_ symbols: some Sequence<UInt8>, urlAlphabet: Bool, _ emit: (UInt8) -> Void) -> Bool {
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in symbols {
            if !urlAlphabet, byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") { return false }
            let value = decodeTable[Int(byte)]
            guard value != 0xFF else { return false }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                emit(UInt8(accumulator >> UInt32(bits) & 0xFF))
            }
        }
        return true
    }
}
