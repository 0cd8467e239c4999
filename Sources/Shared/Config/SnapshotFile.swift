// PLACEHOLDER (replaced by the config work): the signatures are fixed.

/// The published snapshot on disk (`PREFIX/data/snapshot.json`): written by the control process
/// atomically (temp file, fsync, rename, fsync of the directory), read by workers.
package enum SnapshotFile {
    /// `PREFIX/data/snapshot.json`.
    package static func path(prefix: String) -> String { prefix + "/data/snapshot.json" }
    package static func write(_ snapshot: ConfigSnapshot, to path: String) throws(ConfigError) {}
    /// Throws when the file is missing or unreadable.
    package static func read(path: String) throws(ConfigError) -> ConfigSnapshot { ConfigSnapshot() }
}
