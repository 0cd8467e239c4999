import CLibevent
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// After a response: the next request (pipelined bytes first), or close (lingering when the client may still send).
extension ClientConnection {
    /// The response is written: next request (pipelined bytes first) or close.
    func finishRequest() {
        finishAfterFlush = false
        if clientHalfClosed && !closeAfterResponse && !input.isEmpty {
            // Requests the client pipelined before its half-close are answered too.
            config = nil
            upstream = nil
            phase = .waiting
            parser.reset()
            keepAlive = true
            parseHead()
            if phase == .readingHead { shutdownAndClose() }
            return
        }
        if closeAfterResponse || !keepAlive || clientHalfClosed {
            shutdownAndClose()
            return
        }
        config = nil
        upstream = nil
        phase = .waiting
        parser.reset()
        if pausedClientRead { pausedClientRead = false }
        if worker.quitting && input.isEmpty {
            // The response said keep-alive (its head was out before the quit began): the client
            // may reuse the connection at once. It gets the grace idle connections get; a request
            // in it is answered with `Connection: close`, silence closes it.
            readEvent.add(timeout: min(WorkerLoop.quitIdleGrace, worker.config.keepaliveTimeout))
            return
        }
        readEvent.add(timeout: worker.config.keepaliveTimeout)
        if !input.isEmpty {
            parseHead()
            return
        }
        parkBuffers(keepSize: true)
    }

    /// An idle keep-alive connection holds no buffer memory (nginx frees its header buffer the
    /// same way): empty buffers go to the worker's cache, and take a block again on the next
    /// read or append (`ByteBuffer.reserve`). Memory follows the connections in use.
    func parkBuffers(keepSize: Bool) {
        let cache = worker.buffers
        if input.isEmpty { input.park(in: cache, keepSize: keepSize) }
        if output.isEmpty { output.park(in: cache, keepSize: keepSize) }
        head.park(in: cache, keepSize: keepSize)
        forwardHead.park(in: cache, keepSize: keepSize)
    }

    /// Closes after sending everything, so the client reads the whole last response. When the
    /// client may still be sending (a body not read, pipelined bytes, more in the socket), closing
    /// now would reset the connection and destroy the response in flight: read and drop what comes
    /// for a while first (nginx's lingering close).
    func shutdownAndClose() {
        shutdown(fd, Int32(SHUT_WR))
        guard !clientHalfClosed, !requestBodyDone || !input.isEmpty || Socket.pendingBytes(fd) > 0 else {
            close()
            return
        }
        phase = .lingering
        writeEvent.delete()
        input.clear()
        lingerDeadlineMs = monotonicMilliseconds() + Self.lingeringTime
        pausedClientRead = false
        readEvent.add(timeout: Self.lingeringTimeout)
    }

    func lingeringRead(timedOut: Bool) {
        if timedOut || monotonicMilliseconds() >= lingerDeadlineMs {
            close()
            return
        }
        while true {
            input.clear()
            let n = input.read(from: fd)
            if n > 0 { continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { break }
            close()
            return
        }
        let left = Double(lingerDeadlineMs - monotonicMilliseconds()) / 1000
        readEvent.add(timeout: min(Self.lingeringTimeout, max(0.001, left)))
    }
}
