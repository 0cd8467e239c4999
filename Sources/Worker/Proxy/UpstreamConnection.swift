import CLibevent
package import Shared
#if canImport(Glibc)
import Glibc
#endif

/// One TCP connection from this worker to an upstream peer. Objects are recycled through the
/// worker's free list with their buffers and events, so a new connection allocates nothing.
///
/// Its read event stays armed for the connection's whole life: while idle in a keepalive pool it
/// detects the peer closing (or sending anything unasked), which makes the connection unusable
/// (nginx's ngx_http_upstream_keepalive_close_handler); while leased it carries the read timeout.
package final class UpstreamConnection {
    package enum State { case free, connecting, handshaking, active, idle }

    unowned(unsafe) let worker: WorkerLoop
    package var fd: Int32 = -1
    package var state: State = .free
    let readEvent: EventHandle
    let writeEvent: EventHandle
    /// Bytes read from the upstream: the response head, then body bytes.
    package var input: ByteBuffer
    /// Bytes to write: the request head, then body bytes.
    package var output: ByteBuffer
    package var parser = HTTPResponseParser()
    /// Requests sent on this connection (keepalive_pool.requests bound).
    package var requests = 0
    /// Index of the peer in its upstream.
    package var peerIndex = 0
    /// The upstream (pool) this connection belongs to.
    package var upstream: UpstreamRuntime?
    /// The client connection using it while leased.
    unowned(unsafe) var client: ClientConnection?
    /// Whether the connection came from the keepalive pool (a failure before any response byte
    /// is then retried once on a new connection: the peer may have closed it meanwhile).
    package var reused = false
    /// Index in the pool's idle list while idle.
    var poolSlot = -1
    /// The peer's address (for logs).
    package var address = SocketAddress()
    /// TLS state for `https` upstreams and functions.
    package var tls: TLSSession?

    init(worker: WorkerLoop) {
        self.worker = worker
        // Grown on demand (by doubling) for large heads and bodies; small for the common case.
        // Parked until `attach`, and again while idle in a pool or the free list (a worker may
        // pool hundreds): the blocks come from, and go back to, the worker's BufferCache.
        input = ByteBuffer(parkedCapacity: 4 * 1024, limit: 64 * 1024)
        output = ByteBuffer(parkedCapacity: 1024, limit: 256 * 1024)
        let placeholder = UnsafeMutableRawPointer(bitPattern: 1)!
        readEvent = EventHandle(base: worker.base, callback: upstreamReadCallback, context: placeholder, timeouts: worker.timeouts)
        writeEvent = EventHandle(base: worker.base, callback: upstreamWriteCallback, context: placeholder, timeouts: worker.timeouts)
    }

    deinit {
        readEvent.free()
        writeEvent.free()
        input.deallocate()
        output.deallocate()
    }

    var contextPointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// Binds the recycled object to a new descriptor.
    func attach(fd: Int32) {
        self.fd = fd
        requests = 0
        input.clear()
        output.clear()
        unparkBuffers()
        parser.reset()
        reused = false
        readEvent.assign(base: worker.base, fd: fd, events: EV_READ | EV_PERSIST, callback: upstreamReadCallback, context: contextPointer)
        writeEvent.assign(base: worker.base, fd: fd, events: EV_WRITE | EV_PERSIST, callback: upstreamWriteCallback, context: contextPointer)
    }

    /// Closes the descriptor and returns the object to the worker's free list.
    func close() {
        readEvent.delete()
        writeEvent.delete()
        if let tls {
            tls.free()
            self.tls = nil
        }
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        state = .free
        input.clear()
        output.clear()
        parkBuffers(keepSize: false)
        client = nil
        upstream = nil
        worker.recycle(self)
    }

    /// Gives both (empty) buffers to the worker's cache: a connection holds buffer memory only
    /// while it is connecting or in use, not while it rests in a pool (`keepSize`: it gets blocks
    /// of the same size back) or in the free list (back to the nominal sizes).
    func parkBuffers(keepSize: Bool) {
        input.park(in: worker.buffers, keepSize: keepSize)
        output.park(in: worker.buffers, keepSize: keepSize)
    }

    @inline(__always)
    func unparkBuffers() {
        input.unpark(from: worker.buffers)
        output.unpark(from: worker.buffers)
    }

    /// Reads what the socket has into `input`: bytes read, 0 at the end of the stream, -1 with
    /// errno (EAGAIN: nothing now), -2 when `input` is full.
    @inline(__always)
    func readInput() -> Int {
        if let tls { return tls.read(into: &input) }
        return input.read(from: fd)
    }

    /// Writes pending output. Returns false on a write error (errno kept).
    @inline(__always)
    func flush() -> Bool {
        if let tls { return tls.write(from: &output) }
        while !output.isEmpty {
            let n = Glibc.write(fd, output.base + output.readIndex, output.count)
            if n > 0 { output.consume(n); continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return true }
            return false
        }
        return true
    }
}

private func upstreamReadCallback(_ fd: Int32, _ what: Int16, _ ctx: UnsafeMutableRawPointer?) {
    Unmanaged<UpstreamConnection>.fromOpaque(ctx!)._withUnsafeGuaranteedRef { conn in
        switch conn.state {
        case .idle:
            // An idle pooled connection became readable (peer closed or sent junk) or timed out.
            // Over TLS, readable may only mean a TLS 1.3 session ticket: nothing for us to read.
            if Int32(what) & EV_TIMEOUT == 0, conn.tls != nil {
                conn.input.unpark(from: conn.worker.buffers)
                let n = conn.readInput()
                if n < 0 && errno == EAGAIN && conn.input.isEmpty {
                    conn.input.park(in: conn.worker.buffers, keepSize: true)
                    return
                }
            }
            conn.upstream?.pool.remove(conn)
            conn.close()
        case .active, .connecting, .handshaking:
            if let client = conn.client {
                client.upstreamReadable(conn, timedOut: Int32(what) & EV_TIMEOUT != 0)
            } else {
                conn.close()
            }
        case .free:
            break
        }
    }
}

private func upstreamWriteCallback(_ fd: Int32, _ what: Int16, _ ctx: UnsafeMutableRawPointer?) {
    Unmanaged<UpstreamConnection>.fromOpaque(ctx!)._withUnsafeGuaranteedRef { conn in
        guard let client = conn.client, conn.state == .active || conn.state == .connecting || conn.state == .handshaking else {
            conn.writeEvent.delete()
            return
        }
        client.upstreamWritable(conn, timedOut: Int32(what) & EV_TIMEOUT != 0)
    }
}
