// The schemas of the resources routes refer to (apisix/schema_def.lua `_M.service`,
// `_M.plugin_config`, `_M.global_rule`), with `additionalProperties: false` as APISIX's.

extension CoreSchemas {
    /// `_M.service`: nothing required (`{}` is a service).
    package static let service = Schema(
        type: .object,
        properties: [
            "id": id,
            "name": name,
            "desc": desc,
            "labels": labels,
            "create_time": timestamp,
            "update_time": timestamp,
            "plugins": Schema(type: .object),
            "upstream": upstream,
            "upstream_id": id,
            "script": Schema(type: .string, minLength: 10, maxLength: 102_400),
            "enable_websocket": Schema(type: .boolean),
            "hosts": Schema(type: .array, items: host, minItems: 1, uniqueItems: true),
        ],
        additionalProperties: .forbidden
    )

    /// `_M.plugin_config`: `id` and `plugins` required; `name` any string.
    package static let pluginConfig = Schema(
        type: .object,
        properties: [
            "id": id,
            "name": Schema(type: .string),
            "desc": desc,
            "labels": labels,
            "create_time": timestamp,
            "update_time": timestamp,
            "plugins": Schema(type: .object),
        ],
        required: ["id", "plugins"],
        additionalProperties: .forbidden
    )

    /// `_M.global_rule`: `id` and `plugins`, nothing else.
    package static let globalRule = Schema(
        type: .object,
        properties: [
            "id": id,
            "create_time": timestamp,
            "update_time": timestamp,
            "plugins": Schema(type: .object),
        ],
        required: ["id", "plugins"],
        additionalProperties: .forbidden
    )
}

extension CoreSchemas {
    /// `_M.consumer`: `username` required and the consumer's id; no `name`.
    package static let consumer = Schema(
        type: .object,
        properties: [
            "id": id,
            "username": Schema(type: .string, minLength: 1, maxLength: 256, pattern: #"^[a-zA-Z0-9_\-]+$"#),
            "desc": desc,
            "labels": labels,
            "create_time": timestamp,
            "update_time": timestamp,
            "group_id": id,
            "plugins": Schema(type: .object),
        ],
        required: ["username"],
        additionalProperties: .forbidden
    )

    /// `_M.credential`: at most one plugin; the id may be the full `<user>/credentials/<id>`.
    package static let credential = Schema(
        type: .object,
        properties: [
            "id": Schema(oneOf: [id, Schema(type: .string, minLength: 15, maxLength: 128,
                                            pattern: #"^[a-zA-Z0-9-_]+/credentials/[a-zA-Z0-9-_.]+$"#)]),
            "name": name,
            "desc": desc,
            "labels": labels,
            "create_time": timestamp,
            "update_time": timestamp,
            "plugins": Schema(type: .object, maxProperties: 1),
        ],
        additionalProperties: .forbidden
    )

    /// `_M.consumer_group`: `id` and `plugins` required.
    package static let consumerGroup = Schema(
        type: .object,
        properties: [
            "id": id,
            "name": name,
            "desc": desc,
            "labels": labels,
            "create_time": timestamp,
            "update_time": timestamp,
            "plugins": Schema(type: .object),
        ],
        required: ["id", "plugins"],
        additionalProperties: .forbidden
    )
}
