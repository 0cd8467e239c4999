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
            failBeforeResponse(502)
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
            guard requestSerial == serial, phase == .proxying, self.upstream === upstream else { return }
            switch answer {
            case .address(let address):
                connect(to: address.with(port: node.port), peerIndex: peerIndex, upstream: upstream, entry: entry)
            case .failure(let reason):
                logUpstreamError("\(node.host) could not be resolved (\(reason)) while connecting to upstream",
                                 peerIndex: peerIndex, reason: "failed to resolve \(node.host): \(reason)")
                nextPeerOrFail(502)
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
            logUpstreamError("connect() to \(address.description) failed (\(err): \(errnoString(err))) while connecting to upstream",
                             peerIndex: peerIndex, reason: errnoString(err).lowercased())
            nextPeerOrFail(502)
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
            logUpstreamError("SSL_new() failed while SSL handshaking to upstream", peerIndex: conn.peerIndex, reason: "failed to create an SSL session")
            dropUpstream(conn)
            failBeforeResponse(502)
            return
        }
        conn.tls = session
        conn.state = .handshaking
        continueHandshake(conn, timedOut: false)
    }

    func continueHandshake(_ conn: UpstreamConnection, timedOut: Bool) {
        let entry = config!.routes[routeIndex]
        if timedOut {
            logUpstreamError("upstream timed out (110: Connection timed out) while SSL handshaking to upstream", peerIndex: conn.peerIndex, reason: "timeout")
            dropUpstream(conn)
            nextPeerOrFail(504)
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
            logUpstreamError("SSL_do_handshake() failed (\(reason)) while SSL handshaking to upstream", peerIndex: conn.peerIndex, reason: reason)
            dropUpstream(conn)
            nextPeerOrFail(502)
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
            guard phase == .proxying else { return }
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
                logUpstreamError("upstream timed out (110: Connection timed out) while connecting to upstream", peerIndex: conn.peerIndex, reason: "timeout")
                dropUpstream(conn)
                nextPeerOrFail(504)
                return
            }
            let err = Socket.pendingError(conn.fd)
            if err != 0 {
                logUpstreamError("connect() to \(address) failed (\(err): \(errnoString(err))) while connecting to upstream", peerIndex: conn.peerIndex, reason: errnoString(err).lowercased())
                dropUpstream(conn)
                nextPeerOrFail(502)
                return
            }
            connected(conn, entry: entry)
            return
        }
        if timedOut {
            logUpstreamError("upstream timed out (110: Connection timed out) while sending request to upstream", peerIndex: conn.peerIndex, reason: "timeout")
            dropUpstream(conn)
            failBeforeResponse(504)
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
        if conn.reused && !staleRetryUsed && canRetryBody {
            // The peer closed the pooled connection before we wrote: once more on a new one.
            staleRetryUsed = true
            dropUpstream(conn)
            tried = PeerSet()
            upstreamPeers.removeLast()
            connectUpstream()
            return
        }
        let call = conn.tls == nil ? "write()" : "SSL_write()"
        logUpstreamError("\(call) failed (\(err): \(errnoString(err))) while sending request to upstream", peerIndex: conn.peerIndex)
        dropUpstream(conn)
        nextPeerOrFail(502)
    }

    func dropUpstream(_ conn: UpstreamConnection) {
        if upstreamConn === conn { upstreamConn = nil }
        conn.close()
    }

    /// Tries the next peer after a connect failure or timeout, while `retries` allows and the
    /// request can be sent again; otherwise answers `status`.
    func nextPeerOrFail(_ status: Int) {
        upstreamStatuses.append(status)
        if triesLeft > 0 && canRetryBody, let upstream, tried.count < upstream.peers.count {
            triesLeft -= 1
            connectUpstream()
            return
        }
        respondUpstreamFailure(status)
    }

    /// An error or timeout after the request was sent, before any response byte (nginx's
    /// `proxy_next_upstream error timeout`): the next peer for an idempotent method; a
    /// non-idempotent request (POST, PATCH, unknown methods) is not sent twice.
    func nextPeerAfterSentOrFail(_ status: Int) {
        switch parser.head.method {
        case .post, .patch, .other, .connect:
            failBeforeResponse(status)
        default:
            nextPeerOrFail(status)
        }
    }

    func failBeforeResponse(_ status: Int) {
        upstreamStatuses.append(status)
        respondUpstreamFailure(status)
    }

    func respondUpstreamFailure(_ status: Int) {
        if let conn = upstreamConn { dropUpstream(conn) }
        if function != nil {
            // A function that cannot be called is 503 (generic-upstream.lua), with no upstream status.
            if !requestBodyDone { closeAfterResponse = true }
            respondError(503)
            return
        }
        if retainedBody > 0 {
            // The body kept for a retry is this request's, not the next request's bytes.
            input.consume(retainedBody)
            retainedBody = 0
        }
        if !requestBodyDone { closeAfterResponse = true }
        respondError(status, upstreamStatusHeader: true)
    }
}
