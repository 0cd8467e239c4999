#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// A real HTTP/1.1 server on 127.0.0.1 for the gateway to proxy to, with its own small request
/// parser (independent of Sluice's). One thread per connection, blocking sockets.
///
/// Supports keep-alive and pipelined requests, `Content-Length` and chunked request bodies,
/// `Expect: 100-continue` (see ``ContinueDecision``) and HTTP/1.0. Every request is recorded in
/// ``requests`` before the handler runs, and every byte received is kept per connection
/// (``rawReceived(connection:)``) so a test can prove a smuggled request never arrived.
///
/// ```swift
/// let upstream = try TestUpstream()            // echo handler
/// defer { upstream.stop() }
/// let slow = try TestUpstream { _ in TestResponse(body: Array("hi".utf8), delayMs: 500) }
/// ```
///
/// A malformed request (bad request line, bad header line, bad `Content-Length`, both
/// `Content-Length` and `Transfer-Encoding`, unknown transfer coding) gets `400` and the
/// connection is closed; the reason is appended to ``parseErrors``.
///
/// ``stop()`` (also run by `deinit`) closes the listener and every connection and joins every thread.
/// Handlers must return; a handler that blocks for longer than 5 s makes `stop` leave its thread
/// detached (and print a warning). A handler must not capture its own upstream (a retain cycle:
/// `deinit` would never run); to share state with a test, capture a `Mutex` or similar instead.
package final class TestUpstream: Sendable {
    /// What the upstream does when a request carries `Expect: 100-continue` and has a body.
    package enum ContinueDecision: Sendable {
        /// Send `100 Continue`, then read the body (the default).
        case sendContinue
        /// Send nothing and read the body (the client must send it anyway after a while).
        case ignore
        /// Send this final response without reading the body, then close the connection.
        case reject(TestResponse)
    }

    /// How the connection closes after a response sent by `beforeBody` (the body still unread).
    package enum BeforeBodyClose: Sendable {
        /// `close()` at once: the kernel resets the connection because of the unread body.
        case immediately
        /// Send FIN, drain what the peer still sends (up to 1 s), then close.
        case lingering
    }

    /// Builds the response to a request. Runs on the connection's thread.
    package typealias Handler = @Sendable (TestRequest) -> TestResponse

    /// The port the server listens on (127.0.0.1).
    package let port: Int
    /// Shared with the server threads, which must not keep `self` alive (`deinit` stops them).
    private let core: Core

    /// Starts listening on 127.0.0.1:`port` (0: a free port chosen by the OS) and serving.
    /// - Parameters:
    ///   - recording: keep every request and every received byte (``requests``, ``rawReceived(connection:)``).
    ///     Pass false for benchmarks and large bodies: memory then stays bounded, ``requests`` and the
    ///     raw records stay empty, and the counters (``requestCount``, ``acceptedConnections``) still work.
    ///   - handler: builds the response for each request (a trailing closure). Default ``echo``.
    ///   - beforeBody: consulted for every request with a body, with its head only (empty body),
    ///     before the body is read; a response it returns is sent at once and the connection is then
    ///     closed without reading the body (``BeforeBodyClose`` says how). Default: never.
    ///   - continueDecision: consulted for requests with `Expect: 100-continue` and a body; gets the
    ///     request with its head only (empty body). Default: always ``ContinueDecision/sendContinue``.
    package init(
        port: Int = 0,
        recording: Bool = true,
        handler: @escaping Handler = TestUpstream.echo,
        beforeBody: @escaping @Sendable (TestRequest) -> (TestResponse, BeforeBodyClose)? = { _ in nil },
        continueDecision: @escaping @Sendable (TestRequest) -> ContinueDecision = { _ in .sendContinue }
    ) throws {
        let (fd, boundPort) = try Sock.listen(port: port)
        self.port = boundPort
        core = Core(listenFD: fd, recording: recording, handler: handler, beforeBody: beforeBody, continueDecision: continueDecision)
        do {
            try core.threads.start { [core] in core.acceptLoop() }
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { core.stop() }

    /// Closes the listener and every connection, and joins every thread (bounded: 5 s). Idempotent.
    package func stop() { core.stop() }

    /// `127.0.0.1:<port>`, the form an upstream node takes in a route.
    package var address: String { "127.0.0.1:\(port)" }

    /// Connections accepted so far.
    package var acceptedConnections: Int { core.state.withLock { $0.accepted } }

    /// Connections currently open (accepted and not yet closed by either side).
    package var openConnections: Int { core.state.withLock { $0.openFDs.count } }

    /// Every request received, in order of arrival (recorded before its handler runs).
    package var requests: [TestRequest] { core.state.withLock { $0.requests } }

    /// The number of requests received so far.
    package var requestCount: Int { core.state.withLock { $0.requestCount } }

    /// The most recent request, if any.
    package var lastRequest: TestRequest? { core.state.withLock { $0.requests.last } }

    /// Reasons requests were rejected as malformed (with status 400), in order.
    package var parseErrors: [String] { core.state.withLock { $0.parseErrors } }

    /// Every byte received on connection `connection` (0-based, see ``TestRequest/connectionIndex``);
    /// empty for an unknown index.
    package func rawReceived(connection: Int) -> [UInt8] {
        core.state.withLock { $0.raw.indices.contains(connection) ? $0.raw[connection] : [] }
    }

    /// Every byte received on all connections, concatenated in connection order.
    package var rawReceivedAll: [UInt8] { core.state.withLock { $0.raw.flatMap { $0 } } }

    /// ``rawReceivedAll`` decoded as UTF-8 (invalid bytes replaced), for `contains` checks.
    package var rawReceivedText: String { String(decoding: rawReceivedAll, as: UTF8.self) }

    /// Waits up to `timeout` seconds until at least `count` requests have arrived. Returns whether they did.
    @discardableResult
    package func waitForRequests(_ count: Int, timeout: Double = 5) -> Bool {
        TestSupport.waitUntil(timeout: timeout) { requestCount >= count }
    }

    /// Forgets recorded requests, raw bytes and parse errors (the counters stay).
    package func clearRecords() {
        core.state.withLock { s in
            s.requests = []
            s.parseErrors = []
            for i in s.raw.indices { s.raw[i] = [] }
        }
    }

    /// The default handler: `200`, `Content-Type: application/json`, the body an ``EchoedRequest``
    /// describing exactly what the upstream received.
    package static let echo: Handler = { request in
        TestResponse.json(EchoedRequest(request).jsonText)
    }

    // MARK: - Server internals

    /// State and code shared by the server's threads.
    fileprivate final class Core: Sendable {
        /// Mutable bookkeeping, guarded by the mutex.
        struct State {
            var stopped = false
            var accepted = 0
            var requests: [TestRequest] = []
            var requestCount = 0
            var raw: [[UInt8]] = []
            var parseErrors: [String] = []
            /// Open connection descriptors by connection index. A descriptor is removed (under the
            /// lock) before its thread closes it, so `stop` never shuts down a reused descriptor.
            var openFDs: [Int: Int32] = [:]
        }

        let listenFD: Int32
        let recording: Bool
        let handler: Handler
        let beforeBody: @Sendable (TestRequest) -> (TestResponse, BeforeBodyClose)?
        let continueDecision: @Sendable (TestRequest) -> ContinueDecision
        let state = Mutex(State())
        let threads = ThreadGroup()

        init(listenFD: Int32, recording: Bool, handler: @escaping Handler,
             beforeBody: @escaping @Sendable (TestRequest) -> (TestResponse, BeforeBodyClose)?,
             continueDecision: @escaping @Sendable (TestRequest) -> ContinueDecision) {
            self.listenFD = listenFD
            self.beforeBody = beforeBody
            self.recording = recording
            self.handler = handler
            self.continueDecision = continueDecision
        }

        var stopped: Bool { state.withLock { $0.stopped } }

        func stop() {
            let fds: [Int32]? = state.withLock { s in
                if s.stopped { return nil }
                s.stopped = true
                return Array(s.openFDs.values)
            }
            guard let fds else { return }
            shutdown(listenFD, Int32(SHUT_RDWR))
            for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
            let stuck = threads.joinAll(timeout: 5)
            // Connections accepted while stopping were shut down by their own threads; close the listener last.
            close(listenFD)
            if stuck > 0 {
                FileHandle.standardError.write(Data("TestUpstream(\(listenFD)): \(stuck) handler thread(s) still running after 5 s; detached\n".utf8))
            }
        }

        /// Sleeps `ms` milliseconds in short slices, returning early (false) once stopped.
        func sleep(ms: Int) -> Bool {
            let deadline = Deadline(seconds: Double(ms) / 1000)
            while !deadline.expired {
                if stopped { return false }
                TestSupport.sleepSeconds(min(0.01, max(deadline.remaining, 0)))
            }
            return !stopped
        }

        func acceptLoop() {
            var sinceCleanup = 0
            while !stopped {
                guard (try? Sock.poll(listenFD, events: Int16(POLLIN), deadline: Deadline(seconds: 0.1))) == true else { continue }
                let fd = accept(listenFD, nil, nil)
                if fd < 0 { continue }
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)  // accept4 is not visible from Swift's Glibc module
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                let index: Int? = state.withLock { s in
                    if s.stopped { return nil }
                    let index = s.accepted
                    s.accepted += 1
                    s.raw.append([])
                    s.openFDs[index] = fd
                    return index
                }
                guard let index else { close(fd); break }
                do {
                    try threads.start { [self] in serve(fd: fd, index: index) }
                } catch {
                    state.withLock { _ = $0.openFDs.removeValue(forKey: index) }
                    close(fd)
                }
                sinceCleanup += 1
                if sinceCleanup >= 64 { threads.joinFinished(); sinceCleanup = 0 }
            }
        }

        /// Serves one connection until either side closes it.
        func serve(fd: Int32, index: Int) {
            var stream = ByteStream(fd: fd)
            stream.onReceive = { [self] bytes in recordRaw(bytes, connection: index) }
            var closeMode = CloseMode.graceful
            do {
                closeMode = try serveRequests(&stream, index: index)
            } catch TestSupportError.malformed(let why) {
                closeMode = reject(&stream, index: index, why)  // e.g. an over-long request line
            } catch {
                closeMode = .graceful
            }
            state.withLock { _ = $0.openFDs.removeValue(forKey: index) }
            switch closeMode {
            case .graceful:
                // Lingering close: send FIN, drain what the peer still sends (up to 1 s), then close,
                // so unread input does not turn into an RST that destroys the response in flight.
                shutdown(fd, Int32(SHUT_WR))
                stream.idleTimeout = 0.2
                let deadline = Deadline(seconds: 1)
                while !deadline.expired, (try? stream.fill()) == true {}
            case .immediate:
                break
            case .reset:
                Sock.setLingerZero(fd)
            }
            close(fd)
        }

        enum CloseMode { case graceful, immediate, reset }

        /// Reads and answers requests until the connection should close; returns how to close it.
        func serveRequests(_ stream: inout ByteStream, index: Int) throws -> CloseMode {
            var requestNumber = 0
            while !stopped {
                guard let line = try stream.readLine() else { return .immediate }  // peer closed between requests
                if line.isEmpty { continue }  // stray CRLF before a request line (RFC 9112 2.2)
                let parts = HTTPParsing.text(line).split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, parts[2].hasPrefix("HTTP/1.") else {
                    return reject(&stream, index: index, "bad request line: \(HTTPParsing.text(line))")
                }
                let headers: [(name: String, value: String)]
                do {
                    headers = try HTTPParsing.readHeaders(&stream)
                } catch TestSupportError.malformed(let why) {
                    return reject(&stream, index: index, why)
                }
                var request = TestRequest(
                    method: String(parts[0]), target: String(parts[1]), version: String(parts[2]),
                    headers: headers, connectionIndex: index, indexOnConnection: requestNumber)
                requestNumber += 1

                // Framing of the request body.
                let hasTE = !request.headerValues("transfer-encoding").isEmpty
                let lengths = Set(request.headerValues("content-length").flatMap { $0.split(separator: ",") }.map { HTTPParsing.trimOWS($0) })
                if hasTE && !lengths.isEmpty { return reject(&stream, index: index, "both Transfer-Encoding and Content-Length") }
                if hasTE && !request.wasChunked { return reject(&stream, index: index, "Transfer-Encoding without final chunked") }
                var contentLength = 0
                if let only = lengths.first {
                    guard lengths.count == 1, only.allSatisfy(\.isASCII), only.allSatisfy(\.isNumber), let n = Int(only) else {
                        return reject(&stream, index: index, "bad Content-Length: \(request.headerValues("content-length"))")
                    }
                    contentLength = n
                }
                let hasBody = request.wasChunked || contentLength > 0
                if hasBody, let (early, close) = beforeBody(request) {
                    record(request)
                    var response = early
                    response.closeAfter = true
                    _ = try respond(response, to: request, on: stream.fd, keepAlive: false)
                    return close == .immediately ? .immediate : .graceful
                }

                // Expect: 100-continue.
                if hasBody, request.version == "HTTP/1.1", request.header("expect")?.lowercased() == "100-continue" {
                    switch continueDecision(request) {
                    case .sendContinue:
                        try Sock.sendAll(stream.fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                        request.sentContinue = true
                    case .ignore:
                        break
                    case .reject(var response):
                        record(request)
                        response.closeAfter = true
                        return try respond(response, to: request, on: stream.fd, keepAlive: false) ?? .graceful
                    }
                }

                if request.wasChunked {
                    do {
                        let chunked = try HTTPParsing.readChunked(&stream)
                        request.body = chunked.body
                        request.trailers = chunked.trailers
                    } catch TestSupportError.malformed(let why) {
                        return reject(&stream, index: index, why)
                    }
                } else if contentLength > 0 {
                    request.body = try stream.readExactly(contentLength)
                }
                record(request)

                let response = handler(request)
                let clientKeepAlive: Bool
                if request.version == "HTTP/1.0" {
                    clientKeepAlive = HTTPParsing.hasToken(request.headers, "connection", "keep-alive")
                } else {
                    clientKeepAlive = !HTTPParsing.hasToken(request.headers, "connection", "close")
                }
                if let mode = try respond(response, to: request, on: stream.fd, keepAlive: clientKeepAlive && !response.closeAfter) {
                    return mode
                }
            }
            return .immediate
        }

        func record(_ request: TestRequest) {
            state.withLock { s in
                s.requestCount += 1
                if recording { s.requests.append(request) }
            }
        }

        /// Appends received bytes to connection `index`'s raw record (when recording).
        func recordRaw(_ bytes: ArraySlice<UInt8>, connection index: Int) {
            guard recording else { return }
            state.withLock { $0.raw[index].append(contentsOf: bytes) }
        }

        /// Answers 400 to a malformed request and asks for the connection to be closed.
        func reject(_ stream: inout ByteStream, index: Int, _ why: String) -> CloseMode {
            state.withLock { $0.parseErrors.append("connection \(index): \(why)") }
            let body = "malformed request: \(why)\n"
            let head = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
            try? Sock.sendAll(stream.fd, Array((head + body).utf8))
            return .graceful
        }

        /// Performs `response`. Returns nil to keep the connection open for the next request, or how to close it.
        func respond(_ response: TestResponse, to request: TestRequest, on fd: Int32, keepAlive: Bool) throws -> CloseMode? {
            if response.delayMs > 0, !sleep(ms: response.delayMs) { return .immediate }
            switch response.action {
            case .closeImmediately:
                return .immediate
            case .resetImmediately:
                return .reset
            case .hang:
                // Keep reading (recorded) until the peer closes or `stop` shuts the socket down.
                var drain = ByteStream(fd: fd)
                let index = request.connectionIndex
                drain.onReceive = { [self] bytes in recordRaw(bytes, connection: index) }
                while !stopped, (try? drain.fill()) == true {}
                return .immediate
            case .raw(let bytes):
                try Sock.sendAll(fd, bytes)
                return keepAlive ? nil : .graceful
            case .respond:
                break
            }

            let status = response.status
            let bodyless = request.method == "HEAD" || (100..<200).contains(status) || status == 204 || status == 304
            let userHas = { (name: String) in HTTPParsing.header(response.headers, name) != nil }
            var head = "HTTP/1.1 \(status) \(response.reason ?? TestResponse.standardReason(status))\r\n"
            for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
            let framed = !((100..<200).contains(status) || status == 204 || status == 304)
            if framed && !userHas("content-length") && !userHas("transfer-encoding") {
                head += response.chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: \(response.bodyLength)\r\n"
            }
            if !userHas("connection") {
                if !keepAlive {
                    head += "Connection: close\r\n"
                } else if request.version == "HTTP/1.0" {
                    head += "Connection: keep-alive\r\n"
                }
            }
            head += "\r\n"
            try Sock.sendAll(fd, Array(head.utf8))

            if !bodyless {
                if response.bodyDelayMs > 0, !sleep(ms: response.bodyDelayMs) { return .immediate }
                try sendBody(response, fd: fd)
            }
            return keepAlive ? nil : .graceful
        }

        func sendBody(_ response: TestResponse, fd: Int32) throws {
            var pieces: [[UInt8]] = []  // only `body`; the repeated chunk is sent without materializing
            if !response.body.isEmpty { pieces.append(response.body) }
            guard response.chunked else {
                for piece in pieces { try Sock.sendAll(fd, piece) }
                if let (chunk, count) = response.bodyRepeat, !chunk.isEmpty {
                    for _ in 0..<max(0, count) { try Sock.sendAll(fd, chunk) }
                }
                return
            }
            var first = true
            func sendChunks(of bytes: [UInt8]) throws {
                var offset = 0
                while offset < bytes.count {
                    if !first && response.chunkDelayMs > 0 { guard sleep(ms: response.chunkDelayMs) else { throw TestSupportError.closed("stopped") } }
                    first = false
                    let end = min(bytes.count, offset + response.chunkSize)
                    try Sock.sendAll(fd, Array(String(end - offset, radix: 16).utf8) + [13, 10] + bytes[offset..<end] + [13, 10])
                    offset = end
                }
            }
            for piece in pieces { try sendChunks(of: piece) }
            if let (chunk, count) = response.bodyRepeat, !chunk.isEmpty {
                for _ in 0..<max(0, count) { try sendChunks(of: chunk) }
            }
            if !first && response.chunkDelayMs > 0 { guard sleep(ms: response.chunkDelayMs) else { throw TestSupportError.closed("stopped") } }
            try Sock.sendAll(fd, Array("0\r\n\r\n".utf8))
        }
    }
}

/// What the ``TestUpstream/echo`` handler answers: the request as the upstream received it.
/// Decode a response body with ``init(json:)`` (or ``TestHTTPResponse/echoed()``).
package struct EchoedRequest: Codable, Sendable, Equatable {
    /// The request method.
    package var method: String
    /// The request target, byte for byte.
    package var target: String
    /// The protocol version from the request line.
    package var version: String
    /// Headers as `[name, value]` pairs in the order received.
    package var headers: [[String]]
    /// The body decoded as UTF-8 (invalid bytes replaced); see ``bodyLength``.
    package var body: String
    /// The body length in bytes.
    package var bodyLength: Int
    /// Whether the body arrived chunked.
    package var chunked: Bool
    /// ``TestRequest/connectionIndex``.
    package var connection: Int
    /// ``TestRequest/indexOnConnection``.
    package var requestOnConnection: Int

    /// Describes `request`.
    package init(_ request: TestRequest) {
        method = request.method
        target = request.target
        version = request.version
        headers = request.headers.map { [$0.name, $0.value] }
        body = request.bodyText
        bodyLength = request.body.count
        chunked = request.wasChunked
        connection = request.connectionIndex
        requestOnConnection = request.indexOnConnection
    }

    /// Decodes the JSON the echo handler sent.
    package init(json bytes: [UInt8]) throws {
        self = try JSONDecoder().decode(EchoedRequest.self, from: Data(bytes))
    }

    /// The first value of header `name` (case-insensitive), nil when absent.
    package func header(_ name: String) -> String? {
        headers.first { $0.count == 2 && $0[0].lowercased() == name.lowercased() }?[1]
    }

    /// Every value of header `name` (case-insensitive), in order.
    package func headerValues(_ name: String) -> [String] {
        headers.filter { $0.count == 2 && $0[0].lowercased() == name.lowercased() }.map { $0[1] }
    }

    /// This value as JSON text (keys sorted).
    package var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }
}
