// What makes one Admin API resource different from another (APISIX's admin/routes.lua,
// admin/upstreams.lua): a name, a schema, a checker and an optional delete checker. Everything
// else is the generic `Resource`. A new resource is one more descriptor here, with no special
// case elsewhere.

import Shared

/// What the checks of a resource may consult.
struct CheckEnvironment {
    /// Plugin schemas (see `PluginCatalog`).
    var plugins: PluginSchemaLookup
    /// The store as it is before the write.
    var store: any AdminStore
}

/// The per-resource hooks of the generic Admin API resource.
struct ResourceDescriptor: Sendable {
    /// URL segment and store section: `routes`.
    var name: String
    /// The singular of messages: `missing route id`.
    var kind: String
    /// The JSON schema alone, for `POST /apisix/admin/schema/validate/<name>`.
    var schema: Schema
    /// The complete check of a value about to be stored under `id`; nil accepts it.
    var check: @Sendable (_ value: JSONValue, _ id: String, _ environment: CheckEnvironment) -> CheckError?
    /// Refuses deleting `id` while something uses it (`?force=true` skips it); nil allows.
    var deleteCheck: (@Sendable (_ id: String, _ store: any AdminStore) -> String?)?
    /// Top-level members whose own `create_time`/`update_time` members are forbidden too.
    var nestedForbidden: [String]
    /// List filters this resource understands besides `name` and `label`: query key → matcher of
    /// a stored value against the (regex) argument.
    var listFilters: [String: @Sendable (_ value: JSONValue, _ argument: String) -> Bool] = [:]

    /// `/apisix/routes`: inline upstreams, plugins, upstream references.
    static let routes = ResourceDescriptor(
        name: "routes", kind: "route", schema: CoreSchemas.route,
        check: { value, id, environment in
            let result = ResourceCheck.route(value, id: id, plugins: environment.plugins, upstreamExists: { upstreamId in
                environment.store.item("upstreams", upstreamId) != nil
            })
            if case .failure(let error) = result { return error }
            return nil
        },
        deleteCheck: nil,
        nestedForbidden: ["upstream", "plugins"],
        listFilters: [
            "uri": { value, pattern in
                var uris = value["uris"]?.arrayValue?.compactMap(\.stringValue) ?? []
                if let uri = value["uri"]?.stringValue { uris.append(uri) }
                return uris.contains { ListFilter.matches($0, pattern) }
            },
        ]
    )

    /// `/apisix/upstreams`: refused deletion while a route refers to one.
    static let upstreams = ResourceDescriptor(
        name: "upstreams", kind: "upstream", schema: CoreSchemas.upstream,
        check: { value, id, _ in
            if case .failure(let error) = ResourceCheck.upstream(value, id: id) { return error }
            return nil
        },
        deleteCheck: { id, store in
            let users = store.items("routes")
                .filter { $0.value.value["upstream_id"].flatMap(Route.idString) == id }
                .keys.sorted()
            guard let user = users.first else { return nil }
            return "can not delete this upstream, route [\(user)] is still using it now"
        },
        nestedForbidden: ["plugins"]
    )

    /// The resources Sluice serves, by URL segment.
    static let served: [String: ResourceDescriptor] = [routes.name: routes, upstreams.name: upstreams]

    /// APISIX resources Sluice does not have yet: 400 `<name> is not supported` (the differences
    /// table of apisix-compat.md) rather than APISIX's `Unsupported resource type`.
    static let notYetSupported: Set<String> = [
        "services", "consumers", "credentials", "ssls", "global_rules", "plugin_configs", "plugin_metadata",
        "stream_routes", "protos", "secrets", "consumer_groups", "graphql_cost_decorations", "schema", "plugins",
    ]
}

/// The `name`/`label`/`uri` filters of a list (APISIX's v3_adapter.lua).
enum ListFilter {
    /// `pattern` as a regular expression searched in `text`; an invalid pattern is searched for
    /// as plain text.
    static func matches(_ text: String, _ pattern: String) -> Bool {
        if let regex = try? Regex(pattern) { return text.contains(regex) }
        return text.contains(pattern)
    }
}
