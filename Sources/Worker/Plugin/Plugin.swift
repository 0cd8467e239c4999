// Plugins as APISIX has them (apisix/plugin.lua): a name, a priority, a schema, and phase handlers
// run in descending priority. Unlike APISIX, a plugin never performs I/O itself: its access phase
// answers, passes, or describes an outbound call that the worker's own connector, pools and timeouts
// perform, so a function call gets the same pooling, timeouts and logs as any upstream.
package import Shared

/// What an access phase decided.
package enum PhaseResult {
    /// Go on with the next plugin, then proxy to the route's upstream.
    case next
    /// End the request with this status (body nil = the status's HTML page), logging `errorLog`
    /// at error level when given.
    case respond(status: Int, body: [UInt8]?, errorLog: String?)
    /// End the request by calling a function; the worker performs the call and streams the answer.
    case callFunction(FunctionTarget)
}

/// One plugin type. An instance is built per route and snapshot from the route's validated
/// configuration, so a request never touches JSON.
package protocol Plugin: AnyObject {
    /// The key under a route's `plugins`.
    static var name: String { get }
    /// APISIX's priority: higher runs first.
    static var priority: Int { get }
    /// Validates a configuration in the Admin API, the yaml provider and `sluice -t`.
    static var schema: Schema { get }
    /// Builds the route's instance. `config` has passed `schema` and carries its defaults.
    init(config: JSONValue) throws(PluginBuildError)
    /// The access phase (APISIX's `access`).
    func access() -> PhaseResult
    /// Binds the upstreams the plugin calls to the worker's runtimes (keyed, so pools are shared
    /// and survive reloads): `make(config, key)` returns the runtime for that key.
    func bindUpstreams(_ make: (Upstream, String) -> UpstreamRuntime)
}

extension Plugin {
    package func access() -> PhaseResult { .next }
    package func bindUpstreams(_ make: (Upstream, String) -> UpstreamRuntime) {}
}

/// A configuration that passed the schema but cannot be used at all.
package struct PluginBuildError: Error, Sendable {
    package var message: String
    package init(_ message: String) { self.message = message }
}
