// `apisix.data_encryption` (cli/schema.lua; resources.md section 9): which plugin fields are
// stored encrypted in etcd, and with which keys. Only the etcd provider uses it; the `local` store
// keeps plaintext in its mode 0600 file and `apisix.yaml` is read as written.

/// `apisix.data_encryption` with APISIX's defaults.
package struct DataEncryption: Sendable, Equatable {
    /// `enable_encrypt_fields`. Default: true.
    package var enableEncryptFields = true
    /// `keyring`; nil for an empty one. Default: APISIX's two keys.
    package var cipher: FieldCipher? = FieldCipher(keyring: FieldCipher.defaultKeyring)

    package init() {}

    /// The cipher the etcd provider applies to `encrypt_fields`: nil when field encryption is off.
    package var fieldCipher: FieldCipher? { enableEncryptFields ? cipher : nil }

    /// `value` (a stored object) with the `encrypt_fields` of each conf under its `plugins`
    /// changed by `transform` (under a consumer or credential, `consumer`: the consumer schema's
    /// fields). A path segment that holds an array is walked element by element; at the end of a
    /// path a string, each string of an array and each string value of an object is
    /// transformed; anything else is left alone. When `transform` gives nil the value is kept
    /// and `failed(plugin, field)` is called. Plugins the lookup does not know are untouched.
    package static func transformFields(_ value: JSONValue, consumer: Bool, plugins: PluginSchemaLookup,
                                        _ transform: (String) -> String?,
                                        failed: (_ plugin: String, _ field: String) -> Void = { _, _ in }) -> JSONValue {
        guard case .object(var members) = value, case .object(var confs)? = members["plugins"] else { return value }
        for name in confs.keys.sorted() {
            guard let fields = plugins(name)?.encrypted(consumer: consumer), !fields.isEmpty else { continue }
            var conf = confs[name]!
            for field in fields {
                conf = walk(conf, field.split(separator: ".").map(String.init)[...]) { text in
                    if let changed = transform(text) { return changed }
                    failed(name, field)
                    return text
                }
            }
            confs[name] = conf
        }
        members["plugins"] = .object(confs)
        return .object(members)
    }

    private static func walk(_ node: JSONValue, _ path: ArraySlice<String>, _ leaf: (String) -> String) -> JSONValue {
        if case .array(let items) = node { return .array(items.map { walk($0, path, leaf) }) }
        guard let first = path.first else {
            switch node {
            case .string(let text): return .string(leaf(text))
            case .object(let members):
                return .object(members.mapValues { if case .string(let text) = $0 { .string(leaf(text)) } else { $0 } })
            default: return node
            }
        }
        guard case .object(var members) = node, let child = members[first] else { return node }
        members[first] = walk(child, path.dropFirst(), leaf)
        return .object(members)
    }
}
