// The `local` provider's embedded store: APISIX keeps its resources in etcd; Sluice keeps them in
// one file under PREFIX/data/, written only by the control process.
//
// Format (`data/store.json`, mode 0600), one JSON document:
//   {"format":"sluice-store/1","revision":R,
//    "resources":{"routes":{"<id>":{"value":{...},"createdIndex":C,"modifiedIndex":M}},"upstreams":{...}}}
// An item written with `?ttl=` also has "expiresAt" (seconds since the epoch): like an etcd lease,
// it is gone from reads at that time and deleted (a commit) on the next second's tick.
// `revision` is etcd's: every accepted write takes the next number (deletes too), it never goes
// back, and POST ids are it, zero-padded to 20 digits.
//
// Durability: every commit rewrites the whole file through `SnapshotFile.write(bytes:to:)` (temp
// file, fsync, rename, fsync of the directory) before the Admin API answers. A kill at any moment
// leaves either the previous file or the new one, whole: there is no torn record to recover. The
// cost is the size of the store per write, which suits an Admin API (hundreds of writes a second
// for thousands of resources); a log with compaction would be the next step for stores far larger.

#if canImport(Glibc)
import Glibc
#endif
import Shared

/// One stored resource: the value as the Admin API shows it, and etcd's revision numbers.
struct StoredItem: Equatable {
    var value: JSONValue
    /// The revision that created the key.
    var createdIndex: Int
    /// The revision of the last write to the key.
    var modifiedIndex: Int
    /// When a `?ttl=` write lapses (seconds since the epoch); nil for none. The `local` store's.
    var expiresAt: Double? = nil
}

/// The `local` provider's store. Confined to the control process's loop.
final class ConfigStore {
    /// `PREFIX/data/store.json`.
    let path: String
    /// The revision of the last commit; 0 for an empty, never written store.
    private(set) var revision: Int
    /// Resource name → id → item.
    private(set) var resources: [String: [String: StoredItem]]

    static let format = "sluice-store/1"

    /// `PREFIX/data/store.json`.
    static func path(prefix: String) -> String { prefix + "/data/store.json" }

    /// Loads the store at `path`; a missing file is an empty store. Throws when the file exists but
    /// cannot be read or parsed: the caller must not overwrite it then.
    init(path: String) throws(ConfigError) {
        self.path = path
        ConfigStore.removeTemporaryFiles(of: path)
        var info = stat()
        guard stat(path, &info) == 0 else {
            guard errno == ENOENT else {
                throw ConfigError("stat() \"\(path)\" failed (\(errno): \(String(cString: strerror(errno))))")
            }
            revision = 0
            resources = [:]
            return
        }
        let bytes = try SnapshotFile.readBytes(path)
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw ConfigError("invalid store \(path): \(error.message)")
        }
        guard document["format"]?.stringValue == ConfigStore.format, let revision = document["revision"]?.intValue,
              let sections = document["resources"]?.objectValue
        else {
            throw ConfigError("invalid store \(path): expected {\"format\":\"\(ConfigStore.format)\",\"revision\",\"resources\"}")
        }
        var resources: [String: [String: StoredItem]] = [:]
        for (name, section) in sections {
            guard let items = section.objectValue else { throw ConfigError("invalid store \(path): \(name) is not an object") }
            var loaded: [String: StoredItem] = [:]
            for (id, item) in items {
                guard let value = item["value"], let created = item["createdIndex"]?.intValue,
                      let modified = item["modifiedIndex"]?.intValue
                else { throw ConfigError("invalid store \(path): \(name)/\(id) lacks value or indexes") }
                loaded[id] = StoredItem(value: value, createdIndex: created, modifiedIndex: modified,
                                        expiresAt: item["expiresAt"]?.numberValue)
            }
            resources[name] = loaded
        }
        self.revision = revision
        self.resources = resources
        expiring = resources.values.reduce(0) { $0 + $1.values.filter { $0.expiresAt != nil }.count }
    }

    /// How many items have an `expiresAt`: reads filter only while some do.
    private var expiring = 0

    /// Seconds since the epoch, with a fraction.
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// The item `id` of `resource`, if stored (and its ttl has not lapsed).
    func item(_ resource: String, _ id: String) -> StoredItem? {
        guard let item = resources[resource]?[id] else { return nil }
        if let expiresAt = item.expiresAt, expiresAt <= ConfigStore.now() { return nil }
        return item
    }

    /// The items of `resource`, by id (those whose ttl lapsed left out).
    func items(_ resource: String) -> [String: StoredItem] {
        let all = resources[resource] ?? [:]
        guard expiring > 0 else { return all }
        let now = ConfigStore.now()
        return all.filter { $0.value.expiresAt.map { $0 > now } ?? true }
    }

    /// Deletes the items whose ttl lapsed by `now`, one commit each (etcd's lease revokes are
    /// revisions too); true when any was deleted. A failed commit leaves the rest for the next call.
    func expire(now: Double) throws(ConfigError) -> Bool {
        guard expiring > 0 else { return false }
        var deleted = false
        for (resource, items) in resources.sorted(by: { $0.key < $1.key }) {
            for id in items.keys.sorted() where (items[id]!.expiresAt ?? .infinity) <= now {
                try commit(.delete(resource: resource, id: id))
                deleted = true
            }
        }
        return deleted
    }

    /// What one commit does.
    enum Change {
        /// Create or replace `id` with `value` (the revision numbers are the store's business),
        /// lapsing at `expiresAt` when given (a put without one keeps the key for good, as a put
        /// without a lease does in etcd).
        case put(resource: String, id: String, value: JSONValue, expiresAt: Double? = nil)
        case delete(resource: String, id: String)
    }

    /// The revision the next commit will get (POST ids are made from it).
    var nextRevision: Int { revision + 1 }

    /// Applies `change` as the next revision and makes it durable. On failure nothing changes, in
    /// memory or on disk, and the error names the failed call. Returns the item written (nil for
    /// a delete).
    @discardableResult
    func commit(_ change: Change) throws(ConfigError) -> StoredItem? {
        let next = revision + 1
        var updated = resources
        var written: StoredItem?
        switch change {
        case .put(let resource, let id, let value, let expiresAt):
            let created = self.item(resource, id)?.createdIndex ?? next
            let item = StoredItem(value: value, createdIndex: created, modifiedIndex: next, expiresAt: expiresAt)
            updated[resource, default: [:]][id] = item
            written = item
        case .delete(let resource, let id):
            updated[resource]?[id] = nil
        }
        try SnapshotFile.write(bytes: ConfigStore.encode(revision: next, resources: updated), to: path)
        revision = next
        resources = updated
        expiring = resources.values.reduce(0) { $0 + $1.values.filter { $0.expiresAt != nil }.count }
        return written
    }

    static func encode(revision: Int, resources: [String: [String: StoredItem]]) -> [UInt8] {
        var sections: [String: JSONValue] = [:]
        for (name, items) in resources {
            sections[name] = .object(items.mapValues { item in
                var fields: [String: JSONValue] = ["value": item.value, "createdIndex": .number(Double(item.createdIndex)),
                                                   "modifiedIndex": .number(Double(item.modifiedIndex))]
                if let expiresAt = item.expiresAt { fields["expiresAt"] = .number(expiresAt) }
                return .object(fields)
            })
        }
        let document: JSONValue = .object([
            "format": .string(format), "revision": .number(Double(revision)), "resources": .object(sections),
        ])
        var out = document.jsonBytes
        out.append(0x0A)
        return out
    }

    /// Temp files a killed writer left behind (`store.json.tmp.<pid>`): never part of the store.
    private static func removeTemporaryFiles(of path: String) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let directory = String(path[..<slash])
        let prefix = String(path[path.index(after: slash)...]) + ".tmp."
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasPrefix(prefix) { unlink(directory + "/" + name) }
        }
    }

    // MARK: - Snapshot

    /// The data plane's view of the store: every object of a served resource converted to the
    /// model (they were validated when written), in id order. An item that no longer converts is
    /// left out and reported.
    func snapshot() -> (snapshot: ConfigSnapshot, errors: [String]) {
        var snapshot = ConfigSnapshot()
        var errors: [String] = []
        for resource in ConfigItem.resources {
            let stored = items(resource)
            for id in stored.keys.sorted() {
                do {
                    snapshot.add(try ConfigItem(resource: resource, json: stored[id]!.value, id: id))
                } catch {
                    errors.append("failed to load \(resource)/\(id) from the store: \(error.message)")
                }
            }
        }
        return (snapshot, errors)
    }
}
