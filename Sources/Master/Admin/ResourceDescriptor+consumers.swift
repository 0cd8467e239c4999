// The descriptors of consumers, their credentials and consumer groups (admin/consumers.lua,
// admin/credentials.lua, admin/consumer_group.lua), and the duplicate auth key check
// (consumer.lua `check_duplicate_key`). A credential is stored under `consumers` with the id
// `<username>/credentials/<id>` (its etcd key); `Resource.idPrefix` maps its URL id to that.

import Shared

extension ResourceDescriptor {
    /// `/apisix/consumers/<username>`: no POST or PATCH; the username is the id.
    static let consumers = ResourceDescriptor(
        name: "consumers", kind: "consumer", schema: CoreSchemas.consumer,
        check: { value, id, environment in
            if CoreSchemas.consumer.firstError(value) == nil, value["username"].map(Resource.luaString) != id {
                return CheckError(.check, "wrong username")
            }
            if case .failure(let error) = ResourceCheck.consumer(value, plugins: environment.plugins, exists: nil) {
                return error
            }
            if let message = duplicateKey(value, username: id, credential: nil, environment) {
                return CheckError(.check, message)
            }
            return itemCheck("consumers")(value, id, environment)
        },
        deleteCheck: nil,
        nestedForbidden: ["plugins"],
        refusedMethods: ["POST", "PATCH"],
        consumerPlugins: true,
        nameField: "username"
    )

    /// `/apisix/consumers/<username>/credentials/<id>`: no POST or PATCH; one auth plugin each.
    static let credentials = ResourceDescriptor(
        name: "credentials", kind: "credential", schema: CoreSchemas.credential,
        check: { value, key, environment in
            if let error = itemCheck("consumers")(value, key, environment) { return error }
            guard let (username, credential) = Consumer.credentialKey(key) else { return nil }
            return duplicateKey(value, username: username, credential: credential, environment).map { CheckError(.check, $0) }
        },
        deleteCheck: nil,
        nestedForbidden: ["plugins"],
        refusedMethods: ["POST", "PATCH"],
        consumerPlugins: true,
        section: "consumers"
    )

    /// `/apisix/consumer_groups/<id>`: no POST; refused deletion while a consumer is in it.
    static let consumerGroups = ResourceDescriptor(
        name: "consumer_groups", kind: "consumer group", schema: CoreSchemas.consumerGroup,
        check: itemCheck("consumer_groups"),
        deleteCheck: { id, store in
            firstUser(of: id, in: "consumers", field: "group_id", store)
                .map { "can not delete this consumer group, consumer [\($0)] is still using it now" }
        },
        nestedForbidden: ["plugins"],
        refusedMethods: ["POST"]
    )

    /// `duplicate key of plugin key-auth found with consumer: jack` (or `with credential: a of
    /// consumer: jack`) when an auth key of `value` (the member `PluginSpec.consumerKey` names)
    /// is another consumer's or credential's. A consumer does not conflict with itself or its
    /// own credentials, a credential only not with itself. Secret references (`$secret://`,
    /// `$env://`) are not compared: they are resolved only when used.
    static func duplicateKey(_ value: JSONValue, username: String, credential: String?,
                             _ environment: CheckEnvironment) -> String? {
        let plugins = value["plugins"]?.objectValue ?? [:]
        for name in plugins.keys.sorted() {
            guard let field = environment.plugins(name)?.consumerKey,
                  let key = plugins[name]?[field]?.stringValue,
                  !key.hasPrefix("$secret://"), !key.hasPrefix("$env://") else { continue }
            let stored = environment.store.items("consumers")
            for storeId in stored.keys.sorted() where stored[storeId]!.value["plugins"]?[name]?[field]?.stringValue == key {
                let owner = Consumer.credentialKey(storeId)
                let ownerName = owner?.username ?? storeId
                let isSelf = credential.map { owner?.username == username && owner?.credential == $0 } ?? (ownerName == username)
                if isSelf { continue }
                let described = owner.map { "credential: \($0.credential) of consumer: \($0.username)" } ?? "consumer: \(ownerName)"
                return "duplicate \(field) of plugin \(name) found with \(described)"
            }
        }
        return nil
    }
}

extension ResourceDescriptor {
    /// `/apisix/plugin_metadata/<plugin>` (admin/plugin_metadata.lua): PUT, GET and DELETE; the
    /// plugin's `metadata_schema`; the id is the plugin's name; no timestamps.
    static let pluginMetadata = ResourceDescriptor(
        name: "plugin_metadata", kind: "plugin_metadata", schema: Schema(type: .object),
        check: itemCheck("plugin_metadata"),
        deleteCheck: nil,
        nestedForbidden: [],
        refusedMethods: ["POST", "PATCH"],
        urlIdOnly: true,
        timestamps: false
    )
}
