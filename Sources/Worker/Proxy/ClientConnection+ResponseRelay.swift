import CLibevent
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// The upstream's response on its way to the client: head rebuilt, body re-framed, back-pressure.
extension ClientConnection {
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
                upstreamFailed(.readTimeout, conn, "upstream timed out (110: Connection timed out) while reading response header from upstream", reason: "timeout")
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
                upstreamFailed(.headerTooBig, conn, "upstream sent too big header while reading response header from upstream")
            }
            return
        }
        let err: Int32 = n < 0 ? errno : 0
        if n < 0 && (err == EAGAIN || err == EINTR) { return }
        // EOF or error.
        if !responseHeadDone {
            let what = n == 0 ? "upstream prematurely closed connection" : "recv() failed (\(err): \(errnoString(err)))"
            upstreamFailed(.read, conn, "\(what) while reading response header from upstream", reason: n == 0 ? "closed" : errnoString(err).lowercased())
            return
        }
        if case .untilClose = responseFraming {
            dropUpstream(conn)
            endResponseBody()
            completeResponse()
            return
        }
        let what = n == 0 ? "upstream prematurely closed connection" : "recv() failed (\(err): \(errnoString(err)))"
        logUpstreamError("\(what) while reading upstream", peerIndex: conn.peerIndex)
        // The response is incomplete and the client must see that: close after what we have.
        dropUpstream(conn)
        machine.closeAfterThisResponse()
        completeResponse()
    }

    func parseResponseHead(_ conn: UpstreamConnection) {
        while true {
            let result = conn.parser.parse(conn.input.readable)
            switch result {
            case .incomplete:
                return
            case .failure(let error):
                upstreamFailed(.invalidHeader, conn, "\(error.reason) while reading response header from upstream")
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
    func startResponse(_ conn: UpstreamConnection) {
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
            upstreamStatuses.removeLast()
            upstreamFailed(.protocolSwitch, conn, "upstream tried to switch protocols, not supported")
            return
        }
        machine.responseHeadStarted()
        responseFraming = conn.parser.bodyFraming(requestMethod: parser.head.method)
        context.status = conn.parser.head.status
        runHeaderFilter()
        status = context.status
        let edited = !context.responseHeaders.isEmpty
        let bodyChanged = context.bodyChanged
        let clientHTTP11 = parser.head.versionMinor >= 1
        let bytes = conn.input.readable
        output.append(clientHTTP11 ? "HTTP/1.1 " : "HTTP/1.0 ")
        // Status code and reason as the upstream sent them (a status a plugin set gets its phrase).
        output.append(decimal: Int64(status))
        output.append(" ")
        if conn.parser.head.reasonRange.isEmpty || status != conn.parser.head.status {
            output.append(HTTPStatusPhrase.of(status))
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
                if bodyChanged { continue }
                if case .length = responseFraming { contentLengthKept = true } else if !isHead { continue }
            default:
                let name = bytes.slice(field.nameRange)
                if Bytes.equalsIgnoringCase(name, "server") { continue }
                if edited && context.responseHeaders.replaces(name) { continue }
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
        if edited { appendResponseEdits(context.responseHeaders) }
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
        case .length(let length) where bodyChanged:
            // A body filter changes the body: its length is known only at the end.
            responseRemaining = length
            if clientHTTP11 {
                chunkedToClient = true
                output.append("Transfer-Encoding: chunked\r\n")
            } else {
                machine.closeAfterThisResponse()
            }
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
                machine.closeAfterThisResponse()
            }
        }
        if !keepAlive {
            output.append("Connection: close\r\n\r\n")
        } else {
            output.append("Connection: keep-alive\r\n\r\n")
        }
        conn.input.consume(conn.parser.head.headEnd)
        forwardResponseBody(conn)
    }

    func appendUpstreamStatusHeader() {
        output.append("X-APISIX-Upstream-Status: ")
        for (i, s) in upstreamStatuses.enumerated() {
            if i > 0 { output.append(", ") }
            output.append(decimal: Int64(s))
        }
        output.append("\r\n")
    }

    /// Moves response body bytes from the upstream's input to the client's output, re-framed.
    func forwardResponseBody(_ conn: UpstreamConnection) {
        var done = false
        switch responseFraming {
        case .none:
            done = true
        case .length:
            let n = Int(min(Int64(conn.input.count), responseRemaining))
            if n > 0 {
                emitResponseBody(UnsafeRawBufferPointer(start: conn.input.base + conn.input.readIndex, count: n))
                conn.input.consume(n)
                responseRemaining -= Int64(n)
            }
            done = responseRemaining == 0
            if done { endResponseBody() }
        case .chunked:
            while !conn.input.isEmpty {
                let (consumed, event) = responseDecoder.decode(conn.input.readable)
                switch event {
                case .data(let range):
                    emitResponseBody(conn.input.readable.slice(range))
                case .end:
                    endResponseBody()
                    done = true
                case .needMore:
                    break
                case .error(let reason):
                    logUpstreamError("upstream sent invalid chunked response (\(reason)) while reading upstream", peerIndex: conn.peerIndex)
                    dropUpstream(conn)
                    machine.closeAfterThisResponse()
                    completeResponse()
                    return
                }
                conn.input.consume(consumed)
                if done { break }
                if case .needMore = event { break }
            }
        case .untilClose:
            let n = conn.input.count
            if n > 0 {
                emitResponseBody(conn.input.readable)
                conn.input.consume(n)
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

    func releaseUpstream(_ conn: UpstreamConnection) {
        upstreamConn = nil
        let reusable = conn.parser.head.keepAlive && requestBodyDone && conn.input.isEmpty
        if reusable, let pool = conn.upstream?.pool {
            pool.release(conn)
        } else {
            conn.close()
        }
    }

    /// The response is entirely in `output`: log it, then go on once it is written.
    func completeResponse() {
        writeAccessLog()
        machine.responseCompleted()
        guard writeClient() else { return }
        if output.isEmpty { perform(machine.responseFlushed(pipelined: !input.isEmpty, clientMaySend: clientMaySend)) }
    }

    /// Body bytes for the client, through the body filters, framed as the response is.
    @inline(__always)
    func emitResponseBody(_ data: UnsafeRawBufferPointer) {
        if hasBodyFilter {
            filterBody(data, last: false) { appendResponseBytes($0) }
        } else {
            appendResponseBytes(data)
        }
    }

    /// The body is complete: the filters' last word, then the chunked terminator.
    func endResponseBody() {
        if hasBodyFilter { filterBody(UnsafeRawBufferPointer(start: nil, count: 0), last: true) { appendResponseBytes($0) } }
        if chunkedToClient { output.append("0\r\n\r\n") }
    }

    @inline(__always)
    private func appendResponseBytes(_ data: UnsafeRawBufferPointer) {
        guard !data.isEmpty else { return }
        if chunkedToClient { output.appendChunk(data) } else { output.append(data) }
        bodyBytesSent += Int64(data.count)
    }

    /// The response headers plugins added or set; framing, hop-by-hop, `Server` and `Date` stay the
    /// gateway's.
    func appendResponseEdits(_ edits: HeaderEdits) {
        edits.appendLines(to: &output, skipping: Self.isResponseFraming)
    }

    static func isResponseFraming(_ name: UnsafeRawBufferPointer) -> Bool {
        Bytes.isFramingOrHopByHop(name) || Bytes.equalsIgnoringCase(name, "server") || Bytes.equalsIgnoringCase(name, "date")
    }

    /// Whether the upstream's response head (being relayed) has a non-empty header `name`.
    func upstreamHasResponseHeader(_ name: UnsafeRawBufferPointer) -> Bool {
        guard let conn = upstreamConn, conn.parser.head.status > 0 else { return false }
        let bytes = conn.input.readable
        for field in conn.parser.head.headers where !field.valueRange.isEmpty && Bytes.equalsIgnoringCase(bytes.slice(field.nameRange), name) {
            return true
        }
        return false
    }
}
