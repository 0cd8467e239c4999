// The HTTP(S) side: libevent's evhttp does the HTTP/1.1 work (keep-alive, Content-Length and
// chunked request bodies, 100-continue); this file wires it to the functions, the stats and TLS.
internal import CLibevent
#if canImport(Glibc)
internal import Glibc
#endif

/// Why the server could not start (the message is printed, the exit status is 1).
struct StartError: Error {
    /// What failed, for a human.
    var message: String
}

/// The one object of the process: owns the event base and everything hanging off it. C callbacks
/// get it back through their `void *` argument (it outlives the loop, so unretained pointers do).
final class Server {
    private let options: Options
    private let base: OpaquePointer
    private let http: OpaquePointer
    /// Set with `--https`: every accepted connection gets an `SSL` from it.
    private let sslContext: OpaquePointer?
    /// `Basic base64(user:pass)` with `--basic`: the only `Authorization` accepted.
    private let expectedAuthorization: [UInt8]?
    private let gateway: Gateway
    /// The address and port actually bound (the port resolved when 0 was asked for).
    private(set) var boundPort = 0

    /// TCP connections accepted, whatever they then carried (stats requests, failed handshakes).
    private var accepted = 0
    /// Connections that carried at least one function request.
    private var connections = 0
    /// Function requests (everything but `/_standin/`).
    private var requests = 0
    /// Connections that carried a function request and are still open. evhttp tells when one
    /// closes only through a close callback set on it, which is done at its first function request.
    private var openConnections: Set<OpaquePointer> = []

    /// Sets up the loop, the listener and TLS; nothing is served before ``run()``.
    init(options: Options) throws(StartError) {
        self.options = options
        gateway = Gateway(functions: options.functions)
        expectedAuthorization = options.basic.map { Array(("Basic " + base64Encode(Array($0.utf8))).utf8) }
        guard let base = event_base_new() else { throw StartError(message: "event_base_new failed") }
        self.base = base
        guard let http = evhttp_new(base) else { throw StartError(message: "evhttp_new failed") }
        self.http = http
        sslContext = options.https ? try Server.makeSSLContext(cert: options.certPath!, key: options.keyPath!) : nil

        // Everything a Go handler would accept ("ANY /{greeting}"); evhttp's default lacks PATCH, OPTIONS...
        let methods = [EVHTTP_REQ_GET, EVHTTP_REQ_POST, EVHTTP_REQ_HEAD, EVHTTP_REQ_PUT, EVHTTP_REQ_DELETE,
                       EVHTTP_REQ_OPTIONS, EVHTTP_REQ_TRACE, EVHTTP_REQ_CONNECT, EVHTTP_REQ_PATCH]
        evhttp_set_allowed_methods(http, UInt16(methods.reduce(0) { $0 | $1.rawValue }))
        evhttp_set_timeout(http, Int32(options.idleTimeoutSeconds))

        let context = Unmanaged.passUnretained(self).toOpaque()
        evhttp_set_gencb(http, { request, context in
            guard let request, let context else { return }
            Unmanaged<Server>.fromOpaque(context).takeUnretainedValue().handle(request)
        }, context)
        // evhttp calls this for every accepted connection, before any byte is read: the one place
        // where a connection (not a request) can be counted, and where TLS is slipped underneath.
        evhttp_set_bevcb(http, { base, context in
            guard let context else { return nil }
            return Unmanaged<Server>.fromOpaque(context).takeUnretainedValue().newConnection(base)
        }, context)

        guard let bound = evhttp_bind_socket_with_handle(http, options.host, UInt16(options.effectivePort)) else {
            let reason = String(cString: strerror(errno))
            throw StartError(message: "cannot listen on \(options.host):\(options.effectivePort): \(reason)")
        }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(evhttp_bound_socket_get_fd(bound), $0, &length) }
        }
        // sin_port and sin6_port sit at the same offset.
        boundPort = Int(withUnsafeBytes(of: &address) { UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self)) })
    }

    /// Serves until SIGTERM or SIGINT; returns the exit status (0).
    func run() -> Int32 {
        // The test runner (or a shell) may hand us a mask blocking everything: start from a known
        // one. Signals stay blocked until their events exist, so an early SIGTERM is not fatal.
        var all = sigset_t()
        sigfillset(&all)
        sigprocmask(SIG_SETMASK, &all, nil)
        signal(SIGPIPE, SIG_IGN)
        let context = Unmanaged.passUnretained(self).toOpaque()
        var signalEvents: [OpaquePointer] = []
        for number in [SIGTERM, SIGINT] {
            guard let event = event_new(base, number, Int16(EV_SIGNAL | EV_PERSIST), { _, _, context in
                guard let context else { return }
                event_base_loopbreak(Unmanaged<Server>.fromOpaque(context).takeUnretainedValue().base)
            }, context) else { continue }
            event_add(event, nil)
            signalEvents.append(event)
        }
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)

        let host = options.host.contains(":") ? "[\(options.host)]" : options.host
        writeAll(1, "listening on \(host):\(boundPort)\n")
        event_base_dispatch(base)
        for event in signalEvents { event_free(event) }
        return 0
    }

    // MARK: - Connections

    /// The bufferevent evhttp will use for a new connection: TLS-accepting with `--https`.
    private func newConnection(_ base: OpaquePointer?) -> OpaquePointer? {
        accepted += 1
        let closeOnFree = Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)
        guard let sslContext else { return bufferevent_socket_new(base, -1, closeOnFree) }
        guard let ssl = SSL_new(sslContext) else { return nil }
        // The fd is set by evhttp right after this returns; CLOSE_ON_FREE also frees the SSL.
        let bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, closeOnFree)
        // Clients (curl, a gateway's pool) often close without close_notify: not an error here.
        if let bev { bufferevent_openssl_set_allow_dirty_shutdown(bev, 1) }
        return bev
    }

    /// Notes that `connection` carries function requests, once, so that ``openConnections`` learns
    /// when it closes.
    private func track(_ connection: OpaquePointer) {
        guard openConnections.insert(connection).inserted else { return }
        connections += 1
        evhttp_connection_set_closecb(connection, { connection, context in
            guard let connection, let context else { return }
            Unmanaged<Server>.fromOpaque(context).takeUnretainedValue().openConnections.remove(connection)
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    // MARK: - Requests

    /// One complete request (body read): answer it now, or after `--delay`.
    private func handle(_ request: OpaquePointer) {
        let rawPath = Server.rawPath(of: request)
        if rawPath.starts(with: Array("/_standin/".utf8)) {
            send(standInResponse(rawPath), to: request, note: "stand-in")
            return
        }
        requests += 1
        if let connection = evhttp_request_get_connection(request) { track(connection) }

        var note = ""
        let response: FunctionResponse
        let functionRequest = FunctionRequest(
            rawPath: rawPath, authorization: Server.headerValues(of: request, named: "authorization"),
            body: Server.body(of: request))
        if GoHTTP.unescapePath(rawPath) == nil {
            response = .goBadRequest
        } else if let expectedAuthorization, functionRequest.authorization != [expectedAuthorization] {
            response = .unauthorized
        } else {
            switch options.mode {
            case .function(let kind):
                note = kind.rawValue
                response = kind.respond(to: functionRequest)
            case .gateway:
                if let route = gateway.route(rawPath) {
                    note = "\(route.name) (\(route.kind.rawValue)) path \(String(decoding: route.path, as: UTF8.self))"
                    var routed = functionRequest
                    routed.rawPath = route.path
                    response = route.kind.respond(to: routed)
                } else {
                    note = "no such function"
                    var notFound = FunctionResponse.goNotFound
                    notFound.fromFunction = false
                    response = notFound
                }
            }
        }
        guard response.fromFunction, options.delayMilliseconds > 0 else {
            send(response, to: request, note: note)
            return
        }
        // A timer, not a sleep: other connections are served while this "function" warms up.
        // evhttp keeps the request alive until it is answered, even if the client goes away
        // meanwhile (evhttp_send_reply then just frees it).
        let pending = PendingReply(server: self, request: request, response: response, note: note)
        let context = Unmanaged.passRetained(pending).toOpaque()
        guard let timer = event_new(base, -1, 0, { _, _, context in
            guard let context else { return }
            let pending = Unmanaged<PendingReply>.fromOpaque(context).takeRetainedValue()
            if let timer = pending.timer { event_free(timer) }
            pending.server.send(pending.response, to: pending.request, note: pending.note)
        }, context) else {
            Unmanaged<PendingReply>.fromOpaque(context).release()
            send(response, to: request, note: note)
            return
        }
        pending.timer = timer
        let delay = options.delayMilliseconds
        var interval = timeval(tv_sec: delay / 1000, tv_usec: (delay % 1000) * 1000)
        event_add(timer, &interval)
    }

    /// The `/_standin/` endpoints: `stats`, else Go's 404.
    private func standInResponse(_ rawPath: [UInt8]) -> FunctionResponse {
        guard rawPath == Array("/_standin/stats".utf8) else {
            var notFound = FunctionResponse.goNotFound
            notFound.fromFunction = false
            return notFound
        }
        let json = "{\"connections\":\(connections),\"requests\":\(requests),\"open\":\(openConnections.count),\"accepted\":\(accepted)}\n"
        return FunctionResponse(
            status: 200, reason: "OK", headers: [("Content-Type", "application/json")], body: Array(json.utf8),
            fromFunction: false)
    }

    /// Writes `response` on `request` (which evhttp then frees) and logs it with `--verbose`.
    fileprivate func send(_ response: FunctionResponse, to request: OpaquePointer, note: String) {
        if options.verbose {
            let method = Server.methodName(evhttp_request_get_command(request))
            let target = evhttp_request_get_uri(request).map { String(cString: $0) } ?? "?"
            writeAll(2, "\(method) \(target) -> \(response.status)\(note.isEmpty ? "" : " [\(note)]")\n")
        }
        let headers = evhttp_request_get_output_headers(request)
        for (name, value) in response.headers { evhttp_add_header(headers, name, value) }
        // Go sends Date and Content-Length on every such response, HTTP/1.0 and HEAD included;
        // evhttp adds them only for HTTP/1.1 (or keep-alive) requests that get a body.
        evhttp_add_header(headers, "Date", Server.httpDate())
        evhttp_add_header(headers, "Content-Length", String(response.body.count))
        if response.close { evhttp_add_header(headers, "Connection", "close") }
        // libevent 2.1 writes whatever is in the output buffer, even for HEAD.
        if evhttp_request_get_command(request) != EVHTTP_REQ_HEAD {
            response.body.withUnsafeBytes { bytes in
                _ = evbuffer_add(evhttp_request_get_output_buffer(request), bytes.baseAddress, bytes.count)
            }
        }
        evhttp_send_reply(request, response.status, response.reason, nil)
    }

    /// The current time as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`); the C locale is never changed.
    private static func httpDate() -> String {
        var now = time(nil)
        var fields = tm()
        gmtime_r(&now, &fields)
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &fields)
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - Reading requests

    /// The request target's path, bytes as sent (still percent-encoded); `/` if it has none.
    private static func rawPath(of request: OpaquePointer) -> [UInt8] {
        guard let uri = evhttp_request_get_evhttp_uri(request), let path = evhttp_uri_get_path(uri), path.pointee != 0 else {
            return Array("/".utf8)
        }
        return Array(UnsafeBufferPointer(start: path, count: strlen(path)).map { UInt8(bitPattern: $0) })
    }

    /// Every value of the header `name` (lower case), in order received, as bytes.
    private static func headerValues(of request: OpaquePointer, named name: String) -> [[UInt8]] {
        var values: [[UInt8]] = []
        guard let headers = evhttp_request_get_input_headers(request) else { return values }
        var field = headers.pointee.tqh_first
        while let current = field {
            if let key = current.pointee.key, strcasecmp(key, name) == 0, let value = current.pointee.value {
                values.append(Array(UnsafeBufferPointer(start: value, count: strlen(value)).map { UInt8(bitPattern: $0) }))
            }
            field = current.pointee.next.tqe_next
        }
        return values
    }

    /// The whole request body (evhttp has de-chunked it).
    private static func body(of request: OpaquePointer) -> [UInt8] {
        guard let buffer = evhttp_request_get_input_buffer(request) else { return [] }
        let length = evbuffer_get_length(buffer)
        return [UInt8](unsafeUninitializedCapacity: length) { storage, count in
            count = max(0, evbuffer_copyout(buffer, storage.baseAddress, length))
        }
    }

    private static func methodName(_ command: evhttp_cmd_type) -> String {
        switch command {
        case EVHTTP_REQ_GET: "GET"
        case EVHTTP_REQ_POST: "POST"
        case EVHTTP_REQ_HEAD: "HEAD"
        case EVHTTP_REQ_PUT: "PUT"
        case EVHTTP_REQ_DELETE: "DELETE"
        case EVHTTP_REQ_OPTIONS: "OPTIONS"
        case EVHTTP_REQ_TRACE: "TRACE"
        case EVHTTP_REQ_CONNECT: "CONNECT"
        case EVHTTP_REQ_PATCH: "PATCH"
        default: "?"
        }
    }

    // MARK: - TLS

    /// A server `SSL_CTX` with the PEM certificate chain and key, checked against each other.
    private static func makeSSLContext(cert: String, key: String) throws(StartError) -> OpaquePointer {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw StartError(message: "SSL_CTX_new: \(openSSLError())") }
        guard SSL_CTX_use_certificate_chain_file(context, cert) == 1 else {
            SSL_CTX_free(context)
            throw StartError(message: "cannot load certificate \(cert): \(openSSLError())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(context) == 1 else {
            SSL_CTX_free(context)
            throw StartError(message: "cannot use private key \(key): \(openSSLError())")
        }
        return context
    }

    /// The oldest error in OpenSSL's queue, as text.
    private static func openSSLError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "unknown error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A function answer held back by `--delay`, owned by its timer's context until it fires.
private final class PendingReply {
    unowned let server: Server
    let request: OpaquePointer
    let response: FunctionResponse
    let note: String
    var timer: OpaquePointer?

    init(server: Server, request: OpaquePointer, response: FunctionResponse, note: String) {
        self.server = server
        self.request = request
        self.response = response
        self.note = note
    }
}

/// Writes `text` to file descriptor `fd` whole, unbuffered (stdout may be a file a test polls).
func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}
