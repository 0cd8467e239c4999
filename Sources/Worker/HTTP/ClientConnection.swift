import CLibevent
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// One client connection and the request it is serving: HTTP/1.1 keep-alive and pipelining,
/// routing, and proxying to an upstream through the worker's keepalive pools (nginx's
/// ngx_http_request.c + ngx_http_upstream.c, much reduced).
///
/// Objects are recycled through the worker's free list with their buffers and events, so the
/// steady state allocates nothing per request. Everything runs on the worker's loop.
///
/// Request life: `.waiting` (keep-alive, no byte yet) → `.readingHead` → `.proxying` (upstream
/// request sent, request body streamed, response streamed back) or a local response → back to
/// `.waiting` once the response is flushed, or `.lingering` (the client may still be sending: read
/// and discard for a while so that closing does not reset the response it has not read yet), or
/// `.closing`.
package final class ClientConnection {
    enum Phase { case waiting, readingHead, proxying, responding, lingering, closing }
    enum RequestBody { case none, length, chunked }

    unowned(unsafe) let worker: WorkerLoop
    var fd: Int32 = -1
    /// Index in `worker.live`.
    var liveIndex = -1
    let readEvent: EventHandle
    let writeEvent: EventHandle
    /// Bytes from the client not yet used: a partial head, body bytes, pipelined requests.
    var input: ByteBuffer
    /// Bytes to the client not yet written.
    var output: ByteBuffer
    var parser = HTTPRequestParser()
    /// The current request's head bytes; `parser.head`'s ranges index into it.
    var head: ByteBuffer
    /// The request head as sent upstream, kept for a retry on another peer.
    var forwardHead: ByteBuffer
    var peer = SocketAddress()
    /// The socket peer's address as text.
    var peerText: [UInt8] = []
    /// Whether the peer may set the client address with `X-Real-IP` (APISIX's realip
    /// defaults: `real_ip_from` 127.0.0.1 and unix:, `real_ip_header` X-Real-IP).
    var peerTrusted = false
    /// `$remote_addr` of the current request: the X-Real-IP value (range in `head`) when a trusted
    /// peer sent a valid one, else the peer.
    var realIPRange: Range<Int>?
    var realIP: IPAddress?
    var listenerPort = 0
    var phase: Phase = .waiting

    // MARK: Per-request state
    var config: RuntimeConfig?
    var routeIndex = -1
    var upstream: UpstreamRuntime?
    var upstreamConn: UpstreamConnection?
    var path: [UInt8] = []
    var tried = PeerSet()
    var triesLeft = 0
    var staleRetryUsed = false
    var keepAlive = true
    var closeAfterResponse = false
    var isHead = false
    var requestStartMs: Int64 = 0
    var upstreamStartMs: Int64 = 0
    var upstreamHeaderMs: Int64 = -1
    // request body
    var requestBody: RequestBody = .none
    var requestRemaining: Int64 = 0
    var requestDecoder = ChunkedDecoder()
    var requestBodyDone = true
    var requestBodyBytes: Int64 = 0
    /// Bytes of `input` holding the whole body, kept until the upstream answers so a failure on a
    /// reused keepalive connection can be retried; 0 when the body is streamed.
    var retainedBody = 0
    var pausedClientRead = false
    /// The client shut down its sending side after a complete request: answer what it sent
    /// (pipelined requests too), then close.
    var clientHalfClosed = false
    /// The upstream answered (or stopped reading) before taking the whole request: no more body
    /// is sent to it, and the client's remaining body is read and dropped.
    var upstreamSendStopped = false
    /// When a lingering close gives up (monotonic ms).
    var lingerDeadlineMs: Int64 = 0
    // response
    var responseHeadDone = false
    var responseFraming: HTTPBodyFraming = .none
    var responseRemaining: Int64 = 0
    var responseDecoder = ChunkedDecoder()
    var chunkedToClient = false
    var pausedUpstreamRead = false
    var status = 0
    var bodyBytesSent: Int64 = 0
    /// Statuses of the tries so far, for `X-APISIX-Upstream-Status` and `$upstream_status`.
    var upstreamStatuses: [Int] = []
    var upstreamPeers: [Int] = []
    /// Move to the next request once `output` is flushed.
    var finishAfterFlush = false
    // function calls (serverless plugins)
    /// The function this request calls, when a plugin ended it with a call.
    var function: FunctionTarget?
    /// The route's `:ext` capture, as a range of `path`.
    var functionExt: Range<Int>?
    /// A chunked body collected before the call (it must be sent with a Content-Length).
    var spooling = false
    lazy var spool = BodySpool()
    /// Bytes of `spool` copied to the upstream so far.
    var spoolSent: Int64 = 0
    /// Grows with every request, so a DNS answer arriving late finds out it is stale.
    var requestSerial: UInt64 = 0

    static let outputHighWater = 64 * 1024
    /// nginx's `lingering_time` and `lingering_timeout` defaults: how long a closing connection
    /// reads and drops what the client still sends, in total and between two reads.
    static let lingeringTime: Int64 = 30_000
    static let lingeringTimeout = 5.0
    /// The forwarded head holds the client's head (at most `maxHeaderBytes`) plus what is derived
    /// from it: Host again as X-Forwarded-Host, the remote address, a function's re-encoded path
    /// (at most 3 bytes per byte of the request line), the configured host and credentials.
    static let forwardHeadLimit = 2 * HTTPParserLimits().maxHeaderBytes + 16 * 1024
    static let initialBuffer = 4 * 1024
    static let loopback: [UInt8] = Array("127.0.0.1".utf8)

    init(worker: WorkerLoop) {
        self.worker = worker
        // Small to start (a typical head and response fit; nginx's client_header_buffer_size is
        // 1k): memory per connection is what bounds RSS at many connections. They grow, by
        // doubling, only for large heads and bodies, and `close()` shrinks them back.
        input = ByteBuffer(capacity: Self.initialBuffer, limit: 64 * 1024)
        output = ByteBuffer(capacity: 2 * 1024, limit: 1024 * 1024)
        head = ByteBuffer(capacity: 1024, limit: 64 * 1024)
        forwardHead = ByteBuffer(capacity: 1024, limit: Self.forwardHeadLimit)
        let placeholder = UnsafeMutableRawPointer(bitPattern: 1)!
        readEvent = EventHandle(base: worker.base, callback: clientReadCallback, context: placeholder, timeouts: worker.timeouts)
        writeEvent = EventHandle(base: worker.base, callback: clientWriteCallback, context: placeholder, timeouts: worker.timeouts)
        path.reserveCapacity(256)
        peerText.reserveCapacity(48)
        upstreamStatuses.reserveCapacity(4)
        upstreamPeers.reserveCapacity(4)
    }

    deinit {
        readEvent.free()
        writeEvent.free()
        input.deallocate()
        output.deallocate()
        head.deallocate()
        forwardHead.deallocate()
    }

    var contextPointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
    var isIdle: Bool { phase == .waiting && output.isEmpty }

    // MARK: - Life cycle

    func open(fd: Int32, peer: SocketAddress, listenerPort: Int) {
        self.fd = fd
        self.peer = peer
        self.listenerPort = listenerPort
        peerText.removeAll(keepingCapacity: true)
        peer.appendHostText(to: &peerText)
        peerTrusted = peerText == Self.loopback
        input.clear()
        output.clear()
        parser.reset()
        head.clear()
        realIPRange = nil
        realIP = nil
        phase = .waiting
        pausedClientRead = false
        clientHalfClosed = false
        readEvent.assign(base: worker.base, fd: fd, events: EV_READ | EV_PERSIST, callback: clientReadCallback, context: contextPointer)
        writeEvent.assign(base: worker.base, fd: fd, events: EV_WRITE | EV_PERSIST, callback: clientWriteCallback, context: contextPointer)
        readEvent.add(timeout: worker.config.clientHeaderTimeout)
    }

    /// Closes the connection now, abandoning any upstream connection in use.
    func close() {
        if let conn = upstreamConn {
            upstreamConn = nil
            conn.close()
        }
        readEvent.delete()
        writeEvent.delete()
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        config = nil
        upstream = nil
        phase = .closing
        input.clear()
        output.clear()
        parkBuffers(keepSize: false)
        worker.recycle(self)
    }

    // MARK: - Client events

    func clientReadable(timedOut: Bool) {
        if phase == .lingering {
            lingeringRead(timedOut: timedOut)
            return
        }
        if timedOut {
            switch phase {
            case .waiting:
                close()
            case .readingHead:
                worker.logger.log(.info, "client timed out (110: Connection timed out) while reading client request headers, client: \(peer.hostText)")
                close()
            case .proxying where !requestBodyDone:
                worker.logger.log(.info, "client timed out (110: Connection timed out) while reading client request body, client: \(peer.hostText)")
                close()
            default:
                readEvent.add()
            }
            return
        }
        let n = input.read(from: fd)
        if n > 0 {
            switch phase {
            case .waiting, .readingHead:
                parseHead()
            case .proxying:
                if !requestBodyDone { pumpRequestBody() } else { pauseClientReadIfFull() }
            case .responding, .lingering, .closing:
                pauseClientReadIfFull()
            }
            return
        }
        if n == -2 {
            // Input full of pipelined requests: wait until the current response is done.
            pauseClientRead()
            return
        }
        if n < 0 {
            let err = errno
            if err == EAGAIN || err == EINTR { return }
            if phase != .waiting {
                worker.logger.log(.info, "recv() failed (\(err): \(errnoString(err))) while reading from client, client: \(peer.hostText)")
            }
            clientGone()
            return
        }
        // n == 0: the client closed its sending side. With a whole request read, it still
        // waits for the answer (a half-close, as `curl`/`nc -N` do): answer, then close.
        if (phase == .proxying && (requestBodyDone || retainedBody > 0)) || phase == .responding {
            clientHalfClosed = true
            keepAlive = false
            readEvent.delete()
            return
        }
        if phase == .proxying || phase == .readingHead {
            worker.logger.log(.info, "client prematurely closed connection, client: \(peer.hostText)")
        }
        clientGone()
    }

    /// The client is gone (reset, or closed before sending its whole request): a request whose
    /// answer was not complete yet is logged as nginx logs it, with 499 when no response byte
    /// was produced, then the connection closes.
    private func clientGone() {
        if phase == .proxying && !finishAfterFlush {
            if !responseHeadDone {
                status = 499
                bodyBytesSent = 0
            }
            writeAccessLog()
        }
        close()
    }

    func clientWritable(timedOut: Bool) {
        if timedOut {
            worker.logger.log(.info, "client timed out (110: Connection timed out) while sending to client, client: \(peer.hostText)")
            close()
            return
        }
        guard writeClient() else { return }
        if output.isEmpty {
            if pausedUpstreamRead, let conn = upstreamConn {
                pausedUpstreamRead = false
                conn.readEvent.add(timeout: exchangeTimeouts.read)
            }
            if finishAfterFlush { finishRequest() }
        }
    }

    /// Writes as much of `output` as the socket takes. Returns false when the connection failed
    /// (and is closed).
    @discardableResult
    func writeClient() -> Bool {
        while !output.isEmpty {
            let n = Glibc.write(fd, output.base + output.readIndex, output.count)
            if n > 0 { output.consume(n); continue }
            let err = errno
            if n < 0 && err == EINTR { continue }
            if n < 0 && err == EAGAIN {
                writeEvent.add(timeout: worker.config.sendTimeout)
                return true
            }
            worker.logger.log(.info, "write() failed (\(err): \(errnoString(err))) while sending to client, client: \(peer.hostText)")
            clientGone()
            return false
        }
        writeEvent.delete()
        return true
    }

    private func pauseClientRead() {
        if !pausedClientRead { pausedClientRead = true; readEvent.delete() }
    }

    private func pauseClientReadIfFull() {
        if input.freeSpace < 4096 && input.capacity >= input.limit { pauseClientRead() }
    }

    private func resumeClientRead(timeout: Double?) {
        pausedClientRead = false
        readEvent.add(timeout: timeout)
    }

    // MARK: - Request head

    private func parseHead() {
        if phase == .waiting {
            phase = .readingHead
            readEvent.add(timeout: worker.config.clientHeaderTimeout)
        }
        let result = parser.parse(input.readable)
        switch result {
        case .incomplete:
            if input.freeSpace == 0 && input.capacity >= input.limit {
                prepareHeadFailure()
                respondError(431, close: true)
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
    private func prepareHeadFailure() {
        resetRequestState()
        head.clear()
        head.append(input.readable)
        requestStartMs = monotonicMilliseconds()
        isHead = false
    }

    private func resetRequestState() {
        realIPRange = nil
        realIP = nil
        routeIndex = -1
        upstream = nil
        tried = PeerSet()
        staleRetryUsed = false
        closeAfterResponse = false
        requestBody = .none
        requestRemaining = 0
        requestDecoder = ChunkedDecoder()
        requestBodyDone = true
        requestBodyBytes = 0
        retainedBody = 0
        responseHeadDone = false
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
        finishAfterFlush = false
        function = nil
        functionExt = nil
        if spooling { spool.reset() }
        spooling = false
        spoolSent = 0
        upstreamSendStopped = false
        requestSerial &+= 1
    }

    private func dispatchRequest() {
        resetRequestState()
        // Keep the head where its ranges stay valid while `input` is consumed.
        head.clear()
        head.append(UnsafeRawBufferPointer(start: input.base + input.readIndex, count: parser.head.headEnd))
        input.consume(parser.head.headEnd)
        requestStartMs = monotonicMilliseconds()
        config = worker.runtime
        // A half-closed client's last request is answered with `Connection: close`.
        keepAlive = parser.head.keepAlive && !worker.quitting && !(clientHalfClosed && input.isEmpty)
        isHead = parser.head.method == .head
        phase = .responding
        let bytes = head.readable
        if peerTrusted, let field = parser.head.firstHeader(.xRealIP), let ip = IPAddress(bytes: bytes.slice(field.valueRange)) {
            realIPRange = field.valueRange
            realIP = ip
        }
        if parser.head.isChunked {
            requestBody = .chunked
            requestBodyDone = false
        } else if let length = parser.head.contentLength, length > 0 {
            requestBody = .length
            requestRemaining = length
            requestBodyDone = false
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
            runtime.router.match(method: bytes.slice(parser.head.methodRange), host: host, path: pathBytes, remote: remoteAddress())
        }
        guard let match else {
            respond(status: 404, contentType: "text/plain; charset=utf-8", body: ResponsePages.routeNotFound)
            return
        }
        routeIndex = match.routeIndex
        let entry = runtime.routes[match.routeIndex]
        for plugin in entry.plugins {
            switch plugin.access() {
            case .next:
                continue
            case .respond(let status, let body, let errorLog):
                if let errorLog { worker.logger.log(.error, errorLog) }
                if let body {
                    respond(status: status, contentType: "text/plain; charset=utf-8", body: body)
                } else {
                    respondError(status)
                }
                return
            case .callFunction(let target):
                startFunctionCall(target, ext: match.ext)
                return
            }
        }
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
        self.upstream = upstream
        triesLeft = upstream.retries
        buildForwardHead(upstream: upstream)
        guard !forwardHead.overflowed else {
            respondForwardHeadTooLarge()
            return
        }
        if parser.head.expectContinue && !requestBodyDone && input.isEmpty {
            output.append("HTTP/1.1 100 Continue\r\n\r\n")
            guard writeClient() else { return }
        }
        decideBodyRetention()
        phase = .proxying
        upstreamStartMs = monotonicMilliseconds()
        if !requestBodyDone {
            readEvent.add(timeout: worker.config.clientBodyTimeout)
        }
        connectUpstream()
    }

    /// The client's address for `remote_addrs` matching.
    private func remoteAddress() -> IPAddress? {
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

    /// Whether a header named `name` is hop-by-hop because a `Connection` header names it
    /// (`tokens` are the parser's ranges into `bytes`).
    @inline(__always)
    static func isNamed(_ name: UnsafeRawBufferPointer, in tokens: [Range<Int>], _ bytes: UnsafeRawBufferPointer) -> Bool {
        for token in tokens where Bytes.equalsIgnoringCase(name, bytes.slice(token)) { return true }
        return false
    }

    /// Appends a client header field `name: value` unless a `Connection` header names it.
    @inline(__always)
    func appendEndToEnd(_ field: HTTPHeaderField, _ bytes: UnsafeRawBufferPointer, to out: inout ByteBuffer) {
        let name = bytes.slice(field.nameRange)
        let tokens = parser.head.connectionTokens
        if !tokens.isEmpty && Self.isNamed(name, in: tokens, bytes) { return }
        if Bytes.isFramingNameWithUnderscore(name) { return }
        out.append(name)
        out.append(": ")
        out.append(bytes.slice(field.valueRange))
        out.append("\r\n")
    }

    /// The request head for the upstream (apisix-compat.md section 5): the client's method and
    /// target, end-to-end headers, `Host` per `pass_host`, `X-Real-IP`, `X-Forwarded-*`, framing.
    private func buildForwardHead(upstream: UpstreamRuntime) {
        let bytes = head.readable
        forwardHead.clear()
        forwardHead.append(bytes.slice(parser.head.methodRange))
        forwardHead.append(UInt8(ascii: " "))
        let target = bytes.slice(parser.head.targetRange)
        if target.first == UInt8(ascii: "/") || target.first == UInt8(ascii: "*") {
            forwardHead.append(target)
        } else if parser.head.pathRange.lowerBound >= parser.head.targetRange.upperBound {
            // Absolute-form without a path (`http://host`, `http://host?q`): `pathRange` is the
            // `/` of the version, after the target; send `/` and the query.
            forwardHead.append("/")
            if let query = parser.head.queryRange {
                forwardHead.append("?")
                forwardHead.append(bytes.slice(query))
            }
        } else {
            // Absolute-form: send origin-form.
            forwardHead.append(bytes.slice(parser.head.pathRange.lowerBound..<parser.head.targetRange.upperBound))
        }
        forwardHead.append(" HTTP/1.1\r\nHost: ")
        switch upstream.config.passHost {
        case .pass:
            if let hostRange = parser.head.hostRange {
                forwardHead.append(bytes.slice(hostRange))
            } else {
                forwardHead.append(upstream.peers[0].hostHeader)
            }
        case .node:
            // Filled per peer in `startSending`; reserve nothing here.
            break
        case .rewrite:
            forwardHead.append(upstream.rewriteHost)
        }
        if upstream.config.passHost != .node { forwardHead.append("\r\n") }
        hostHeaderEnd = upstream.config.passHost == .node ? forwardHead.writeIndex : -1
        for field in parser.head.headers {
            switch field.known {
            case .host, .connection, .keepAlive, .proxyConnection, .upgrade, .te, .trailer,
                 .transferEncoding, .contentLength, .expect, .xRealIP, .xForwardedProto,
                 .xForwardedHost, .xForwardedPort, .forwarded, .xForwardedFor:
                continue
            default:
                appendEndToEnd(field, bytes, to: &forwardHead)
            }
        }
        // The client's chain, every X-Forwarded-For line joined in order, then our peer: one line
        // (APISIX's `$proxy_add_x_forwarded_for`).
        forwardHead.append("X-Forwarded-For: ")
        for field in parser.head.headers where field.known == .xForwardedFor && !field.valueRange.isEmpty {
            forwardHead.append(bytes.slice(field.valueRange))
            forwardHead.append(", ")
        }
        appendRemoteAddr(to: &forwardHead)
        forwardHead.append("\r\nX-Real-IP: ")
        appendRemoteAddr(to: &forwardHead)
        forwardHead.append("\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: ")
        if let hostRange = parser.head.hostRange {
            let hostBytes = bytes.slice(hostRange)
            forwardHead.append(hostBytes)
            forwardHead.append("\r\nX-Forwarded-Port: ")
            if let port = Bytes.port(ofHost: hostBytes) {
                forwardHead.append(port)
            } else {
                forwardHead.append(decimal: Int64(listenerPort))
            }
        } else {
            forwardHead.append("\r\nX-Forwarded-Port: ")
            forwardHead.append(decimal: Int64(listenerPort))
        }
        switch requestBody {
        case .none:
            // RFC 9110 §8.6: a POST/PUT/PATCH with no body says so.
            if parser.head.method == .post || parser.head.method == .put || parser.head.method == .patch {
                forwardHead.append("\r\nContent-Length: 0")
            }
        case .length:
            forwardHead.append("\r\nContent-Length: ")
            forwardHead.append(decimal: requestRemaining)
        case .chunked:
            forwardHead.append("\r\nTransfer-Encoding: chunked")
        }
        forwardHead.append("\r\n\r\n")
    }

    /// The forwarded head did not fit `forwardHeadLimit` (a configured host or credential larger
    /// than the client's head allows for): never sent truncated.
    func respondForwardHeadTooLarge() {
        worker.logger.log(.error, "request head for the upstream exceeds \(Self.forwardHeadLimit) bytes, client: \(peer.hostText)")
        respondError(431, close: true)
    }

    /// Where the `Host:` value goes for `pass_host: node` (per peer), or -1.
    var hostHeaderEnd = -1

    /// Keeps a body that is already wholly in `input` until the upstream answers.
    func decideBodyRetention() {
        switch requestBody {
        case .none:
            retainedBody = 0
        case .length:
            retainedBody = Int64(input.count) >= requestRemaining ? Int(requestRemaining) : 0
        case .chunked:
            var probe = ChunkedDecoder()
            var offset = 0
            let bytes = input.readable
            let maxBody = worker.config.clientMaxBodySize
            var dataBytes: Int64 = 0
            retainedBody = 0
            while offset < bytes.count {
                let (consumed, event) = probe.decode(bytes.slice(offset..<bytes.count))
                // Too large: leave it to the streamed path, which enforces client_max_body_size.
                if case .data(let range) = event { dataBytes += Int64(range.count) }
                if maxBody > 0 && dataBytes > maxBody { break }
                offset += consumed
                if case .end = event { retainedBody = offset; break }
                if case .error = event { break }
                if case .needMore = event { break }
            }
        }
    }

    // MARK: - Upstream connection

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

    private func connect(to address: SocketAddress, peerIndex: Int, upstream: UpstreamRuntime, entry: RuntimeConfig.RouteEntry) {
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
    private func connected(_ conn: UpstreamConnection, entry: RuntimeConfig.RouteEntry) {
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

    private func continueHandshake(_ conn: UpstreamConnection, timedOut: Bool) {
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

    private func attachUpstream(fd: Int32, peerIndex: Int, upstream: UpstreamRuntime) -> UpstreamConnection {
        let conn = worker.newUpstreamConnection()
        conn.attach(fd: fd)
        conn.upstream = upstream
        conn.peerIndex = peerIndex
        conn.client = self
        upstreamConn = conn
        return conn
    }

    /// Writes the request head and what body is at hand to a connected upstream.
    private func startSending(_ conn: UpstreamConnection, entry: RuntimeConfig.RouteEntry) {
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

    /// Copies body bytes (re-framed) into the upstream's output. For a retained body the input is
    /// left in place.
    private func appendBody(from bytes: UnsafeRawBufferPointer, to conn: UpstreamConnection, consumeInput: Bool) {
        switch requestBody {
        case .none:
            break
        case .length:
            conn.output.append(bytes)
            if !consumeInput { requestBodyDone = true; requestRemaining = 0 }
        case .chunked:
            var decoder = ChunkedDecoder()
            var offset = 0
            while offset < bytes.count {
                let (consumed, event) = decoder.decode(bytes.slice(offset..<bytes.count))
                switch event {
                case .data(let range):
                    let data = bytes.slice((offset + range.lowerBound)..<(offset + range.upperBound))
                    conn.output.appendChunk(data)
                case .end:
                    conn.output.append("0\r\n\r\n")
                    requestBodyDone = true
                default:
                    break
                }
                offset += consumed
                if case .end = event { break }
                if consumed == 0 { break }
            }
        }
    }

    /// Streams body bytes from `input` to the upstream (body larger than what was at hand).
    private func moveStreamedBody(to conn: UpstreamConnection) {
        let maxBody = worker.config.clientMaxBodySize
        while !input.isEmpty && !requestBodyDone && conn.output.count < Self.outputHighWater {
            switch requestBody {
            case .none:
                requestBodyDone = true
            case .length:
                let n = Int(min(Int64(input.count), requestRemaining))
                conn.output.append(UnsafeRawBufferPointer(start: input.base + input.readIndex, count: n))
                input.consume(n)
                requestRemaining -= Int64(n)
                if requestRemaining == 0 { requestBodyDone = true }
            case .chunked:
                let (consumed, event) = requestDecoder.decode(input.readable)
                switch event {
                case .data(let range):
                    let data = input.readable.slice(range)
                    requestBodyBytes += Int64(data.count)
                    if maxBody > 0 && requestBodyBytes > maxBody {
                        worker.logger.log(.error, "client intended to send too large chunked body: \(requestBodyBytes) bytes, client: \(peer.hostText)")
                        abortWithError(413)
                        return
                    }
                    conn.output.appendChunk(data)
                case .end:
                    conn.output.append("0\r\n\r\n")
                    requestBodyDone = true
                case .needMore:
                    break
                case .error(let reason):
                    worker.logger.log(.info, "client sent invalid chunked body (\(reason)), client: \(peer.hostText)")
                    abortWithError(400)
                    return
                }
                input.consume(consumed)
                if case .needMore = event { return }
            }
        }
    }

    /// More body bytes arrived from the client, or the upstream drained its output.
    private func pumpRequestBody() {
        if upstreamSendStopped {
            // The upstream has answered: the rest of the body goes nowhere (the connection
            // closes after the response, lingering until the client is done sending).
            input.clear()
            return
        }
        if spooling {
            spoolRequestBody()
            return
        }
        guard let conn = upstreamConn, conn.state == .active else {
            // Still connecting: bytes wait in `input`.
            pauseClientReadIfFull()
            return
        }
        if retainedBody > 0 { return }
        moveStreamedBody(to: conn)
        guard phase == .proxying else { return }
        guard conn.flush() else {
            upstreamWriteFailed(conn)
            return
        }
        if !conn.output.isEmpty {
            conn.writeEvent.add(timeout: exchangeTimeouts.send)
            if conn.output.count >= Self.outputHighWater { pauseClientRead() }
        } else if !requestBodyDone && pausedClientRead {
            resumeClientRead(timeout: worker.config.clientBodyTimeout)
        } else if !requestBodyDone {
            readEvent.add(timeout: worker.config.clientBodyTimeout)
        }
        if requestBodyDone && !pausedClientRead { readEvent.add() }
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

    private func upstreamWriteFailed(_ conn: UpstreamConnection) {
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

    /// No more of the request goes to `conn`; its response is still read.
    private func stopSendingRequest(_ conn: UpstreamConnection) {
        upstreamSendStopped = true
        closeAfterResponse = closeAfterResponse || !requestBodyDone
        conn.output.clear()
        conn.writeEvent.delete()
        if !requestBodyDone { input.clear() }
    }

    private var canRetryBody: Bool { requestBody == .none || retainedBody > 0 || (spooling && requestBodyDone) }

    private func dropUpstream(_ conn: UpstreamConnection) {
        if upstreamConn === conn { upstreamConn = nil }
        conn.close()
    }

    /// Tries the next peer after a connect failure or timeout, while `retries` allows and the
    /// request can be sent again; otherwise answers `status`.
    private func nextPeerOrFail(_ status: Int) {
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
    private func nextPeerAfterSentOrFail(_ status: Int) {
        switch parser.head.method {
        case .post, .patch, .other, .connect:
            failBeforeResponse(status)
        default:
            nextPeerOrFail(status)
        }
    }

    private func failBeforeResponse(_ status: Int) {
        upstreamStatuses.append(status)
        respondUpstreamFailure(status)
    }

    private func respondUpstreamFailure(_ status: Int) {
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

    // MARK: - Upstream response

    func upstreamReadable(_ conn: UpstreamConnection, timedOut: Bool) {
        if conn.state == .handshaking {
            continueHandshake(conn, timedOut: timedOut)
            return
        }
        if conn.state == .connecting {
            // A connect that failed makes the socket readable too; the write side reports it.
            return
        }
        if timedOut {
            if !responseHeadDone {
                logUpstreamError("upstream timed out (110: Connection timed out) while reading response header from upstream", peerIndex: conn.peerIndex, reason: "timeout")
                dropUpstream(conn)
                nextPeerAfterSentOrFail(504)
            } else {
                logUpstreamError("upstream timed out (110: Connection timed out) while reading upstream", peerIndex: conn.peerIndex, reason: "timeout")
                close()
            }
            return
        }
        let n = conn.readInput()
        if n > 0 {
            if !responseHeadDone { parseResponseHead(conn) } else { forwardResponseBody(conn) }
            return
        }
        if n == -2 {
            if !responseHeadDone {
                logUpstreamError("upstream sent too big header while reading response header from upstream", peerIndex: conn.peerIndex)
                dropUpstream(conn)
                failBeforeResponse(502)
            }
            return
        }
        let err: Int32 = n < 0 ? errno : 0
        if n < 0 && (err == EAGAIN || err == EINTR) { return }
        // EOF or error.
        if !responseHeadDone {
            if conn.input.isEmpty && conn.reused && !staleRetryUsed && canRetryBody {
                staleRetryUsed = true
                dropUpstream(conn)
                tried = PeerSet()
                upstreamPeers.removeLast()
                connectUpstream()
                return
            }
            let what = n == 0 ? "upstream prematurely closed connection" : "recv() failed (\(err): \(errnoString(err)))"
            logUpstreamError("\(what) while reading response header from upstream", peerIndex: conn.peerIndex, reason: n == 0 ? "closed" : errnoString(err).lowercased())
            dropUpstream(conn)
            nextPeerAfterSentOrFail(502)
            return
        }
        if case .untilClose = responseFraming {
            dropUpstream(conn)
            if chunkedToClient { output.append("0\r\n\r\n") }
            completeResponse()
            return
        }
        let what = n == 0 ? "upstream prematurely closed connection" : "recv() failed (\(err): \(errnoString(err)))"
        logUpstreamError("\(what) while reading upstream", peerIndex: conn.peerIndex)
        // The response is incomplete and the client must see that: close after what we have.
        dropUpstream(conn)
        closeAfterResponse = true
        keepAlive = false
        if writeClient() { close() }
    }

    private func parseResponseHead(_ conn: UpstreamConnection) {
        while true {
            let result = conn.parser.parse(conn.input.readable)
            switch result {
            case .incomplete:
                return
            case .failure(let error):
                logUpstreamError("\(error.reason) while reading response header from upstream", peerIndex: conn.peerIndex)
                dropUpstream(conn)
                failBeforeResponse(502)
                return
            case .complete:
                if conn.parser.head.status >= 100 && conn.parser.head.status < 200 && conn.parser.head.status != 101 {
                    // Interim response (100 Continue from the upstream): not forwarded.
                    conn.input.consume(conn.parser.head.headEnd)
                    conn.parser.reset()
                    continue
                }
                startResponse(conn)
                return
            }
        }
    }

    /// Builds the client's response head from the upstream's: end-to-end headers, our `Server`,
    /// framing recomputed (apisix-compat.md "deliberately differs": hop-by-hop always stripped).
    private func startResponse(_ conn: UpstreamConnection) {
        responseHeadDone = true
        upstreamHeaderMs = monotonicMilliseconds()
        status = conn.parser.head.status
        upstreamStatuses.append(conn.parser.head.status)
        if retainedBody > 0 {
            input.consume(retainedBody)
            retainedBody = 0
        }
        if !requestBodyDone {
            // The upstream answered before taking the whole body: this connection cannot be
            // re-synchronised with the client, and the body's rest is not sent (nginx relays
            // such an early answer).
            stopSendingRequest(conn)
        }
        if conn.parser.head.status == 101 {
            logUpstreamError("upstream tried to switch protocols, not supported", peerIndex: conn.peerIndex)
            dropUpstream(conn)
            responseHeadDone = false
            upstreamStatuses.removeLast()
            failBeforeResponse(502)
            return
        }
        responseFraming = conn.parser.bodyFraming(requestMethod: parser.head.method)
        let clientHTTP11 = parser.head.versionMinor >= 1
        let bytes = conn.input.readable
        output.append(clientHTTP11 ? "HTTP/1.1 " : "HTTP/1.0 ")
        // Status code and reason as the upstream sent them.
        output.append(decimal: Int64(conn.parser.head.status))
        output.append(" ")
        if conn.parser.head.reasonRange.isEmpty {
            output.append(HTTPStatusPhrase.of(conn.parser.head.status))
        } else {
            output.append(bytes.slice(conn.parser.head.reasonRange))
        }
        output.append("\r\n")
        output.append(worker.serverHeader)
        var sawDate = false
        var contentLengthKept = false
        for field in conn.parser.head.headers {
            switch field.known {
            case .connection, .keepAlive, .proxyConnection, .upgrade, .te, .trailer, .transferEncoding:
                continue
            case .contentLength:
                // Kept only when it is the framing (or describes a HEAD response's body).
                if case .length = responseFraming { contentLengthKept = true } else if !isHead { continue }
            default:
                let name = bytes.slice(field.nameRange)
                if Bytes.equalsIgnoringCase(name, "server") { continue }
                if Bytes.equalsIgnoringCase(name, "date") { sawDate = true }
                if !conn.parser.head.connectionTokens.isEmpty && Self.isNamed(name, in: conn.parser.head.connectionTokens, bytes) { continue }
            }
            output.append(bytes.slice(field.nameRange))
            output.append(": ")
            output.append(bytes.slice(field.valueRange))
            output.append("\r\n")
        }
        if !sawDate {
            worker.clock.refresh()
            output.append("Date: ")
            output.append(worker.clock.httpDate)
            output.append("\r\n")
        }
        if let function {
            if conn.parser.head.status >= 400 {
                worker.logger.log(.warn, "\(function.pluginName) exits with http status code \(conn.parser.head.status)")
            }
        } else if conn.parser.head.status >= 500 {
            appendUpstreamStatusHeader()
        }
        switch responseFraming {
        case .none:
            break
        case .length(let length):
            responseRemaining = length
            if !contentLengthKept {
                output.append("Content-Length: ")
                output.append(decimal: length)
                output.append("\r\n")
            }
        case .chunked, .untilClose:
            if clientHTTP11 {
                chunkedToClient = true
                output.append("Transfer-Encoding: chunked\r\n")
            } else {
                closeAfterResponse = true
            }
        }
        if closeAfterResponse || !keepAlive {
            keepAlive = false
            output.append("Connection: close\r\n\r\n")
        } else {
            output.append("Connection: keep-alive\r\n\r\n")
        }
        conn.input.consume(conn.parser.head.headEnd)
        forwardResponseBody(conn)
    }

    private func appendUpstreamStatusHeader() {
        output.append("X-APISIX-Upstream-Status: ")
        for (i, s) in upstreamStatuses.enumerated() {
            if i > 0 { output.append(", ") }
            output.append(decimal: Int64(s))
        }
        output.append("\r\n")
    }

    /// Moves response body bytes from the upstream's input to the client's output, re-framed.
    private func forwardResponseBody(_ conn: UpstreamConnection) {
        var done = false
        switch responseFraming {
        case .none:
            done = true
        case .length:
            let n = Int(min(Int64(conn.input.count), responseRemaining))
            if n > 0 {
                output.append(UnsafeRawBufferPointer(start: conn.input.base + conn.input.readIndex, count: n))
                conn.input.consume(n)
                responseRemaining -= Int64(n)
                bodyBytesSent += Int64(n)
            }
            done = responseRemaining == 0
        case .chunked:
            while !conn.input.isEmpty {
                let (consumed, event) = responseDecoder.decode(conn.input.readable)
                switch event {
                case .data(let range):
                    let data = conn.input.readable.slice(range)
                    if chunkedToClient {
                        output.appendChunk(data)
                    } else {
                        output.append(data)
                    }
                    bodyBytesSent += Int64(data.count)
                case .end:
                    if chunkedToClient { output.append("0\r\n\r\n") }
                    done = true
                case .needMore:
                    break
                case .error(let reason):
                    logUpstreamError("upstream sent invalid chunked response (\(reason)) while reading upstream", peerIndex: conn.peerIndex)
                    dropUpstream(conn)
                    keepAlive = false
                    if writeClient() { close() }
                    return
                }
                conn.input.consume(consumed)
                if done { break }
                if case .needMore = event { break }
            }
        case .untilClose:
            let n = conn.input.count
            if n > 0 {
                let data = conn.input.readable
                if chunkedToClient {
                    output.appendChunk(data)
                } else {
                    output.append(data)
                }
                conn.input.consume(n)
                bodyBytesSent += Int64(n)
            }
        }
        if done {
            releaseUpstream(conn)
            completeResponse()
            return
        }
        guard writeClient() else { return }
        if output.count >= Self.outputHighWater && !pausedUpstreamRead {
            // Back-pressure: a slow client stops us reading the upstream.
            pausedUpstreamRead = true
            conn.readEvent.delete()
        }
    }

    private func releaseUpstream(_ conn: UpstreamConnection) {
        upstreamConn = nil
        let reusable = conn.parser.head.keepAlive && requestBodyDone && conn.input.isEmpty
        if reusable, let pool = conn.upstream?.pool {
            pool.release(conn)
        } else {
            conn.close()
        }
    }

    /// The response is entirely in `output`: log it, then go on once it is written.
    private func completeResponse() {
        writeAccessLog()
        finishAfterFlush = true
        guard writeClient() else { return }
        if output.isEmpty { finishRequest() }
    }

    // MARK: - Local responses

    /// An nginx HTML error page.
    func respondError(_ status: Int, close: Bool = false, upstreamStatusHeader: Bool = false) {
        if close { closeAfterResponse = true }
        respond(status: status, contentType: "text/html", body: ResponsePages.pages[status] ?? ResponsePages.htmlPage(status),
                upstreamStatusHeader: upstreamStatusHeader)
    }

    /// An error while the request body was still arriving: answer and close.
    func abortWithError(_ status: Int) {
        if let conn = upstreamConn { dropUpstream(conn) }
        if responseHeadDone {
            close()
            return
        }
        closeAfterResponse = true
        respondError(status)
    }

    func respond(status: Int, contentType: StaticString, body: [UInt8], upstreamStatusHeader: Bool = false) {
        self.status = status
        phase = .responding
        if !requestBodyDone { closeAfterResponse = true }
        if closeAfterResponse { keepAlive = false }
        output.append("HTTP/1.1 ")
        output.append(decimal: Int64(status))
        output.append(" ")
        output.append(HTTPStatusPhrase.of(status))
        output.append("\r\n")
        output.append(worker.serverHeader)
        worker.clock.refresh()
        output.append("Date: ")
        output.append(worker.clock.httpDate)
        output.append("\r\nContent-Type: ")
        output.append(contentType)
        output.append("\r\nContent-Length: ")
        output.append(decimal: Int64(body.count))
        output.append("\r\n")
        if upstreamStatusHeader { appendUpstreamStatusHeader() }
        output.append(keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n")
        if !isHead {
            output.append(body)
            bodyBytesSent = Int64(body.count)
        }
        completeResponse()
    }

    /// The response is written: next request (pipelined bytes first) or close.
    private func finishRequest() {
        finishAfterFlush = false
        if clientHalfClosed && !closeAfterResponse && !input.isEmpty {
            // Requests the client pipelined before its half-close are answered too.
            config = nil
            upstream = nil
            phase = .waiting
            parser.reset()
            keepAlive = true
            parseHead()
            if phase == .readingHead { shutdownAndClose() }
            return
        }
        if closeAfterResponse || !keepAlive || clientHalfClosed {
            shutdownAndClose()
            return
        }
        config = nil
        upstream = nil
        phase = .waiting
        parser.reset()
        if pausedClientRead { pausedClientRead = false }
        if worker.quitting && input.isEmpty {
            // The response said keep-alive (its head was out before the quit began): the client
            // may reuse the connection at once. It gets the grace idle connections get; a request
            // in it is answered with `Connection: close`, silence closes it.
            readEvent.add(timeout: min(WorkerLoop.quitIdleGrace, worker.config.keepaliveTimeout))
            return
        }
        readEvent.add(timeout: worker.config.keepaliveTimeout)
        if !input.isEmpty {
            parseHead()
            return
        }
        parkBuffers(keepSize: true)
    }

    /// An idle keep-alive connection holds no buffer memory (nginx frees its header buffer the
    /// same way): empty buffers go to the worker's cache, and take a block again on the next
    /// read or append (`ByteBuffer.reserve`). Memory follows the connections in use.
    private func parkBuffers(keepSize: Bool) {
        let cache = worker.buffers
        if input.isEmpty { input.park(in: cache, keepSize: keepSize) }
        if output.isEmpty { output.park(in: cache, keepSize: keepSize) }
        head.park(in: cache, keepSize: keepSize)
        forwardHead.park(in: cache, keepSize: keepSize)
    }

    /// Closes after sending everything, so the client reads the whole last response. When the
    /// client may still be sending (a body not read, pipelined bytes, more in the socket), closing
    /// now would reset the connection and destroy the response in flight: read and drop what comes
    /// for a while first (nginx's lingering close).
    private func shutdownAndClose() {
        shutdown(fd, Int32(SHUT_WR))
        guard !clientHalfClosed, !requestBodyDone || !input.isEmpty || Socket.pendingBytes(fd) > 0 else {
            close()
            return
        }
        phase = .lingering
        writeEvent.delete()
        input.clear()
        lingerDeadlineMs = monotonicMilliseconds() + Self.lingeringTime
        pausedClientRead = false
        readEvent.add(timeout: Self.lingeringTimeout)
    }

    private func lingeringRead(timedOut: Bool) {
        if timedOut || monotonicMilliseconds() >= lingerDeadlineMs {
            close()
            return
        }
        while true {
            input.clear()
            let n = input.read(from: fd)
            if n > 0 { continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { break }
            close()
            return
        }
        let left = Double(lingerDeadlineMs - monotonicMilliseconds()) / 1000
        readEvent.add(timeout: min(Self.lingeringTimeout, max(0.001, left)))
    }

    // MARK: - Logs

    /// Logs an upstream failure in nginx's words, or for a function call as the plugin does:
    /// `failed to process openfunction, err: <reason>`.
    func logUpstreamError(_ message: String, peerIndex: Int, reason: String? = nil) {
        guard worker.logger.enabled(.error) else { return }
        if let function {
            worker.logger.log(.error, "failed to process \(function.pluginName), err: \(reason ?? message), client: \(peer.hostText)")
            return
        }
        let bytes = head.readable
        let method = ByteBuffer.logEscaped(bytes.slice(parser.head.methodRange))
        let target = ByteBuffer.logEscaped(bytes.slice(parser.head.targetRange))
        let host = parser.head.hostRange.map { ByteBuffer.logEscaped(bytes.slice($0)) } ?? ""
        let url = upstream.map { $0.peers[peerIndex].url } ?? ""
        worker.logger.log(.error, "\(message), client: \(peer.hostText), server: , request: \"\(method) \(target) HTTP/1.\(parser.head.versionMinor)\", upstream: \"\(url)\(target)\", host: \"\(host)\"")
    }

    private func writeAccessLog() {
        guard let log = worker.accessLog else { return }
        worker.clock.refresh()
        let bytes = head.readable
        let now = monotonicMilliseconds()
        appendRemoteAddr(to: &log.line)
        log.line.append(" - - [")
        log.line.append(worker.clock.logTime)
        log.line.append("] \"")
        if parser.head.headEnd > 0 && head.count > 0 {
            log.line.appendLogEscaped(bytes.slice(parser.head.methodRange))
            log.line.append(" ")
            log.line.appendLogEscaped(bytes.slice(parser.head.targetRange))
            log.line.append(parser.head.versionMinor == 0 ? " HTTP/1.0" : " HTTP/1.1")
        }
        log.line.append("\" ")
        log.line.append(decimal: Int64(status))
        log.line.append(" ")
        log.line.append(decimal: bodyBytesSent)
        log.line.append(" \"")
        appendHeaderValue(named: "referer", to: &log.line)
        log.line.append("\" \"")
        appendHeaderValue(named: "user-agent", to: &log.line)
        log.line.append("\" ")
        if let upstream, !upstreamPeers.isEmpty {
            for (i, p) in upstreamPeers.enumerated() {
                if i > 0 { log.line.append(", ") }
                log.line.append(upstream.peers[p].name)
            }
            log.line.append(" ")
            for (i, s) in upstreamStatuses.enumerated() {
                if i > 0 { log.line.append(", ") }
                log.line.append(decimal: Int64(s))
            }
            if upstreamStatuses.isEmpty { log.line.append("-") }
        } else {
            log.line.append("- -")
        }
        log.line.append(" ")
        appendSeconds(now - requestStartMs, to: &log.line)
        log.line.append(" ")
        if upstreamHeaderMs >= 0 {
            appendSeconds(now - upstreamStartMs, to: &log.line)
        } else {
            log.line.append("-")
        }
        log.line.append("\n")
        log.flushLine()
    }

    private func appendHeaderValue(named name: StaticString, to line: inout ByteBuffer) {
        let bytes = head.readable
        for field in parser.head.headers where Bytes.equalsIgnoringCase(bytes.slice(field.nameRange), name) {
            line.appendLogEscaped(bytes.slice(field.valueRange))
            return
        }
        line.append("-")
    }

    /// `0.003` from milliseconds.
    private func appendSeconds(_ ms: Int64, to line: inout ByteBuffer) {
        let v = max(0, ms)
        line.append(decimal: v / 1000)
        line.append(".")
        let frac = v % 1000
        if frac < 100 { line.append("0") }
        if frac < 10 { line.append("0") }
        line.append(decimal: frac)
    }
}

private func clientReadCallback(_ fd: Int32, _ what: Int16, _ ctx: UnsafeMutableRawPointer?) {
    Unmanaged<ClientConnection>.fromOpaque(ctx!)._withUnsafeGuaranteedRef {
        $0.clientReadable(timedOut: Int32(what) & EV_TIMEOUT != 0)
    }
}

private func clientWriteCallback(_ fd: Int32, _ what: Int16, _ ctx: UnsafeMutableRawPointer?) {
    Unmanaged<ClientConnection>.fromOpaque(ctx!)._withUnsafeGuaranteedRef {
        $0.clientWritable(timedOut: Int32(what) & EV_TIMEOUT != 0)
    }
}
