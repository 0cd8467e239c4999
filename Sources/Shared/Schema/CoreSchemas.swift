// The route and upstream schemas of APISIX 3.18 (apisix/schema_def.lua: `id_schema`, `host_def`,
// `ip_def`, `timeout_def`, `nodes_schema`, `upstream_schema`, `_M.route`), rebuilt as `Schema`
// values. Fields Sluice does not serve yet are still declared, so that they pass the schema and
// `ResourceCheck` can then refuse them by name (`service_id is not supported`).

#if canImport(Glibc)
import Glibc
#endif

/// APISIX's core resource schemas. Built once (static lets); validating with them yields
/// APISIX's messages without the `invalid configuration: ` prefix.
package enum CoreSchemas {
    /// A resource id: a string of 1..64 `[a-zA-Z0-9-_.]`, or an integer >= 1.
    package static let id = Schema(anyOf: [
        Schema(type: .string, minLength: 1, maxLength: 64, pattern: "^[a-zA-Z0-9-_.]+$"),
        Schema(type: .integer, minimum: 1),
    ])

    /// The pattern of a route host or upstream host: an optional leading `*`, then name, IPv4
    /// or bracketed IPv6 characters; or `*` alone (any host).
    package static let hostPattern = #"^\*$|^\*?[0-9a-zA-Z-._\[\]:]+$"#

    /// `host_def`.
    package static let host = Schema(type: .string, pattern: hostPattern)

    /// `remote_addr_def`: IPv4, IPv4/CIDR, IPv6 or IPv6/CIDR.
    package static let remoteAddr = Schema(type: .string, anyOf: [
        Schema(type: .string, format: .ipv4),
        Schema(type: .string, custom: { cidrError($0, family: AF_INET, maxPrefix: 32) }),
        Schema(type: .string, format: .ipv6),
        Schema(type: .string, custom: { cidrError($0, family: AF_INET6, maxPrefix: 128) }),
    ])

    /// `labels_def`: string values without whitespace, 1..256 characters.
    package static let labels = Schema(type: .object, patternProperties: [
        ".*": Schema(type: .string, minLength: 1, maxLength: 256, pattern: #"^\S+$"#),
    ])

    /// `name`: 1..256 characters.
    package static let name = Schema(type: .string, minLength: 1, maxLength: 256)
    /// `desc`: at most 256 characters.
    package static let desc = Schema(type: .string, maxLength: 256)
    /// `create_time` / `update_time`.
    package static let timestamp = Schema(type: .integer)

    /// `timeout_def`: `{connect, send, read}` all required, seconds > 0.
    package static let timeout = Schema(
        type: .object,
        properties: [
            "connect": Schema(type: .number, exclusiveMinimum: 0),
            "send": Schema(type: .number, exclusiveMinimum: 0),
            "read": Schema(type: .number, exclusiveMinimum: 0),
        ],
        required: ["connect", "send", "read"]
    )

    /// `nodes`: `{"host[:port]": weight}` or `[{host, port, weight, priority, metadata}]`.
    package static let nodes = Schema(anyOf: [
        Schema(type: .object, patternProperties: [".*": Schema(type: .integer, minimum: 0)]),
        Schema(type: .array, items: Schema(
            type: .object,
            properties: [
                "host": host,
                "port": Schema(type: .integer, minimum: 1, maximum: 65535),
                "weight": Schema(type: .integer, minimum: 0),
                "priority": Schema(type: .integer, defaultValue: 0),
                "metadata": Schema(type: .object),
            ],
            required: ["host", "weight"]
        )),
    ])

    /// `checks` (health checks): declared so it validates as an object of `active`/`passive`;
    /// `ResourceCheck` then refuses it as not supported.
    package static let healthChecks = Schema(
        type: .object,
        properties: ["active": Schema(type: .object), "passive": Schema(type: .object)],
        additionalProperties: .forbidden,
        anyOf: [Schema(required: ["active"]), Schema(required: ["active", "passive"])]
    )

    /// `upstream_hash_vars_schema`: the `key` of a `chash` upstream hashing on `vars`.
    package static let hashVarsKey = Schema(type: .string, pattern:
        "^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$")
    /// `upstream_hash_header_schema`: the `key` of a `chash` upstream hashing on a header/cookie.
    package static let hashHeaderKey = Schema(type: .string, pattern: "^[a-zA-Z0-9-_]+$")

    /// `upstream_schema`.
    package static let upstream = Schema(
        type: .object,
        properties: [
            "create_time": timestamp,
            "update_time": timestamp,
            "nodes": nodes,
            "retries": Schema(type: .integer, minimum: 0),
            "retry_timeout": Schema(type: .number, minimum: 0),
            "timeout": timeout,
            "tls": Schema(type: .object, properties: [
                "client_cert": Schema(type: .string, minLength: 128, maxLength: 64 * 1024),
                "client_key": Schema(type: .string, minLength: 128, maxLength: 64 * 1024),
                "client_cert_id": id,
                "verify": Schema(type: .boolean, defaultValue: .bool(false)),
            ]),
            "keepalive_pool": Schema(type: .object, properties: [
                "size": Schema(type: .integer, minimum: 1, defaultValue: 320),
                "idle_timeout": Schema(type: .number, minimum: 0, defaultValue: 60),
                "requests": Schema(type: .integer, minimum: 1, defaultValue: 1000),
            ]),
            // Not enumerated: APISIX accepts any string and fails at request time (500).
            "type": Schema(type: .string, defaultValue: "roundrobin"),
            "checks": healthChecks,
            "hash_on": Schema(type: .string, enumValues: ["vars", "header", "cookie", "consumer", "vars_combinations"],
                              defaultValue: "vars"),
            "key": Schema(type: .string),
            "scheme": Schema(enumValues: ["grpc", "grpcs", "http", "https", "tcp", "tls", "udp", "kafka"],
                             defaultValue: "http"),
            "labels": labels,
            "discovery_type": Schema(type: .string),
            "discovery_args": Schema(type: .object),
            "pass_host": Schema(type: .string, enumValues: ["pass", "node", "rewrite"], defaultValue: "pass"),
            "upstream_host": host,
            "name": name,
            "desc": desc,
            "service_name": Schema(type: .string, minLength: 1, maxLength: 256),
            "id": id,
        ],
        additionalProperties: .forbidden,
        oneOf: [Schema(required: ["nodes"]), Schema(required: ["service_name", "discovery_type"])]
    )

    /// The HTTP methods a route may list.
    package static let methods: [String] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT",
                                            "TRACE", "PURGE"]

    /// `_M.route`.
    package static let route = Schema(
        type: .object,
        properties: [
            "create_time": timestamp,
            "update_time": timestamp,
            "uri": Schema(type: .string, minLength: 1, maxLength: 4096),
            "uris": Schema(type: .array, items: Schema(type: .string), minItems: 1, uniqueItems: true),
            "name": name,
            "desc": desc,
            "priority": Schema(type: .integer, defaultValue: 0),
            "methods": Schema(type: .array, items: Schema(type: .string, enumValues: methods.map { .string($0) }),
                              uniqueItems: true),
            "host": host,
            "hosts": Schema(type: .array, items: host, minItems: 1, uniqueItems: true),
            "remote_addr": remoteAddr,
            "remote_addrs": Schema(type: .array, items: remoteAddr, minItems: 1, uniqueItems: true),
            "timeout": timeout,
            "vars": Schema(type: .array),
            "filter_func": Schema(type: .string, minLength: 10, pattern: "^function"),
            "script": Schema(type: .string, minLength: 10, maxLength: 102_400),
            "script_id": id,
            "plugins": Schema(type: .object),
            "plugin_config_id": id,
            "upstream": upstream,
            "labels": labels,
            "service_id": id,
            "upstream_id": id,
            "service_protocol": Schema(enumValues: ["grpc", "http"]),
            "enable_websocket": Schema(type: .boolean),
            "id": id,
            "status": Schema(type: .integer, enumValues: [1, 0], defaultValue: 1),
        ],
        additionalProperties: .forbidden,
        allOf: [
            Schema(oneOf: [Schema(required: ["uri"]), Schema(required: ["uris"])]),
            Schema(oneOf: [
                Schema(not: Schema(anyOf: [Schema(required: ["host"]), Schema(required: ["hosts"])])),
                Schema(required: ["host"]),
                Schema(required: ["hosts"]),
            ]),
            Schema(oneOf: [
                Schema(not: Schema(anyOf: [Schema(required: ["remote_addr"]), Schema(required: ["remote_addrs"])])),
                Schema(required: ["remote_addr"]),
                Schema(required: ["remote_addrs"]),
            ]),
        ],
        anyOf: [
            Schema(required: ["plugins", "uri"]),
            Schema(required: ["upstream", "uri"]),
            Schema(required: ["upstream_id", "uri"]),
            Schema(required: ["service_id", "uri"]),
            Schema(required: ["plugins", "uris"]),
            Schema(required: ["upstream", "uris"]),
            Schema(required: ["upstream_id", "uris"]),
            Schema(required: ["service_id", "uris"]),
            Schema(required: ["script", "uri"]),
            Schema(required: ["script", "uris"]),
        ],
        not: Schema(anyOf: [Schema(required: ["script", "plugins"]), Schema(required: ["script", "plugin_config_id"])])
    )

    /// `plugin_injected_schema`: the `_meta` member every plugin configuration may carry.
    package static let pluginMeta = Schema(type: .object, properties: [
        "disable": Schema(type: .boolean),
        "error_response": Schema(types: [.string, .object]),
        "priority": Schema(type: .integer),
        "filter": Schema(type: .array),
        "pre_function": Schema(type: .string),
    ])

    /// Refusal text for `address/prefix` outside `family` (any text; the anyOf reports it).
    private static func cidrError(_ value: JSONValue, family: Int32, maxPrefix: Int) -> String? {
        guard case .string(let text) = value else { return nil }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        var buffer = [UInt8](repeating: 0, count: 16)
        guard parts.count == 2, let prefix = Int(parts[1]), (0...maxPrefix).contains(prefix),
              parts[1].allSatisfy(\.isASCII), inet_pton(family, String(parts[0]), &buffer) == 1 else {
            return "invalid CIDR"
        }
        return nil
    }
}
