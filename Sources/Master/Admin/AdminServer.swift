// A small HTTP/1.1 server for the Admin API on the control process's libevent loop (nginx's admin
// `server` block in APISIX). It reuses Shared's request parser; bodies are read whole (Content-Length
// or chunked) up to the Admin API's 1.5 MiB limit. Keep-alive and pipelining work; a malformed head
// gets nginx's HTML page and the connection is closed. The socket is bound here, in the control
// process, so neither the master nor a worker ever holds it.

#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Shared
import Worker

/// The Admin API listener and its connections. Confined to the control process's loop.
final class AdminServer {
    /// Largest body accepted: APISIX's `MAX_REQ_BODY` (1.5 MiB).
    static let maxBody = 1_572_864
    /// Idle seconds before a keep-alive connection is closed (nginx's `keepalive_timeout`).
    static let idleTimeout = 60.0

    let address: GatewayConfig.ListenAddress
    let serverHeader: String
    private let base: OpaquePointer
    private let logger: Logger
    /// Answers a request through its second argument, at once or later (an etcd write).
    private let handler: (AdminRequest, @escaping (AdminResponse) -> Void) -> Void
    private var listenFd: Int32 = -1
    private var listenEvent: OpaquePointer?
    private var connections: [Int32: AdminConnection] = [:]
    private var lastBindError = ""
    fileprivate var clock = CachedClock()

    init(base: OpaquePointer, address: GatewayConfig.ListenAddress, serverHeader: String, logger: Logger,
         handler: @escaping (AdminRequest, @escaping (AdminResponse) -> Void) -> Void) {
        self.base = base
        self.address = address
        self.serverHeader = serverHeader
        self.logger = logger
        self.handler = handler
    }

    var isListening: Bool { listenFd >= 0 }

    /// `SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC`. Spelled with Linux's values (SOCK_STREAM is 1;
    /// the flags equal O_NONBLOCK and O_CLOEXEC) because naming glibc's `__socket_type` cases in a
    /// second file of the Master module makes the release (whole-module) build lose them in
    /// Listeners.swift: "cannot find 'SOCK_STREAM' in scope".
    static let streamNonblockCloexec: Int32 = 1 | O_NONBLOCK | O_CLOEXEC

    /// Binds and listens; on failure logs (once per distinct error) and returns false: the caller
    /// tries again later (a previous control process may still hold the port for a moment).
    @discardableResult
    func listen() -> Bool {
        if listenFd >= 0 { return true }
        let ip = address.ip.hasPrefix("[") ? String(address.ip.dropFirst().dropLast()) : address.ip
        guard var socketAddress = SocketAddress(numericHost: ip, port: address.port) else {
            report("invalid admin_listen address \(address.ip)")
            return false
        }
        let fd = socket(socketAddress.family, AdminServer.streamNonblockCloexec, 0)
        guard fd >= 0 else {
            report("socket() failed \(errnoText(errno))")
            return false
        }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &socketAddress.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socketAddress.length) }
        }
        guard bound == 0, Glibc.listen(fd, 511) == 0 else {
            report("bind() to \(address.ip):\(address.port) failed \(errnoText(errno)), Admin API not available yet")
            close(fd)
            return false
        }
        listenFd = fd
        let arg = Unmanaged.passUnretained(self).toOpaque()
        listenEvent = event_new(base, fd, Int16(EV_READ | EV_PERSIST), AdminServer.onAccept, arg)
        event_add(listenEvent, nil)
        logger.notice("Admin API listening on \(address.ip):\(address.port)")
        return true
    }

    private func report(_ message: String) {
        if message != lastBindError { logger.error(message) }
        lastBindError = message
    }

    /// Closes the listener and every connection.
    func shutdown() {
        if let listenEvent { event_free(listenEvent) }
        listenEvent = nil
        if listenFd >= 0 { close(listenFd) }
        listenFd = -1
        for connection in Array(connections.values) { connection.close() }
    }

    private static let onAccept: event_callback_fn = { _, _, arg in
        guard let arg else { return }
        Unmanaged<AdminServer>.fromOpaque(arg).takeUnretainedValue().acceptAll()
    }

    private func acceptAll() {
        while true {
            var peer = SocketAddress()
            let fd = Socket.accept(listenFd, into: &peer)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { logger.error("accept4() failed \(errnoText(errno))") }
                return
            }
            Socket.setNoDelay(fd)
            let connection = AdminConnection(fd: fd, peer: IPAddress(peer.storage), server: self, base: base)
            connections[fd] = connection
            connection.start()
        }
    }

    fileprivate func closed(_ connection: AdminConnection) { connections[connection.fd] = nil }

    fileprivate func respond(to request: AdminRequest, _ done: @escaping (AdminResponse) -> Void) { handler(request, done) }
}

/// One client connection: read, parse, answer, repeat.
private final class AdminConnection {
    let fd: Int32
    let peer: IPAddress?
    unowned let server: AdminServer
    private let event: EventHandle
    private let base: OpaquePointer
    private var input: [UInt8] = []
    private var parser = HTTPRequestParser()
    private var chunked = ChunkedDecoder()
    /// Decoded body of a chunked request, and how far into `input` its framing was consumed.
    private var chunkedBody: [UInt8] = []
    private var chunkedConsumed = 0
    private var sentContinue = false
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var closeAfterWrite = false
    /// After answering a request whose body was too large: stop writing, read and drop what the
    /// client still sends for a while, then close (nginx's lingering close), so the client sees
    /// the answer instead of a reset.
    private var lingerAfterWrite = false
    private var lingering = false
    private var isClosed = false
    /// A request is with the handler (an etcd write in flight): later requests wait in `input`.
    private var awaiting = false

    init(fd: Int32, peer: IPAddress?, server: AdminServer, base: OpaquePointer) {
        self.fd = fd
        self.peer = peer
        self.server = server
        self.base = base
        self.event = EventHandle(base: base, callback: AdminConnection.onEvent, context: UnsafeMutableRawPointer(bitPattern: 1)!)
    }

    private var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    func start() { waitForInput() }

    private func waitForInput() {
        event.assign(base: base, fd: fd, events: EV_READ | EV_PERSIST, callback: AdminConnection.onEvent, context: context)
        event.add(timeout: AdminServer.idleTimeout)
    }

    private func waitForOutput() {
        event.assign(base: base, fd: fd, events: EV_WRITE | EV_PERSIST, callback: AdminConnection.onEvent, context: context)
        event.add(timeout: AdminServer.idleTimeout)
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        event.delete()
        event.free()
        Glibc.close(fd)
        server.closed(self)
    }

    private static let onEvent: event_callback_fn = { _, what, arg in
        guard let arg else { return }
        // A strong reference for the callback's duration: `close()` drops the server's.
        let connection = Unmanaged<AdminConnection>.fromOpaque(arg).takeUnretainedValue()
        if Int32(what) & EV_TIMEOUT != 0 {
            connection.close()
        } else if Int32(what) & EV_WRITE != 0 {
            connection.writable()
        } else {
            connection.readable()
        }
    }

    private func readable() {
        if lingering {
            drain()
            return
        }
        guard readAvailable(fd, into: &input) == .wouldBlock else {
            close()  // EOF or error
            return
        }
        process()
    }

    private func writable() {
        flush()
        if isClosed || outputOffset < output.count { return }
        output.removeAll(keepingCapacity: true)
        outputOffset = 0
        if closeAfterWrite {
            closeOrLinger()
            return
        }
        waitForInput()
        process()
    }

    private func closeOrLinger() {
        guard lingerAfterWrite else {
            close()
            return
        }
        lingering = true
        shutdown(fd, Int32(SHUT_WR))
        input.removeAll()
        event.assign(base: base, fd: fd, events: EV_READ | EV_PERSIST, callback: AdminConnection.onEvent, context: context)
        event.add(timeout: 5)
    }

    private func drain() {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 { continue }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            close()
            return
        }
    }

    /// Answers every complete request in `input`, in order, while nothing is waiting to be written.
    private func process() {
        while !isClosed, output.isEmpty, !awaiting {
            let status = input.withUnsafeBytes { parser.parse($0) }
            switch status {
            case .incomplete:
                return
            case .failure(let failure):
                send(AdminResponse.page(failure.status), keepAlive: false, head: false)
                return
            case .complete:
                guard let (request, consumed, keepAlive) = completeRequest() else { return }
                let isHead = request.method == "HEAD"
                let oversized = request.oversizedBody != nil
                input.removeSubrange(0..<consumed)
                parser.reset()
                chunked.reset()
                chunkedBody.removeAll()
                chunkedConsumed = 0
                sentContinue = false
                awaiting = true
                var synchronous = true
                server.respond(to: request) { [weak self] response in
                    guard let self, !self.isClosed, self.awaiting else { return }
                    self.awaiting = false
                    self.lingerAfterWrite = oversized
                    self.send(response, keepAlive: keepAlive && !oversized, head: isHead)
                    // A late answer: go on with what was pipelined meanwhile.
                    if !synchronous, !self.isClosed, self.output.isEmpty { self.process() }
                }
                synchronous = false
            }
        }
    }

    /// The request once its body is complete: the request, how many bytes of `input` it used, and
    /// whether the connection may be kept. nil while more body bytes are needed.
    private func completeRequest() -> (AdminRequest, Int, Bool)? {
        let head = parser.head
        let bodyStart = head.headEnd
        var body: [UInt8] = []
        var consumed = bodyStart
        var oversized: Int?
        if head.isChunked {
            while true {
                let (used, event) = input.withUnsafeBytes { raw in
                    chunked.decode(UnsafeRawBufferPointer(rebasing: raw[(bodyStart + chunkedConsumed)...]))
                }
                switch event {
                case .data(let range):
                    let start = bodyStart + chunkedConsumed
                    chunkedBody.append(contentsOf: input[(start + range.lowerBound)..<(start + range.upperBound)])
                    chunkedConsumed += used
                    if chunkedBody.count > AdminServer.maxBody {
                        oversized = chunkedBody.count
                    }
                case .needMore:
                    chunkedConsumed += used
                    continueIfExpected(head)
                    return nil
                case .end:
                    chunkedConsumed += used
                case .error:
                    send(AdminResponse.page(400), keepAlive: false, head: false)
                    return nil
                }
                if oversized != nil || event == .end { break }
            }
            body = chunkedBody
            consumed = bodyStart + chunkedConsumed
        } else if let length = head.contentLength, length > 0 {
            if length > AdminServer.maxBody {
                oversized = Int(length)
            } else {
                guard input.count >= bodyStart + Int(length) else {
                    continueIfExpected(head)
                    return nil
                }
                body = Array(input[bodyStart..<(bodyStart + Int(length))])
                consumed = bodyStart + Int(length)
            }
        }
        if oversized != nil { consumed = input.count }

        let bytes = input
        func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        var normalized: [UInt8] = []
        let validPath = input.withUnsafeBytes { raw in
            HTTPPath.normalize(UnsafeRawBufferPointer(rebasing: raw[head.pathRange]), into: &normalized)
        }
        guard validPath else {
            send(AdminResponse.page(400), keepAlive: false, head: false)
            return nil
        }
        var request = AdminRequest(method: text(head.methodRange), path: String(decoding: normalized, as: UTF8.self))
        if let queryRange = head.queryRange {
            request.query = AdminRequest.parseQuery(Substring(text(queryRange)))
        }
        request.headers = head.headers.map { (text($0.nameRange).lowercased(), text($0.valueRange)) }
        request.body = body.isEmpty ? nil : body
        request.oversizedBody = oversized
        request.peer = peer
        return (request, consumed, head.keepAlive)
    }

    /// `Expect: 100-continue` (curl sends it for large bodies): say so once, then wait for the body.
    private func continueIfExpected(_ head: HTTPRequestHead) {
        guard head.expectContinue, !sentContinue else { return }
        sentContinue = true
        let interim = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
        _ = interim.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    private func send(_ response: AdminResponse, keepAlive: Bool, head: Bool) {
        server.clock.refresh()
        var text = "HTTP/1.1 \(response.status) \(AdminResponse.reason(response.status))\r\n"
        text += "Server: \(server.serverHeader)\r\n"
        text += "Date: \(String(decoding: server.clock.httpDate, as: UTF8.self))\r\n"
        for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(response.body.count)\r\n"
        text += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"
        output.append(contentsOf: text.utf8)
        if !head { output.append(contentsOf: response.body) }
        outputOffset = 0
        closeAfterWrite = !keepAlive
        flush()
        if isClosed { return }
        if outputOffset < output.count {
            waitForOutput()
            return
        }
        output.removeAll(keepingCapacity: true)
        outputOffset = 0
        if closeAfterWrite { closeOrLinger() }
    }

    private func flush() {
        while outputOffset < output.count {
            let count = output.withUnsafeBytes { raw in
                write(fd, raw.baseAddress! + outputOffset, raw.count - outputOffset)
            }
            if count > 0 {
                outputOffset += count
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            close()
            return
        }
    }
}
