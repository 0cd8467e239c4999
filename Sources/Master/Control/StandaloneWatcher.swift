#if canImport(Glibc)
import Glibc
#endif

/// Notices changes of `conf/apisix.yaml` by polling `stat` (APISIX's standalone mode also polls
/// the file's mtime): modification time to the nanosecond, size, inode and device, so a file
/// replaced by `mv` or rewritten twice within a second still counts as changed.
final class StandaloneWatcher {
    /// Absolute path of the watched file.
    let path: String

    /// What `stat` said at the last load; nil while the file does not exist.
    private var seen: Stamp?

    private struct Stamp: Equatable {
        var seconds: Int
        var nanoseconds: Int
        var size: Int
        var inode: UInt
        var device: UInt
    }

    init(path: String) { self.path = path }

    /// Records the file's current state; called just before a load, so a change made during the
    /// load is seen at the next check.
    func noteCurrentFile() { seen = stamp() }

    /// True when the file differs from the last recorded state (appeared, vanished, changed).
    /// The new state is not recorded: the load that follows does that.
    func fileChanged() -> Bool { stamp() != seen }

    private func stamp() -> Stamp? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Stamp(seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec, size: Int(info.st_size),
                     inode: UInt(info.st_ino), device: UInt(info.st_dev))
    }
}
