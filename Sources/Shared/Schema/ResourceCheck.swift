// The complete acceptance test of a route or upstream, shared by the Admin API, the yaml provider
// and (later) the etcd watch: APISIX's order (admin/routes.lua `check_conf`, upstream.lua
// `check_upstream_conf`, plugin.lua `check_single_plugin_schema`), then Sluice's refusals of
// features it does not serve yet, then the conversion into the model.

/// Whether the store holds `id` of `resource` (`upstreams`, `services`, `plugin_configs`), for
/// the reference checks; the yaml provider passes nil (a dangling reference is served as APISIX
/// serves it). Called synchronously.
package typealias ReferenceLookup = (_ resource: String, _ id: String) -> Bool

/// Route and upstream validation with APISIX's messages (see `CheckError` for the prefixes).
package enum ResourceCheck {
    /// Validates an APISIX route object and converts it.
    ///
    /// Order: `only one of host or hosts is allowed`, `only one of remote_addr or remote_addrs
    /// is allowed`; the route schema (`.schema`); the inline upstream's extra checks; the
    /// references: `failed to fetch upstream info by upstream id [X], response code: 404`, then
    /// the same for `service info by service id` and `plugin config info by plugin config id`
    /// (all skipped when `exists` is nil); the plugins; `vars` (`Expr.routeVars`); `filter_func`,
    /// `script`, `script_id is not supported`; the inline upstream's unsupported features.
    ///
    /// - Parameters:
    ///   - id: the route's id (URL id, or `arr_N`); nil takes the object's `id`, else "".
    ///   - plugins: the schema of each known plugin.
    ///   - exists: what the store holds; nil skips the reference checks.
    package static func route(_ json: JSONValue, id: String? = nil, plugins: PluginSchemaLookup,
                              exists: ReferenceLookup?) -> Result<Route, CheckError> {
        Result { () throws(CheckError) -> Route in
            try checkRoute(json, id: id, plugins: plugins, exists: exists)
        }
    }

    /// Validates an APISIX upstream object (`/apisix/upstreams/<id>`) and converts it.
    ///
    /// Order: the upstream schema (`.schema`); node addresses (`invalid port N`, `invalid
    /// configuration: IPv6 address must be enclosed with '[' and ']'`); `` `upstream_host`
    /// can't be empty when `pass_host` is `rewrite` ``; chash `missing key` / key patterns;
    /// then `checks`, `discovery_type`, `tls is not supported`, `type chash is not supported`
    /// (also ewma, least_conn), `scheme grpc is not supported` (anything but http/https).
    ///
    /// - Parameter id: the store id; nil takes the object's `id`.
    package static func upstream(_ json: JSONValue, id: String? = nil) -> Result<Upstream, CheckError> {
        Result { () throws(CheckError) -> Upstream in
            if let message = CoreSchemas.upstream.firstError(json) { throw CheckError(.schema, message) }
            let upstream = try upstreamChecks(json, id: id ?? json["id"].flatMap(Route.idString))
            try refuseUnsupported(json)
            return upstream
        }
    }

    /// Checks a route's `plugins` object: each configuration must be an object (`invalid plugin
    /// conf "x" for plugin [name]`), name a known plugin (`unknown plugin [name]`) and satisfy
    /// its schema plus `_meta` (`failed to check the configuration of plugin <name> err:
    /// <detail>`), unless `_meta.disable` is true. Plugins are checked in name order.
    package static func checkPlugins(_ plugins: [String: JSONValue], lookup: PluginSchemaLookup,
                                     consumer: Bool = false) -> CheckError? {
        for name in plugins.keys.sorted() {
            let conf = plugins[name]!
            guard case .object(let members) = conf else {
                return CheckError(.check, "invalid plugin conf \(conf.jsonText) for plugin [\(name)]")
            }
            guard let schema = lookup(name)?.schema(consumer: consumer) else {
                return CheckError(.check, "unknown plugin [\(name)]")
            }
            let disabled = members["_meta"]?["disable"] == .bool(true)
            var message = schema.firstError(conf)
            if message == nil, let meta = members["_meta"], let metaError = CoreSchemas.pluginMeta.firstError(meta) {
                message = "property \"_meta\" validation failed: \(metaError)"
            }
            // A disabled plugin may carry a configuration its schema refuses (APISIX logs it).
            if let message, !disabled {
                return CheckError(.check, "failed to check the configuration of plugin \(name) err: \(message)")
            }
            if members["_meta"]?["pre_function"] != nil {
                return CheckError(.check, "failed to check the configuration of plugin \(name) err: _meta.pre_function is not supported")
            }
            if let filter = members["_meta"]?["filter"] {
                do throws(ExprError) { _ = try Expr(filter) } catch {
                    return CheckError(.check, "failed to validate the 'vars' expression: \(error.message)")
                }
            }
        }
        return nil
    }

    // MARK: - steps

    private static func checkRoute(_ json: JSONValue, id: String?, plugins: PluginSchemaLookup,
                                   exists: ReferenceLookup?) throws(CheckError) -> Route {
        if json["host"] != nil, json["hosts"] != nil { throw CheckError(.check, "only one of host or hosts is allowed") }
        if json["remote_addr"] != nil, json["remote_addrs"] != nil {
            throw CheckError(.check, "only one of remote_addr or remote_addrs is allowed")
        }
        if let message = CoreSchemas.route.firstError(json) { throw CheckError(.schema, message) }
        if let inline = json["upstream"] { _ = try upstreamChecks(inline, id: nil) }
        try checkReferences(json, exists: exists, [
            ("upstream_id", "upstreams", "upstream info by upstream id"),
            ("service_id", "services", "service info by service id"),
            ("plugin_config_id", "plugin_configs", "plugin config info by plugin config id"),
        ])
        if let list = json["plugins"]?.objectValue, let error = checkPlugins(list, lookup: plugins) { throw error }
        if let vars = json["vars"] {
            do throws(ExprError) { _ = try Expr.routeVars(vars) } catch {
                throw CheckError(.check, "failed to validate the 'vars' expression: \(error.message)")
            }
        }
        for field in ["filter_func", "script", "script_id"] where json[field] != nil {
            throw CheckError(.check, "\(field) is not supported")
        }
        if let inline = json["upstream"] { try refuseUnsupported(inline) }
        let routeId = id ?? json["id"].flatMap(Route.idString) ?? ""
        return try Route(apisix: json, id: routeId)
    }

    /// `failed to fetch <what> [<id>], response code: 404` for the first `field` whose id the
    /// store lacks.
    static func checkReferences(_ json: JSONValue, exists: ReferenceLookup?,
                                _ references: [(field: String, resource: String, what: String)]) throws(CheckError) {
        guard let exists else { return }
        for reference in references {
            if let id = json[reference.field].flatMap(Route.idString), !exists(reference.resource, id) {
                throw CheckError(.check, "failed to fetch \(reference.what) [\(id)], response code: 404")
            }
        }
    }

    /// `check_upstream_conf` after the schema: node addresses, pass_host, chash key.
    static func upstreamChecks(_ json: JSONValue, id: String?) throws(CheckError) -> Upstream {
        let upstream = try Upstream(apisix: json, id: id)
        if upstream.passHost == .rewrite, (upstream.upstreamHost ?? "").isEmpty {
            throw CheckError(.check, "`upstream_host` can't be empty when `pass_host` is `rewrite`")
        }
        if upstream.type == "chash" {
            let hashOn = json["hash_on"]?.stringValue ?? "vars"
            if hashOn != "consumer" {
                guard let key = json["key"] else { throw CheckError(.check, "missing key") }
                let keySchema: Schema? = switch hashOn {
                case "vars": CoreSchemas.hashVarsKey
                case "header", "cookie": CoreSchemas.hashHeaderKey
                default: nil
                }
                if let message = keySchema?.firstError(key) { throw CheckError(.check, "invalid configuration: " + message) }
            }
        }
        return upstream
    }

    static func refuseUnsupported(_ json: JSONValue) throws(CheckError) {
        for field in ["checks", "discovery_type", "service_name", "tls"] where json[field] != nil {
            throw CheckError(.check, "\(field) is not supported")
        }
        if let type = json["type"]?.stringValue, ["chash", "ewma", "least_conn"].contains(type) {
            throw CheckError(.check, "type \(type) is not supported")
        }
        if let scheme = json["scheme"]?.stringValue, scheme != "http", scheme != "https" {
            throw CheckError(.check, "scheme \(scheme) is not supported")
        }
    }
}
