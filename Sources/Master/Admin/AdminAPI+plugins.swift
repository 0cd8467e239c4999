// The plugin and schema endpoints APISIX clients call (admin/init.lua's routes,
// admin/plugins.lua `get`, admin/schema.lua): a plugin's schema, every plugin with its priority
// and schema, the core resource schemas, and the plugin reload that answers `done`.

import Shared
import Worker

extension AdminAPI {
    /// The answer for `segments` (the path after `/apisix/admin/`) when it names one of these
    /// endpoints; nil otherwise. The key is already checked.
    func pluginEndpoint(_ segments: [String], _ request: AdminRequest) -> AdminResponse? {
        if segments == ["plugins", "reload"] {
            guard request.method == "PUT" else {
                return AdminResponse.error(405, "please use PUT method to reload the plugins, \(request.method) method is not allowed.")
            }
            // Plugins are compiled into the binary: there is nothing to load again; the answer
            // is APISIX's, for clients that call it after a change.
            return AdminResponse.text(200, "done")
        }
        guard request.method == "GET" else { return nil }
        switch segments.count {
        case 1 where segments[0] == "plugins":
            guard request.query["all"] == "true" else { return plugin(named: nil, request) }
            var all: [String: JSONValue] = [:]
            for type in PluginRegistry.all where pluginNames.contains(type.name) {
                var members: [String: JSONValue] = ["priority": .number(Double(type.priority)), "schema": type.schema.json,
                                                    "version": .number(0.1)]
                if let consumer = type.spec.consumerSchema { members["consumer_schema"] = consumer.json }
                if type.spec.isAuth { members["type"] = "auth" }
                all[type.name] = .object(members)
            }
            return AdminResponse.json(200, .object(all))
        case 2 where segments[0] == "plugins":
            return plugin(named: segments[1], request)
        case 3 where segments[0] == "schema" && segments[1] == "plugins":
            return plugin(named: segments[2], request)
        case 2 where segments[0] == "schema":
            let core: [String: Schema] = ["route": CoreSchemas.route, "upstream": CoreSchemas.upstream,
                                          "service": CoreSchemas.service, "plugin_config": CoreSchemas.pluginConfig,
                                          "global_rule": CoreSchemas.globalRule, "consumer": CoreSchemas.consumer,
                                          "credential": CoreSchemas.credential, "consumer_group": CoreSchemas.consumerGroup]
            guard let schema = core[segments[1]] else { return AdminResponse.error(400, "\(segments[1]) is not supported") }
            return AdminResponse.json(200, schema.json)
        default:
            return nil
        }
    }

    /// `admin/plugins.lua` `get`: the plugin's schema (`schema_type=consumer`: its consumer
    /// schema, `not found schema` for a plugin without one).
    private func plugin(named name: String?, _ request: AdminRequest) -> AdminResponse {
        let subsystem = request.query["subsystem"] ?? "http"
        guard subsystem == "http" || subsystem == "stream" else {
            return AdminResponse.error(400, "unsupported subsystem: \(subsystem)")
        }
        guard subsystem == "http", let name, pluginNames.contains(name), let type = PluginRegistry.type(named: name) else {
            return AdminResponse.error(404, "plugin not found in subsystem \(subsystem)")
        }
        if request.query["schema_type"] == "consumer" {
            guard let consumer = type.spec.consumerSchema else { return AdminResponse.error(400, "not found schema") }
            return AdminResponse.json(200, consumer.json)
        }
        return AdminResponse.json(200, type.schema.json)
    }
}
