// Plugins as APISIX has them (apisix/plugin.lua): a name, a priority, a schema, and phase handlers
// run in descending priority. Unlike APISIX, a plugin never performs I/O itself: a phase answers,
// passes, edits the request or response through its `RequestContext`, or describes an outbound call
// that the worker's own connector, pools and timeouts perform, so a function call gets the same
// pooling, timeouts and logs as any upstream.
//
// Phases, in a request's order (plugins.md section 1.1): rewrite → access → before_proxy (just
// before the upstream is contacted) → header_filter (any response: the upstream's or one the worker
// or a plugin produced) → body_filter (each piece of that response's body) → log (once the
// response is complete, or the client is gone). A rewrite, access or before_proxy handler that
// answers ends the request: later handlers of the request phases do not run, the filters and log
// still run for the answer.
package import Shared

/// What a rewrite, access or before_proxy handler decided.
package enum PhaseResult {
    /// Go on with the next plugin, then proxy to the route's upstream.
    case next
    /// End the request with this status (body nil = the status's HTML page), logging `errorLog`
    /// at error level and `warnLog` at warn level when given.
    case respond(status: Int, body: [UInt8]?, errorLog: String?, warnLog: String? = nil)
    /// End the request by calling a function; the worker performs the call and streams the answer.
    case callFunction(FunctionTarget)
}

/// The phases a plugin type implements, so the chain calls only those.
package struct PluginPhases: OptionSet, Sendable {
    package let rawValue: UInt8
    package init(rawValue: UInt8) { self.rawValue = rawValue }
    package static let rewrite = PluginPhases(rawValue: 1 << 0)
    package static let access = PluginPhases(rawValue: 1 << 1)
    package static let beforeProxy = PluginPhases(rawValue: 1 << 2)
    package static let headerFilter = PluginPhases(rawValue: 1 << 3)
    package static let bodyFilter = PluginPhases(rawValue: 1 << 4)
    package static let log = PluginPhases(rawValue: 1 << 5)
}

/// One plugin type. An instance is built per route and snapshot from the route's validated
/// configuration, so a request never touches JSON. Handlers must not allocate per request: state
/// they keep for a request goes in `ctx.slot` (one word per plugin, reset per request).
package protocol Plugin: AnyObject {
    /// The key under a route's `plugins`.
    static var name: String { get }
    /// APISIX's priority: higher runs first.
    static var priority: Int { get }
    /// Validates a configuration in the Admin API, the yaml provider and `sluice -t`.
    static var schema: Schema { get }
    /// The phases this type implements.
    static var phases: PluginPhases { get }
    /// What the validators know of it besides `schema` (consumer schema, auth type, secrets).
    static var spec: PluginSpec { get }
    /// Builds the route's instance. `config` has passed `schema` and carries its defaults.
    init(config: JSONValue) throws(PluginBuildError)
    func rewrite(_ ctx: RequestContext) -> PhaseResult
    func access(_ ctx: RequestContext) -> PhaseResult
    func beforeProxy(_ ctx: RequestContext) -> PhaseResult
    /// The response head is about to be written: status and headers may change (`ctx.response*`).
    func headerFilter(_ ctx: RequestContext)
    /// One piece of the response body (`last` on the final call, possibly empty): pass it on
    /// unchanged by doing nothing, or replace it with `ctx.replaceBodyChunk(_:)`.
    func bodyFilter(_ ctx: RequestContext, _ chunk: UnsafeRawBufferPointer, last: Bool)
    /// The request is over (the access log line is being written).
    func log(_ ctx: RequestContext)
    /// Binds the upstreams the plugin calls to the worker's runtimes (keyed, so pools are shared
    /// and survive reloads): `make(config, key)` returns the runtime for that key.
    func bindUpstreams(_ make: (Upstream, String) -> UpstreamRuntime)
}

extension Plugin {
    package static var spec: PluginSpec { PluginSpec(schema: schema) }
    package func rewrite(_ ctx: RequestContext) -> PhaseResult { .next }
    package func access(_ ctx: RequestContext) -> PhaseResult { .next }
    package func beforeProxy(_ ctx: RequestContext) -> PhaseResult { .next }
    package func headerFilter(_ ctx: RequestContext) {}
    package func bodyFilter(_ ctx: RequestContext, _ chunk: UnsafeRawBufferPointer, last: Bool) {}
    package func log(_ ctx: RequestContext) {}
    package func bindUpstreams(_ make: (Upstream, String) -> UpstreamRuntime) {}
}

/// A configuration that passed the schema but cannot be used at all.
package struct PluginBuildError: Error, Sendable {
    package var message: String
    package init(_ message: String) { self.message = message }
}
