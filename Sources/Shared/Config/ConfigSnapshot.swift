/// One published state of routes and upstreams, immutable once built (nginx's "cycle" for the
/// data plane). The control process writes it; workers read it.
package struct ConfigSnapshot: Sendable, Equatable {
    /// Grows by one with every publication.
    package var generation: UInt64
    package var routes: [Route]
    /// By id.
    package var upstreams: [String: Upstream]

    package init(generation: UInt64 = 0, routes: [Route] = [], upstreams: [String: Upstream] = [:]) {
        self.generation = generation; self.routes = routes; self.upstreams = upstreams
    }
}
