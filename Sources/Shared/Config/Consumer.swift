// APISIX's consumers and their credentials (`/apisix/consumers/<username>`,
// `/apisix/consumers/<username>/credentials/<id>`; schema_def.lua `_M.consumer`, `_M.credential`)
// as the snapshot carries them. Consumer groups are plugin sets (`PluginSet`). What the auth
// plugins do with them is the Worker's `ConsumerIndex`.

/// A validated consumer.
package struct Consumer: Sendable, Equatable {
    package var username: String
    package var groupId: String?
    /// name -> configuration, as stored (consumer schemas).
    package var plugins: [String: JSONValue]
    /// `labels.custom_id`, sent upstream as `X-Consumer-Custom-ID`.
    package var customId: String?
    /// The APISIX object, as stored.
    package var json: JSONValue

    /// Builds the model from an object that passed `CoreSchemas.consumer`.
    package init(apisix source: JSONValue) throws(CheckError) {
        guard let username = source["username"]?.stringValue else {
            throw CheckError(.check, "invalid consumer: no username")
        }
        self.username = username
        groupId = source["group_id"].flatMap(Route.idString)
        plugins = source["plugins"]?.objectValue ?? [:]
        customId = source["labels"]?["custom_id"]?.stringValue
        json = source
    }

    /// `jack/credentials/a` → ("jack", "a"): how a credential is keyed beside its consumer (in
    /// etcd, the store and apisix.yaml); nil for a consumer's own id.
    package static func credentialKey(_ id: String) -> (username: String, credential: String)? {
        guard let range = id.range(of: "/credentials/") else { return nil }
        let username = String(id[..<range.lowerBound])
        let credential = String(id[range.upperBound...])
        guard !username.isEmpty, !credential.isEmpty, !username.contains("/"), !credential.contains("/") else { return nil }
        return (username, credential)
    }
}

/// A validated credential: one auth plugin conf that stands for its consumer.
package struct Credential: Sendable, Equatable {
    /// The credential's own id (`X-Credential-Identifier`).
    package var id: String
    /// Its consumer's.
    package var username: String
    /// At most one auth plugin.
    package var plugins: [String: JSONValue]
    /// The APISIX object, as stored (its `id` is the credential's own).
    package var json: JSONValue

    /// The store's and etcd's id of it: `<username>/credentials/<id>`.
    package var key: String { "\(username)/credentials/\(id)" }

    /// Builds the model from an object that passed `CoreSchemas.credential`, stored as `key`
    /// (`<username>/credentials/<id>`).
    package init(apisix source: JSONValue, key: String) throws(CheckError) {
        guard let (username, id) = Consumer.credentialKey(key) else {
            throw CheckError(.check, "invalid credential id \(key)")
        }
        self.id = id
        self.username = username
        plugins = source["plugins"]?.objectValue ?? [:]
        json = source
    }
}
