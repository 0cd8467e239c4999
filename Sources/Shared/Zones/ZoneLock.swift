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

    /// How long a waiter sleeps before it tries the lock again on its own.
    ///
    /// An owner killed between the store that releases the futex and its `FUTEX_WAKE` (or a
    /// waiter killed after that wake chose it) leaves the others asleep on a free lock; the kernel
    /// is meant to wake one for it (Linux 5.6, "futex: Prevent robust futex exit race"), and the
    /// zone tests saw that wake not come. A bounded sleep turns that lost wakeup into a delay of
    /// at most this long; an ordinary contended wait is far shorter and never reaches it.
    static let retryNanoseconds = 20_000_000

    /// Takes the lock. When its last owner died holding it, runs `recover` (with the lock held)
    /// before marking the mutex consistent again.
    func lock(recover: () -> Void) {
        var result = pthread_mutex_trylock(mutex)
        while result == EBUSY || result == EINTR || result == ETIMEDOUT {
            var deadline = timespec()
            // pthread_mutex_clocklock is hidden behind _GNU_SOURCE; a wall-clock step only
            // lengthens or shortens one retry.
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_nsec += ZoneLock.retryNanoseconds
            if deadline.tv_nsec >= 1_000_000_000 {
                deadline.tv_sec += 1
                deadline.tv_nsec -= 1_000_000_000
            }
            result = pthread_mutex_timedlock(mutex, &deadline)
        }
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
