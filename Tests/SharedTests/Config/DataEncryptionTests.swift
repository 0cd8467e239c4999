import Testing
@testable import Shared

private func load(_ yaml: String) throws -> GatewayConfig {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    return try GatewayConfig.load(path: try directory.write("conf/config.yaml", yaml)).config
}

/// APISIX's field encryption (resources.md section 9): the cipher's exact bytes, the walk over
/// `encrypt_fields`, and `apisix.data_encryption`.
@Suite struct DataEncryptionTests {
    private let cipher = FieldCipher(keyring: FieldCipher.defaultKeyring)!

    /// The checked examples of resources.md 9.2: the first key encrypts; either key decrypts.
    @Test(arguments: [
        ("test:test", "i+k/QR735gLr6ce4Y+itJA==", true), ("the-key", "JCX7x1qN5e9kHt0GuJfWpw==", true),
        ("auth-one", "4y+JvURBE6ZwRbbgaryrhg==", true), ("the-password", "WvF5kpaLvIzjuk4GNIMTJg==", true),
        ("bar", "77+NmbYqNfN+oLm0aX5akg==", false), ("auth-two", "vU/ZHVJw7b0XscDJ1Fhtig==", false),
    ])
    func vectors(plaintext: String, stored: String, firstKey: Bool) {
        if firstKey { #expect(cipher.encrypt(plaintext) == stored) }
        #expect(cipher.decrypt(stored) == plaintext)
    }

    @Test func failuresAndKeySizes() throws {
        #expect(cipher.decrypt("auth-one") == nil, "not base64 of whole blocks")
        #expect(cipher.decrypt("") == nil)
        #expect(cipher.decrypt("AAAAAAAAAAAAAAAAAAAAAA==") == nil, "no key gives valid padding")
        #expect(FieldCipher(keyring: ["short"]) == nil)
        #expect(FieldCipher(keyring: []) == nil)
        let wide = try #require(FieldCipher(keyring: ["0123456789abcdef0123456789abcdef"]))
        let stored = wide.encrypt("secret value longer than one block")
        #expect(stored != cipher.encrypt("secret value longer than one block"))
        #expect(wide.decrypt(stored) == "secret value longer than one block")
        #expect(cipher.decrypt(stored) == nil)
    }

    /// Dotted paths, arrays walked element by element, strings at the end (alone, in an array,
    /// as an object's values), everything else untouched; consumer schemas' fields under consumers.
    @Test func walk() throws {
        let spec = PluginSpec(schema: Schema(), consumerSchema: Schema(), encryptFields: ["a.b", "list"],
                              consumerEncryptFields: ["key"])
        let lookup: PluginSchemaLookup = { $0 == "p" ? spec : nil }
        let value = try JSONValue.parse(#"""
            {"plugins":{"p":{"a":[{"b":"x"},{"b":["y",1]},{"c":"z"}],"list":{"m":"n","k":2},"key":"k"},"q":{"a":{"b":"x"}}},"id":"1"}
            """#)
        let upper = DataEncryption.transformFields(value, consumer: false, plugins: lookup) { $0.uppercased() }
        #expect(upper == (try JSONValue.parse(#"""
            {"plugins":{"p":{"a":[{"b":"X"},{"b":["Y",1]},{"c":"z"}],"list":{"m":"N","k":2},"key":"k"},"q":{"a":{"b":"x"}}},"id":"1"}
            """#)))
        let consumer = DataEncryption.transformFields(value, consumer: true, plugins: lookup) { $0.uppercased() }
        #expect(consumer["plugins"]?["p"]?["key"] == "K")
        #expect(consumer["plugins"]?["p"]?["list"]?["m"] == "n")
        var failures: [String] = []
        let kept = DataEncryption.transformFields(value, consumer: true, plugins: lookup, { _ in nil }) { failures.append("\($0).\($1)") }
        #expect(kept == value)
        #expect(failures == ["p.key"])
    }

    @Test func configuration() throws {
        let defaults = try load("apisix:\n  node_listen: 9080\n")
        #expect(defaults.dataEncryption.fieldCipher == FieldCipher(keyring: FieldCipher.defaultKeyring))
        let off = try load("apisix:\n  data_encryption:\n    enable_encrypt_fields: false\n")
        #expect(off.dataEncryption.fieldCipher == nil)
        let single = try load("apisix:\n  data_encryption:\n    keyring: edd1c9f0985e76a2\n")
        #expect(single.dataEncryption.cipher?.keyring == [Array("edd1c9f0985e76a2".utf8)])
        let empty = try load("apisix:\n  data_encryption:\n    keyring: []\n")
        #expect(empty.dataEncryption.fieldCipher == nil)
        let error = try #require(try loadError("apisix:\n  data_encryption:\n    keyring: [abc]\n"))
        #expect(error.contains("apisix.data_encryption.keyring"), "\(error)")
        #expect(error.contains("16 bytes"), "\(error)")
    }
}
