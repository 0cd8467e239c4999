// A route merged with the plugins of the consumer a request authenticated as (plugin.lua
// `merge_consumer_route`, init.lua's `rewrite_in_consumer`): built on first use per (route,
// consumer) and kept with the route for the rest of the snapshot, so a request only looks it up.

import Shared

/// Builds the merged route entries of one snapshot. Confined to its worker's thread.
final class ConsumerMerger {
    let types: [String: any Plugin.Type]
    let defaults: GatewayConfig
    /// Shared with the snapshot's own chains: a consumer's conf equal to a route's is one instance.
    var cache = PluginChain.EntryCache()
    /// The global rules' entries, first in every chain.
    var global: [PluginChain.Entry] = []
    /// Upstreams of plugins a consumer added (a function a consumer calls), by key. They are
    /// made on first use and retired with the snapshot (the next one makes its own: its merges
    /// happen later, after the old pools were told to drain).
    private var upstreams: [String: UpstreamRuntime] = [:]

    init(types: [String: any Plugin.Type], defaults: GatewayConfig) {
        self.types = types
        self.defaults = defaults
    }

    /// `entry` with `consumer`'s plugins laid over its own: a same-named one replaces the
    /// route's conf, new ones are added, and those new ones with a rewrite phase are listed in
    /// `consumerRewrite`.
    func merge(_ entry: RuntimeConfig.RouteEntry, _ consumer: ConsumerEntry) -> RuntimeConfig.RouteEntry {
        var route = entry.route
        var added: Set<String> = []
        for (name, conf) in consumer.plugins {
            if route.plugins[name] == nil { added.insert(name) }
            route.plugins[name] = conf
        }
        let (own, _) = PluginChain.build(route.plugins, types: types, cache: &cache)
        for plugin in own.entries {
            plugin.plugin.bindUpstreams { config, key in runtime(key: key, config: config) }
        }
        let chain = global.isEmpty ? own : PluginChain(entries: global + own.entries)
        let rewrite = chain.entries.indices.filter { index in
            index >= global.count && added.contains(chain.entries[index].name) && chain.entries[index].phases.contains(.rewrite)
        }
        let source = entry.chain.entries
        let carried = chain.entries.map { new in
            source.firstIndex { $0.plugin === new.plugin && $0.name == new.name } ?? -1
        }
        return RuntimeConfig.RouteEntry(route: route, chain: chain, upstream: entry.upstream,
                                        missingUpstreamId: entry.missingUpstreamId, connectTimeout: entry.connectTimeout,
                                        sendTimeout: entry.sendTimeout, readTimeout: entry.readTimeout,
                                        consumers: entry.consumers, merger: nil, consumerRewrite: rewrite,
                                        carriedFrom: carried)
    }

    private func runtime(key: String, config: Upstream) -> UpstreamRuntime {
        if let current = upstreams[key], current.config == config { return current }
        let fresh = UpstreamRuntime(config: config, defaults: defaults)
        upstreams[key] = fresh
        return fresh
    }

    /// The next snapshot replaced this one: its pools close (leased connections when released).
    func retire() {
        for runtime in upstreams.values {
            runtime.pool.retired = true
            runtime.pool.drain()
        }
    }
}
