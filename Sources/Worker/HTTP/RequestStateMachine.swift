/// The life of a client connection's requests as a value: the owner (`ClientConnection`) reports
/// events (bytes, EOF, errors, timeouts, a parsed head, the body's end, the response's head and
/// end, a flushed output) and performs the action each returns. No sockets, no clock: every path
/// is unit-tested alone (swift-nio's `HTTPServerPipelineHandler` and nginx's
/// `ngx_http_request.c` are the models).
///
/// ```
///  idle ──bytes──▶ readingHead ──head──▶ routing ──upstream──▶ proxying
///   ▲                  │                   │  └──local answer──▶ responding
///   │                  └─bad head──────────┴──────────────────────┐  │
///   └──────── flushed, keep-alive ◀── (proxying | responding) ◀───┘  │
///                                     flushed, close ──▶ lingering ──▶ closed
/// ```
struct RequestStateMachine: Equatable {
    enum State: Equatable {
        /// Keep-alive: between requests, no byte of the next one yet.
        case idle
        /// Some bytes of a head, not all.
        case readingHead
        /// A head parsed; plugins and routing run, no upstream or answer chosen yet.
        case routing
        /// The request is with an upstream (or a function): body going up, response coming back.
        case proxying
        /// The worker answers itself (error page, plugin response, 404).
        case responding
        /// Closing, reading and dropping what the client still sends (nginx's lingering close).
        case lingering
        case closed
    }

    private(set) var state: State = .idle
    /// The response may leave the connection open: the request allowed it and nothing since
    /// ruled it out.
    private(set) var keepAlive = true
    /// The connection closes after this response, whatever the request said (a body left unread,
    /// an error mid-request, an upstream that answered before taking the body).
    private(set) var closeAfterResponse = false
    /// The request body is wholly read from the client (true when there is none).
    private(set) var bodyDone = true
    /// A response head is in the output: an error can no longer be answered with a page.
    private(set) var responseStarted = false
    /// The whole response is in the output and logged; it is being flushed.
    private(set) var responseComplete = false
    /// The client shut down its sending side after a whole request.
    private(set) var clientHalfClosed = false

    /// What the owner does next.
    enum Action: Equatable {
        case none
        /// Arm the header timeout and parse what arrived.
        case startHead
        /// Parse the bytes (more of a head).
        case parseHead
        /// Close now; nothing to log.
        case close
        /// Log the request in flight (with 499 when no response head was produced), then close.
        case logAndClose(clientClosedRequest: Bool)
        /// Log at info `client timed out (110: Connection timed out) while <stage>`, then close.
        case timeoutAndClose(TimeoutStage)
        /// Keep waiting (a timeout with nothing due, e.g. while an upstream works).
        case rearm
        /// Stop reading the client (it sent all it will): answer, then close.
        case stopReading
        /// Body bytes arrived: pass them on.
        case forwardBody
        /// Bytes beyond the request (pipelined): keep them, stop reading if the buffer is full.
        case holdInput
        /// Between requests: wait for the next one.
        case awaitNext
        /// Parse the next request already in the input.
        case parsePipelined
        /// Shut down the sending side and close.
        case shutdownAndClose
        /// Shut down the sending side, then read and drop until the client is done.
        case linger
    }

    enum TimeoutStage: Equatable {
        case readingHead, readingBody
        var text: StaticString {
            switch self {
            case .readingHead: "reading client request headers"
            case .readingBody: "reading client request body"
            }
        }
    }

    // MARK: - Client input

    /// Bytes arrived from the client.
    mutating func bytesArrived() -> Action {
        switch state {
        case .idle:
            state = .readingHead
            return .startHead
        case .readingHead:
            return .parseHead
        case .routing, .proxying:
            return bodyDone ? .holdInput : .forwardBody
        case .responding:
            return .holdInput
        case .lingering, .closed:
            return .none
        }
    }

    /// The client closed its sending side. `bodyAtHand`: the whole body is in the input already.
    mutating func clientEOF(bodyAtHand: Bool) -> Action {
        switch state {
        case .idle, .readingHead:
            state = .closed
            return .close
        case .routing, .proxying, .responding:
            if bodyDone || bodyAtHand {
                // A half-close (`curl`, `nc -N`): the client still waits for its answer.
                clientHalfClosed = true
                keepAlive = false
                return .stopReading
            }
            return clientGone()
        case .lingering:
            state = .closed
            return .close
        case .closed:
            return .none
        }
    }

    /// A read or write on the client failed (reset, broken pipe).
    mutating func clientFailed() -> Action {
        switch state {
        case .idle, .readingHead, .lingering:
            state = .closed
            return .close
        case .routing, .proxying, .responding:
            return clientGone()
        case .closed:
            return .none
        }
    }

    private mutating func clientGone() -> Action {
        let logged = responseComplete
        let answered = responseStarted
        state = .closed
        return logged ? .close : .logAndClose(clientClosedRequest: !answered)
    }

    /// The client's read timeout fired.
    mutating func clientTimedOut() -> Action {
        switch state {
        case .idle, .lingering:
            state = .closed
            return .close
        case .readingHead:
            state = .closed
            return .timeoutAndClose(.readingHead)
        case .routing, .proxying:
            guard !bodyDone else { return .rearm }
            state = .closed
            return .timeoutAndClose(.readingBody)
        case .responding:
            return .rearm
        case .closed:
            return .none
        }
    }

    // MARK: - The request

    /// A whole head is parsed. `hasBody`: Content-Length > 0 or chunked.
    mutating func headParsed(keepAlive requested: Bool, hasBody: Bool, quitting: Bool, moreInput: Bool) {
        state = .routing
        keepAlive = requested && !quitting && !(clientHalfClosed && !moreInput)
        closeAfterResponse = false
        bodyDone = !hasBody
        responseStarted = false
        responseComplete = false
    }

    /// The head was rejected (400, 413, 431): answered with a page, then the connection closes.
    mutating func headRejected() {
        state = .routing
        keepAlive = false
        closeAfterResponse = true
        bodyDone = true
        responseStarted = false
        responseComplete = false
    }

    /// Whether `100 Continue` goes out before the upstream is contacted (RFC 9110 §10.1.1): the
    /// client asked, a body is due and none of it has arrived.
    func shouldSendContinue(expectContinue: Bool, bodyBytesAtHand: Bool) -> Bool {
        expectContinue && !bodyDone && !bodyBytesAtHand
    }

    mutating func startProxying() { state = .proxying }

    /// The worker answers itself; a body still arriving is not read, so the connection closes.
    mutating func startLocalResponse() {
        state = .responding
        if !bodyDone { closeAfterResponse = true }
        if closeAfterResponse { keepAlive = false }
    }

    mutating func bodyFinished() { bodyDone = true }

    /// The connection cannot carry another request after this one.
    mutating func closeAfterThisResponse() {
        closeAfterResponse = true
        keepAlive = false
    }

    /// The response says `Connection: close` (a graceful quit began), the request is unchanged.
    mutating func noKeepAlive() { keepAlive = false }

    // MARK: - The response

    mutating func responseHeadStarted() { responseStarted = true }

    /// The whole response is in the output (and logged).
    mutating func responseCompleted() { responseComplete = true }

    /// The output is flushed after a complete response. `pipelined`: bytes of a next request are
    /// in the input. `clientMaySend`: the client may still be sending (a body not read, bytes in
    /// the input or the socket), so closing at once would reset the connection.
    /// `clientMaySend` is asked only when the connection closes (it may cost a syscall).
    mutating func responseFlushed(pipelined: Bool, clientMaySend: @autoclosure () -> Bool) -> Action {
        guard responseComplete else { return .none }
        responseComplete = false
        responseStarted = false
        if clientHalfClosed {
            // What it pipelined before the half-close is answered too.
            if pipelined && !closeAfterResponse {
                state = .idle
                return .parsePipelined
            }
            state = .closed
            return .shutdownAndClose
        }
        if closeAfterResponse || !keepAlive {
            if !bodyDone || clientMaySend() {
                state = .lingering
                return .linger
            }
            state = .closed
            return .shutdownAndClose
        }
        state = .idle
        return pipelined ? .parsePipelined : .awaitNext
    }

    /// A pipelined head was incomplete and the client has half-closed: it can never complete.
    mutating func pipelinedHeadIncomplete() -> Action {
        guard clientHalfClosed else { return .none }
        state = .closed
        return .shutdownAndClose
    }

    /// The lingering close is over (EOF, error, or its time is up).
    mutating func lingerEnded() { state = .closed }

    /// A new connection.
    mutating func reset() { self = RequestStateMachine() }
}
