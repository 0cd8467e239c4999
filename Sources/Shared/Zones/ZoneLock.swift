#if canImport(Glibc)
import Glibc
#endif

/// The lock of one zone's table: a process-shared, robust `pthread_mutex_t` inside the mapping.
///
/// Why robust: a worker may be SIGKILLed (OOM killer, `kill -9`, the master's shutdown escalation)
/// while it holds the lock. The kernel walks the dead thread's robust list and marks the futex
/// "owner died", so the next `pthread_mutex_lock` returns `EOWNERDEAD` instead of blocking
/// forever; that caller repairs the table and calls `pthread_mutex_consistent`. A plain or
/// pid-stamped spinlock would need the waiter to poll and guess; the kernel already knows.
///
/// Not recursive: a body must not lock the same zone again.
struct ZoneLock {
    let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init(at address: UnsafeMutableRawPointer) {
        mutex = address.bindMemory(to: pthread_mutex_t.self, capacity: 1)
    }

    /// Initialises the mutex in place; only on a fresh mapping, before any other process has it.
    func initialise() -> Int32 {
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        defer { pthread_mutexattr_destroy(&attributes) }
        pthread_mutexattr_setpshared(&attributes, Int32(PTHREAD_PROCESS_SHARED))
        pthread_mutexattr_setrobust(&attributes, Int32(PTHREAD_MUTEX_ROBUST))
        return pthread_mutex_init(mutex, &attributes)
    }

    /// Takes the lock. When its last owner died holding it, runs `recover` (with the lock held)
    /// before marking the mutex consistent again.
    func lock(recover: () -> Void) {
        var result = pthread_mutex_lock(mutex)
        while result == EINTR { result = pthread_mutex_lock(mutex) }
        if result == EOWNERDEAD {
            recover()
            pthread_mutex_consistent(mutex)
        }
        // ENOTRECOVERABLE only follows an EOWNERDEAD owner that unlocked without
        // pthread_mutex_consistent, which this type never does.
    }

    func unlock() {
        pthread_mutex_unlock(mutex)
    }
}
