// A request that a serverless plugin (openfunction) ends with a function call: the same connector,
// pools and response streaming as proxying, with generic-upstream.lua's request shape and its
// failures (503, `failed to process <plugin>, err: <reason>`).
import Shared
#if canImport(Glibc)
import Glibc
#endif

extension ClientConnection {
    /// Starts the call the route's plugin described.
    func startFunctionCall(_ target: FunctionTarget, ext: Range<Int>?) {
        function = target
        functionExt = ext
        guard let runtime = target.runtime, !runtime.peers.isEmpty else {
            worker.logger.log(.error, "failed to process \(target.pluginName), err: no function endpoint")
            respondFunctionError(503)
            return
        }
        upstream = runtime
        triesLeft = 0
        let h = parser.head
        if let length = h.contentLength, length > target.maxBodySize {
            logBodyTooLarge(length, target)
            respondFunctionError(400)
            return
        }
        if machine.shouldSendContinue(expectContinue: h.expectContinue, bodyBytesAtHand: !input.isEmpty) {
            output.append("HTTP/1.1 100 Continue\r\n\r\n")
            guard writeClient() else { return }
        }
        machine.startProxying()
        upstreamStartMs = monotonicMilliseconds()
        if requestBody == .chunked {
            // The call carries a Content-Length: collect the body first.
            spooling = true
            spool.reset()
            readEvent.add(timeout: worker.config.clientBodyTimeout)
            spoolRequestBody()
            return
        }
        buildFunctionHead(target, bodyLength: requestBody == .length ? requestRemaining : nil)
        guard !forwardHead.overflowed else {
            respondForwardHeadTooLarge()
            return
        }
        decideBodyRetention()
        if !requestBodyDone { readEvent.add(timeout: worker.config.clientBodyTimeout) }
        connectUpstream()
    }

    /// Connect, send and read timeouts (seconds) of the current upstream exchange: a function
    /// call's own `timeout` (each of the three, as generic-upstream.lua sets them), else the
    /// route's (route `timeout`, else the upstream's, else 60 s).
    var exchangeTimeouts: (connect: Double, send: Double, read: Double) {
        if function != nil, let t = upstream?.config.timeout { return (t.connect, t.send, t.read) }
        guard let runtime = config, routeIndex < runtime.routes.count else { return (60, 60, 60) }
        let entry = runtime.routes[routeIndex]
        return (entry.connectTimeout, entry.sendTimeout, entry.readTimeout)
    }

    /// Decodes chunked body bytes from `input` into the spool; once the body is complete, calls.
    func spoolRequestBody() {
        guard let target = function else { return }
        decoding: while !input.isEmpty && !requestBodyDone {
            let (consumed, event) = requestDecoder.decode(input.readable)
            switch event {
            case .data(let range):
                guard spool.append(input.readable.slice(range)) else {
                    worker.logger.log(.error, "\(spool.failure ?? "spooling failed"), client: \(peer.hostText)")
                    abortWithError(500)
                    return
                }
                if spool.count > target.maxBodySize {
                    logBodyTooLarge(spool.count, target)
                    abortWithError(400)
                    return
                }
            case .end:
                machine.bodyFinished()
            case .needMore:
                input.consume(consumed)
                break decoding
            case .error(let reason):
                worker.logger.log(.info, "client sent invalid chunked body (\(reason)), client: \(peer.hostText)")
                abortWithError(400)
                return
            }
            input.consume(consumed)
        }
        guard requestBodyDone else { return }
        readEvent.add()
        buildFunctionHead(target, bodyLength: spool.count)
        guard !forwardHead.overflowed else {
            respondForwardHeadTooLarge()
            return
        }
        connectUpstream()
    }

    /// Copies the next part of the spooled body to the upstream's output; false when nothing
    /// could be copied although bytes remain (the temporary file could not be read).
    @discardableResult
    func fillFromSpool(_ conn: UpstreamConnection) -> Bool {
        let before = spoolSent
        while spoolSent < spool.count && conn.output.count < Self.outputHighWater {
            let n = spool.copy(from: spoolSent, max: 64 * 1024, into: &conn.output)
            if n == 0 { break }
            spoolSent += Int64(n)
        }
        return spoolSent > before || spoolSent >= spool.count || !conn.output.isEmpty
    }

    /// Sends the rest of the spooled body: fills and writes until the socket is full (then the
    /// write event is armed and `upstreamWritable` comes back here) or the body is all sent.
    /// A flush that empties the output must not end it: nothing else would send the rest.
    /// false on a write or read error (`errno` set).
    func sendSpool(_ conn: UpstreamConnection) -> Bool {
        while true {
            guard fillFromSpool(conn) else {
                errno = EIO
                return false
            }
            guard conn.flush() else { return false }
            if !conn.output.isEmpty {
                conn.writeEvent.add(timeout: exchangeTimeouts.send)
                return true
            }
            if spoolSent >= spool.count { return true }
        }
    }

    /// The request head for the function (generic-upstream.lua 1.4, with the differences table):
    /// the client's method; the function path joined with `:ext`; the function URI's query then
    /// the client's raw query; `Host` = the function's host; the service token replacing the
    /// client's Authorization; every other end-to-end client header; Content-Length framing.
    func buildFunctionHead(_ target: FunctionTarget, bodyLength: Int64?) {
        let h = parser.head
        let bytes = head.readable
        forwardHead.clear()
        forwardHead.append(bytes.slice(h.methodRange))
        forwardHead.append(" ")
        let query = h.queryRange.map { bytes.slice($0) }
        if let ext = functionExt {
            path.withUnsafeBytes { pathBytes in
                target.appendTarget(ext: pathBytes.slice(ext), clientQuery: query, to: &forwardHead)
            }
        } else {
            target.appendTarget(ext: nil, clientQuery: query, to: &forwardHead)
        }
        forwardHead.append(" HTTP/1.1\r\nHost: ")
        forwardHead.append(target.hostHeader)
        forwardHead.append("\r\n")
        for field in h.headers {
            switch field.known {
            case .host, .connection, .keepAlive, .proxyConnection, .upgrade, .te, .trailer,
                 .transferEncoding, .contentLength, .expect:
                continue
            case .authorization where target.authorization != nil:
                continue
            default:
                if !context.requestHeaders.isEmpty && context.requestHeaders.replaces(bytes.slice(field.nameRange)) { continue }
                appendEndToEnd(field, bytes, to: &forwardHead)
            }
        }
        // Headers earlier plugins set reach the function too (generic-upstream.lua sends the
        // request's headers as they are by then).
        if !context.requestHeaders.isEmpty { appendEdits(context.requestHeaders) }
        if let authorization = target.authorization {
            forwardHead.append("Authorization: ")
            forwardHead.append(authorization)
            forwardHead.append("\r\n")
        }
        if let bodyLength {
            forwardHead.append("Content-Length: ")
            forwardHead.append(decimal: bodyLength)
            forwardHead.append("\r\n")
        } else if h.method == .post || h.method == .put || h.method == .patch {
            forwardHead.append("Content-Length: 0\r\n")
        }
        forwardHead.append("\r\n")
        hostHeaderEnd = -1
    }

    private func logBodyTooLarge(_ size: Int64, _ target: FunctionTarget) {
        worker.logger.log(.error, "error while reading request body: request size \(size) is greater than the maximum size \(target.maxBodySize) allowed, client: \(peer.hostText)")
    }

    /// An error page before the call; a body still arriving is not read, so the connection closes.
    private func respondFunctionError(_ status: Int) {
        if !requestBodyDone { machine.closeAfterThisResponse() }
        respondError(status)
    }
}
