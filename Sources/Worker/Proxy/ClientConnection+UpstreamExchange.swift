import CLibevent
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// Connecting to a peer (resolve, connect, TLS), sending the request, and what a failure leads to (`UpstreamFailure.decide`).
extension ClientConnection {
    func connectUpstream() {
        guard let upstream, let runtime = config else { return }
        let entry = runtime.routes[routeIndex]
        guard let peerIndex = upstream.balancer.pick(excluding: tried) else {
            upstreamFailed(.noPeer, nil, nil)
            return
        }
        tried.insert(peerIndex)
        upstreamPeers.append(peerIndex)
        if !staleRetryUsed, let conn = upstream.pool.lease(peer: peerIndex) {
            conn.client = self
            upstreamConn = conn
            startSending(conn, entry: entry)
            return
        }
        if let address = upstream.peers[peerIndex].address {
            connect(to: address, peerIndex: peerIndex, upstream: upstream, entry: entry)
            return
        }
        // A host name: resolved by the worker's resolver (cached), never blocking the loop.
        let node = upstream.config.nodes[peerIndex]
        let serial = requestSerial
        worker.resolver.resolve(node.host) { [self] answer in
            guard requestSerial == serial, machine.state == .proxying, self.upstream === upstream else { return }
            switch answer {
            case .address(let address):
                connect(to: address.with(port: node.port), peerIndex: peerIndex, upstream: upstream, entry: entry)
            case .failure(let reason):
                upstreamFailed(.resolve, nil, "\(node.host) could not be resolved (\(reason)) while connecting to upstream",
                               reason: "failed to resolve \(node.host): \(reason)")
            }
        }
    }

    func connect(to address: SocketAddress, peerIndex: Int, upstream: UpstreamRuntime, entry: RuntimeConfig.RouteEntry) {
        switch Socket.connect(to: address) {
        case .connected(let fd):
            let conn = attachUpstream(fd: fd, peerIndex: peerIndex, upstream: upstream)
            conn.address = address
            connected(conn, entry: entry)
        case .inProgress(let fd):
            let conn = attachUpstream(fd: fd, peerIndex: peerIndex, upstream: upstream)
            conn.address = address
            conn.state = .connecting
            conn.writeEvent.add(timeout: exchangeTimeouts.connect)
        case .failed(let err):
            upstreamFailed(.connect, nil, "connect() to \(address.description) failed (\(err): \(errnoString(err))) while connecting to upstream",
                           reason: errnoString(err).lowercased())
        }
    }

    /// The TCP connection is up: TLS first for `https`, then the request.
    func connected(_ conn: UpstreamConnection, entry: RuntimeConfig.RouteEntry) {
        conn.writeEvent.delete()
        guard let upstream, upstream.config.scheme == "https" else {
            conn.state = .active
            startSending(conn, entry: entry)
            return
        }
        let host = upstream.config.nodes[conn.peerIndex].host
        guard let context = worker.tlsContext,
              let session = TLSSession(context: context, fd: conn.fd, serverName: host, verify: function?.sslVerify ?? false) else {
            upstreamFailed(.tlsSetup, conn, "SSL_new() failed while SSL handshaking to upstream", reason: "failed to create an SSL session")
            return
        }
        conn.tls = session
        conn.state = .handshaking
        continueHandshake(conn, timedOut: false)
    }

    func continueHandshake(_ conn: UpstreamConnection, timedOut: Bool) {
        let entry = config!.routes[routeIndex]
        if timedOut {
            upstreamFailed(.handshakeTimeout, conn, "upstream timed out (110: Connection timed out) while SSL handshaking to upstream", reason: "timeout")
            return
        }
        switch conn.tls!.handshake() {
        case .done:
            conn.state = .active
            conn.writeEvent.delete()
            startSending(conn, entry: entry)
        case .wantRead:
            conn.writeEvent.delete()
            conn.readEvent.add(timeout: exchangeTimeouts.connect)
        case .wantWrite:
            conn.writeEvent.add(timeout: exchangeTimeouts.connect)
        case .failed(let reason):
            upstreamFailed(.handshake, conn, "SSL_do_handshake() failed (\(reason)) while SSL handshaking to upstream", reason: reason)
        }
    }

    func attachUpstream(fd: Int32, peerIndex: Int, upstream: UpstreamRuntime) -> UpstreamConnection {
        let conn = worker.newUpstreamConnection()
        conn.attach(fd: fd)
        conn.upstream = upstream
        conn.peerIndex = peerIndex
        conn.client = self
        upstreamConn = conn
        return conn
    }

    /// Writes the request head and what body is at hand to a connected upstream.
    func startSending(_ conn: UpstreamConnection, entry: RuntimeConfig.RouteEntry) {
        conn.parser.reset()
        conn.input.clear()
        conn.output.clear()
        if hostHeaderEnd >= 0, let upstream {
            conn.output.append(UnsafeRawBufferPointer(start: forwardHead.base, count: hostHeaderEnd))
            conn.output.append(upstream.peers[conn.peerIndex].hostHeader)
            conn.output.append("\r\n")
            conn.output.append(UnsafeRawBufferPointer(start: forwardHead.base + hostHeaderEnd, count: forwardHead.writeIndex - hostHeaderEnd))
        } else {
            conn.output.append(forwardHead.readable)
        }
        conn.requests += 1
        if spooling {
            spoolSent = 0
            conn.readEvent.add(timeout: exchangeTimeouts.read)
            // The whole spooled body, however many writes it takes.
            if !sendSpool(conn) { upstreamWriteFailed(conn) }
            return
        } else if retainedBody > 0 {
            appendBody(from: UnsafeRawBufferPointer(start: input.base + input.readIndex, count: retainedBody), to: conn, consumeInput: false)
        } else if !requestBodyDone {
            moveStreamedBody(to: conn)
            // An invalid or too large body already answered the client and dropped `conn`.
            guard machine.state == .proxying else { return }
        }
        conn.readEvent.add(timeout: exchangeTimeouts.read)
        guard conn.flush() else {
            upstreamWriteFailed(conn)
            return
        }
        if !conn.output.isEmpty {
            conn.writeEvent.add(timeout: exchangeTimeouts.send)
        } else if !requestBodyDone {
            // All written at once: nothing will call upstreamWritable, so go on with the body
            // here (the client's reading may be paused for a full input buffer).
            pumpRequestBody()
        }
    }

    func upstreamWritable(_ conn: UpstreamConnection, timedOut: Bool) {
        guard let runtime = config else { return }
        if upstreamSendStopped {
            conn.writeEvent.delete()
            return
        }
        let entry = runtime.routes[routeIndex]
        if conn.state == .handshaking {
            continueHandshake(conn, timedOut: timedOut)
            return
        }
        if conn.state == .connecting {
            let address = conn.address.description
            if timedOut {
                upstreamFailed(.connectTimeout, conn, "upstream timed out (110: Connection timed out) while connecting to upstream", reason: "timeout")
                return
            }
            let err = Socket.pendingError(conn.fd)
            if err != 0 {
                upstreamFailed(.connect, conn, "connect() to \(address) failed (\(err): \(errnoString(err))) while connecting to upstream", reason: errnoString(err).lowercased())
                return
            }
            connected(conn, entry: entry)
            return
        }
        if timedOut {
            upstreamFailed(.sendTimeout, conn, "upstream timed out (110: Connection timed out) while sending request to upstream", reason: "timeout")
            return
        }
        guard conn.flush() else {
            upstreamWriteFailed(conn)
            return
        }
        if conn.output.isEmpty {
            conn.writeEvent.delete()
            if spooling && spoolSent < spool.count {
                if !sendSpool(conn) { upstreamWriteFailed(conn) }
            } else if !requestBodyDone {
                pumpRequestBody()
            }
        }
    }

    func upstreamWriteFailed(_ conn: UpstreamConnection) {
        let err = errno
        if responseHeadDone || upstreamSendStopped {
            // Answered already: the rest of the request is not wanted.
            stopSendingRequest(conn)
            return
        }
        // An upstream that answers early and closes (a 413 for an upload, an auth failure) makes
        // the next write fail: its answer may be waiting to be read, and is the client's answer.
        let n = conn.readInput()
        if n > 0 {
            stopSendingRequest(conn)
            parseResponseHead(conn)
            return
        }
        let call = conn.tls == nil ? "write()" : "SSL_write()"
        upstreamFailed(.send, conn, "\(call) failed (\(err): \(errnoString(err))) while sending request to upstream")
    }

    func dropUpstream(_ conn: UpstreamConnection) {
        if upstreamConn === conn { upstreamConn = nil }
        conn.close()
    }

    /// One try failed before any response reached the client: logged (unless it was only a
    /// stale pooled connection), then `UpstreamFailure.decide` says what follows.
    func upstreamFailed(_ failure: UpstreamFailure, _ conn: UpstreamConnection?, _ message: @autoclosure () -> String?, reason: String? = nil) {
        let attempt = UpstreamAttempt(
            triesLeft: triesLeft,
            untriedPeers: upstream.map { $0.peers.count - tried.count } ?? 0,
            replayable: canRetryBody,
            idempotent: Self.isIdempotent(parser.head.method),
            reusedConnection: conn?.reused ?? false,
            staleRetryUsed: staleRetryUsed,
            readAnyByte: !(conn?.input.isEmpty ?? true))
        let decision = failure.decide(attempt)
        if decision != .retryStale, let message = message() {
            logUpstreamError(message, peerIndex: conn?.peerIndex ?? upstreamPeers.last ?? 0, reason: reason)
        }
        if let conn { dropUpstream(conn) }
        switch decision {
        case .retryStale:
            // The peer had closed the pooled connection: the same peer on a new one.
            staleRetryUsed = true
            tried = PeerSet()
            upstreamPeers.removeLast()
            connectUpstream()
        case .nextPeer:
            upstreamStatuses.append(failure.status)
            triesLeft -= 1
            connectUpstream()
        case .fail(let status):
            upstreamStatuses.append(status)
            respondUpstreamFailure(status)
        }
    }

    /// RFC 9110 §9.2.2: a request that may be repeated without changing what it did.
    static func isIdempotent(_ method: HTTPMethod) -> Bool {
        switch method {
        case .post, .patch, .other, .connect: false
        default: true
        }
    }

    func respondUpstreamFailure(_ status: Int) {
        if let conn = upstreamConn { dropUpstream(conn) }
        if function != nil {
            // A function that cannot be called is 503 (generic-upstream.lua), with no upstream status.
            if !requestBodyDone { machine.closeAfterThisResponse() }
            respondError(503)
            return
        }
        if retainedBody > 0 {
            // The body kept for a retry is this request's, not the next request's bytes.
            input.consume(retainedBody)
            retainedBody = 0
        }
        if !requestBodyDone { machine.closeAfterThisResponse() }
        respondError(status, upstreamStatusHeader: true)
    }
}
