// One HTTP/1.1 exchange with an etcd endpoint on the control process's libevent loop: a
// non-blocking connect, the request written, the response read (Content-Length, chunked or until
// close) with Shared's response parser. A unary exchange hands the whole body to `completion`; a
// streaming one (the watch) hands each newline-terminated line of a 200 body to `onLine` as it
// arrives, and calls `completion` when the stream ends. Nothing here blocks; one connection per
// exchange (etcd is a few requests per Admin API write, and one long watch).

#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Shared
import Worker

/// What came back from etcd.
struct EtcdHTTPResponse {
    var status: Int
    var body: [UInt8]
}

/// One request and its response. Confined to the control process's loop.
final class EtcdExchange {
    typealias Completion = (Result<EtcdHTTPResponse, EtcdError>) -> Void

    private let base: OpaquePointer
    private let endpoint: String
    private var event: EventHandle?
    private var fd: Int32 = -1
    private var request: [UInt8]
    private var written = 0
    private var input: [UInt8] = []
    private var parser = HTTPResponseParser()
    private var status = 0
    private var framing: HTTPBodyFraming?
    private var chunked = ChunkedDecoder()
    private var body: [UInt8] = []
    private var lineStart = 0
    /// Monotonic milliseconds by which the exchange (a stream: its head) must be done.
    private let deadline: Int64
    private var onLine: (([UInt8]) -> Void)?
    private var completion: Completion?
    /// Keeps the exchange alive while libevent holds its pointer.
    private var selfReference: EtcdExchange?
    private var connected = false

    /// Starts `method path` with `body` (JSON) to `address`. `endpoint` names it in errors.
    /// `timeout` bounds connect plus the whole exchange, or for a stream connect plus its head.
    init(base: OpaquePointer, address: SocketAddress, endpoint: String, path: String, body: [UInt8],
         headers: [(String, String)], timeout: Double, onLine: (([UInt8]) -> Void)? = nil, completion: @escaping Completion) {
        self.base = base
        self.endpoint = endpoint
        self.onLine = onLine
        self.completion = completion
        self.deadline = monotonicMilliseconds() + Int64(timeout * 1000)
        var text = "POST \(path) HTTP/1.1\r\nHost: \(endpoint)\r\nContent-Type: application/json\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(body.count)\r\n\r\n"
        request = Array(text.utf8) + body
        selfReference = self
        switch Socket.connect(to: address) {
        case .failed(let error):
            // Reported from the loop, never from inside the caller.
            deferFailure("connect() to \(endpoint) failed \(errnoText(error))")
            return
        case .connected(let fd):
            self.fd = fd
            connected = true
        case .inProgress(let fd):
            self.fd = fd
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        event = EventHandle(base: base, callback: EtcdExchange.onEvent, context: context)
        arm(EV_WRITE)
    }

    /// Stops the exchange without calling anything back.
    func cancel() {
        completion = nil
        onLine = nil
        teardown()
    }

    private var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    private func arm(_ what: Int32) {
        guard let event else { return }
        event.assign(base: base, fd: fd, events: what | EV_PERSIST, callback: EtcdExchange.onEvent, context: context)
        if framing != nil, onLine != nil {
            event.add()  // a stream: no bound once its head is in
        } else {
            event.add(timeout: max(0.001, Double(deadline - monotonicMilliseconds()) / 1000))
        }
    }

    /// A failure found before the event exists: delivered by a zero timer on the loop.
    private func deferFailure(_ message: String) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        let timer = EventHandle(base: base, callback: EtcdExchange.onEvent, context: context)
        event = timer
        pendingFailure = message
        timer.add(timeout: 0)
    }
    private var pendingFailure: String?

    private static let onEvent: event_callback_fn = { _, what, arg in
        guard let arg else { return }
        let exchange = Unmanaged<EtcdExchange>.fromOpaque(arg).takeUnretainedValue()
        exchange.handle(Int32(what))
    }

    private func handle(_ what: Int32) {
        if let message = pendingFailure { return finish(.failure(EtcdError(message))) }
        if what & EV_TIMEOUT != 0 {
            return finish(.failure(EtcdError("etcd \(endpoint) timed out")))
        }
        if what & EV_WRITE != 0 {
            if !connected {
                let error = Socket.pendingError(fd)
                guard error == 0 else { return finish(.failure(EtcdError("connect() to \(endpoint) failed \(errnoText(error))"))) }
                connected = true
            }
            writeRequest()
        } else if what & EV_READ != 0 {
            readResponse()
        }
    }

    private func writeRequest() {
        while written < request.count {
            let count = request.withUnsafeBytes { raw in write(fd, raw.baseAddress! + written, raw.count - written) }
            if count > 0 {
                written += count
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            return finish(.failure(EtcdError("writing to etcd \(endpoint) failed \(errnoText(errno))")))
        }
        request = []
        arm(EV_READ)
    }

    private func readResponse() {
        var sawEnd = false
        switch readAvailable(fd, into: &input) {
        case .wouldBlock:
            break
        case .endOfStream:
            sawEnd = true
        case .failed(let err):
            return finish(.failure(EtcdError("reading from etcd \(endpoint) failed \(errnoText(err))")))
        }
        if framing == nil {
            let status = input.withUnsafeBytes { parser.parse($0) }
            switch status {
            case .incomplete:
                if sawEnd { return finish(.failure(EtcdError("etcd \(endpoint) closed the connection"))) }
                return
            case .failure(let failure):
                return finish(.failure(EtcdError("etcd \(endpoint) sent an invalid response: \(failure.reason)")))
            case .complete:
                self.status = parser.head.status
                framing = parser.head.bodyFraming(requestMethod: .post)
                input.removeSubrange(0..<parser.head.headEnd)
                if self.status != 200 { onLine = nil }
                if onLine != nil { arm(EV_READ) }  // now unbounded
            }
        }
        consumeBody(sawEnd: sawEnd)
    }

    private func consumeBody(sawEnd: Bool) {
        guard let framing else { return }
        switch framing {
        case .none:
            return finish(.success(EtcdHTTPResponse(status: status, body: [])))
        case .length(let length):
            body += input
            input.removeAll()
            if body.count >= Int(length) {
                return finish(.success(EtcdHTTPResponse(status: status, body: Array(body.prefix(Int(length))))))
            }
        case .untilClose:
            body += input
            input.removeAll()
            deliverLines()
            if sawEnd { return finish(.success(EtcdHTTPResponse(status: status, body: body))) }
        case .chunked:
            var offset = 0
            var ended = false
            while offset < input.count {
                let (used, event) = input.withUnsafeBytes { raw in
                    chunked.decode(UnsafeRawBufferPointer(rebasing: raw[offset...]))
                }
                switch event {
                case .data(let range):
                    body.append(contentsOf: input[(offset + range.lowerBound)..<(offset + range.upperBound)])
                case .needMore:
                    break
                case .end:
                    ended = true
                case .error(let reason):
                    return finish(.failure(EtcdError("etcd \(endpoint) sent an invalid chunked body: \(reason)")))
                }
                offset += used
                if ended || event == .needMore { break }
            }
            input.removeSubrange(0..<min(offset, input.count))
            deliverLines()
            if ended { return finish(.success(EtcdHTTPResponse(status: status, body: body))) }
        }
        if sawEnd {
            finish(.failure(EtcdError(onLine != nil ? "etcd \(endpoint) closed the watch stream"
                                                   : "etcd \(endpoint) closed the connection early")))
        }
    }

    /// A stream: hands out every complete line of the body and forgets it.
    private func deliverLines() {
        guard onLine != nil else { return }
        var start = 0
        var index = lineStart
        while index < body.count {
            if body[index] == 0x0A {
                var line = Array(body[start..<index])
                if line.last == 0x0D { line.removeLast() }
                if !line.isEmpty { onLine?(line) }
                if completion == nil { return }  // cancelled by the line's handler
                start = index + 1
            }
            index += 1
        }
        body.removeSubrange(0..<start)
        lineStart = body.count
    }

    private func finish(_ result: Result<EtcdHTTPResponse, EtcdError>) {
        let completion = completion
        self.completion = nil
        onLine = nil
        teardown()
        completion?(result)
    }

    private func teardown() {
        if let event {
            event.delete()
            event.free()
        }
        event = nil
        if fd >= 0 { close(fd) }
        fd = -1
        // Last: may release self.
        selfReference = nil
    }
}

/// Why an etcd operation failed: the reason the Admin API shows with its 503.
struct EtcdError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
