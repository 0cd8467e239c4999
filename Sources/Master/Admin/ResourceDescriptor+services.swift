// The descriptors of services, plugin configs and global rules (admin/services.lua,
// admin/plugin_config.lua, admin/global_rules.lua).

import Shared

extension ResourceDescriptor {
    /// `/apisix/services`: refused deletion while a route refers to one.
    static let services = ResourceDescriptor(
        name: "services", kind: "service", schema: CoreSchemas.service,
        check: itemCheck("services"),
        deleteCheck: { id, store in
            firstUser(of: id, in: "routes", field: "service_id", store)
                .map { "can not delete this service directly, route [\($0)] is still using it now" }
        },
        nestedForbidden: ["upstream", "plugins"]
    )

    /// `/apisix/plugin_configs`: no POST; refused deletion while a route refers to one.
    static let pluginConfigs = ResourceDescriptor(
        name: "plugin_configs", kind: "plugin config", schema: CoreSchemas.pluginConfig,
        check: itemCheck("plugin_configs"),
        deleteCheck: { id, store in
            firstUser(of: id, in: "routes", field: "plugin_config_id", store)
                .map { "can not delete this plugin config, route [\($0)] is still using it now" }
        },
        nestedForbidden: ["plugins"],
        refusedMethods: ["POST"]
    )

    /// `/apisix/global_rules`: no POST; a plugin may be in one rule only.
    static let globalRules = ResourceDescriptor(
        name: "global_rules", kind: "global rule", schema: CoreSchemas.globalRule,
        check: { value, id, environment in
            if let error = itemCheck("global_rules")(value, id, environment) { return error }
            let plugins = value["plugins"]?.objectValue ?? [:]
            let others = environment.store.items("global_rules")
            for otherId in others.keys.sorted() where otherId != id {
                let theirs = others[otherId]!.value["plugins"]?.objectValue ?? [:]
                if let name = plugins.keys.sorted().first(where: { theirs[$0] != nil }) {
                    let shown = others[otherId]!.value["id"].map(Resource.luaString) ?? otherId
                    return CheckError(.check, "plugin '\(name)' already exists in global rule with id '\(shown)'")
                }
            }
            return nil
        },
        deleteCheck: nil,
        nestedForbidden: ["plugins"],
        refusedMethods: ["POST"]
    )
}
