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
