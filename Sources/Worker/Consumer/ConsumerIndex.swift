// The consumers as the auth plugins find them (consumer.lua `plugin_consumer`,
// `create_consume_cache`, `find_consumer`): built once per snapshot, one table per auth plugin
// from the value of its `PluginSpec.consumerKey` (key-auth `key`) to the consumer, with the
// plugins its group and itself add to a route (plugin.lua `merge_consumer_route`) resolved once.

package import Shared

/// One consumer as a request gets it attached: by its own auth conf, or by one credential.
package final class ConsumerEntry {
    package let username: String
    package let usernameBytes: [UInt8]
    /// The credential that matched (`X-Credential-Identifier`); nil for the consumer's own conf.
    package let credentialId: [UInt8]?
    /// `labels.custom_id` (`X-Consumer-Custom-ID`).
    package let customId: [UInt8]?
    /// `group_id` when it names no consumer group: a request of this consumer gets 503.
    package let missingGroup: String?
    /// What the consumer lays over a route: its group's plugins, then its own (same name
    /// replaces), auth plugins left out (they ran already).
    package let plugins: [String: JSONValue]
    /// Distinct per entry of one index: the key of a route's merged chains.
    package let serial: Int

    init(consumer: Consumer, credentialId: String?, group: PluginSet?, isAuth: (String) -> Bool, serial: Int) {
        username = consumer.username
        usernameBytes = Array(consumer.username.utf8)
        self.credentialId = credentialId.map { Array($0.utf8) }
        customId = consumer.customId.map { Array($0.utf8) }
        missingGroup = consumer.groupId.flatMap { group == nil ? $0 : nil }
        var plugins: [String: JSONValue] = [:]
        for (name, conf) in group?.plugins ?? [:] where !isAuth(name) { plugins[name] = conf }
        for (name, conf) in consumer.plugins where !isAuth(name) { plugins[name] = conf }
        self.plugins = plugins
        self.serial = serial
    }
}

/// What an auth plugin's key finds: the consumer, and the secret the request must match too.
package struct ConsumerMatch {
    package let entry: ConsumerEntry
    /// The conf's `PluginSpec.consumerSecret` (basic-auth `password`); nil when it has none.
    package let secret: [UInt8]?
}

/// The consumers of one snapshot, by auth plugin and key, and by username.
package final class ConsumerIndex {
    private let tables: [String: BytesTable<ConsumerMatch>]
    private let byUsername: [String: ConsumerEntry]

    package static var empty: ConsumerIndex { ConsumerIndex(snapshot: ConfigSnapshot(), types: [:]) }

    /// Consumers first, then credentials, each in key order; a key found twice matches the last
    /// one loaded (APISIX's runtime rule; the Admin API refuses such duplicates). A credential
    /// whose consumer is missing matches no one. Auth confs disabled with `_meta.disable`, or
    /// whose key is not a string, are left out.
    package init(snapshot: ConfigSnapshot, types: [String: any Plugin.Type]) {
        var pairs: [String: [([UInt8], ConsumerMatch)]] = [:]
        var byUsername: [String: ConsumerEntry] = [:]
        var serial = 0
        // A spec is built on each read (its schemas): read each type's once.
        var keyFields: [String: String] = [:]
        var secretFields: [String: String] = [:]
        var authNames: Set<String> = []
        for (name, type) in types {
            let spec = type.spec
            guard spec.isAuth else { continue }
            authNames.insert(name)
            if let field = spec.consumerKey { keyFields[name] = field }
            if let field = spec.consumerSecret { secretFields[name] = field }
        }
        func isAuth(_ name: String) -> Bool { authNames.contains(name) }
        func add(_ consumer: Consumer, credential: String?, plugins: [String: JSONValue]) -> ConsumerEntry {
            serial += 1
            let entry = ConsumerEntry(consumer: consumer, credentialId: credential,
                                      group: consumer.groupId.flatMap { snapshot.consumerGroups[$0] },
                                      isAuth: isAuth, serial: serial)
            for (name, conf) in plugins {
                guard let field = keyFields[name], conf["_meta"]?["disable"] != .bool(true),
                      let key = conf[field]?.stringValue else { continue }
                let secret = secretFields[name].map { Array((conf[$0]?.stringValue ?? "").utf8) }
                pairs[name, default: []].append((Array(key.utf8), ConsumerMatch(entry: entry, secret: secret)))
            }
            return entry
        }
        for username in snapshot.consumers.keys.sorted() {
            let consumer = snapshot.consumers[username]!
            byUsername[username] = add(consumer, credential: nil, plugins: consumer.plugins)
        }
        for credential in snapshot.credentials {
            guard let consumer = snapshot.consumers[credential.username] else { continue }
            _ = add(consumer, credential: credential.id, plugins: credential.plugins)
        }
        tables = pairs.mapValues { BytesTable($0) }
        self.byUsername = byUsername
    }

    /// The consumer whose `plugin` conf has the key `key` (exact bytes), with its secret.
    package func find(plugin: String, key: UnsafeRawBufferPointer) -> ConsumerMatch? {
        tables[plugin]?.find(key)
    }

    /// The consumer named `username` (an `anonymous_consumer`).
    package func consumer(named username: String) -> ConsumerEntry? { byUsername[username] }
}
