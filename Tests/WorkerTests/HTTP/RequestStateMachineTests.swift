import Testing
@testable import Worker

/// The request state machine driven through every path without sockets: each test reports the
/// events a connection would see and checks the actions it must perform.
@Suite struct RequestStateMachineTests {
    private typealias M = RequestStateMachine

    /// A keep-alive GET: bytes → head → proxy → response → flushed → waiting for the next one.
    @Test func keepAliveRequest() {
        var m = M()
        #expect(m.bytesArrived() == .startHead)
        #expect(m.state == .readingHead)
        #expect(m.bytesArrived() == .parseHead)
        m.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: false)
        #expect(m.state == .routing && m.bodyDone && m.keepAlive)
        m.startProxying()
        #expect(m.bytesArrived() == .holdInput)
        m.responseHeadStarted()
        #expect(m.responseFlushed(pipelined: false, clientMaySend: false) == .none, "not complete yet")
        m.responseCompleted()
        #expect(m.responseFlushed(pipelined: false, clientMaySend: false) == .awaitNext)
        #expect(m.state == .idle && !m.responseStarted)
    }

    /// Whether the client may still send (a FIONREAD) is asked only when the connection closes,
    /// never for a keep-alive response: no syscall per request for it.
    @Test func clientMaySendIsAskedOnlyWhenClosing() {
        var asked = 0
        func probe() -> Bool { asked += 1; return false }
        var m = M()
        _ = m.bytesArrived()
        m.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: false)
        m.startProxying()
        m.responseCompleted()
        #expect(m.responseFlushed(pipelined: false, clientMaySend: probe()) == .awaitNext)
        #expect(asked == 0)
        _ = m.bytesArrived()
        m.headParsed(keepAlive: false, hasBody: false, quitting: false, moreInput: false)
        m.startProxying()
        m.responseCompleted()
        #expect(m.responseFlushed(pipelined: false, clientMaySend: probe()) == .shutdownAndClose)
        #expect(asked == 1)
    }

    /// Pipelining: the next request already in the input is parsed as soon as the first response
    /// is flushed, never before.
    @Test func pipelinedRequests() {
        var m = M()
        _ = m.bytesArrived()
        m.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: true)
        m.startProxying()
        m.responseHeadStarted()
        m.responseCompleted()
        #expect(m.responseFlushed(pipelined: true, clientMaySend: true) == .parsePipelined)
        #expect(m.bytesArrived() == .startHead)
        m.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: false)
        m.startLocalResponse()
        m.responseHeadStarted()
        m.responseCompleted()
        #expect(m.responseFlushed(pipelined: false, clientMaySend: false) == .awaitNext)
    }

    /// A body streams while proxying; its end makes later bytes pipelined input.
    @Test func requestBody() {
        var m = M()
        _ = m.bytesArrived()
        m.headParsed(keepAlive: true, hasBody: true, quitting: false, moreInput: true)
        #expect(!m.bodyDone)
        m.startProxying()
        #expect(m.bytesArrived() == .forwardBody)
        m.bodyFinished()
        #expect(m.bytesArrived() == .holdInput)
    }

    /// `100 Continue` only when asked, a body is due and none of it is here.
    @Test func continueDecision() {
        var m = M()
        _ = m.bytesArrived()
        m.headParsed(keepAlive: true, hasBody: true, quitting: false, moreInput: false)
        #expect(m.shouldSendContinue(expectContinue: true, bodyBytesAtHand: false))
        #expect(!m.shouldSendContinue(expectContinue: true, bodyBytesAtHand: true))
        #expect(!m.shouldSendContinue(expectContinue: false, bodyBytesAtHand: false))
        m.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: false)
        #expect(!m.shouldSendContinue(expectContinue: true, bodyBytesAtHand: false))
    }

    /// A local answer to a request whose body is unread closes the connection, lingering so the
    /// client reads the answer instead of a reset.
    @Test func localAnswerWithUnreadBodyLingers() {
        var m = M()
        _ = m.bytesArrived()
        m.headParsed(keepAlive: true, hasBody: true, quitting: false, moreInput: true)
        m.startLocalResponse()
        #expect(m.closeAfterResponse && !m.keepAlive)
        m.responseHeadStarted()
        m.responseCompleted()
        #expect(m.responseFlushed(pipelined: true, clientMaySend: true) == .linger)
        #expect(m.state == .lingering)
        #expect(m.bytesArrived() == .none)
        #expect(m.clientEOF(bodyAtHand: false) == .close)
    }

    /// `Connection: close` with nothing more coming: shut down and close at once.
    @Test func connectionCloseWithNothingPending() {
        var m = M()
        _ = m.bytesArrived()
        m.headParsed(keepAlive: false, hasBody: false, quitting: false, moreInput: false)
        m.startProxying()
        m.responseHeadStarted()
        m.responseCompleted()
        #expect(m.responseFlushed(pipelined: false, clientMaySend: false) == .shutdownAndClose)
        #expect(m.state == .closed)
        // Bytes after Connection: close make the close linger.
        var n = M()
        _ = n.bytesArrived()
        n.headParsed(keepAlive: false, hasBody: false, quitting: false, moreInput: true)
        n.startProxying()
        n.responseCompleted()
        #expect(n.responseFlushed(pipelined: true, clientMaySend: true) == .linger)
    }

    /// A graceful quit answers with `Connection: close`.
    @Test func quittingClosesAfterTheResponse() {
        var m = M()
        _ = m.bytesArrived()
        m.headParsed(keepAlive: true, hasBody: false, quitting: true, moreInput: false)
        #expect(!m.keepAlive)
        var n = M()
        _ = n.bytesArrived()
        n.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: false)
        n.noKeepAlive()
        #expect(!n.keepAlive && !n.closeAfterResponse)
    }

    /// A half-close after a whole request: stop reading, answer, answer what was pipelined
    /// too, then close; a pipelined head that cannot complete closes.
    @Test func halfClose() {
        var m = M()
        _ = m.bytesArrived()
        m.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: true)
        m.startProxying()
        #expect(m.clientEOF(bodyAtHand: false) == .stopReading)
        #expect(m.clientHalfClosed && !m.keepAlive)
        m.responseHeadStarted()
        m.responseCompleted()
        #expect(m.responseFlushed(pipelined: true, clientMaySend: true) == .parsePipelined)
        _ = m.bytesArrived()
        m.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: false)
        #expect(!m.keepAlive, "the last answer to a half-closed client says close")
        m.startProxying()
        m.responseCompleted()
        #expect(m.responseFlushed(pipelined: false, clientMaySend: false) == .shutdownAndClose)

        var n = M()
        _ = n.bytesArrived()
        n.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: true)
        n.startProxying()
        _ = n.clientEOF(bodyAtHand: false)
        n.responseCompleted()
        #expect(n.responseFlushed(pipelined: true, clientMaySend: true) == .parsePipelined)
        _ = n.bytesArrived()
        #expect(n.pipelinedHeadIncomplete() == .shutdownAndClose)
    }

    /// A half-close with the whole body already in the input is a half-close too; with the body
    /// still due, the client is gone (499).
    @Test func halfCloseDuringBody() {
        var m = M()
        _ = m.bytesArrived()
        m.headParsed(keepAlive: true, hasBody: true, quitting: false, moreInput: true)
        m.startProxying()
        #expect(m.clientEOF(bodyAtHand: true) == .stopReading)

        var n = M()
        _ = n.bytesArrived()
        n.headParsed(keepAlive: true, hasBody: true, quitting: false, moreInput: false)
        n.startProxying()
        #expect(n.clientEOF(bodyAtHand: false) == .logAndClose(clientClosedRequest: true))
        #expect(n.state == .closed)
    }

    /// Client abort: before any answer it is a 499; after the head went out it is logged with
    /// its status; once the response was complete (logged already) it just closes.
    @Test func clientAbort() {
        var m = M()
        _ = m.bytesArrived()
        m.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: false)
        m.startProxying()
        #expect(m.clientFailed() == .logAndClose(clientClosedRequest: true))

        var n = M()
        _ = n.bytesArrived()
        n.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: false)
        n.startProxying()
        n.responseHeadStarted()
        #expect(n.clientFailed() == .logAndClose(clientClosedRequest: false))

        var o = M()
        _ = o.bytesArrived()
        o.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: false)
        o.startProxying()
        o.responseHeadStarted()
        o.responseCompleted()
        #expect(o.clientFailed() == .close)

        var idle = M()
        #expect(idle.clientFailed() == .close)
        var reading = M()
        _ = reading.bytesArrived()
        #expect(reading.clientEOF(bodyAtHand: false) == .close)
    }

    /// Timeouts: idle closes quietly; a head or body that stops arriving is logged with its stage;
    /// a request waiting on its upstream, or an answer being written, is not the client's fault.
    @Test func timeouts() {
        var idle = M()
        #expect(idle.clientTimedOut() == .close)

        var head = M()
        _ = head.bytesArrived()
        #expect(head.clientTimedOut() == .timeoutAndClose(.readingHead))

        var body = M()
        _ = body.bytesArrived()
        body.headParsed(keepAlive: true, hasBody: true, quitting: false, moreInput: false)
        body.startProxying()
        #expect(body.clientTimedOut() == .timeoutAndClose(.readingBody))

        var waiting = M()
        _ = waiting.bytesArrived()
        waiting.headParsed(keepAlive: true, hasBody: false, quitting: false, moreInput: false)
        waiting.startProxying()
        #expect(waiting.clientTimedOut() == .rearm)
        waiting.startLocalResponse()
        #expect(waiting.clientTimedOut() == .rearm)
    }

    /// A rejected head (400/413/431) is answered and the connection closes.
    @Test func rejectedHead() {
        var m = M()
        _ = m.bytesArrived()
        m.headRejected()
        #expect(!m.keepAlive && m.closeAfterResponse)
        m.startLocalResponse()
        m.responseHeadStarted()
        m.responseCompleted()
        #expect(m.responseFlushed(pipelined: false, clientMaySend: false) == .shutdownAndClose)
        var n = M()
        _ = n.bytesArrived()
        n.headRejected()
        n.startLocalResponse()
        n.responseCompleted()
        #expect(n.responseFlushed(pipelined: true, clientMaySend: true) == .linger)
    }

    /// An upstream that answers before taking the whole body: close after the response, lingering.
    @Test func earlyUpstreamAnswer() {
        var m = M()
        _ = m.bytesArrived()
        m.headParsed(keepAlive: true, hasBody: true, quitting: false, moreInput: false)
        m.startProxying()
        m.closeAfterThisResponse()
        m.responseHeadStarted()
        m.responseCompleted()
        #expect(m.responseFlushed(pipelined: false, clientMaySend: false) == .linger, "the body is still due")
    }
}
