// The `etcd` config provider (APISIX's core/config_etcd.lua, improved): a validated copy of the
// served resources (`ConfigItem.resources`) under `<prefix>/` kept in step with etcd, published to the workers as
// snapshots, and the Admin API's store (reads from the copy, writes to etcd).
//
// Sync: everything is read with paginated range reads pinned to one revision R, then one watch
// on the whole prefix starts at R+1. Each event is validated like an Admin API write (an invalid
// value is skipped with an error line; the previous valid value, if any, keeps serving) and
// applied; the watch resumes from the highest mod_revision applied. A `compact_revision` in a
// watch message, or etcd answering with a revision lower than the one applied (a restored or
// replaced cluster), forces a full re-read. A broken stream is re-opened on the next endpoint
// after a jittered, growing delay; the watch is also re-opened every `watchRestart` seconds so a
// silently dead connection cannot stall the copy. Changes are published 10 ms after the first
// of a burst.

#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Shared
import Worker

/// The etcd-backed store. Confined to the control process's loop.
final class EtcdStore: AdminStore {
    /// One item of the copy: what the Admin API shows, and its model for the snapshot.
    private struct Entry {
        var item: StoredItem
        var converted: ConfigItem
    }

    /// The resources synchronized, in the order a full read validates them (what is referred to
    /// first).
    static let resources = ConfigItem.resources
    /// Seconds after which a quiet watch is re-opened (APISIX's `watch_timeout`).
    static let watchRestart = 50.0
    /// Keys per range page of a full read.
    static let pageSize = 500

    private let client: EtcdClient
    private let base: OpaquePointer
    private let logger: Logger
    private let plugins: PluginSchemaLookup
    /// `apisix.data_encryption`: the plugin fields stored encrypted (nil: none).
    private let cipher: FieldCipher?
    private let publish: (ConfigSnapshot) -> Void
    /// `/apisix`: keys are `/apisix/routes/<id>`.
    let prefix: String

    private var entries: [String: [String: Entry]] = [:]
    /// Keys this node deleted, with the delete's revision: older watch events for them are stale.
    private var deletedAt: [String: Int] = [:]
    /// The highest revision applied (the full read's, then each event's mod_revision).
    private(set) var revision = 0
    private var loaded = false
    private var live = false
    private var lastError = "etcd has not been reached yet"
    private var watch: EtcdClient.WatchHandle?
    private var failures = 0
    /// Bumped by every full read or watch (re)start: late answers of an older one are dropped.
    private var epoch = 0

    private var retryTimer: EventHandle?
    private var publishTimer: EventHandle?
    private var restartTimer: EventHandle?
    private var publishPending = false

    init(base: OpaquePointer, settings: EtcdSettings, cipher: FieldCipher?, logger: Logger, plugins: @escaping PluginSchemaLookup,
         publish: @escaping (ConfigSnapshot) -> Void) {
        self.base = base
        self.client = EtcdClient(base: base, settings: settings)
        self.logger = logger
        self.plugins = plugins
        self.cipher = cipher
        self.publish = publish
        self.prefix = settings.prefix == "/" ? "" : settings.prefix
        let context = Unmanaged.passUnretained(self).toOpaque()
        retryTimer = EventHandle(base: base, callback: EtcdStore.onRetry, context: context)
        publishTimer = EventHandle(base: base, callback: EtcdStore.onPublish, context: context)
        restartTimer = EventHandle(base: base, callback: EtcdStore.onRestart, context: context)
    }

    func shutdown() {
        watch?.cancel()
        watch = nil
        epoch += 1
        for timer in [retryTimer, publishTimer, restartTimer] {
            timer?.delete()
            timer?.free()
        }
        retryTimer = nil
        publishTimer = nil
        restartTimer = nil
    }

    /// Starts the sync: a full read, then the watch.
    func start() { fullRead(reason: nil) }

    /// Re-reads everything (SIGHUP).
    func reload() { fullRead(reason: "reload requested") }

    // MARK: - AdminStore reads

    func item(_ resource: String, _ id: String) -> StoredItem? { entries[resource]?[id]?.item }

    func items(_ resource: String) -> [String: StoredItem] { (entries[resource] ?? [:]).mapValues(\.item) }

    var unavailableReason: String? { live ? nil : lastError }

    // MARK: - Full read

    private func fullRead(reason: String?) {
        watch?.cancel()
        watch = nil
        restartTimer?.delete()
        epoch += 1
        if let reason { logger.notice("etcd: reading everything under \(prefix)/ (\(reason))") }
        readPage(epoch: epoch, from: prefix + "/", revision: nil, collected: [])
    }

    private func readPage(epoch: Int, from key: String, revision: Int?, collected: [JSONValue]) {
        var request: [String: JSONValue] = [
            "key": EtcdClient.key(key), "range_end": EtcdClient.rangeEnd(prefix + "/"),
            "limit": .string(String(EtcdStore.pageSize)),
        ]
        if let revision { request["revision"] = .string(String(revision)) }
        client.call("kv/range", .object(request)) { [weak self] result in
            guard let self, self.epoch == epoch else { return }
            switch result {
            case .failure(let error):
                self.failed("reading \(self.prefix)/ from etcd failed: \(error.message)")
            case .success(let json):
                guard let pinned = revision ?? EtcdClient.int(json["header"]?["revision"]) else {
                    return self.failed("etcd answered a range without a revision")
                }
                let kvs = json["kvs"]?.arrayValue ?? []
                let all = collected + kvs
                if json["more"]?.boolValue == true, let last = kvs.last?["key"]?.stringValue,
                   let lastKey = Base64.decode(last) {
                    // The next page starts just after the last key, at the same revision.
                    let next = String(decoding: lastKey + [0], as: UTF8.self)
                    return self.readPage(epoch: epoch, from: next, revision: pinned, collected: all)
                }
                self.replaceAll(all, revision: pinned)
            }
        }
    }

    /// Makes the copy exactly what a full read found at `revision`, then watches from the next one.
    private func replaceAll(_ kvs: [JSONValue], revision: Int) {
        if revision < self.revision {
            logger.warn("etcd: revision went back from \(self.revision) to \(revision) (a restored or new cluster)")
        }
        var found: [String: [(id: String, kv: JSONValue)]] = [:]
        for kv in kvs {
            guard let key = kv["key"]?.stringValue.flatMap(Base64.decode).map({ String(decoding: $0, as: UTF8.self) }),
                  let (resource, id) = split(key) else { continue }
            found[resource, default: []].append((id, kv))
        }
        let previous = entries
        entries = [:]
        for resource in EtcdStore.resources {
            entries[resource] = [:]
            for (id, kv) in found[resource] ?? [] {
                guard let created = EtcdClient.int(kv["create_revision"]), let modified = EtcdClient.int(kv["mod_revision"])
                else { continue }
                switch decode(kv["value"], key: "\(prefix)/\(resource)/\(id)", resource: resource) {
                case .failure(let error): skip(resource, id, modified, error.message, keepingFrom: previous)
                case .success(let value):
                    switch entry(resource, id, value, created: created, modified: modified) {
                    case .failure(let error): skip(resource, id, modified, error.message, keepingFrom: previous)
                    case .success(let entry): entries[resource]![id] = entry
                    }
                }
            }
        }
        deletedAt = [:]
        self.revision = revision
        loaded = true
        let count = EtcdStore.resources.reduce(0) { $0 + (entries[$1]?.count ?? 0) }
        logger.notice("etcd: loaded \(count) items under \(prefix)/ at revision \(revision)")
        schedulePublish()
        startWatch()
    }

    /// An invalid value: logged, and the previous valid one (if any) kept.
    private func skip(_ resource: String, _ id: String, _ revision: Int, _ message: String,
                      keepingFrom previous: [String: [String: Entry]]) {
        logger.error("etcd: skipped invalid \(prefix)/\(resource)/\(id) (mod_revision \(revision)): \(message)")
        if let kept = previous[resource]?[id] { entries[resource]![id] = kept }
    }

    /// `/apisix/routes/1` → ("routes", "1"), `/apisix/consumers/jack/credentials/a` →
    /// ("consumers", "jack/credentials/a"); nil for other resources, directory markers
    /// (`/apisix/routes/`), `gen_id` and anything deeper.
    private func split(_ key: String) -> (String, String)? {
        guard key.hasPrefix(prefix + "/") else { return nil }
        let rest = key.dropFirst(prefix.count + 1)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let resource = String(rest[..<slash])
        let id = String(rest[rest.index(after: slash)...])
        guard EtcdStore.resources.contains(resource), !id.isEmpty else { return nil }
        guard !id.contains("/") || (resource == "consumers" && Consumer.credentialKey(id) != nil) else { return nil }
        return (resource, id)
    }

    /// A value of etcd's (base64 JSON) as JSON with its plugins' encrypted fields decrypted, or
    /// why it is not JSON. A field that does not decrypt is kept as stored (a node with
    /// encryption off wrote it), with an error line.
    private func decode(_ value: JSONValue?, key: String, resource: String) -> Result<JSONValue, EtcdError> {
        guard let bytes = value?.stringValue.flatMap(Base64.decode) ?? (value == nil ? [] : nil) else {
            return .failure(EtcdError("the value is not base64"))
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes)
        } catch {
            return .failure(EtcdError("invalid JSON: \(error.message)"))
        }
        guard let cipher else { return .success(json) }
        return .success(DataEncryption.transformFields(json, consumer: resource == "consumers", plugins: plugins,
                                                       cipher.decrypt) { [logger] plugin, field in
            logger.error("failed to decrypt the conf of plugin [\(plugin)] key [\(field)], err: decrypt failed")
        })
    }

    /// What etcd stores of `value`: its plugins' `encrypt_fields` encrypted (APISIX's bytes).
    private func encrypted(_ value: JSONValue, resource: String) -> JSONValue {
        guard let cipher else { return value }
        return DataEncryption.transformFields(value, consumer: resource == "consumers", plugins: plugins, cipher.encrypt)
    }

    /// Validates `value` as an Admin API write would (its `id` set to the key's, as APISIX's data
    /// plane does, except for consumers and credentials, keyed by username and path) and builds
    /// the entry.
    private func entry(_ resource: String, _ id: String, _ value: JSONValue, created: Int, modified: Int) -> Result<Entry, CheckError> {
        guard case .object(var members) = value else {
            return .failure(CheckError(.schema, "invalid configuration: wrong type: expected object, got \(value.luaTypeName)"))
        }
        if resource != "consumers" { members["id"] = .string(id) }
        let stored = JSONValue.object(members)
        let item = StoredItem(value: stored, createdIndex: created, modifiedIndex: modified)
        return ConfigItem.check(resource: resource, json: stored, id: id, plugins: plugins,
                                exists: { [unowned self] in self.entries[$0]?[$1] != nil })
            .map { Entry(item: item, converted: $0) }
    }

    // MARK: - Watch

    private func startWatch() {
        watch?.cancel()
        epoch += 1
        let epoch = epoch
        let request: JSONValue = .object(["create_request": .object([
            "key": EtcdClient.key(prefix + "/"), "range_end": EtcdClient.rangeEnd(prefix + "/"),
            "start_revision": .string(String(revision + 1)),
        ])])
        watch = client.watch(request, onMessage: { [weak self] message in
            guard let self, self.epoch == epoch else { return }
            self.received(message)
        }, ended: { [weak self] error in
            guard let self, self.epoch == epoch else { return }
            self.watch = nil
            self.failed(error.message)
        })
        restartTimer?.add(timeout: EtcdStore.watchRestart)
    }

    private func received(_ message: JSONValue) {
        if let error = message["error"] {
            watch?.cancel()
            watch = nil
            return failed("etcd watch error: \(error["message"]?.stringValue ?? error.jsonText)")
        }
        guard let result = message["result"] else { return }
        if let compacted = EtcdClient.int(result["compact_revision"]), compacted > 0 {
            logger.warn("etcd: revision \(revision + 1) was compacted (compact_revision \(compacted))")
            return fullRead(reason: "compacted")
        }
        if result["created"]?.boolValue == true {
            if let current = EtcdClient.int(result["header"]?["revision"]), current < revision {
                logger.warn("etcd: the cluster's revision \(current) is behind the applied \(revision)")
                return fullRead(reason: "revision went back")
            }
            if !live { logger.notice("etcd: watching \(prefix)/ from revision \(revision + 1)") }
            live = true
            failures = 0
        }
        if result["canceled"]?.boolValue == true {
            watch?.cancel()
            watch = nil
            return failed("etcd canceled the watch: \(result["cancel_reason"]?.stringValue ?? "no reason given")")
        }
        var changed = false
        for event in result["events"]?.arrayValue ?? [] {
            guard let kv = event["kv"], let modified = EtcdClient.int(kv["mod_revision"]),
                  let key = kv["key"]?.stringValue.flatMap(Base64.decode).map({ String(decoding: $0, as: UTF8.self) })
            else { continue }
            if apply(key: key, kv: kv, delete: event["type"]?.stringValue == "DELETE", modified: modified) { changed = true }
            revision = max(revision, modified)
        }
        if changed { schedulePublish() }
    }

    /// Applies one watched change; true when the copy changed.
    private func apply(key: String, kv: JSONValue, delete: Bool, modified: Int) -> Bool {
        guard let (resource, id) = split(key) else { return false }
        if let deleted = deletedAt[key] {
            if modified < deleted { return false }
            deletedAt[key] = nil
            if modified == deleted { return false }
        }
        if let current = entries[resource]?[id], current.item.modifiedIndex >= modified { return false }  // our own write
        if delete {
            return entries[resource]?.removeValue(forKey: id) != nil
        }
        let created = EtcdClient.int(kv["create_revision"]) ?? modified
        let value: JSONValue
        switch decode(kv["value"], key: key, resource: resource) {
        case .failure(let error):
            logger.error("etcd: skipped invalid \(key) (mod_revision \(modified)): \(error.message)")
            return false
        case .success(let decoded): value = decoded
        }
        switch entry(resource, id, value, created: created, modified: modified) {
        case .failure(let error):
            logger.error("etcd: skipped invalid \(key) (mod_revision \(modified)): \(error.message)")
            return false
        case .success(let entry):
            entries[resource, default: [:]][id] = entry
            return true
        }
    }

    // MARK: - Failures

    /// etcd is unreachable or refused: the Admin API answers 503 with `message` and the sync
    /// starts again after a jittered back-off, on the next endpoint.
    private func failed(_ message: String) {
        if live || message != lastError { logger.error("etcd: \(message)") }
        live = false
        lastError = message
        failures += 1
        client.rotate()
        restartTimer?.delete()
        epoch += 1
        // 0.1, 0.2, 0.4 ... 3.2 s, times 0.5-1.5.
        let delay = min(0.1 * Double(1 << min(failures - 1, 5)), 3.2) * Double.random(in: 0.5...1.5)
        retryTimer?.add(timeout: delay)
    }

    private func retry() {
        if loaded {
            startWatch()
        } else {
            fullRead(reason: nil)
        }
    }

    /// The periodic re-open of a quiet watch, from the applied revision: nothing is missed.
    private func restartWatch() {
        guard live, watch != nil else { return }
        startWatch()
    }

    // MARK: - Publishing

    private func schedulePublish() {
        guard !publishPending else { return }
        publishPending = true
        publishTimer?.add(timeout: 0.01)
    }

    private func publishNow() {
        publishPending = false
        var snapshot = ConfigSnapshot()
        for resource in EtcdStore.resources {
            let items = entries[resource] ?? [:]
            for id in items.keys.sorted() { snapshot.add(items[id]!.converted) }
        }
        publish(snapshot)
    }

    private static let onRetry: event_callback_fn = { _, _, arg in
        guard let arg else { return }
        Unmanaged<EtcdStore>.fromOpaque(arg).takeUnretainedValue().retry()
    }

    private static let onPublish: event_callback_fn = { _, _, arg in
        guard let arg else { return }
        Unmanaged<EtcdStore>.fromOpaque(arg).takeUnretainedValue().publishNow()
    }

    private static let onRestart: event_callback_fn = { _, _, arg in
        guard let arg else { return }
        Unmanaged<EtcdStore>.fromOpaque(arg).takeUnretainedValue().restartWatch()
    }

    // MARK: - AdminStore writes

    func write(_ write: StoreWrite, done: @escaping (Result<StoreWriteResult, StoreWriteFailure>) -> Void) {
        switch write {
        case .put(let resource, let id, let value, let expected, let ttl?):
            // `?ttl=`: a lease first (etcd counts whole seconds), then the put under it.
            let seconds = max(1, Int(ttl.rounded(.up)))
            client.call("lease/grant", .object(["TTL": .string(String(seconds))])) { [weak self] result in
                guard let self else { return }
                switch result {
                case .failure(let error): done(.failure(.unavailable(error.message)))
                case .success(let json):
                    guard let lease = json["ID"]?.stringValue ?? json["ID"].flatMap(EtcdClient.int).map(String.init) else {
                        return done(.failure(.unavailable("etcd granted no lease: \(json["error"]?.stringValue ?? json.jsonText)")))
                    }
                    self.put(resource, id, value, expected: expected, lease: lease, done: done)
                }
            }
        case .put(let resource, let id, let value, let expected, nil):
            put(resource, id, value, expected: expected, lease: nil, done: done)
        case .delete(let resource, let id):
            delete(resource, id, done: done)
        }
    }

    /// A put (compare-and-swap on `expected` when given), under `lease` when given.
    private func put(_ resource: String, _ id: String, _ value: JSONValue, expected: Int?, lease: String?,
                     done: @escaping (Result<StoreWriteResult, StoreWriteFailure>) -> Void) {
        let key = "\(prefix)/\(resource)/\(id)"
        let stored = encrypted(value, resource: resource).jsonBytes
        var put: JSONValue = .object(["key": EtcdClient.key(key), "value": .string(Base64.encodedText(stored)),
                                      "prev_kv": true])
        if let lease { put = Resource.withMembers(put) { $0["lease"] = .string(lease) } }
        let path: String
        let body: JSONValue
        if let expected {
            path = "kv/txn"
            body = .object([
                "compare": .array([.object(["target": "MOD", "key": EtcdClient.key(key),
                                            "mod_revision": .string(String(expected))])]),
                "success": .array([.object(["request_put": put])]),
            ])
        } else {
            path = "kv/put"
            body = put
        }
        client.call(path, body) { [weak self] result in
            guard let self else { return }
            switch result {
            case .failure(let error): done(.failure(.unavailable(error.message)))
            case .success(let json):
                if expected != nil, json["succeeded"]?.boolValue != true { return done(.failure(.changed)) }
                let answer = expected != nil ? json["responses"]?.arrayValue?.first?["response_put"] ?? .null : json
                guard let revision = EtcdClient.int(json["header"]?["revision"]) else {
                    return done(.failure(.unavailable("etcd answered a put without a revision")))
                }
                let previous = answer["prev_kv"]
                let created = EtcdClient.int(previous?["create_revision"]) ?? revision
                let item = self.applyOwn(resource, id, value, created: created, modified: revision)
                done(.success(StoreWriteResult(item: item, existed: previous != nil)))
            }
        }
    }

    private func delete(_ resource: String, _ id: String, done: @escaping (Result<StoreWriteResult, StoreWriteFailure>) -> Void) {
        let key = "\(prefix)/\(resource)/\(id)"
        client.call("kv/deleterange", .object(["key": EtcdClient.key(key)])) { [weak self] result in
            guard let self else { return }
            switch result {
            case .failure(let error): done(.failure(.unavailable(error.message)))
            case .success(let json):
                guard (EtcdClient.int(json["deleted"]) ?? 0) > 0 else { return done(.failure(.notFound)) }
                let revision = EtcdClient.int(json["header"]?["revision"]) ?? self.revision
                if self.entries[resource]?.removeValue(forKey: id) != nil { self.schedulePublish() }
                self.deletedAt[key] = revision
                done(.success(StoreWriteResult(item: nil, existed: true)))
            }
        }
    }

    /// Puts this node's own accepted write in the copy at once (read-your-writes); the watch
    /// event for it is then recognized by its revision.
    private func applyOwn(_ resource: String, _ id: String, _ value: JSONValue, created: Int, modified: Int) -> StoredItem {
        let key = "\(prefix)/\(resource)/\(id)"
        deletedAt[key] = nil
        switch entry(resource, id, value, created: created, modified: modified) {
        case .success(let entry):
            if let current = entries[resource]?[id], current.item.modifiedIndex > modified { return entry.item }
            entries[resource, default: [:]][id] = entry
            schedulePublish()
            return entry.item
        case .failure(let error):
            logger.error("etcd: the value written to \(key) does not convert: \(error.message)")
            return StoredItem(value: value, createdIndex: created, modifiedIndex: modified)
        }
    }

    /// APISIX's `push`: a write to `<prefix>/gen_id`, whose revision is the id.
    func generateId(done: @escaping (Result<String, StoreWriteFailure>) -> Void) {
        let body: JSONValue = .object(["key": EtcdClient.key(prefix + "/gen_id"), "value": .string(Base64.encodedText("1".utf8))])
        client.call("kv/put", body) { result in
            switch result {
            case .failure(let error): done(.failure(.unavailable(error.message)))
            case .success(let json):
                guard let revision = EtcdClient.int(json["header"]?["revision"]) else {
                    return done(.failure(.unavailable("etcd answered a put without a revision")))
                }
                done(.success(Self.paddedId(revision)))
            }
        }
    }
}
