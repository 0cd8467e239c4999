#if canImport(Glibc)
import Glibc
#endif
import CLibevent

/// `fork` and what a child must do before it runs its own cycle (nginx's `ngx_spawn_process` plus
/// the start of `ngx_worker_process_init`), in the order the traps doc requires.
///
/// The master keeps every signal blocked for its whole life, so the child starts with them blocked
/// too: nothing can arrive before its own signal events exist (no phantom signals, traps item 4).
enum Spawner {
    /// Forks. In the child: dies with the master (`PR_SET_PDEATHSIG`, then a `getppid` check for a
    /// master already gone), resets signal dispositions, closes every descriptor except 0, 1, 2
    /// and `keep`, names itself, then runs `body`, which never returns. In the parent: the pid, or
    /// the errno of a failed fork.
    static func spawn(masterPid: pid_t, keep: [Int32], name: String, title: String,
                      body: () -> Never) -> Result<pid_t, ForkFailure> {
        let pid = fork()
        if pid < 0 { return .failure(ForkFailure(errno: errno)) }
        if pid > 0 { return .success(pid) }

        _ = sluice_prctl_set_pdeathsig(SIGTERM)
        // The master may have died between fork and prctl: then nobody would ever signal us.
        if getppid() != masterPid { _exit(1) }
        Signals.resetDispositions()
        closeDescriptors(except: keep)
        ProcessTitle.set(name: name, commandLine: title)
        body()
    }

    /// A fork that failed, with its errno.
    struct ForkFailure: Error { var errno: Int32 }

    /// Closes every open descriptor above stderr that is not in `keep`: other slots' sockets, the
    /// lock file, the master's log, and whatever the parent of the master leaked to it.
    // TODO: a `sluice_close_range` shim would do this in one system call (Linux 5.9, glibc 2.34);
    // close_range is declared only under _GNU_SOURCE and `syscall` is variadic, so neither imports.
    static func closeDescriptors(except keep: [Int32]) {
        var open: [Int32] = []
        if let dir = opendir("/proc/self/fd") {
            while let entry = readdir(dir) {
                let number = withUnsafePointer(to: &entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { atoi($0) }
                }
                // "." and ".." read as 0, which is kept anyway.
                open.append(number)
            }
            closedir(dir)
        } else {
            // No /proc (a chroot): walk the whole table.
            let limit = min(Int(sysconf(Int32(_SC_OPEN_MAX))), 65_536)
            open = (3..<Int32(max(limit, 4))).map { $0 }
        }
        for fd in open where fd > 2 && !keep.contains(fd) {
            close(fd)
        }
    }
}

/// The back-off that keeps a crashing child from becoming a fork storm, per slot.
///
/// A child that dies within 1 s of its start, or exits with the fatal code 2 (nginx's
/// `NGX_FATAL`: it cannot work, and a new one will not either) however long it ran, makes the
/// next respawn of its slot wait 100 ms, doubling up to 5 s; a child that stayed up 10 s and
/// did not exit fatally resets it. Pure, so the policy is testable without processes.
struct RespawnBackoff {
    /// The delay the last quick death chose; zero while the slot is healthy.
    private(set) var delay: Duration = .zero

    static let quickDeath: Duration = .seconds(1)
    static let healthyUptime: Duration = .seconds(10)
    static let first: Duration = .milliseconds(100)
    static let ceiling: Duration = .seconds(5)

    /// The exit code of a child that says it cannot work (bad environment, no event base).
    static let fatalExitCode: Int32 = 2

    /// How long to wait before respawning a child that ran for `uptime`; `fatal` when it exited
    /// with ``fatalExitCode``.
    mutating func childExited(after uptime: Duration, fatal: Bool = false) -> Duration {
        if fatal || uptime < RespawnBackoff.quickDeath {
            delay = delay == .zero ? RespawnBackoff.first : min(delay * 2, RespawnBackoff.ceiling)
            return delay
        }
        if uptime >= RespawnBackoff.healthyUptime { delay = .zero }
        return .zero
    }

    /// A deliberate restart (reload) owes nothing to past crashes.
    mutating func reset() { delay = .zero }
}
