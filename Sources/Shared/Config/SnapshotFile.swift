// The published configuration on disk. The control process writes it the way a database commits
// (temp file, fsync, rename, fsync of the directory) so that a worker, or a crash at any moment,
// only ever sees the old file or the new one whole. Workers read it on their event loop, so the
// format is plain JSON that the pure-Swift parser reads fast.
//
// Format: {"generation":N,"routes":[<route>...],"upstreams":[<upstream>...],"services":[...],
// "plugin_configs":[...],"global_rules":[...],"consumer_groups":[...],"consumers":[...],"plugin_metadata":[...],
// "credentials":[{"key":"<username>/credentials/<id>","value":{...}}]} where every item is the
// validated APISIX object (`Route.apisixJSON`, `Upstream.apisixJSON`, `Service.json`,
// `PluginSet.json`, `Consumer.json`, `Credential.json`: the JSON the item was built from, with `id`
// set to its id string except for consumers); those after `upstreams` may be absent (older files).
// Reading converts them with the same JSON -> model
// code every provider uses, without re-running the schema (the writer validated them).

#if canImport(Glibc)
import Glibc
#endif

/// The published snapshot on disk (`PREFIX/data/snapshot.json`): written by the control process
/// atomically (temp file, fsync, rename, fsync of the directory), read by workers.
package enum SnapshotFile {
    /// `PREFIX/data/snapshot.json`.
    package static func path(prefix: String) -> String { prefix + "/data/snapshot.json" }

    /// Writes `snapshot` to `path` atomically, mode 0600 (the items may hold plaintext secrets
    /// such as `service_token`). Creates the parent directory (mode 0700) if missing. Writes
    /// `<path>.tmp.<pid>` first and removes it on failure. Throws naming the failed call.
    package static func write(_ snapshot: ConfigSnapshot, to path: String) throws(ConfigError) {
        try write(bytes: encode(snapshot), to: path)
    }

    /// Throws when the file is missing or unreadable, or not a valid snapshot (never crashes on a
    /// corrupt file).
    package static func read(path: String) throws(ConfigError) -> ConfigSnapshot {
        let bytes = try readBytes(path)
        return try decode(bytes, path: path)
    }

    // MARK: - format

    /// The file's bytes for `snapshot`.
    package static func encode(_ snapshot: ConfigSnapshot) -> [UInt8] {
        let document: JSONValue = .object([
            "generation": .number(Double(snapshot.generation)),
            "routes": .array(snapshot.routes.map(\.apisixJSON)),
            "upstreams": .array(snapshot.upstreams.keys.sorted().map { id in
                var upstream = snapshot.upstreams[id]!
                upstream.id = id
                var json = upstream.apisixJSON
                if case .object(var members) = json { members["id"] = .string(id); json = .object(members) }
                return json
            }),
            "services": .array(snapshot.services.keys.sorted().map { snapshot.services[$0]!.json }),
            "plugin_configs": .array(snapshot.pluginConfigs.keys.sorted().map { snapshot.pluginConfigs[$0]!.json }),
            "global_rules": .array(snapshot.globalRules.map(\.json)),
            "consumer_groups": .array(snapshot.consumerGroups.keys.sorted().map { snapshot.consumerGroups[$0]!.json }),
            "consumers": .array(snapshot.consumers.keys.sorted().map { snapshot.consumers[$0]!.json }),
            "plugin_metadata": .array(snapshot.pluginMetadata.keys.sorted().map { snapshot.pluginMetadata[$0]! }),
            "credentials": .array(snapshot.credentials.map { credential in
                .object(["key": .string(credential.key), "value": credential.json])
            }),
        ])
        var out: [UInt8] = []
        out.reserveCapacity(256 * (snapshot.routes.count + snapshot.upstreams.count) + 64)
        document.encode(into: &out)
        out.append(0x0A)
        return out
    }

    /// The snapshot in `bytes`; `path` only names the file in errors.
    package static func decode(_ bytes: [UInt8], path: String) throws(ConfigError) -> ConfigSnapshot {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw ConfigError("invalid snapshot \(path): \(error.message)")
        }
        guard let generationNumber = document["generation"]?.numberValue, generationNumber >= 0,
              generationNumber < 9.0e15, generationNumber.rounded(.towardZero) == generationNumber,
              let routeItems = document["routes"]?.arrayValue,
              let upstreamItems = document["upstreams"]?.arrayValue ?? (document["upstreams"]?.objectValue?.isEmpty == true ? [] : nil)
        else {
            throw ConfigError("invalid snapshot \(path): expected {\"generation\",\"routes\",\"upstreams\"}")
        }
        var snapshot = ConfigSnapshot(generation: UInt64(generationNumber))
        snapshot.routes.reserveCapacity(routeItems.count)
        do throws(CheckError) {
            for item in upstreamItems {
                guard let id = item["id"].flatMap(Route.idString) else { throw CheckError(.check, "upstream without id") }
                snapshot.upstreams[id] = try Upstream(apisix: item, id: id)
            }
            for item in routeItems {
                guard let id = item["id"].flatMap(Route.idString) else { throw CheckError(.check, "route without id") }
                snapshot.routes.append(try Route(apisix: item, id: id))
            }
            for item in try optionalList(document, "services") {
                guard let id = item["id"].flatMap(Route.idString) else { throw CheckError(.check, "service without id") }
                snapshot.services[id] = try Service(apisix: item, id: id)
            }
            for item in try optionalList(document, "plugin_configs") {
                guard let id = item["id"].flatMap(Route.idString) else { throw CheckError(.check, "plugin config without id") }
                snapshot.pluginConfigs[id] = try PluginSet(apisix: item, id: id)
            }
            for item in try optionalList(document, "global_rules") {
                guard let id = item["id"].flatMap(Route.idString) else { throw CheckError(.check, "global rule without id") }
                snapshot.globalRules.append(try PluginSet(apisix: item, id: id))
            }
            for item in try optionalList(document, "consumer_groups") {
                guard let id = item["id"].flatMap(Route.idString) else { throw CheckError(.check, "consumer group without id") }
                snapshot.add(.consumerGroup(try PluginSet(apisix: item, id: id)))
            }
            for item in try optionalList(document, "consumers") { snapshot.add(.consumer(try Consumer(apisix: item))) }
            for item in try optionalList(document, "plugin_metadata") {
                guard let id = item["id"]?.stringValue else { throw CheckError(.check, "plugin metadata without id") }
                snapshot.add(.pluginMetadata(id: id, item))
            }
            for item in try optionalList(document, "credentials") {
                guard let key = item["key"]?.stringValue, let value = item["value"] else {
                    throw CheckError(.check, "credential without key or value")
                }
                snapshot.add(.credential(try Credential(apisix: value, key: key)))
            }
        } catch {
            throw ConfigError("invalid snapshot \(path): \(error.message)")
        }
        return snapshot
    }

    /// The array `name` of the document; absent is empty, anything else is an error.
    private static func optionalList(_ document: JSONValue, _ name: String) throws(CheckError) -> [JSONValue] {
        guard let value = document[name] else { return [] }
        guard let items = value.arrayValue else { throw CheckError(.check, "\(name) is not a list") }
        return items
    }

    // MARK: - I/O

    private static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Writes `bytes` to `path` atomically and durably (temp file, fsync, rename, fsync of the
    /// directory), mode 0600; the store of the `local` provider uses it too.
    package static func write(bytes: [UInt8], to path: String) throws(ConfigError) {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        try makeDirectories(directory.isEmpty ? "/" : directory)
        let temporary = "\(path).tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ConfigError("open() \"\(temporary)\" failed (\(errno): \(errnoText()))") }
        var failure: ConfigError?
        // The mode of an existing temp file (a previous crash) is not changed by open(): force it.
        if fchmod(fd, 0o600) != 0 { failure = ConfigError("fchmod() \"\(temporary)\" failed (\(errno): \(errnoText()))") }
        var offset = 0
        bytes.withUnsafeBytes { raw in
            while failure == nil, offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = ConfigError("write() to \"\(temporary)\" failed (\(errno): \(errnoText()))")
                } else {
                    offset += written
                }
            }
        }
        if failure == nil, fsync(fd) != 0 {
            failure = ConfigError("fsync() \"\(temporary)\" failed (\(errno): \(errnoText()))")
        }
        if close(fd) != 0, failure == nil {
            failure = ConfigError("close() \"\(temporary)\" failed (\(errno): \(errnoText()))")
        }
        if failure == nil, rename(temporary, path) != 0 {
            failure = ConfigError("rename() \"\(temporary)\" to \"\(path)\" failed (\(errno): \(errnoText()))")
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
        // The rename is durable only once the directory entry is on disk.
        let directoryFd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFd >= 0 else { throw ConfigError("open() \"\(directory)\" failed (\(errno): \(errnoText()))") }
        defer { close(directoryFd) }
        if fsync(directoryFd) != 0 { throw ConfigError("fsync() \"\(directory)\" failed (\(errno): \(errnoText()))") }
    }

    private static func makeDirectories(_ directory: String) throws(ConfigError) {
        var info = stat()
        if stat(directory, &info) == 0 { return }
        if let parent = directory.lastIndex(of: "/").map({ String(directory[..<$0]) }), !parent.isEmpty {
            try makeDirectories(parent)
        }
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw ConfigError("mkdir() \"\(directory)\" failed (\(errno): \(errnoText()))")
        }
    }

    /// The whole file; throws naming the failed call.
    package static func readBytes(_ path: String) throws(ConfigError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ConfigError("open() \"\(path)\" failed (\(errno): \(errnoText()))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ConfigError("fstat() \"\(path)\" failed (\(errno): \(errnoText()))") }
        var bytes = [UInt8](repeating: 0, count: max(Int(info.st_size), 0))
        var filled = 0
        var failure: ConfigError?
        while true {
            if filled == bytes.count { bytes.append(contentsOf: repeatElement(0, count: 4096)) }
            let count = bytes.withUnsafeMutableBytes { raw in Glibc.read(fd, raw.baseAddress! + filled, raw.count - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                failure = ConfigError("read() \"\(path)\" failed (\(errno): \(errnoText()))")
                break
            }
            if count == 0 { break }
            filled += count
        }
        if let failure { throw failure }
        bytes.removeSubrange(filled...)
        return bytes
    }
}
