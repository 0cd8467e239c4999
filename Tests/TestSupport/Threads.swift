#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Real POSIX threads that can be joined, so a helper can prove it left no thread behind.
/// Each thread is tracked in a ``ThreadGroup`` until it has finished and been joined.
final class ThreadGroup: Sendable {
    /// Every thread started and not joined yet, and which of them are still running.
    private struct State {
        var started: [pthread_t] = []
        var running: Set<pthread_t> = []
    }
    private let state = Mutex(State())

    /// Carries the closure into the new thread.
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread (stack `stackSize` bytes).
    func start(stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) throws {
        let box = Unmanaged.passRetained(Box { [self] in
            body()
            _ = state.withLock { $0.running.remove(pthread_self()) }
        })
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setstacksize(&attr, stackSize)
        // Registered under the lock, so the thread cannot unregister before it is registered.
        let rc: Int32 = state.withLock { s in
            var tid = pthread_t()
            let rc = pthread_create(&tid, &attr, { arg in
                Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
                return nil
            }, box.toOpaque())
            if rc == 0 {
                s.started.append(tid)
                s.running.insert(tid)
            }
            return rc
        }
        if rc != 0 {
            box.release()
            throw TestSupportError.system("pthread_create", rc)
        }
    }

    /// Number of threads still running.
    var runningCount: Int { state.withLock { $0.running.count } }

    /// Waits up to `timeout` seconds for every thread to finish and joins them. Threads still running
    /// at the deadline are detached (and reported in the return value: how many).
    @discardableResult
    func joinAll(timeout: Double) -> Int {
        TestSupport.waitUntil(timeout: timeout, interval: 0.002) { runningCount == 0 }
        let (finished, stuck) = state.withLock { s in
            let finished = s.started.filter { !s.running.contains($0) }
            let stuck = s.started.filter { s.running.contains($0) }
            s.started = []
            s.running = []
            return (finished, stuck)
        }
        for t in finished { pthread_join(t, nil) }
        for t in stuck { pthread_detach(t) }
        return stuck.count
    }

    /// Joins the threads that have already finished (keeps the bookkeeping small on long runs).
    func joinFinished() {
        let finished = state.withLock { s in
            let finished = s.started.filter { !s.running.contains($0) }
            s.started.removeAll { !s.running.contains($0) }
            return finished
        }
        for t in finished { pthread_join(t, nil) }
    }
}
