// The `ngx.shared.DICT` operations (lua-nginx-module's `get`, `set`, `safe_set`, `add`,
// `safe_add`, `replace`, `incr`, `delete`, `ttl`, `expire`, `flush_all`, `flush_expired`), plus
// counters. Time-to-live is in seconds, 0 meaning never; `now` is the monotonic clock in ms and
// exists so tests can move time.

#if canImport(Glibc)
import Glibc
#endif

extension SharedZone {
    /// How `store` treats a key that exists.
    enum StoreMode { case always, onlyIfAbsent, onlyIfPresent }

    /// The value of `key`; nil when absent or expired.
    package func get(_ key: String, now: Int64 = SharedZone.monotonicMilliseconds()) -> ZoneValue? {
        let found = try? withKey(key) { key, hash in
            withLock { () -> ZoneValue? in
                guard let index = find(key, hash: hash), isPinned(index) || !isExpired(index, now: now) else { return nil }
                touch(index)
                return value(of: index)
            }
        }
        return found ?? nil
    }

    /// Stores `value` under `key`, evicting expired and then least recently used entries when the
    /// zone is full. Returns how many unexpired entries were evicted (lua's `forcible`).
    @discardableResult
    package func set(_ key: String, _ value: ZoneValue, ttl: Double = 0,
                     now: Int64 = SharedZone.monotonicMilliseconds()) throws(ZoneError) -> Int {
        try store(key, value, ttl: ttl, mode: .always, policy: .any, now: now)
    }

    /// `set` that evicts only expired entries: `no memory` instead of pushing anything out.
    package func safeSet(_ key: String, _ value: ZoneValue, ttl: Double = 0,
                         now: Int64 = SharedZone.monotonicMilliseconds()) throws(ZoneError) {
        try store(key, value, ttl: ttl, mode: .always, policy: .expiredOnly, now: now)
    }

    /// `set` only when `key` is absent or expired; `exists` otherwise.
    @discardableResult
    package func add(_ key: String, _ value: ZoneValue, ttl: Double = 0,
                     now: Int64 = SharedZone.monotonicMilliseconds()) throws(ZoneError) -> Int {
        try store(key, value, ttl: ttl, mode: .onlyIfAbsent, policy: .any, now: now)
    }

    /// `add` that evicts only expired entries.
    package func safeAdd(_ key: String, _ value: ZoneValue, ttl: Double = 0,
                         now: Int64 = SharedZone.monotonicMilliseconds()) throws(ZoneError) {
        try store(key, value, ttl: ttl, mode: .onlyIfAbsent, policy: .expiredOnly, now: now)
    }

    /// `set` only when `key` holds an unexpired value; `not found` otherwise.
    @discardableResult
    package func replace(_ key: String, _ value: ZoneValue, ttl: Double = 0,
                         now: Int64 = SharedZone.monotonicMilliseconds()) throws(ZoneError) -> Int {
        try store(key, value, ttl: ttl, mode: .onlyIfPresent, policy: .any, now: now)
    }

    /// Adds `amount` to the integer under `key` and returns the result. A missing or expired key
    /// is `not found`, unless `initial` is given: then it is created as `initial + amount`, with
    /// `initialTTL`. An existing value keeps its expiry, as in nginx.
    @discardableResult
    package func incr(_ key: String, by amount: Int64, initial: Int64? = nil, initialTTL: Double = 0,
                      now: Int64 = SharedZone.monotonicMilliseconds()) throws(ZoneError) -> Int64 {
        let outcome: (result: Result<Int64, ZoneError>, evicted: Int) = try withKey(key) { key, hash throws(ZoneError) in
            withLock {
                if let index = find(key, hash: hash), isPinned(index) || !isExpired(index, now: now) {
                    guard field(index, Slot.kind, as: UInt8.self) == ZoneValue.integer(0).kind else {
                        return (.failure(.notANumber), 0)
                    }
                    touch(index)
                    let bits = UInt64(bitPattern: amount)
                    let previous = number(index).pointee.wrappingAdd(bits, ordering: .relaxed).oldValue
                    return (.success(Int64(bitPattern: previous &+ bits)), 0)
                }
                guard let initial else { return (.failure(.notFound), 0) }
                let created = initial &+ amount
                let result = storeLocked(key, hash: hash, .integer(created), expiresAt: expiry(initialTTL, now),
                                         mode: .always, policy: .any, now: now)
                return (result.map { _ in created }, (try? result.get()) ?? 0)
            }
        }
        report(key, outcome.result.map { _ in outcome.evicted }, bytes: key.utf8.count)
        return try outcome.result.get()
    }

    /// Removes `key`. Counters cannot be deleted (`is a counter`): their handles are held.
    package func delete(_ key: String) throws(ZoneError) {
        try withKey(key) { key, hash throws(ZoneError) in
            try withLock { () throws(ZoneError) in
                guard let index = find(key, hash: hash) else { return }
                if isPinned(index) { throw .counter }
                remove(index)
            }
        }
    }

    /// Seconds `key` has left (0 when it never expires); `not found` when absent or expired.
    package func ttl(_ key: String, now: Int64 = SharedZone.monotonicMilliseconds()) throws(ZoneError) -> Double {
        try withKey(key) { key, hash throws(ZoneError) in
            try withLock { () throws(ZoneError) in
                guard let index = find(key, hash: hash), !isExpired(index, now: now) else { throw .notFound }
                let expiresAt = field(index, Slot.expiresAt, as: Int64.self)
                return expiresAt == 0 ? 0 : Double(expiresAt - now) / 1000
            }
        }
    }

    /// Gives `key` a new time to live (0: never expires); `not found` when absent or expired.
    package func expire(_ key: String, ttl: Double, now: Int64 = SharedZone.monotonicMilliseconds()) throws(ZoneError) {
        try withKey(key) { key, hash throws(ZoneError) in
            try withLock { () throws(ZoneError) in
                guard let index = find(key, hash: hash), !isExpired(index, now: now) else { throw .notFound }
                if isPinned(index) { throw .counter }
                // One aligned 8-byte store: a writer killed here leaves the old or the new time.
                setField(index, Slot.expiresAt, expiry(ttl, now))
            }
        }
    }

    /// A counter under `key`, created at 0 when absent: a handle to add to without the lock
    /// (``ZoneCounter``). The same key always gives the same counter, in every process.
    /// `exists` when the key holds an ordinary value; `not a number` when it is a counter of the
    /// other kind; `no memory` when the zone is full even after evicting ordinary entries.
    package func counter(_ key: String, kind: ZoneCounter.Kind = .integer,
                         now: Int64 = SharedZone.monotonicMilliseconds()) throws(ZoneError) -> ZoneCounter {
        let initial: ZoneValue = kind == .integer ? .integer(0) : .double(0)
        let outcome: (result: Result<Int, ZoneError>, evicted: Int) = try withKey(key) { key, hash in
            withLock {
                if let index = find(key, hash: hash) {
                    if isPinned(index) {
                        guard field(index, Slot.kind, as: UInt8.self) == initial.kind else { return (.failure(.notANumber), 0) }
                        return (.success(index), 0)
                    }
                    guard isExpired(index, now: now) else { return (.failure(.exists), 0) }
                    remove(index)
                }
                guard let evicted = reserve(needed(key, initial), policy: .any, protecting: nil, now: now) else {
                    return (.failure(.noMemory), 0)
                }
                return (.success(insert(key, hash: hash, value: initial, expiresAt: 0, pinned: true)), evicted)
            }
        }
        report(key, outcome.result.map { _ in outcome.evicted }, bytes: key.utf8.count)
        let index = try outcome.result.get()
        return ZoneCounter(word: number(index), kind: kind)
    }

    /// Frees every expired entry, at most `limit` (0: all); returns how many. Walks the zone in
    /// batches, taking the lock per batch: for the control process's timer, never a worker.
    @discardableResult
    package func flushExpired(limit: Int = 0, now: Int64 = SharedZone.monotonicMilliseconds()) -> Int {
        var freed = 0
        walk { index in
            guard !isPinned(index), isExpired(index, now: now) else { return true }
            remove(index)
            freed += 1
            return limit == 0 || freed < limit
        }
        return freed
    }

    /// Removes every entry except counters (nginx's `flush_all` followed by `flush_expired`).
    package func flushAll() {
        walk { index in
            if !isPinned(index) { remove(index) }
            return true
        }
    }

    /// Calls `body` with every unexpired entry, counters included. Entries are copied out a batch
    /// at a time and `body` runs without the lock (it may use the zone); an entry written while
    /// the walk runs may or may not be seen.
    package func forEachEntry(now: Int64 = SharedZone.monotonicMilliseconds(),
                              _ body: (_ key: String, _ value: ZoneValue) -> Void) {
        var start = 0
        while true {
            var batch: [(String, ZoneValue)] = []
            let next: Int? = withLock {
                let highWater = Int(headerWord(Header.highWater))
                guard start < highWater else { return nil }
                let end = min(highWater, start + SharedZone.walkBatch)
                for index in start..<end where state(index) == State.live {
                    guard isPinned(index) || !isExpired(index, now: now) else { continue }
                    batch.append((String(decoding: keyBytes(index), as: UTF8.self), value(of: index)))
                }
                return end
            }
            for (key, value) in batch { body(key, value) }
            guard let next else { return }
            start = next
        }
    }

    /// Seconds; a time to live this long or longer never expires.
    static let longestTTL: Double = 100 * 365 * 86400

    /// Slots one lock hold of a zone walk covers.
    static let walkBatch = 1024

    // MARK: - Internals

    /// Visits live heads a batch at a time under the lock; `body` returns false to stop.
    func walk(_ body: (Int) -> Bool) {
        var start = 0
        var going = true
        while going {
            let more: Bool = withLock {
                let highWater = Int(headerWord(Header.highWater))
                guard start < highWater else { return false }
                let end = min(highWater, start + SharedZone.walkBatch)
                for index in start..<end where state(index) == State.live {
                    if !body(index) { going = false; break }
                }
                start = end
                return end < highWater
            }
            if !more { return }
        }
    }

    func needed(_ key: UnsafeRawBufferPointer, _ value: ZoneValue) -> Int {
        ZoneLayout.slotsNeeded(dataLength: key.count + value.byteCount)
    }

    func expiry(_ ttl: Double, _ now: Int64) -> Int64 {
        // A negative time is taken as "never", as a zero one is; so is one past any clock
        // (a century), which would overflow the deadline.
        guard ttl > 0, ttl < SharedZone.longestTTL else { return 0 }
        return now + max(1, Int64((ttl * 1000).rounded(.up)))
    }

    /// Checks the key as nginx does and runs `body` with its bytes and hash.
    func withKey<T>(_ key: String, _ body: (UnsafeRawBufferPointer, UInt64) throws(ZoneError) -> T) throws(ZoneError) -> T {
        var key = key
        // withUTF8 rethrows untyped errors: carry the typed one out as a Result.
        let result = key.withUTF8 { bytes -> Result<T, ZoneError> in
            guard bytes.count > 0 else { return .failure(.emptyKey) }
            guard bytes.count <= ZoneLayout.maximumKeyLength else { return .failure(.keyTooLong) }
            let raw = UnsafeRawBufferPointer(bytes)
            do throws(ZoneError) { return .success(try body(raw, hash(raw))) } catch { return .failure(error) }
        }
        return try result.get()
    }

    func store(_ key: String, _ value: ZoneValue, ttl: Double, mode: StoreMode, policy: EvictionPolicy,
               now: Int64) throws(ZoneError) -> Int {
        let result: Result<Int, ZoneError> = try withKey(key) { key, hash in
            withLock { storeLocked(key, hash: hash, value, expiresAt: expiry(ttl, now), mode: mode, policy: policy, now: now) }
        }
        report(key, result, bytes: key.utf8.count + value.byteCount)
        return try result.get()
    }

    /// `set` and its variants with the lock held. A replaced key gets a new copy, committed before
    /// the old one is removed, so a writer killed in between leaves one value or the other, never
    /// a mix. When there is no room for both, the old copy goes first (nginx frees it too): a
    /// writer killed then, or a `no memory`, leaves the key absent, never half-written.
    func storeLocked(_ key: UnsafeRawBufferPointer, hash: UInt64, _ value: ZoneValue, expiresAt: Int64,
                     mode: StoreMode, policy: EvictionPolicy, now: Int64) -> Result<Int, ZoneError> {
        var existing = find(key, hash: hash)
        if let index = existing {
            if isPinned(index) { return .failure(.counter) }
            let current = !isExpired(index, now: now)
            if mode == .onlyIfAbsent && current { return .failure(.exists) }
            if mode == .onlyIfPresent && !current { return .failure(.notFound) }
            if !current {
                remove(index)
                existing = nil
            }
        } else if mode == .onlyIfPresent {
            return .failure(.notFound)
        }
        let slots = needed(key, value)
        guard slots <= slotCount, value.byteCount <= Int(UInt32.max) else {
            if let index = existing { remove(index) }
            return .failure(.noMemory)
        }
        // Replacing in a full zone: the old copy's room first, as nginx reuses its node, rather
        // than evicting another entry to make room for a moment.
        if let index = existing, freeSlots < slots {
            remove(index)
            existing = nil
        }
        var evicted = reserve(slots, policy: policy, protecting: existing, now: now)
        if evicted == nil, let index = existing {
            remove(index)
            existing = nil
            evicted = reserve(slots, policy: policy, protecting: nil, now: now)
        }
        guard let evicted else { return .failure(.noMemory) }
        _ = insert(key, hash: hash, value: value, expiresAt: expiresAt, pinned: false)
        if let index = existing {
            if crashPoint == .beforeRemovingOld { crash() }
            remove(index)
        }
        return .success(evicted)
    }

    /// Counts and logs a full zone: evictions of unexpired entries and refusals.
    func report(_ key: String, _ result: Result<Int, ZoneError>, bytes: Int) {
        switch result {
        case .success(let evicted) where evicted > 0:
            atomicHeader(Header.evictions).pointee.wrappingAdd(UInt64(evicted), ordering: .relaxed)
            pressure.note(.evicted(evicted), zone: name, key: key, bytes: bytes, logger: logger)
        case .failure(.noMemory):
            atomicHeader(Header.refusals).pointee.wrappingAdd(1, ordering: .relaxed)
            pressure.note(.refused, zone: name, key: key, bytes: bytes, logger: logger)
        default:
            break
        }
    }
}
