// APISIX's field encryption (core/data_encryption.lua; resources.md section 9.2): AES-CBC with
// PKCS#7 padding, the keyring entry's bytes as key and (their first 16) as IV, base64 output.
// Deterministic, so a value Sluice writes is byte for byte the one an APISIX node writes.

import CLibevent

/// Encrypts with the first keyring entry; decrypts with the first entry that yields valid padding.
package struct FieldCipher: Sendable, Equatable {
    /// Each 16 bytes (AES-128-CBC) or 32 bytes (AES-256-CBC).
    package let keyring: [[UInt8]]

    /// nil when an entry is neither 16 nor 32 bytes long, or the keyring is empty.
    package init?(keyring: [String]) {
        let keys = keyring.map { Array($0.utf8) }
        guard !keys.isEmpty, keys.allSatisfy({ $0.count == 16 || $0.count == 32 }) else { return nil }
        self.keyring = keys
    }

    /// APISIX's default keyring.
    package static let defaultKeyring = ["qeddd145sfvddff3", "edd1c9f0985e76a2"]

    /// `plaintext` encrypted with the first key, base64.
    package func encrypt(_ plaintext: String) -> String {
        let out = Self.run(encrypt: true, key: keyring[0], Array(plaintext.utf8)) ?? []
        return Base64.encodedText(out)
    }

    /// The plaintext of `stored`, or nil when it is not base64 or no key decrypts it.
    package func decrypt(_ stored: String) -> String? {
        guard let bytes = Base64.decode(stored), !bytes.isEmpty, bytes.count % 16 == 0 else { return nil }
        for key in keyring {
            if let plain = Self.run(encrypt: false, key: key, bytes) {
                return String(validating: plain, as: UTF8.self)
            }
        }
        return nil
    }

    private static func run(encrypt: Bool, key: [UInt8], _ input: [UInt8]) -> [UInt8]? {
        guard let context = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(context) }
        let cipher = key.count == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc()
        let iv = Array(key.prefix(16))
        guard EVP_CipherInit_ex(context, cipher, nil, key, iv, encrypt ? 1 : 0) == 1 else { return nil }
        var out = [UInt8](repeating: 0, count: input.count + 32)
        var written: Int32 = 0
        var final: Int32 = 0
        let ok = out.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard EVP_CipherUpdate(context, buffer.baseAddress, &written, input, Int32(input.count)) == 1 else { return false }
            return EVP_CipherFinal_ex(context, buffer.baseAddress! + Int(written), &final) == 1
        }
        guard ok else { return nil }
        return Array(out.prefix(Int(written + final)))
    }
}
