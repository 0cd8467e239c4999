// One stored object of a resource the data plane serves, validated and converted: the unit every
// provider (the `local` store, the yaml file, the etcd copy) hands to the snapshot, so each
// resource's check and conversion exists once.

/// A converted object of one served resource.
package enum ConfigItem: Sendable, Equatable {
    case upstream(Upstream)
    case service(Service)
    case pluginConfig(PluginSet)
    case globalRule(PluginSet)
    case consumerGroup(PluginSet)
    case consumer(Consumer)
    /// Kept under `consumers` with the id `<username>/credentials/<id>`, as etcd keys it.
    case credential(Credential)
    /// `plugin_metadata/<plugin>`: the object, with `id` the plugin's name.
    case pluginMetadata(id: String, JSONValue)
    case route(Route)

    /// The resources the data plane serves, in the order a full load checks them (what is
    /// referred to before what refers to it).
    package static let resources = ["upstreams", "services", "plugin_configs", "global_rules", "consumer_groups",
                                    "consumers", "plugin_metadata", "routes"]

    /// Converts an object already validated (the store's, the snapshot file's) without checking
    /// it again; throws for a resource that is not served or an object that no longer converts.
    package init(resource: String, json: JSONValue, id: String) throws(CheckError) {
        switch resource {
        case "upstreams": self = .upstream(try Upstream(apisix: json, id: id))
        case "services": self = .service(try Service(apisix: json, id: id))
        case "plugin_configs": self = .pluginConfig(try PluginSet(apisix: json, id: id))
        case "global_rules": self = .globalRule(try PluginSet(apisix: json, id: id))
        case "consumer_groups": self = .consumerGroup(try PluginSet(apisix: json, id: id))
        case "consumers" where Consumer.credentialKey(id) != nil: self = .credential(try Credential(apisix: json, key: id))
        case "consumers": self = .consumer(try Consumer(apisix: json))
        case "plugin_metadata": self = .pluginMetadata(id: id, json)
        case "routes": self = .route(try Route(apisix: json, id: id))
        default: throw CheckError(.check, "\(resource) is not served")
        }
    }

    /// The complete check of an object about to be stored or served (`ResourceCheck`).
    package static func check(resource: String, json: JSONValue, id: String, plugins: PluginSchemaLookup,
                              exists: ReferenceLookup?) -> Result<ConfigItem, CheckError> {
        switch resource {
        case "upstreams": ResourceCheck.upstream(json, id: id).map(ConfigItem.upstream)
        case "services": ResourceCheck.service(json, id: id, plugins: plugins, exists: exists).map(ConfigItem.service)
        case "plugin_configs": ResourceCheck.pluginConfig(json, id: id, plugins: plugins).map(ConfigItem.pluginConfig)
        case "global_rules": ResourceCheck.globalRule(json, id: id, plugins: plugins).map(ConfigItem.globalRule)
        case "consumer_groups": ResourceCheck.consumerGroup(json, id: id, plugins: plugins).map(ConfigItem.consumerGroup)
        case "consumers" where Consumer.credentialKey(id) != nil:
            ResourceCheck.credential(json, key: id, plugins: plugins).map(ConfigItem.credential)
        case "consumers": ResourceCheck.consumer(json, plugins: plugins, exists: exists).map(ConfigItem.consumer)
        case "plugin_metadata": ResourceCheck.pluginMetadata(json, plugin: id, plugins: plugins).map { .pluginMetadata(id: id, $0) }
        case "routes": ResourceCheck.route(json, id: id, plugins: plugins, exists: exists).map(ConfigItem.route)
        default: .failure(CheckError(.check, "\(resource) is not supported"))
        }
    }
}

extension ConfigSnapshot {
    /// Adds `item` (routes and global rules after those already added).
    package mutating func add(_ item: ConfigItem) {
        switch item {
        case .upstream(let upstream): upstreams[upstream.id ?? ""] = upstream
        case .service(let service): services[service.id] = service
        case .pluginConfig(let config): pluginConfigs[config.id] = config
        case .globalRule(let rule): globalRules.append(rule)
        case .consumerGroup(let group): consumerGroups[group.id] = group
        case .consumer(let consumer): consumers[consumer.username] = consumer
        case .credential(let credential): credentials.append(credential)
        case .pluginMetadata(let id, let json): pluginMetadata[id] = json
        case .route(let route): routes.append(route)
        }
    }
}
