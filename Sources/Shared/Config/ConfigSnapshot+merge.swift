// What a route becomes once its plugin config and service are applied (APISIX's
// plugin_config.lua `merge`, plugin.lua `merge_service_route`, init.lua `http_access_phase`), and
// the one plugin set of all global rules (plugin.lua `merge_global_rules`). Workers compute both
// once per snapshot; a request only reads the result.

extension ConfigSnapshot {
    /// `route` as it serves: plugin config plugins added where the route lacks the name, then the
    /// service under it (route plugins replace the service's of the same name; a route `upstream`
    /// or `upstream_id` replaces the service's; the route's hosts, else the service's, for
    /// matching; `enable_websocket` the route's when set). A missing plugin config or service
    /// sets `unavailable` (checked in that order, as APISIX does).
    package func merged(_ route: Route) -> Route {
        var merged = route
        if let id = route.pluginConfigId {
            guard let config = pluginConfigs[id] else {
                merged.unavailable = .missingPluginConfig(id)
                return merged
            }
            for (name, conf) in config.plugins where merged.plugins[name] == nil { merged.plugins[name] = conf }
        }
        guard let id = route.serviceId else { return merged }
        guard let service = services[id] else {
            merged.unavailable = .missingService(id)
            return merged
        }
        var plugins = service.plugins
        for (name, conf) in merged.plugins { plugins[name] = conf }
        merged.plugins = plugins
        if route.upstream == nil, route.upstreamId == nil {
            merged.upstream = service.upstream
            merged.upstreamId = service.upstreamId
        }
        if route.hosts.isEmpty { merged.hosts = service.hosts }
        if !route.setsWebsocket, let websocket = service.enableWebsocket { merged.enableWebsocket = websocket }
        return merged
    }

    /// Every global rule's plugins as one set. A plugin name found in two rules runs in neither
    /// (each such name is reported once, in `dropped`).
    package func globalPlugins() -> (plugins: [String: JSONValue], dropped: [String]) {
        var plugins: [String: JSONValue] = [:]
        var seen: Set<String> = []
        var dropped: [String] = []
        for rule in globalRules {
            for name in rule.plugins.keys.sorted() {
                if seen.insert(name).inserted {
                    plugins[name] = rule.plugins[name]
                } else if plugins.removeValue(forKey: name) != nil {
                    dropped.append(name)
                }
            }
        }
        return (plugins, dropped)
    }
}
