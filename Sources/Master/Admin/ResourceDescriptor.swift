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

    /// The reference checks' view of the store.
    var exists: ReferenceLookup { { [store] resource, id in store.item(resource, id) != nil } }
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
    /// Fields `?filter=<field>%3D<value>` may compare (v3_adapter.lua `list_filter_fields`).
    var filterFields: Set<String> = []
    /// Methods answered 405 ``not supported `POST` method for <kind>`` (`unsupported_methods`).
    var refusedMethods: Set<String> = []
    /// Its plugins are checked, filled and encrypted with their consumer schemas (consumers,
    /// credentials).
    var consumerPlugins = false
    /// The store section when not `name` (credentials live under `consumers`).
    var section: String?
    /// The body member that is the id, when it is not `id` (a consumer's `username`): the URL's
    /// must equal it, and the stored value gets no `id` (admin/resource.lua `no_id_res`).
    var nameField: String?
    /// The id is the URL's alone and replaces any body `id`, with no id messages; the check
    /// reports a missing one (plugin_metadata).
    var urlIdOnly = false
    /// `create_time`/`update_time` are set on writes (not on plugin_metadata).
    var timestamps = true

    /// The check of a resource the data plane serves: `ConfigItem.check`, the one the providers
    /// run, against the store's references.
    static func itemCheck(_ resource: String) -> @Sendable (JSONValue, String, CheckEnvironment) -> CheckError? {
        { value, id, environment in
            let result = ConfigItem.check(resource: resource, json: value, id: id, plugins: environment.plugins,
                                          exists: environment.exists)
            if case .failure(let error) = result { return error }
            return nil
        }
    }

    /// `/apisix/routes`: inline upstreams, plugins, upstream references.
    static let routes = ResourceDescriptor(
        name: "routes", kind: "route", schema: CoreSchemas.route,
        check: itemCheck("routes"),
        deleteCheck: nil,
        nestedForbidden: ["upstream", "plugins"],
        listFilters: [
            "uri": { value, pattern in
                var uris = value["uris"]?.arrayValue?.compactMap(\.stringValue) ?? []
                if let uri = value["uri"]?.stringValue { uris.append(uri) }
                return uris.contains { ListFilter.matches($0, pattern) }
            },
        ],
        filterFields: ["service_id", "upstream_id"]
    )

    /// `/apisix/upstreams`: refused deletion while a route refers to one.
    static let upstreams = ResourceDescriptor(
        name: "upstreams", kind: "upstream", schema: CoreSchemas.upstream,
        check: itemCheck("upstreams"),
        deleteCheck: { id, store in
            for resource in ["routes", "services"] {
                if let user = firstUser(of: id, in: resource, field: "upstream_id", store) {
                    return "can not delete this upstream, \(String(resource.dropLast())) [\(user)] is still using it now"
                }
            }
            return nil
        },
        nestedForbidden: ["plugins"]
    )

    /// The resources Sluice serves, by URL segment.
    static let served: [String: ResourceDescriptor] = Dictionary(
        uniqueKeysWithValues: [routes, upstreams, services, pluginConfigs, globalRules, consumerGroups, consumers,
                               pluginMetadata]
            .map { ($0.name, $0) })

    /// The lowest id (key order) of the objects of `resource` whose `field` refers to `id`
    /// (compared as strings, as APISIX's `tostring`).
    static func firstUser(of id: String, in resource: String, field: String, _ store: any AdminStore) -> String? {
        store.items(resource).filter { $0.value.value[field].map(Resource.luaString) == id }.keys.min()
    }

    /// APISIX resources Sluice does not have yet: 400 `<name> is not supported` (the differences
    /// table of apisix-compat.md) rather than APISIX's `Unsupported resource type`.
    static let notYetSupported: Set<String> = [
        "ssls",
        "stream_routes", "protos", "secrets", "graphql_cost_decorations", "schema", "plugins",
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
