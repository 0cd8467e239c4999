#if canImport(Glibc)
import Glibc
#endif
import Shared

/// `worker_rlimit_nofile`, set by the master for itself at start and on reload, so every worker
/// and the control process it forks inherit it (nginx sets it in each worker; the effect is the
/// same, and a limit lowered on the running master, as an operator's `prlimit`, still reaches the
/// processes forked after).
enum DescriptorLimit {
    /// Soft and hard limit to `limit` (raising the hard limit needs the privilege; without it the
    /// soft limit goes as high as the hard one allows). Returns nginx's alert text on failure.
    static func apply(_ limit: Int) -> String? {
        var wanted = rlimit(rlim_cur: rlim_t(limit), rlim_max: rlim_t(limit))
        if setrlimit(resource, &wanted) == 0 { return nil }
        let err = errno
        var current = rlimit()
        getrlimit(resource, &current)
        if rlim_t(limit) > current.rlim_max {
            var capped = rlimit(rlim_cur: current.rlim_max, rlim_max: current.rlim_max)
            setrlimit(resource, &capped)
        } else {
            var soft = rlimit(rlim_cur: rlim_t(limit), rlim_max: current.rlim_max)
            if setrlimit(resource, &soft) == 0 { return nil }
        }
        return "setrlimit(RLIMIT_NOFILE, \(limit)) failed (\(err): \(errnoString(err)))"
    }

    /// glibc's `RLIMIT_NOFILE` (imported as an enum case).
    private static var resource: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
}
