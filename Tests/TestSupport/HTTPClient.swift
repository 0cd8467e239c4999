#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// A raw, blocking HTTP/1.x client for tests: sends exactly the bytes it is given and parses what
/// comes back with its own parser (independent of Sluice's). One connection per instance; use it
/// from one thread at a time.
///
/// ```swift
/// let client = try HTTPClient(port: sluice.proxyPort)
/// try client.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
/// let a = try client.readResponse(), b = try client.readResponse()   // pipelined
/// ```
///
/// `timeout` bounds every single wait (connect, each read, each write), not a whole response:
/// a body that keeps trickling in is read to its end.
package final class HTTPClient {
    /// The port connected to.
    package let port: Int
    /// The host connected to (an IPv4 address).
    package let host: String
    /// Seconds any single connect/read/write may wait.
    package let timeout: Double
    /// The socket and the bytes received but not consumed by a ``readResponse(forHEAD:skipInformational:)`` yet.
    private var stream: ByteStream
    private var isOpen = true

    /// Connects to `host:port` within `timeout` seconds.
    package init(port: Int, host: String = "127.0.0.1", timeout: Double = 5) throws {
        self.port = port
        self.host = host
        self.timeout = timeout
        stream = ByteStream(fd: try Sock.connect(host: host, port: port, timeout: timeout))
        stream.idleTimeout = timeout
    }

    deinit { close() }

    /// Sends `bytes` verbatim.
    package func send(_ bytes: [UInt8]) throws {
        guard isOpen else { throw TestSupportError.closed("send on a closed HTTPClient") }
        try Sock.sendAll(stream.fd, bytes, deadline: Deadline(seconds: timeout))
    }

    /// Sends the UTF-8 bytes of `text` verbatim (write `\r\n` yourself).
    package func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Sends a well-formed HTTP/1.1 request. Adds `Host: 127.0.0.1:<port>` unless `headers` has a
    /// `Host`, and `Content-Length` when `body` is given unless `headers` has `Content-Length` or
    /// `Transfer-Encoding` (then the body is sent as is).
    package func sendRequest(
        method: String = "GET", path: String, headers: [(String, String)] = [], body: [UInt8]? = nil
    ) throws {
        try send(HTTPClient.format(method: method, path: path, port: port, headers: headers, body: body))
    }

    /// Reads one response, framed by `Content-Length`, chunked encoding (decoded into
    /// ``TestHTTPResponse/body``, received bytes in ``TestHTTPResponse/rawBody``) or the connection
    /// closing. Bytes after the response stay buffered for the next call (pipelining).
    /// - Parameters:
    ///   - forHEAD: the request was `HEAD`, so the response has no body whatever its headers say.
    ///   - skipInformational: skip `1xx` responses (except `101`), collecting them in
    ///     ``TestHTTPResponse/informational``; false returns a `100 Continue` by itself.
    package func readResponse(forHEAD: Bool = false, skipInformational: Bool = true) throws -> TestHTTPResponse {
        guard isOpen else { throw TestSupportError.closed("read on a closed HTTPClient") }
        var interim: [TestHTTPResponse] = []
        while true {
            var response = try readOne(forHEAD: forHEAD)
            if skipInformational, (100..<200).contains(response.status), response.status != 101 {
                interim.append(response)
                continue
            }
            response.informational = interim
            return response
        }
    }

    private func readOne(forHEAD: Bool) throws -> TestHTTPResponse {
        guard let line = try stream.readLine() else { throw TestSupportError.closed("before the status line") }
        let text = HTTPParsing.text(line)
        let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), parts[1].count == 3, let status = Int(parts[1]) else {
            throw TestSupportError.malformed("bad status line: \(text)")
        }
        var response = TestHTTPResponse(
            status: status, reason: parts.count > 2 ? String(parts[2]) : "", version: String(parts[0]),
            headers: try HTTPParsing.readHeaders(&stream))
        if forHEAD || (100..<200).contains(status) || status == 204 || status == 304 { return response }
        let hasTE = !response.headerValues("transfer-encoding").isEmpty
        if HTTPParsing.isChunked(response.headers) {
            let chunked = try HTTPParsing.readChunked(&stream)
            response.body = chunked.body
            response.rawBody = chunked.raw
            response.trailers = chunked.trailers
        } else if !hasTE, !response.headerValues("content-length").isEmpty {
            let values = Set(response.headerValues("content-length").flatMap { $0.split(separator: ",") }.map { HTTPParsing.trimOWS($0) })
            guard values.count == 1, let length = Int(values.first!), length >= 0 else {
                throw TestSupportError.malformed("bad Content-Length: \(response.headerValues("content-length"))")
            }
            response.body = try stream.readExactly(length)
            response.rawBody = response.body
        } else {
            response.body = try stream.readToEOF()
            response.rawBody = response.body
        }
        return response
    }

    /// Reads whatever arrives until the peer closes or nothing arrives for `timeout` seconds
    /// (default: the client's timeout); returns it, including bytes already buffered. Never throws
    /// on timeout: use it to see exactly what came back (e.g. after a malformed request).
    package func readRaw(timeout: Double? = nil) -> [UInt8] {
        guard isOpen else { return [] }
        stream.idleTimeout = timeout ?? self.timeout
        defer { stream.idleTimeout = self.timeout }
        while (try? stream.fill()) == true {}
        let out = Array(stream.buffer[stream.position...])
        stream.position = stream.buffer.count
        return out
    }

    /// The local (client-side) port of the connection, e.g. to find the server process that
    /// accepted it in `/proc/net/tcp`. 0 once closed.
    package var localPort: Int { isOpen ? ((try? Sock.localPort(stream.fd)) ?? 0) : 0 }

    /// Bytes received and not consumed by a read yet.
    package var bufferedBytes: [UInt8] { Array(stream.buffer[stream.position...]) }

    /// Whether the peer closes (FIN or RST) within `timeout` seconds. False if bytes arrive
    /// instead (they stay buffered), if bytes are already buffered, or on timeout.
    package func isClosedByPeer(timeout: Double = 1) -> Bool {
        guard isOpen else { return true }
        if stream.eof { return true }
        if stream.available > 0 { return false }
        stream.idleTimeout = timeout
        defer { stream.idleTimeout = self.timeout }
        do {
            return try !stream.fill()
        } catch {
            return false
        }
    }

    /// Sends `bytes` on a background thread while this thread goes on reading (a body the peer may
    /// stop taking). Each write waits at most the client's timeout; a failure ends the send.
    /// Call ``BackgroundSend/wait()`` before closing the client.
    package func sendInBackground(_ bytes: [UInt8]) throws -> BackgroundSend {
        try BackgroundSend(fd: stream.fd, bytes: bytes, timeout: timeout)
    }

    /// Half-closes the connection (sends FIN); reading still works.
    package func shutdownWrite() {
        if isOpen { shutdown(stream.fd, Int32(SHUT_WR)) }
    }

    /// Closes the connection. Idempotent.
    package func close() {
        guard isOpen else { return }
        isOpen = false
        Glibc.close(stream.fd)
    }

    /// Closes the connection with a TCP RST instead of a FIN.
    package func reset() {
        guard isOpen else { return }
        Sock.setLingerZero(stream.fd)
        close()
    }

    /// One request on a new connection: HTTP/1.1, `Host: 127.0.0.1:<port>` and `Connection: close`
    /// (unless `headers` has them), `Content-Length` when `body` is given. Returns the response
    /// (``TestHTTPResponse/body`` de-chunked).
    package static func request(
        port: Int, method: String = "GET", path: String, headers: [(String, String)] = [],
        body: [UInt8]? = nil, timeout: Double = 5
    ) throws -> TestHTTPResponse {
        let client = try HTTPClient(port: port, timeout: timeout)
        defer { client.close() }
        var headers = headers
        if !headers.contains(where: { $0.0.lowercased() == "connection" }) { headers.append(("Connection", "close")) }
        try client.sendRequest(method: method, path: path, headers: headers, body: body)
        return try client.readResponse(forHEAD: method == "HEAD")
    }

    /// ``request(port:method:path:headers:body:timeout:)`` with a UTF-8 text body.
    package static func request(
        port: Int, method: String, path: String, headers: [(String, String)] = [], body: String, timeout: Double = 5
    ) throws -> TestHTTPResponse {
        try request(port: port, method: method, path: path, headers: headers, body: Array(body.utf8), timeout: timeout)
    }

    /// The bytes of a request as ``sendRequest(method:path:headers:body:)`` sends it.
    package static func format(
        method: String, path: String, port: Int, headers: [(String, String)], body: [UInt8]?
    ) -> [UInt8] {
        let has = { (name: String) in headers.contains { $0.0.lowercased() == name } }
        var head = "\(method) \(path) HTTP/1.1\r\n"
        if !has("host") { head += "Host: 127.0.0.1:\(port)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body, !has("content-length"), !has("transfer-encoding") { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + (body ?? [])
    }
}

/// A response as ``HTTPClient`` parsed it.
package struct TestHTTPResponse: Sendable {
    /// Status code.
    package var status: Int
    /// Reason phrase (may be empty).
    package var reason: String
    /// Version from the status line, e.g. `HTTP/1.1`.
    package var version: String
    /// Header fields in order received, names in their original case.
    package var headers: [(name: String, value: String)]
    /// The body: de-chunked when it was chunked.
    package var body: [UInt8] = []
    /// The body bytes exactly as received (chunk sizes, CRLFs and trailers included when chunked).
    package var rawBody: [UInt8] = []
    /// Trailer fields of a chunked body.
    package var trailers: [(name: String, value: String)] = []
    /// `1xx` responses skipped before this one (e.g. `100 Continue`), in order.
    package var informational: [TestHTTPResponse] = []

    /// Creates a response (the client builds these).
    package init(status: Int, reason: String, version: String, headers: [(name: String, value: String)]) {
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
    }

    /// The first value of header `name` (case-insensitive), nil when absent.
    package func header(_ name: String) -> String? { HTTPParsing.header(headers, name) }

    /// Every value of header `name` (case-insensitive), in order received.
    package func headerValues(_ name: String) -> [String] { HTTPParsing.headerValues(headers, name) }

    /// The body decoded as UTF-8 (invalid bytes replaced).
    package var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// Whether the body was chunked.
    package var wasChunked: Bool { HTTPParsing.isChunked(headers) }

    /// Whether the server said it will close the connection after this response
    /// (`Connection: close`, or HTTP/1.0 without `Connection: keep-alive`).
    package var closesConnection: Bool {
        if HTTPParsing.hasToken(headers, "connection", "close") { return true }
        return version == "HTTP/1.0" && !HTTPParsing.hasToken(headers, "connection", "keep-alive")
    }

    /// The body decoded as JSON into `type`.
    package func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: Data(body))
    }

    /// The body as the ``TestUpstream/echo`` handler wrote it: what the upstream received.
    package func echoed() throws -> EchoedRequest { try EchoedRequest(json: body) }
}

/// A send running on its own thread (``HTTPClient/sendInBackground(_:)``).
package final class BackgroundSend: Sendable {
    private final class Progress: Sendable {
        let state = Mutex<(sent: Int, error: String?)>((0, nil))
    }
    private let threads = ThreadGroup()
    private let progress = Progress()

    fileprivate init(fd: Int32, bytes: [UInt8], timeout: Double) throws {
        try threads.start { [progress] in
            var offset = 0
            let piece = 16 * 1024
            while offset < bytes.count {
                let end = min(offset + piece, bytes.count)
                do {
                    try Sock.sendAll(fd, bytes[offset..<end], deadline: Deadline(seconds: timeout))
                } catch {
                    progress.state.withLock { $0.error = "\(error)" }
                    return
                }
                offset = end
                progress.state.withLock { $0.sent = offset }
            }
        }
    }

    /// Waits (at most `timeout` seconds) for the send to end; returns the bytes sent and the error
    /// that stopped it, if any.
    @discardableResult
    package func wait(timeout: Double = 10) -> (sent: Int, error: String?) {
        threads.joinAll(timeout: timeout)
        return progress.state.withLock { $0 }
    }
}
