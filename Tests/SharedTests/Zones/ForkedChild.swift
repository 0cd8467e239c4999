#if canImport(Glibc)
import Glibc
#endif

/// A child process made by `fork` inside a test, sharing the zones mapped before it.
///
/// The child runs only zone operations the parent has already run once (so no lazily initialised
/// runtime state is needed after the fork of a multi-threaded test process) and leaves with
/// `_exit`, running no handler of the parent's.
struct ForkedChild {
    let pid: pid_t

    /// Forks; the child runs `body` and exits with its result.
    static func start(_ body: () -> Int32) -> ForkedChild {
        let pid = fork()
        if pid == 0 { _exit(body()) }
        precondition(pid > 0, "fork() failed: \(errno)")
        return ForkedChild(pid: pid)
    }

    /// How a child ended.
    enum End: Equatable {
        case exited(Int32)
        case killed(Int32)
        /// Still running at the deadline: it was SIGKILLed and reaped.
        case hung
    }

    /// Waits up to `timeout` seconds; a child still running then is killed, so no test leaves one.
    func wait(timeout: Double = 30) -> End {
        let deadline = SharedClock.seconds() + timeout
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if result < 0 && errno != EINTR { return .hung }
            if SharedClock.seconds() > deadline {
                Glibc.kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return .hung
            }
            usleep(1000)
        }
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .killed(signal)
    }

    func kill(_ signal: Int32) { Glibc.kill(pid, signal) }
}

enum SharedClock {
    static func seconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
