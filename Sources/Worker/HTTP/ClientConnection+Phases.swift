import Shared

/// Running the route's plugin chain at each phase (apisix/plugin.lua `run_plugin`): handlers in
/// chain order, a `_meta.filter` evaluated once per request, an answer from rewrite, access or
/// before_proxy ends the request (`<plugin> exits with http status code <code>` at warn for
/// >= 400, its body replaced by `_meta.error_response`), the filters and log run for any response.
extension ClientConnection {
    /// Runs a request phase. Returns false when a plugin ended the request (its answer is under
    /// way, or its function call started).
    /// `only`: the chain positions to run, for the rewrite of plugins a consumer added.
    func runRequestPhase(_ phase: PluginPhases, ext: Range<Int>?, only: [Int]? = nil) -> Bool {
        guard context.phases.contains(phase), let route = context.route else { return true }
        let entries = route.chain.entries
        for index in entries.indices where entries[index].phases.contains(phase) && (only?.contains(index) ?? true)
            && passesFilter(index, entries[index]) {
            let entry = entries[index]
            context.current = index
            let result: PhaseResult
            switch phase {
            case .rewrite: result = entry.plugin.rewrite(context)
            case .access: result = entry.plugin.access(context)
            default: result = entry.plugin.beforeProxy(context)
            }
            switch result {
            case .next:
                continue
            case .respond(let status, let body, let errorLog, let warnLog):
                if let errorLog { worker.logger.log(.error, errorLog) }
                if let warnLog { worker.logger.log(.warn, warnLog) }
                if status >= 400 { worker.logger.log(.warn, "\(entry.name) exits with http status code \(status)") }
                if status >= 400, let replacement = entry.errorResponse {
                    respond(status: status, contentType: "text/plain; charset=utf-8", body: replacement)
                } else if let body {
                    respond(status: status, contentType: "text/plain; charset=utf-8", body: body)
                } else {
                    respondError(status)
                }
                return false
            case .callFunction(let target):
                startFunctionCall(target, ext: ext)
                return false
            }
        }
        return true
    }

    /// header_filter: the response head (status and headers in `context`) is about to be written.
    func runHeaderFilter() {
        forEachHandler(of: .headerFilter) { $0.headerFilter(context) }
    }

    /// Calls `body` with each plugin that has `phase` and whose filter passes, in chain order.
    @inline(__always)
    private func forEachHandler(of phase: PluginPhases, _ body: (any Plugin) -> Void) {
        guard context.phases.contains(phase), let route = context.route else { return }
        let entries = route.chain.entries
        for index in entries.indices where entries[index].phases.contains(phase) && passesFilter(index, entries[index]) {
            context.current = index
            body(entries[index].plugin)
        }
    }

    /// Whether a body filter may see this response's body.
    var hasBodyFilter: Bool { context.phases.contains(.bodyFilter) }

    /// body_filter: passes `chunk` through every body filter in order and hands `emit` what comes
    /// out (the chunk itself when no filter replaced it).
    func filterBody(_ chunk: UnsafeRawBufferPointer, last: Bool, emit: (UnsafeRawBufferPointer) -> Void) {
        guard let route = context.route else { emit(chunk); return }
        let entries = route.chain.entries
        var current = chunk
        var replacedAny = false
        for index in entries.indices where entries[index].phases.contains(.bodyFilter) && passesFilter(index, entries[index]) {
            context.current = index
            context.replaced = false
            entries[index].plugin.bodyFilter(context, current, last: last)
            if context.replaced {
                // The next filter reads this output while writing its own into the other buffer.
                swap(&context.replacement, &context.previous)
                current = context.previous.readable
                replacedAny = true
            }
        }
        emit(current)
        if replacedAny { context.previous.clear() }
    }

    /// After the rewrite phase (init.lua `http_access_phase`): with a consumer attached, the
    /// route merged with its group's and its own plugins serves the rest of the request, and the
    /// plugins it added run their rewrite now. A consumer whose group is missing gets 503.
    /// Returns false when the request was answered.
    func applyConsumer(ext: Range<Int>?) -> Bool {
        guard let consumer = context.consumer, let route = context.route else { return true }
        if let group = consumer.missingGroup {
            worker.logger.log(.error, "failed to fetch consumer group config by id: \(group)")
            respondError(503)
            return false
        }
        let merged = route.merged(with: consumer)
        guard merged !== route else { return true }
        context.adopt(merged)
        return merged.consumerRewrite.isEmpty || runRequestPhase(.rewrite, ext: ext, only: merged.consumerRewrite)
    }

    /// log: the request is over.
    func runLogPhase() {
        forEachHandler(of: .log) { $0.log(context) }
    }

    /// `_meta.filter`, evaluated at most once per request for the first 64 plugins of a chain.
    private func passesFilter(_ index: Int, _ entry: PluginChain.Entry) -> Bool {
        guard let filter = entry.filter else { return true }
        guard index < 64 else { return filter.matches(context.vars) }
        let bit: UInt64 = 1 << UInt64(index)
        if context.filterChecked & bit == 0 {
            context.filterChecked |= bit
            if filter.matches(context.vars) { context.filterMatched |= bit }
        }
        return context.filterMatched & bit != 0
    }
}
