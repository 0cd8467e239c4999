#if canImport(Glibc)
import Glibc
#endif

/// Signal masks and dispositions for processes that fork (nginx's `ngx_init_signals` and the
/// `sigprocmask` calls in `ngx_master_process_cycle`), plus the names logs print.
enum Signals {
    /// `SIGHUP`, `SIGCHLD`, ...: nginx's log spelling. "SIG<n>" for the rest.
    static func name(_ signo: Int32) -> String {
        switch signo {
        case SIGHUP: "SIGHUP"
        case SIGINT: "SIGINT"
        case SIGQUIT: "SIGQUIT"
        case SIGKILL: "SIGKILL"
        case SIGUSR1: "SIGUSR1"
        case SIGUSR2: "SIGUSR2"
        case SIGPIPE: "SIGPIPE"
        case SIGALRM: "SIGALRM"
        case SIGTERM: "SIGTERM"
        case SIGCHLD: "SIGCHLD"
        case SIGWINCH: "SIGWINCH"
        default: "SIG\(signo)"
        }
    }

    /// Blocks every signal. The inherited mask is not trusted: a parent such as a Swift test runner
    /// may have blocked SIGCHLD/SIGHUP/SIGTERM, or may have blocked nothing (traps doc, item 1).
    static func blockAll() {
        var all = sigset_t()
        sigfillset(&all)
        sigprocmask(SIG_SETMASK, &all, nil)
    }

    /// Unblocks every signal (a child, once its own signal events are in place).
    static func unblockAll() {
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
    }

    /// Every catchable signal back to `SIG_DFL`, then `SIGPIPE` ignored. An inherited `SIG_IGN`
    /// (`nohup`, a shell's background job) would otherwise survive: an ignored SIGCHLD even makes
    /// the kernel reap children by itself, and a respawn would never be noticed.
    static func resetDispositions() {
        var action = sigaction()
        sigemptyset(&action.sa_mask)
        action.__sigaction_handler.sa_handler = SIG_DFL
        for signo in Int32(1)..<Int32(65) where signo != SIGKILL && signo != SIGSTOP {
            sigaction(signo, &action, nil)
        }
        // Writes to a closed peer must fail with EPIPE instead of killing the process.
        action.__sigaction_handler.sa_handler = SIG_IGN
        sigaction(SIGPIPE, &action, nil)
    }
}
