#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Foundation
import Shared
import Testing
@testable import Worker

/// A worker loop with no listeners on a temporary prefix, and upstream connections over
/// socketpairs: the pool's guards without a network.
private final class PoolFixture {
    let prefix: String
    let worker: WorkerLoop
    var peers: [Int32] = []

    init() throws {
        prefix = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-pool-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: prefix + "/logs", withIntermediateDirectories: true)
        var config = GatewayConfig()
        config.enableAccessLog = false
        worker = WorkerLoop(context: WorkerContext(slot: 0, prefix: prefix, config: config, listeners: []), ownsStderr: false)
    }

    deinit {
        for fd in peers { close(fd) }
        try? FileManager.default.removeItem(atPath: prefix)
    }

    /// A leased-like connection to `peer`, its other end kept in `peers`.
    func connection(peer: Int = 0, requests: Int = 1) -> UpstreamConnection {
        var fds: [Int32] = [0, 0]
        socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds)
        peers.append(fds[1])
        let conn = worker.newUpstreamConnection()
        conn.attach(fd: fds[0])
        conn.peerIndex = peer
        conn.state = .active
        conn.requests = requests
        return conn
    }

    /// Runs the loop until nothing more is ready.
    func turn() { event_base_loop(worker.base, EVLOOP_NONBLOCK) }
}

@Suite struct KeepalivePoolTests {
    /// A released connection is handed to the next request for the same peer, most recent first;
    /// another peer gets nothing.
    @Test func leasesMostRecentForPeer() throws {
        let f = try PoolFixture()
        let pool = KeepalivePool(size: 4, idleTimeout: 60, maxRequests: 100)
        let a = f.connection(peer: 0), b = f.connection(peer: 0), c = f.connection(peer: 1)
        pool.release(a)
        pool.release(b)
        pool.release(c)
        #expect(pool.idleCount == 3)
        #expect(pool.lease(peer: 0) === b)
        #expect(pool.lease(peer: 0) === a)
        #expect(pool.lease(peer: 0) == nil)
        let leased = pool.lease(peer: 1)
        #expect(leased === c && leased?.reused == true && leased?.state == .active)
    }

    /// nginx's guards: a retired pool, a connection that served its requests, or one with unread
    /// bytes is closed instead of kept.
    @Test func guardsCloseInsteadOfKeeping() throws {
        let f = try PoolFixture()
        let pool = KeepalivePool(size: 4, idleTimeout: 60, maxRequests: 2)
        let spent = f.connection(requests: 2)
        pool.release(spent)
        #expect(spent.fd == -1 && pool.idleCount == 0)

        let dirty = f.connection()
        dirty.input.append([1, 2, 3])
        pool.release(dirty)
        #expect(dirty.fd == -1 && pool.idleCount == 0)

        pool.retired = true
        let late = f.connection()
        pool.release(late)
        #expect(late.fd == -1 && pool.idleCount == 0)
    }

    /// A full pool closes its least recently used connection to keep the new one.
    @Test func fullPoolEvictsOldest() throws {
        let f = try PoolFixture()
        let pool = KeepalivePool(size: 2, idleTimeout: 60, maxRequests: 100)
        let a = f.connection(), b = f.connection(), c = f.connection()
        pool.release(a)
        pool.release(b)
        pool.release(c)
        #expect(pool.idleCount == 2)
        #expect(a.fd == -1)
        #expect(b.fd >= 0 && c.fd >= 0)
    }

    /// An idle connection whose peer closes is dropped from the pool at once, so it is never
    /// handed to a request; `drain` closes the rest.
    @Test func peerCloseAndDrain() throws {
        let f = try PoolFixture()
        let runtime = UpstreamRuntime(config: Upstream(nodes: [Upstream.Node(host: "127.0.0.1", port: 1, weight: 1)]),
                                      defaults: GatewayConfig())
        let a = f.connection(), b = f.connection()
        a.upstream = runtime
        b.upstream = runtime
        // An idle connection's read event finds its pool through its upstream.
        runtime.pool.release(a)
        runtime.pool.release(b)
        #expect(runtime.pool.idleCount == 2)
        close(f.peers[0])
        f.peers.removeFirst()
        f.turn()
        #expect(runtime.pool.idleCount == 1)
        #expect(a.fd == -1)
        #expect(runtime.pool.lease(peer: 0) === b)
        runtime.pool.release(b)
        runtime.pool.drain()
        #expect(runtime.pool.idleCount == 0 && b.fd == -1)
    }

    /// Zero size (`keepalive: false` for functions) keeps nothing.
    @Test func zeroSizeKeepsNothing() throws {
        let f = try PoolFixture()
        let pool = KeepalivePool(size: 0, idleTimeout: 60, maxRequests: 100)
        let a = f.connection()
        pool.release(a)
        #expect(pool.idleCount == 0 && a.fd == -1)
    }

    /// An idle pooled connection holds no buffer memory: its blocks wait in the worker's cache
    /// for the busy connections, and it gets blocks back (the sizes it had) when leased.
    @Test func idleConnectionsParkTheirBuffers() throws {
        let f = try PoolFixture()
        let pool = KeepalivePool(size: 4, idleTimeout: 60, maxRequests: 100)
        let a = f.connection()
        #expect(!a.input.isParked && !a.output.isParked)
        a.output.append(Array(repeating: UInt8(ascii: "x"), count: a.output.capacity + 1))
        a.output.clear()
        let grown = a.output.capacity
        let spareBefore = f.worker.buffers.spareCount(size: a.input.nominal)
        pool.release(a)
        #expect(a.input.isParked && a.output.isParked)
        #expect(f.worker.buffers.spareCount(size: a.input.nominal) == spareBefore + 1)
        #expect(f.worker.buffers.spareCount(size: grown) >= 1)
        // Another connection opened meanwhile takes the parked blocks instead of new memory.
        let b = f.connection()
        #expect(f.worker.buffers.spareCount(size: b.input.nominal) == spareBefore)
        b.close()
        #expect(b.input.isParked)
        #expect(pool.lease(peer: 0) === a)
        #expect(!a.input.isParked && a.output.capacity == grown)
        a.close()
    }
}
