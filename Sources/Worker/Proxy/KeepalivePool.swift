/// Idle upstream connections of one upstream in one worker (nginx's
/// ngx_http_upstream_keepalive_module): at most `size` kept, most recently used first; an
/// idle connection is closed after `idleTimeout` or as soon as its peer closes it, and a connection
/// that served `maxRequests` requests is not kept.
package final class KeepalivePool {
    /// Most recently released last.
    private var idle: [UpstreamConnection] = []
    package let size: Int
    /// Seconds.
    package let idleTimeout: Double
    package let maxRequests: Int
    /// Set when the upstream left the configuration: released connections are closed.
    package var retired = false

    package init(size: Int, idleTimeout: Double, maxRequests: Int) {
        self.size = size
        self.idleTimeout = idleTimeout
        self.maxRequests = maxRequests
        idle.reserveCapacity(min(size, 64))
    }

    package var idleCount: Int { idle.count }

    /// The most recently used idle connection to `peer`, or nil.
    func lease(peer: Int) -> UpstreamConnection? {
        var i = idle.count - 1
        while i >= 0 {
            let conn = idle[i]
            if conn.peerIndex == peer {
                idle.remove(at: i)
                reindex(from: i)
                conn.poolSlot = -1
                conn.state = .active
                conn.reused = true
                conn.unparkBuffers()
                return conn
            }
            i -= 1
        }
        return nil
    }

    /// Takes back a connection whose response was read completely. Guards, in nginx's order:
    /// the pool is retired, the connection has served its requests, or it has unread bytes —
    /// then it is closed instead.
    func release(_ conn: UpstreamConnection) {
        guard !retired, conn.requests < maxRequests, conn.input.isEmpty, conn.output.isEmpty, size > 0 else {
            conn.close()
            return
        }
        if idle.count >= size {
            let oldest = idle.removeFirst()
            reindex(from: 0)
            oldest.poolSlot = -1
            oldest.close()
        }
        conn.state = .idle
        conn.client = nil
        conn.writeEvent.delete()
        conn.parkBuffers(keepSize: true)
        conn.poolSlot = idle.count
        idle.append(conn)
        conn.readEvent.add(timeout: idleTimeout)
    }

    /// Forgets an idle connection that is about to be closed.
    func remove(_ conn: UpstreamConnection) {
        let slot = conn.poolSlot
        guard slot >= 0, slot < idle.count, idle[slot] === conn else { return }
        idle.remove(at: slot)
        reindex(from: slot)
        conn.poolSlot = -1
    }

    /// Closes every idle connection (the upstream was removed, or the worker is quitting).
    func drain() {
        let all = idle
        idle.removeAll()
        for conn in all { conn.poolSlot = -1; conn.close() }
    }

    private func reindex(from start: Int) {
        var i = start
        while i < idle.count { idle[i].poolSlot = i; i += 1 }
    }
}
