// What the validators (Admin API, providers, `sluice -t`) know of one plugin: its schemas and the
// facts APISIX keeps beside them (`type = "auth"`, `encrypt_fields`, the consumer field that
// identifies a consumer). The Worker's plugin registry supplies them.

/// One plugin as the checks see it.
package struct PluginSpec: Sendable {
    /// `schema`: a conf under a route, service, plugin config, global rule or consumer group.
    package var schema: Schema
    /// `consumer_schema`: a conf under a consumer or credential; nil uses `schema`.
    package var consumerSchema: Schema?
    /// `type = "auth"`: finds consumers; the only kind a credential may hold.
    package var isAuth: Bool
    /// `schema.encrypt_fields` and `consumer_schema.encrypt_fields`: dotted paths of secrets.
    package var encryptFields: [String]
    package var consumerEncryptFields: [String]
    /// The consumer conf member that names one consumer (key-auth `key`, basic-auth `username`),
    /// unique across consumers and credentials; nil for none.
    package var consumerKey: String?
    /// The consumer conf member a request must also match (basic-auth `password`); nil for none.
    package var consumerSecret: String?
    /// `metadata_schema`: its `plugin_metadata` object; nil accepts any object.
    package var metadataSchema: Schema?

    package init(schema: Schema, consumerSchema: Schema? = nil, isAuth: Bool = false, encryptFields: [String] = [],
                 consumerEncryptFields: [String] = [], consumerKey: String? = nil, consumerSecret: String? = nil,
                 metadataSchema: Schema? = nil) {
        self.consumerSecret = consumerSecret
        self.metadataSchema = metadataSchema
        self.schema = schema
        self.consumerSchema = consumerSchema
        self.isAuth = isAuth
        self.encryptFields = encryptFields
        self.consumerEncryptFields = consumerEncryptFields
        self.consumerKey = consumerKey
    }

    /// The schema for a conf under a consumer or credential (`consumer`), else under anything else.
    package func schema(consumer: Bool) -> Schema { consumer ? consumerSchema ?? schema : schema }

    /// The encrypted fields for a conf under a consumer or credential (`consumer`), else elsewhere.
    package func encrypted(consumer: Bool) -> [String] {
        consumer && consumerSchema != nil ? consumerEncryptFields : encryptFields
    }
}

/// Finds a plugin by name; nil means the plugin is unknown (or not enabled). Called synchronously.
package typealias PluginSchemaLookup = (_ name: String) -> PluginSpec?
