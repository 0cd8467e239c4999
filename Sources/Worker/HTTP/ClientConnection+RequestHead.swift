import CLibevent
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// Reading and routing a request head: parse, reset the per-request state, route, run the plugins, choose the upstream.
extension ClientConnection {
    func parseHead() {
        let result = parser.parse(input.readable)
        switch result {
        case .incomplete:
            if input.freeSpace == 0 && input.capacity >= input.limit {
                prepareHeadFailure()
                respondError(431, close: true)
                return
            }
            // A persistent event's timeout restarts each time it fires: re-arm it with what is left
            // of the head's time (a byte every few seconds must not keep the connection forever).
            let left = headDeadlineMs - monotonicMilliseconds()
            if left <= 0 {
                perform(machine.clientTimedOut())
            } else {
                readEvent.add(timeout: Double(left) / 1000)
            }
        case .failure(let error):
            worker.logger.log(.info, "\(error.reason), client: \(peer.hostText)")
            prepareHeadFailure()
            respondError(error.status, close: true)
        case .complete:
            dispatchRequest()
        }
    }

    /// Before answering a head the parser rejected: fresh request state, and `head` holding the
    /// bytes the parser's ranges index into (the access log reads the request line and headers
    /// through them; a stale `head` made them point out of bounds).
    func prepareHeadFailure() {
        resetRequestState()
        machine.headRejected()
        head.clear()
        head.append(input.readable)
        requestStartMs = monotonicMilliseconds()
        isHead = false
    }

    func resetRequestState() {
        context.reset()
        realIPRange = nil
        realIP = nil
        routeIndex = -1
        upstream = nil
        tried = PeerSet()
        staleRetryUsed = false
        requestBody = .none
        requestRemaining = 0
        requestDecoder = ChunkedDecoder()
        requestBodyBytes = 0
        retainedBody = 0
        responseFraming = .none
        responseRemaining = 0
        responseDecoder = ChunkedDecoder()
        chunkedToClient = false
        pausedUpstreamRead = false
        status = 0
        bodyBytesSent = 0
        upstreamStatuses.removeAll(keepingCapacity: true)
        upstreamPeers.removeAll(keepingCapacity: true)
        upstreamHeaderMs = -1
        function = nil
        functionExt = nil
        if spooling { spool.reset() }
        spooling = false
        spoolSent = 0
        upstreamSendStopped = false
        requestSerial &+= 1
    }

    func dispatchRequest() {
        resetRequestState()
        // Keep the head where its ranges stay valid while `input` is consumed.
        head.clear()
        head.append(UnsafeRawBufferPointer(start: input.base + input.readIndex, count: parser.head.headEnd))
        input.consume(parser.head.headEnd)
        requestStartMs = monotonicMilliseconds()
        config = worker.runtime
        machine.headParsed(keepAlive: parser.head.keepAlive, hasBody: parser.head.isChunked || (parser.head.contentLength ?? 0) > 0,
                           quitting: worker.quitting, moreInput: !input.isEmpty)
        isHead = parser.head.method == .head
        let bytes = head.readable
        if peerTrusted, let field = parser.head.firstHeader(.xRealIP), let ip = IPAddress(bytes: bytes.slice(field.valueRange)) {
            realIPRange = field.valueRange
            realIP = ip
        }
        if parser.head.isChunked {
            requestBody = .chunked
        } else if let length = parser.head.contentLength, length > 0 {
            requestBody = .length
            requestRemaining = length
        }
        let maxBody = worker.config.clientMaxBodySize
        if maxBody > 0, let length = parser.head.contentLength, length > maxBody {
            worker.logger.log(.error, "client intended to send too large body: \(length) bytes, client: \(peer.hostText)")
            respondError(413, close: true)
            return
        }
        guard HTTPPath.normalize(bytes.slice(parser.head.pathRange), into: &path) else {
            worker.logger.log(.info, "client sent invalid request path, client: \(peer.hostText)")
            respondError(400, close: true)
            return
        }
        let host = parser.head.hostRange.map { bytes.slice($0) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
        let runtime = config!
        let match = path.withUnsafeBytes { pathBytes in
            runtime.router.match(method: bytes.slice(parser.head.methodRange), host: host, path: pathBytes,
                                 remote: remoteAddress(), accept: { runtime.routes[$0].vars?.matches(context.vars) ?? true })
        }
        guard let match else {
            // Global rules run for unmatched requests too, and may answer them (init.lua).
            if let global = runtime.unmatched {
                context.begin(route: global)
                guard runRequestPhase(.rewrite, ext: nil), runRequestPhase(.access, ext: nil) else { return }
            }
            respond(status: 404, contentType: "text/plain; charset=utf-8", body: ResponsePages.routeNotFound)
            return
        }
        routeIndex = match.routeIndex
        let entry = runtime.routes[match.routeIndex]
        switch entry.route.unavailable {
        case nil: break
        case .missingPluginConfig(let id)?:
            worker.logger.log(.error, "failed to fetch plugin config by id: \(id)")
            respondError(503)
            return
        case .missingService(let id)?:
            worker.logger.log(.error, "failed to fetch service configuration by id: \(id)")
            respondError(404)
            return
        }
        context.begin(route: entry)
        guard runRequestPhase(.rewrite, ext: match.ext), applyConsumer(ext: match.ext),
              runRequestPhase(.access, ext: match.ext) else { return }
        guard let upstream = entry.upstream else {
            if let missing = entry.missingUpstreamId {
                worker.logger.log(.error, "failed to find upstream by id: \(missing)")
                respondError(502)
            } else {
                worker.logger.log(.error, "missing upstream configuration in Route or Service")
                respondError(503)
            }
            return
        }
        guard !upstream.peers.isEmpty else {
            worker.logger.log(.error, "no valid upstream node")
            respondError(503)
            return
        }
        guard upstream.config.type == "roundrobin" else {
            // The Admin API accepts any type name, as APISIX's does; serving it is an error.
            worker.logger.log(.error, "failed to get balancer: unknown balancer type \(upstream.config.type)")
            respondError(500)
            return
        }
        guard runRequestPhase(.beforeProxy, ext: match.ext) else { return }
        self.upstream = upstream
        triesLeft = upstream.retries
        buildForwardHead(upstream: upstream)
        guard !forwardHead.overflowed else {
            respondForwardHeadTooLarge()
            return
        }
        if machine.shouldSendContinue(expectContinue: parser.head.expectContinue, bodyBytesAtHand: !input.isEmpty) {
            output.append("HTTP/1.1 100 Continue\r\n\r\n")
            guard writeClient() else { return }
        }
        decideBodyRetention()
        machine.startProxying()
        upstreamStartMs = monotonicMilliseconds()
        if !requestBodyDone {
            readEvent.add(timeout: worker.config.clientBodyTimeout)
        }
        connectUpstream()
    }

    /// The client's address for `remote_addrs` matching.
    func remoteAddress() -> IPAddress? {
        realIP ?? IPAddress(peer.storage)
    }

    /// Appends `$remote_addr`.
    func appendRemoteAddr(to out: inout ByteBuffer) {
        if let realIPRange {
            out.append(head.readable.slice(realIPRange))
        } else {
            out.append(peerText)
        }
    }
}
