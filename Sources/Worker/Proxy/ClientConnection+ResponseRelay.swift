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
            if chunkedToClient { output.append("0\r\n\r\n") }
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
}
