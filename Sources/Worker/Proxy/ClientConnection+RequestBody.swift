import CLibevent
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// The request body on its way upstream: kept whole for a retry, or streamed with back-pressure, re-framed.
extension ClientConnection {
    /// Keeps a body that is already wholly in `input` until the upstream answers.
    func decideBodyRetention() {
        switch requestBody {
        case .none:
            retainedBody = 0
        case .length:
            retainedBody = Int64(input.count) >= requestRemaining ? Int(requestRemaining) : 0
        case .chunked:
            var probe = ChunkedDecoder()
            var offset = 0
            let bytes = input.readable
            let maxBody = worker.config.clientMaxBodySize
            var dataBytes: Int64 = 0
            retainedBody = 0
            while offset < bytes.count {
                let (consumed, event) = probe.decode(bytes.slice(offset..<bytes.count))
                // Too large: leave it to the streamed path, which enforces client_max_body_size.
                if case .data(let range) = event { dataBytes += Int64(range.count) }
                if maxBody > 0 && dataBytes > maxBody { break }
                offset += consumed
                if case .end = event { retainedBody = offset; break }
                if case .error = event { break }
                if case .needMore = event { break }
            }
        }
    }

    /// Copies body bytes (re-framed) into the upstream's output. For a retained body the input is
    /// left in place.
    func appendBody(from bytes: UnsafeRawBufferPointer, to conn: UpstreamConnection, consumeInput: Bool) {
        switch requestBody {
        case .none:
            break
        case .length:
            conn.output.append(bytes)
            if !consumeInput { machine.bodyFinished(); requestRemaining = 0 }
        case .chunked:
            var decoder = ChunkedDecoder()
            var offset = 0
            while offset < bytes.count {
                let (consumed, event) = decoder.decode(bytes.slice(offset..<bytes.count))
                switch event {
                case .data(let range):
                    let data = bytes.slice((offset + range.lowerBound)..<(offset + range.upperBound))
                    conn.output.appendChunk(data)
                case .end:
                    conn.output.append("0\r\n\r\n")
                    machine.bodyFinished()
                default:
                    break
                }
                offset += consumed
                if case .end = event { break }
                if consumed == 0 { break }
            }
        }
    }

    /// Streams body bytes from `input` to the upstream (body larger than what was at hand).
    func moveStreamedBody(to conn: UpstreamConnection) {
        let maxBody = worker.config.clientMaxBodySize
        while !input.isEmpty && !requestBodyDone && conn.output.count < Self.outputHighWater {
            switch requestBody {
            case .none:
                machine.bodyFinished()
            case .length:
                let n = Int(min(Int64(input.count), requestRemaining))
                conn.output.append(UnsafeRawBufferPointer(start: input.base + input.readIndex, count: n))
                input.consume(n)
                requestRemaining -= Int64(n)
                if requestRemaining == 0 { machine.bodyFinished() }
            case .chunked:
                let (consumed, event) = requestDecoder.decode(input.readable)
                switch event {
                case .data(let range):
                    let data = input.readable.slice(range)
                    requestBodyBytes += Int64(data.count)
                    if maxBody > 0 && requestBodyBytes > maxBody {
                        worker.logger.log(.error, "client intended to send too large chunked body: \(requestBodyBytes) bytes, client: \(peer.hostText)")
                        abortWithError(413)
                        return
                    }
                    conn.output.appendChunk(data)
                case .end:
                    conn.output.append("0\r\n\r\n")
                    machine.bodyFinished()
                case .needMore:
                    break
                case .error(let reason):
                    worker.logger.log(.info, "client sent invalid chunked body (\(reason)), client: \(peer.hostText)")
                    abortWithError(400)
                    return
                }
                input.consume(consumed)
                if case .needMore = event { return }
            }
        }
    }

    /// More body bytes arrived from the client, or the upstream drained its output.
    func pumpRequestBody() {
        if upstreamSendStopped {
            // The upstream has answered: the rest of the body goes nowhere (the connection
            // closes after the response, lingering until the client is done sending).
            input.clear()
            return
        }
        if spooling {
            spoolRequestBody()
            return
        }
        guard let conn = upstreamConn, conn.state == .active else {
            // Still connecting: bytes wait in `input`.
            pauseClientReadIfFull()
            return
        }
        if retainedBody > 0 { return }
        moveStreamedBody(to: conn)
        guard machine.state == .proxying else { return }
        guard conn.flush() else {
            upstreamWriteFailed(conn)
            return
        }
        if !conn.output.isEmpty {
            conn.writeEvent.add(timeout: exchangeTimeouts.send)
            if conn.output.count >= Self.outputHighWater { pauseClientRead() }
        } else if !requestBodyDone && pausedClientRead {
            resumeClientRead(timeout: worker.config.clientBodyTimeout)
        } else if !requestBodyDone {
            readEvent.add(timeout: worker.config.clientBodyTimeout)
        }
        if requestBodyDone && !pausedClientRead { readEvent.add() }
    }

    /// No more of the request goes to `conn`; its response is still read.
    func stopSendingRequest(_ conn: UpstreamConnection) {
        upstreamSendStopped = true
        if !requestBodyDone { machine.closeAfterThisResponse() }
        conn.output.clear()
        conn.writeEvent.delete()
        if !requestBodyDone { input.clear() }
    }

    var canRetryBody: Bool { requestBody == .none || retainedBody > 0 || (spooling && requestBodyDone) }
}
