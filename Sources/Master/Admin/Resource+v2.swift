// APISIX's v2 Admin API bodies (`deployment.admin.admin_api_version` other than `v3`): the etcd v2
// shapes core/etcd.lua builds and admin/init.lua's `strip_etcd_resp` trims, which v3_adapter.lua
// leaves as they are (no list filters or paging either). Errors are the same in both.

import Shared

/// The v2 envelopes of Resource's answers.
enum AdminV2 {
    /// GET one, PUT (`set`), POST (`create`), PATCH (`compareAndSwap`):
    /// `{"action":..., "node":{"key":..., "value":...}}` (the node's indexes stripped).
    static func node(action: String, key: String, value: JSONValue) -> JSONValue {
        .object(["action": .string(action), "node": .object(["key": .string(key), "value": value])])
    }

    /// A list: the directory node with every item, indexes kept, in key order.
    static func list(directory: String, nodes: [JSONValue]) -> AdminResponse {
        AdminResponse.json(200, .object([
            "action": "get",
            "node": .object(["key": .string(directory), "dir": true, "nodes": .array(nodes)]),
        ]))
    }

    /// DELETE: `{"action":"delete","node":{},"key":...,"deleted":"1"}`.
    static func deleted(key: String) -> JSONValue {
        .object(["action": "delete", "node": .object([:]), "key": .string(key), "deleted": "1"])
    }
}
