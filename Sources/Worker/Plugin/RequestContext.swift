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
    /// The route the request matched (nil before routing, and for a request no route matched);
    /// once a consumer is attached, that route merged with the consumer's plugins.
    package internal(set) var route: RuntimeConfig.RouteEntry?
    /// The consumer an auth plugin attached (`attachConsumer`).
    package private(set) var consumer: ConsumerEntry?
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
    /// `slots` rebuilt for a merged chain (`adopt`), swapped with it.
    private var spareSlots: [UInt64] = []
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
        consumer = nil
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

    /// Runs the rest of the request on `merged` (the current route merged with the consumer's
    /// plugins, `RouteEntry.merged(with:)`): each plugin instance the two chains share keeps its
    /// word of state and its filter result (`carriedFrom`, computed with the merge).
    func adopt(_ merged: RuntimeConfig.RouteEntry) {
        guard let old = route, merged !== old else { return }
        touched = true
        spareSlots.removeAll(keepingCapacity: true)
        var checked: UInt64 = 0
        var matched: UInt64 = 0
        for newIndex in merged.chain.entries.indices {
            let oldIndex = newIndex < merged.carriedFrom.count ? merged.carriedFrom[newIndex] : -1
            spareSlots.append(oldIndex >= 0 && oldIndex < slots.count ? slots[oldIndex] : 0)
            if oldIndex >= 0, oldIndex < 64, newIndex < 64 {
                checked |= (filterChecked >> UInt64(oldIndex) & 1) << UInt64(newIndex)
                matched |= (filterMatched >> UInt64(oldIndex) & 1) << UInt64(newIndex)
            }
        }
        swap(&slots, &spareSlots)
        filterChecked = checked
        filterMatched = matched
        route = merged
        phases = merged.chain.phases
    }

    /// An auth plugin found `consumer` (consumer.lua `attach_consumer`): the upstream gets
    /// `X-Consumer-Username`, and `X-Credential-Identifier` and `X-Consumer-Custom-ID` when the
    /// consumer has them (a client's own are removed otherwise). The consumer's plugins are laid
    /// over the route once the rewrite phase is over.
    package func attachConsumer(_ consumer: ConsumerEntry) {
        self.consumer = consumer
        consumer.usernameBytes.withUnsafeBytes { setRequestHeader("X-Consumer-Username", $0) }
        if let id = consumer.credentialId {
            id.withUnsafeBytes { setRequestHeader("X-Credential-Identifier", $0) }
        } else {
            removeRequestHeader("X-Credential-Identifier")
        }
        if let custom = consumer.customId {
            custom.withUnsafeBytes { setRequestHeader("X-Consumer-Custom-ID", $0) }
        } else {
            removeRequestHeader("X-Consumer-Custom-ID")
        }
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

    /// Calls `body` with a query argument's value percent-decoded (`+` as a space), as
    /// `ngx.req.get_uri_args` gives it; a value without `%` or `+` is passed as it is.
    package func withDecodedArgument<R>(_ value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard value.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return body(value) }
        rendered.clear()
        var i = 0
        while i < value.count {
            let byte = value[i]
            if byte == UInt8(ascii: "+") {
                rendered.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), i + 2 < value.count, let high = ASCII.hexValue(value[i + 1]),
                      let low = ASCII.hexValue(value[i + 2]) {
                rendered.append(high << 4 | low)
                i += 2
            } else {
                rendered.append(byte)
            }
            i += 1
        }
        return body(rendered.readable)
    }

    /// Calls `body` with `count` bytes of scratch space, valid during the call only (the buffer
    /// templates render into); nil when the request's space limit is reached.
    package func withScratch<R>(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> R) -> R? {
        rendered.clear()
        guard count > 0, rendered.reserve(count) else { return count == 0 ? body(UnsafeMutableRawBufferPointer(start: nil, count: 0)) : nil }
        return body(UnsafeMutableRawBufferPointer(start: rendered.base, count: count))
    }

    /// Sends the upstream the target (the one already set, else the client's) without the query
    /// arguments named exactly `name`, the others kept in order (`core.request.set_uri_args`).
    package func removeQueryArgument(_ name: [UInt8]) {
        var rebuilt = false
        func rebuild(path: UnsafeRawBufferPointer, query: UnsafeRawBufferPointer) {
            rebuilt = true
            rendered.clear()
            rendered.append(path)
            var first = true
            var start = 0
            while start <= query.count {
                var end = start
                while end < query.count && query[end] != UInt8(ascii: "&") { end += 1 }
                let pair = UnsafeRawBufferPointer(rebasing: query[start..<end])
                if !pair.isEmpty && !pair.prefix(while: { $0 != UInt8(ascii: "=") }).elementsEqual(name) {
                    rendered.append(first ? UInt8(ascii: "?") : UInt8(ascii: "&"))
                    rendered.append(pair)
                    first = false
                }
                start = end + 1
            }
        }
        if let current = upstreamURI {
            let target = override(current)
            if let mark = target.firstIndex(of: UInt8(ascii: "?")) {
                rebuild(path: UnsafeRawBufferPointer(rebasing: target[..<mark]),
                        query: UnsafeRawBufferPointer(rebasing: target[(mark + 1)...]))
            }
        } else {
            variable(.queryString) { query in
                guard let query else { return }
                variable(.requestURI) { target in
                    // Origin-form: the path as sent; otherwise the normalized one.
                    if let target, target.first == UInt8(ascii: "/"), let mark = target.firstIndex(of: UInt8(ascii: "?")) {
                        rebuild(path: UnsafeRawBufferPointer(rebasing: target[..<mark]), query: query)
                    } else {
                        variable(.uri) { path in rebuild(path: path ?? UnsafeRawBufferPointer(start: nil, count: 0), query: query) }
                    }
                }
            }
        }
        if rebuilt { setUpstreamURI(rendered.readable) }
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
    package func removeRequestHeader(_ name: StaticString) {
        removeRequestHeader(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }
    package func setResponseHeader(_ name: StaticString, _ value: UnsafeRawBufferPointer) {
        setResponseHeader(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value)
    }
}
