package import Shared

/// What plugins see of a request and may change, one per client connection and reused for each of
/// its requests (`reset`), so a request through plugins allocates nothing more than one without.
///
/// Reads: the matched route, the client address and APISIX's variables (`variable(_:_:)`, `vars`).
/// Changes: request headers, the upstream's URI, method and host (applied when the upstream head is
/// written); the response status, headers and body (applied when the client's head is written).
/// Per-request state: `state`, one word per plugin of the chain, zero at the start of a request.
///
/// Its buffers start without storage and take it on first use, so only connections whose requests
/// go through plugins pay for them; then they keep it (nothing is allocated per request).
package final class RequestContext {
    /// nil for a context a unit test builds: every variable is then unset.
    unowned(unsafe) var connection: ClientConnection?
    /// The route the request matched (nil before routing, and for a request no route matched).
    package internal(set) var route: RuntimeConfig.RouteEntry?
    /// The response status as the client will see it: the upstream's or the local answer's, then
    /// whatever a header_filter set.
    package internal(set) var status = 0
    var requestHeaders = HeaderEdits()
    var responseHeaders = HeaderEdits()
    /// Upstream request line and host overrides, in `overrides`.
    var upstreamURI: Range<Int>?
    var upstreamMethod: Range<Int>?
    var upstreamHost: Range<Int>?
    private var overrides: ByteBuffer
    /// A header_filter said the body will change: the response is re-framed (no Content-Length).
    package private(set) var bodyChanged = false
    /// Set by `replaceBodyChunk` during one body_filter call chain; the output of the chain.
    var replacement: ByteBuffer
    /// The previous filter's replacement while the next filter reads it (the two are swapped).
    var previous: ByteBuffer
    var replaced = false
    /// Per-plugin words (`state`), indexed by chain position; `current` is the running plugin's.
    private var slots: [UInt64] = []
    var current = 0
    /// Which `_meta.filter`s were evaluated for this request, and their results (bit per plugin,
    /// the first 64: APISIX evaluates a filter once per request too).
    var filterChecked: UInt64 = 0
    var filterMatched: UInt64 = 0
    /// Body a body filter holds until the response's end, and two buffers to transform it in
    /// (grown only by routes that use them, shrunk back after the request).
    var held: ByteBuffer
    var work: (ByteBuffer, ByteBuffer)
    /// A value rendered from a template before it is recorded.
    var rendered: ByteBuffer
    /// `$1`...: captures a plugin recorded (`setCaptures`), as ranges of `captureSubject` (kept).
    var captureSubject: UInt64 = 0
    var captures: [Range<Int>?] = []
    /// A plugin chain ran for the current request: `reset` has work to do.
    private var touched = false
    /// The phases the current route's chain has: a phase without a handler costs one test of
    /// this byte (no reference to the route taken, nothing retained).
    package private(set) var phases = PluginPhases()
    /// Largest body a filter may hold.
    static let maxHeldBody = 64 * 1024 * 1024

    package init(connection: ClientConnection?) {
        self.connection = connection
        overrides = ByteBuffer(parkedCapacity: 256, limit: 64 * 1024)
        replacement = ByteBuffer(parkedCapacity: 1024, limit: Self.maxHeldBody)
        previous = ByteBuffer(parkedCapacity: 1024, limit: Self.maxHeldBody)
        held = ByteBuffer(parkedCapacity: 1024, limit: Self.maxHeldBody)
        work = (ByteBuffer(parkedCapacity: 1024, limit: Self.maxHeldBody), ByteBuffer(parkedCapacity: 1024, limit: Self.maxHeldBody))
        rendered = ByteBuffer(parkedCapacity: 256, limit: 64 * 1024)
    }

    deinit {
        requestHeaders.deallocate()
        responseHeaders.deallocate()
        overrides.deallocate()
        replacement.deallocate()
        previous.deallocate()
        held.deallocate()
        work.0.deallocate()
        work.1.deallocate()
        rendered.deallocate()
    }

    /// A new request on the connection: everything back to its initial value (only what a chain
    /// could have touched: a request without plugins costs two stores).
    func reset() {
        route = nil
        status = 0
        phases = []
        guard touched else { return }
        touched = false
        requestHeaders.reset()
        responseHeaders.reset()
        upstreamURI = nil
        upstreamMethod = nil
        upstreamHost = nil
        overrides.clear()
        bodyChanged = false
        replacement.clear()
        replacement.shrink()
        previous.clear()
        previous.shrink()
        held.clear()
        held.shrink()
        work.0.clear()
        work.0.shrink()
        work.1.clear()
        work.1.shrink()
        replaced = false
        slots.removeAll(keepingCapacity: true)
        current = 0
        filterChecked = 0
        filterMatched = 0
        captureSubject = 0
        captures.removeAll(keepingCapacity: true)
    }

    func begin(route: RuntimeConfig.RouteEntry) {
        self.route = route
        phases = route.chain.phases
        guard !phases.isEmpty else { return }
        touched = true
        for _ in 0..<route.chain.entries.count { slots.append(0) }
    }

    // MARK: - Reading the request

    /// The request's variables, for `Expr.matches` and templates.
    package var vars: ConnectionVariables { ConnectionVariables(connection: connection) }

    /// Calls `body` with a variable's bytes (nil when unset).
    package func variable<R>(_ variable: RequestVariable, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        vars.withValue(of: variable, body)
    }

    /// The running plugin's word of per-request state.
    package var state: UInt64 {
        get { current < slots.count ? slots[current] : 0 }
        set { if current < slots.count { slots[current] = newValue } }
    }

    // MARK: - Changing the request (rewrite, access, before_proxy)

    package func setRequestHeader(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        if Bytes.equalsIgnoringCase(name, "host") { setUpstreamHost(value); return }
        requestHeaders.record(.set, name: name, value: value)
    }
    package func addRequestHeader(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        requestHeaders.record(.add, name: name, value: value)
    }
    package func removeRequestHeader(_ name: UnsafeRawBufferPointer) {
        requestHeaders.record(.remove, name: name, value: UnsafeRawBufferPointer(start: nil, count: 0))
    }
    /// The target sent upstream: path and query, replacing the client's.
    package func setUpstreamURI(_ uri: UnsafeRawBufferPointer) { upstreamURI = store(uri) }
    package func setUpstreamMethod(_ method: UnsafeRawBufferPointer) { upstreamMethod = store(method) }
    /// The `Host` sent upstream, whatever the upstream's `pass_host`.
    package func setUpstreamHost(_ host: UnsafeRawBufferPointer) { upstreamHost = store(host) }

    private func store(_ bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        let start = overrides.writeIndex
        overrides.append(bytes)
        return overrides.overflowed ? nil : start..<overrides.writeIndex
    }

    /// Records the captures of `regex` matching `subject` as `$0`...`$n` for later templates;
    /// returns whether it matched.
    package func setCaptures(_ regex: PCRERegex, _ subject: UnsafeRawBufferPointer) -> Bool {
        captures.removeAll(keepingCapacity: true)
        guard let kept = keep(subject) else { return false }
        captureSubject = kept
        return regex.match(self.kept(kept)) { n, range in
            while captures.count <= n { captures.append(nil) }
            captures[n] = range
        }
    }

    func capture(_ n: Int) -> UnsafeRawBufferPointer? {
        guard n < captures.count, let range = captures[n] else { return nil }
        return UnsafeRawBufferPointer(rebasing: kept(captureSubject)[range])
    }

    /// Renders `template` with this request's variables into a buffer valid until the next render.
    package func render(_ template: Template) -> UnsafeRawBufferPointer {
        rendered.clear()
        template.render(vars) { rendered.append($0) }
        return rendered.readable
    }

    /// Keeps `count` bytes that `fill` writes for the rest of the request (an id a later phase
    /// sends again); returns a handle for `kept(_:)`, or nil when the request's space is used up.
    package func keep(count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> UInt64? {
        guard count > 0, count <= UInt32.max, overrides.reserve(count) else { return nil }
        let start = overrides.writeIndex
        fill(UnsafeMutableRawBufferPointer(start: overrides.base + start, count: count))
        overrides.writeIndex += count
        return UInt64(start) << 32 | UInt64(count)
    }

    /// Keeps a copy of `bytes` (see `keep(count:_:)`).
    package func keep(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        keep(count: bytes.count) { $0.copyMemory(from: bytes) }
    }

    /// Bytes kept with `keep`.
    package func kept(_ handle: UInt64) -> UnsafeRawBufferPointer {
        override(Int(handle >> 32)..<(Int(handle >> 32) + Int(handle & 0xFFFF_FFFF)))
    }

    /// In header_filter: whether the response has a header `name` (lower-case): from the upstream,
    /// or set or added by a plugin before.
    package func hasResponseHeader(_ name: UnsafeRawBufferPointer) -> Bool {
        var found = false
        responseHeaders.forEachLine { n, _ in if !found && Bytes.equalsIgnoringCase(n, name) { found = true } }
        if found { return true }
        if responseHeaders.replaces(name) { return false }
        return connection?.upstreamHasResponseHeader(name) ?? false
    }

    func override(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: overrides.base + range.lowerBound, count: range.count)
    }

    // MARK: - Changing the response (header_filter, body_filter)

    package func setStatus(_ status: Int) {
        if (100...999).contains(status) { self.status = status }
    }
    package func setResponseHeader(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        responseHeaders.record(.set, name: name, value: value)
    }
    package func addResponseHeader(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        responseHeaders.record(.add, name: name, value: value)
    }
    package func removeResponseHeader(_ name: UnsafeRawBufferPointer) {
        responseHeaders.record(.remove, name: name, value: UnsafeRawBufferPointer(start: nil, count: 0))
    }
    /// In header_filter: the body filters will change the body's length, so the response goes out
    /// without Content-Length (chunked, or until close for HTTP/1.0), as APISIX's
    /// `clear_header_as_body_modified`. Without it, `replaceBodyChunk` is ignored: a body of another
    /// length than the one announced would corrupt the connection.
    package func markBodyChanged() { bodyChanged = true }

    /// In body_filter: what goes on instead of the chunk this filter was given (may be empty).
    package func replaceBodyChunk(_ bytes: UnsafeRawBufferPointer) {
        guard bodyChanged else { return }
        replacement.clear()
        replacement.append(bytes)
        replaced = true
    }
}

extension RequestContext {
    package func setRequestHeader(_ name: StaticString, _ value: UnsafeRawBufferPointer) {
        setRequestHeader(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value)
    }
    package func setResponseHeader(_ name: StaticString, _ value: UnsafeRawBufferPointer) {
        setResponseHeader(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value)
    }
}
