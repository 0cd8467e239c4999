package import Shared

/// A snapshot as one worker serves it: the router and, per route, everything a request needs,
/// resolved once: the route merged with its plugin config and service, its chain with the global
/// rules' plugins first (so each phase runs them before the route's, as APISIX's init.lua does).
/// Immutable after build; a request keeps a reference to the one it started with, so in-flight
/// requests finish on their configuration while new ones use the next.
package final class RuntimeConfig {
    /// A class so that a request holds it with one reference, not a copy of every field.
    package final class RouteEntry {
        /// Merged (`ConfigSnapshot.merged`).
        package let route: Route
        /// The route's plugins, in the order a request runs them.
        package let chain: PluginChain
        /// `$route_id` (empty for the unmatched entry).
        package let idBytes: [UInt8]
        /// `$service_id`.
        package let serviceIdBytes: [UInt8]?
        /// The route's `vars`, compiled (an expression that no longer compiles never matches).
        package let vars: Expr?
        /// Inline upstream, or the one `upstream_id` names; nil with `missingUpstreamId` set when that
        /// id does not exist (502), nil without it when the route has no upstream (503).
        package let upstream: UpstreamRuntime?
        package let missingUpstreamId: String?
        /// Seconds: route `timeout`, else the upstream's, else 60 s (nginx's proxy_*_timeout).
        package let connectTimeout: Double
        package let sendTimeout: Double
        package let readTimeout: Double
        /// The snapshot's consumers, for the auth plugins.
        package let consumers: ConsumerIndex
        /// Builds this route's chains merged with a consumer's plugins.
        let merger: ConsumerMerger?
        /// In a chain merged with a consumer's plugins: the entries the consumer added that have
        /// a rewrite phase (they run once the consumer is known, `rewrite_in_consumer`).
        package let consumerRewrite: [Int]
        /// In a merged chain: for each entry, its position in the chain it was merged from (the
        /// same plugin instance), or -1 for a plugin the consumer added or replaced.
        let carriedFrom: [Int]
        /// This route merged with each consumer seen so far, by `ConsumerEntry.serial` (built on
        /// first use; one worker thread reads and writes it).
        var merged: [Int: RouteEntry] = [:]

        init(route: Route, chain: PluginChain, upstream: UpstreamRuntime?, missingUpstreamId: String?,
             connectTimeout: Double, sendTimeout: Double, readTimeout: Double,
             consumers: ConsumerIndex = .empty, merger: ConsumerMerger? = nil, consumerRewrite: [Int] = [],
             carriedFrom: [Int] = []) {
            self.carriedFrom = carriedFrom
            self.route = route
            self.chain = chain
            self.consumers = consumers
            self.merger = merger
            self.consumerRewrite = consumerRewrite
            idBytes = Array(route.id.utf8)
            serviceIdBytes = route.serviceId.map { Array($0.utf8) }
            vars = route.vars.map { (try? Expr.routeVars($0)) ?? .or([]) }
            self.upstream = upstream
            self.missingUpstreamId = missingUpstreamId
            self.connectTimeout = connectTimeout
            self.sendTimeout = sendTimeout
            self.readTimeout = readTimeout
        }

        /// This route as `consumer` runs it: itself when the consumer adds no plugins.
        package func merged(with consumer: ConsumerEntry) -> RouteEntry {
            guard !consumer.plugins.isEmpty, let merger else { return self }
            if let done = merged[consumer.serial] { return done }
            let built = merger.merge(self, consumer)
            merged[consumer.serial] = built
            return built
        }
    }

    package let generation: UInt64
    package let router: Router
    package let routes: [RouteEntry]
    /// The global rules alone, for a request no route matched (nil when there are none).
    package let unmatched: RouteEntry?
    /// Every upstream runtime of this config (by id, and inline ones by `route:<id>`), for reuse by
    /// the next build and for draining.
    package let upstreams: [String: UpstreamRuntime]
    /// Builds routes merged with consumers, and holds the upstreams their plugins call.
    let merger: ConsumerMerger

    /// Builds from `snapshot`, reusing `previous`'s upstream runtimes whose configuration is equal.
    package init(snapshot: ConfigSnapshot, defaults: GatewayConfig, previous: RuntimeConfig?) {
        generation = snapshot.generation
        var table: [String: UpstreamRuntime] = [:]
        func runtime(key: String, config: Upstream) -> UpstreamRuntime {
            if let current = table[key], current.config == config { return current }
            if let old = previous?.upstreams[key], old.config == config { table[key] = old; return old }
            let fresh = UpstreamRuntime(config: config, defaults: defaults)
            table[key] = fresh
            return fresh
        }
        for (id, upstream) in snapshot.upstreams {
            _ = runtime(key: "id:" + id, config: upstream)
        }
        let (globalPlugins, _) = snapshot.globalPlugins()
        // A plugin config.yaml leaves out is not run, even from a snapshot written before.
        let types = PluginRegistry.types(enabled: defaults.plugins)
        let merger = ConsumerMerger(types: types, defaults: defaults)
        let consumers = ConsumerIndex(snapshot: snapshot, types: types)
        let (global, _) = PluginChain.build(globalPlugins, types: types, cache: &merger.cache)
        for entry in global.entries {
            entry.plugin.bindUpstreams { config, key in runtime(key: key, config: config) }
        }
        merger.global = global.entries
        var entries: [RouteEntry] = []
        entries.reserveCapacity(snapshot.routes.count)
        for stored in snapshot.routes {
            let route = snapshot.merged(stored)
            var upstream: UpstreamRuntime?
            var missing: String?
            // init.lua: `upstream_id` wins over an inline `upstream` on the same object.
            if let id = route.upstreamId {
                upstream = table["id:" + id]
                if upstream == nil { missing = id }
            } else if let inline = route.upstream {
                upstream = runtime(key: "route:" + route.id, config: inline)
            }
            let timeout = route.timeout ?? upstream?.config.timeout
            var (chain, _) = PluginChain.build(route.plugins, types: types, cache: &merger.cache)
            for entry in chain.entries {
                entry.plugin.bindUpstreams { config, key in runtime(key: key, config: config) }
            }
            if !global.entries.isEmpty { chain = PluginChain(entries: global.entries + chain.entries) }
            entries.append(RouteEntry(route: route, chain: chain, upstream: upstream, missingUpstreamId: missing,
                                      connectTimeout: timeout?.connect ?? 60,
                                      sendTimeout: timeout?.send ?? 60,
                                      readTimeout: timeout?.read ?? 60, consumers: consumers, merger: merger))
        }
        routes = entries
        unmatched = global.entries.isEmpty ? nil
            : RouteEntry(route: Route(id: "", uris: []), chain: global, upstream: nil, missingUpstreamId: nil,
                         connectTimeout: 60, sendTimeout: 60, readTimeout: 60, consumers: consumers)
        upstreams = table
        self.merger = merger
        router = Router(routes: entries.map(\.route))
        // Pools of upstreams that are gone or changed are closed; their leased connections close
        // when released.
        if let previous {
            for (key, old) in previous.upstreams where table[key] !== old {
                old.pool.retired = true
                old.pool.drain()
            }
            previous.merger.retire()
        }
    }
}
