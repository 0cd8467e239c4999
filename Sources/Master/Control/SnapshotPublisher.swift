#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Writes numbered snapshots to `data/snapshot.json` and tells the master (SIGUSR2), which then
/// tells every worker (SIGHUP). The only writer of the file; confined to the control process.
final class SnapshotPublisher {
    /// The last snapshot published or found on disk at start; nil when there is none yet.
    private(set) var current: ConfigSnapshot?

    private let path: String
    private let masterPid: pid_t
    private let logger: Logger

    init(prefix: String, masterPid: pid_t, logger: Logger) {
        self.path = SnapshotFile.path(prefix: prefix)
        self.masterPid = masterPid
        self.logger = logger
        // Generations keep growing across restarts: numbering continues from the stored one.
        // A missing or unreadable file throws: then there is nothing to continue from.
        current = try? SnapshotFile.read(path: path)
    }

    /// Publishes `snapshot` as the next generation. Identical content (ignoring the generation)
    /// is not written again: workers would only re-read what they have. `announceUnchanged`
    /// still signals the master then (at start, the master waits for that signal).
    func publish(_ snapshot: ConfigSnapshot, announceUnchanged: Bool) {
        var next = snapshot
        if let current {
            next.generation = current.generation
            if next == current {
                if announceUnchanged { announce() }
                return
            }
        }
        next.generation = (current?.generation ?? 0) + 1
        do {
            try SnapshotFile.write(next, to: path)
        } catch {
            logger.alert("writing the snapshot \"\(path)\" failed: \(error.message)")
            return
        }
        current = next
        for name in next.globalPlugins().dropped {
            logger.error("Found \(name) configured across different global rules. Removing it from execution list")
        }
        logger.notice("published snapshot generation \(next.generation)")
        announce()
    }

    /// Tells the master that the stored snapshot is the one to serve; publishes an empty one if
    /// there is nothing stored.
    func announceStored() {
        if current == nil {
            publish(ConfigSnapshot(), announceUnchanged: true)
        } else {
            announce()
        }
    }

    private func announce() {
        if kill(masterPid, SIGUSR2) != 0 {
            logger.alert("kill(\(masterPid), \(SIGUSR2)) failed \(errnoText(errno))")
        }
    }
}
