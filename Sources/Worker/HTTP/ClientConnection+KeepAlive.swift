import CLibevent
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// After a response: the next request (pipelined bytes first), or close (lingering when the client may still send).
extension ClientConnection {
    /// The client may still be sending: bytes wait in the input or the socket.
    var clientMaySend: Bool { !input.isEmpty || Socket.pendingBytes(fd) > 0 }

    /// The response is written: the next request (pipelined bytes first), or close, as
    /// `machine.responseFlushed` decided.
    func finishRequest(_ action: RequestStateMachine.Action) {
        switch action {
        case .shutdownAndClose:
            shutdown(fd, Int32(SHUT_WR))
            close()
            return
        case .linger:
            startLingering()
            return
        case .parsePipelined, .awaitNext:
            break
        default:
            return
        }
        config = nil
        upstream = nil
        parser.reset()
        if pausedClientRead { pausedClientRead = false }
        if machine.clientHalfClosed {
            // Requests the client pipelined before its half-close are answered too.
            perform(machine.bytesArrived())
            if machine.state == .readingHead { perform(machine.pipelinedHeadIncomplete()) }
            return
        }
        if worker.quitting && input.isEmpty {
            // The response said keep-alive (its head was out before the quit began): the client
            // may reuse the connection at once. It gets the grace idle connections get; a request
            // in it is answered with `Connection: close`, silence closes it.
            readEvent.add(timeout: min(WorkerLoop.quitIdleGrace, worker.config.keepaliveTimeout))
            return
        }
        readEvent.add(timeout: worker.config.keepaliveTimeout)
        if action == .parsePipelined {
            perform(machine.bytesArrived())
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

    /// Closes after sending everything, when the client may still be sending (a body not read,
    /// pipelined bytes, more in the socket): closing at once would reset the connection and destroy
    /// the response in flight, so what comes is read and dropped for a while first (nginx's
    /// lingering close).
    func startLingering() {
        shutdown(fd, Int32(SHUT_WR))
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
