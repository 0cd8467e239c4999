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
/// The request's life (which state, keep-alive, body and response progress, half-close) is the
/// value `machine` (`RequestStateMachine`): this class reports events to it and performs the
/// actions it returns. The stages live in files of their own, along nginx's seams: the request
/// head and routing (`+RequestHead`), the forwarded head and body (`Proxy/+ForwardHead`,
/// `Proxy/+RequestBody`), the upstream exchange (`Proxy/+UpstreamExchange`), the response relay
/// (`Proxy/+ResponseRelay`), local responses (`+LocalResponse`), keep-alive and closing
/// (`+KeepAlive`), logs (`+Logs`), function calls (`+Function`).
package final class ClientConnection {
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
    var machine = RequestStateMachine()
    /// What the plugins see of the current request and changed in it; reused per request.
    let context = RequestContext(connection: nil)
    /// Numbers formatted for a variable lookup (`$remote_port`, `$status`).
    var scratch: ByteBuffer

    var config: RuntimeConfig?
    var routeIndex = -1
    var upstream: UpstreamRuntime?
    var upstreamConn: UpstreamConnection?
    var path: [UInt8] = []
    var tried = PeerSet()
    var triesLeft = 0
    var staleRetryUsed = false
    var isHead = false
    var requestStartMs: Int64 = 0
    var upstreamStartMs: Int64 = 0
    var upstreamHeaderMs: Int64 = -1
    // request body
    var requestBody: RequestBody = .none
    var requestRemaining: Int64 = 0
    var requestDecoder = ChunkedDecoder()
    var requestBodyBytes: Int64 = 0
    /// Bytes of `input` holding the whole body, kept until the upstream answers so a failure on a
    /// reused keepalive connection can be retried; 0 when the body is streamed.
    var retainedBody = 0
    var pausedClientRead = false
    /// The upstream answered (or stopped reading) before taking the whole request: no more body
    /// is sent to it, and the client's remaining body is read and dropped.
    var upstreamSendStopped = false
    /// When a lingering close gives up (monotonic ms).
    var lingerDeadlineMs: Int64 = 0
    /// When the head being read must be complete (monotonic ms): nginx's `client_header_timeout`
    /// bounds the whole head from its first byte, not the gap between two reads.
    var headDeadlineMs: Int64 = 0
    // response
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
        scratch = ByteBuffer(parkedCapacity: 64, limit: 256)
        let placeholder = UnsafeMutableRawPointer(bitPattern: 1)!
        readEvent = EventHandle(base: worker.base, callback: clientReadCallback, context: placeholder, timeouts: worker.timeouts)
        writeEvent = EventHandle(base: worker.base, callback: clientWriteCallback, context: placeholder, timeouts: worker.timeouts)
        path.reserveCapacity(256)
        peerText.reserveCapacity(48)
        upstreamStatuses.reserveCapacity(4)
        upstreamPeers.reserveCapacity(4)
        context.connection = self
    }

    deinit {
        readEvent.free()
        writeEvent.free()
        input.deallocate()
        output.deallocate()
        head.deallocate()
        forwardHead.deallocate()
        scratch.deallocate()
    }

    var contextPointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
    var isIdle: Bool { machine.state == .idle && output.isEmpty }
    var requestBodyDone: Bool { machine.bodyDone }
    /// A response head is out (or in `output`): a failure can no longer be answered with a page.
    var responseHeadDone: Bool { machine.responseStarted }
    var keepAlive: Bool { machine.keepAlive }


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
        machine.reset()
        pausedClientRead = false
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
        machine.lingerEnded()
        input.clear()
        output.clear()
        parkBuffers(keepSize: false)
        worker.recycle(self)
    }


    func clientReadable(timedOut: Bool) {
        if machine.state == .lingering {
            lingeringRead(timedOut: timedOut)
            return
        }
        if timedOut {
            perform(machine.clientTimedOut())
            return
        }
        let n = input.read(from: fd)
        if n > 0 {
            perform(machine.bytesArrived())
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
            if machine.state != .idle {
                worker.logger.log(.info, "recv() failed (\(err): \(errnoString(err))) while reading from client, client: \(peer.hostText)")
            }
            perform(machine.clientFailed())
            return
        }
        let state = machine.state
        let action = machine.clientEOF(bodyAtHand: retainedBody > 0)
        if action != .stopReading && (state == .proxying || state == .readingHead) {
            worker.logger.log(.info, "client prematurely closed connection, client: \(peer.hostText)")
        }
        perform(action)
    }

    /// Performs what the state machine decided about the client's side.
    func perform(_ action: RequestStateMachine.Action) {
        switch action {
        case .none:
            break
        case .startHead:
            let timeout = worker.config.clientHeaderTimeout
            headDeadlineMs = monotonicMilliseconds() + Int64(timeout * 1000)
            readEvent.add(timeout: timeout)
            parseHead()
        case .parseHead:
            parseHead()
        case .forwardBody:
            pumpRequestBody()
        case .holdInput:
            pauseClientReadIfFull()
        case .rearm:
            readEvent.add()
        case .stopReading:
            readEvent.delete()
        case .close:
            close()
        case .timeoutAndClose(let stage):
            worker.logger.log(.info, "client timed out (110: Connection timed out) while \(stage.text), client: \(peer.hostText)")
            close()
        case .logAndClose(let clientClosedRequest):
            // nginx's 499: the client closed the request before any answer.
            if clientClosedRequest {
                status = 499
                bodyBytesSent = 0
            }
            writeAccessLog()
            close()
        case .awaitNext, .parsePipelined, .shutdownAndClose, .linger:
            finishRequest(action)
        }
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
            perform(machine.responseFlushed(pipelined: !input.isEmpty, clientMaySend: clientMaySend))
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
            perform(machine.clientFailed())
            return false
        }
        writeEvent.delete()
        return true
    }

    func pauseClientRead() {
        if !pausedClientRead { pausedClientRead = true; readEvent.delete() }
    }

    func pauseClientReadIfFull() {
        if input.freeSpace < 4096 && input.capacity >= input.limit { pauseClientRead() }
    }

    func resumeClientRead(timeout: Double?) {
        pausedClientRead = false
        readEvent.add(timeout: timeout)
    }

    /// Where the `Host:` value goes for `pass_host: node` (per peer), or -1.
    var hostHeaderEnd = -1
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

extension ClientConnection {
    /// `$server_addr`: the connection's local address (one getsockname, only when asked for).
    func withLocalAddress<R>(_ body: (UnsafeRawBufferPointer?) -> R) -> R {
        var address = SocketAddress()
        address.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &address.length) == 0 }
        }
        guard ok else { return body(nil) }
        var text: [UInt8] = []
        address.appendHostText(to: &text)
        return text.withUnsafeBytes { body($0) }
    }
}
