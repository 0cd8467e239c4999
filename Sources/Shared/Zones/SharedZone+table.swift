// The table's internals, all with the lock held: lookup along a bucket chain, slot allocation,
// insertion that commits last, removal that frees the head first, and the CLOCK eviction sweep.

#if canImport(Glibc)
import Glibc
#endif

extension SharedZone {
    typealias Slot = ZoneLayout.Slot
    typealias Header = ZoneLayout.Header
    typealias State = ZoneLayout.State

    /// What eviction may remove to make room.
    enum EvictionPolicy {
        /// Expired entries only (`safe_set`, `safe_add`).
        case expiredOnly
        /// Expired entries, then the least recently used unexpired ones (`set`, `add`, `incr`).
        case any
    }

    /// How far one eviction sweep looks for an unreferenced entry before it takes the first
    /// evictable one it passed: the bound on a worker's time in a full zone.
    static let sweepLimit = 256

    // MARK: - Hashing and lookup

    /// FNV-1a over the key from a per-zone seed, then MurmurHash3's finaliser so that the low bits
    /// the bucket index uses depend on every byte.
    func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for byte in key { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        value ^= value >> 33
        value &*= 0xff51_afd7_ed55_8ccd
        value ^= value >> 33
        value &*= 0xc4ce_b9fe_1a85_ec53
        value ^= value >> 33
        return value
    }

    @inline(__always)
    func bucketIndex(_ hash: UInt64) -> Int { Int(hash % UInt64(bucketCount)) }

    /// Visits `count` bytes of an entry's data from `start`, segment by segment (head, then chunks).
    /// `body` returns false to stop. A chain shorter than the data (only possible in a damaged
    /// table) ends the visit early.
    func visitData(_ head: Int, from start: Int, count: Int,
                   _ body: (UnsafeMutableRawPointer, Int) -> Bool) {
        var segment = slot(head) + Slot.data
        var capacity = ZoneLayout.headData
        var next = field(head, Slot.chunkNext, as: UInt32.self)
        var skip = start
        var remaining = count
        while remaining > 0 {
            if skip < capacity {
                let length = min(capacity - skip, remaining)
                if !body(segment + skip, length) { return }
                remaining -= length
                skip = 0
            } else {
                skip -= capacity
            }
            guard remaining > 0 else { return }
            guard next != 0, Int(next) <= slotCount else { return }
            let chunk = Int(next) - 1
            segment = slot(chunk) + Slot.chunkBytes
            capacity = ZoneLayout.chunkData
            next = field(chunk, Slot.chunkLink, as: UInt32.self)
        }
    }

    func keyEquals(_ head: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        guard Int(field(head, Slot.keyLength, as: UInt16.self)) == key.count else { return false }
        var offset = 0
        var equal = true
        visitData(head, from: 0, count: key.count) { segment, length in
            equal = memcmp(segment, key.baseAddress! + offset, length) == 0
            offset += length
            return equal
        }
        return equal && offset == key.count
    }

    /// The live head holding `key`, expired or not.
    func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        var link = bucket(bucketIndex(hash)).pointee
        var steps = 0
        while link != 0, Int(link) <= slotCount, steps < slotCount {
            let index = Int(link) - 1
            if state(index) == State.live, field(index, Slot.hash, as: UInt64.self) == hash, keyEquals(index, key) {
                return index
            }
            link = field(index, Slot.bucketNext, as: UInt32.self)
            steps += 1
        }
        return nil
    }

    @inline(__always)
    func isExpired(_ index: Int, now: Int64) -> Bool {
        let expiresAt = field(index, Slot.expiresAt, as: Int64.self)
        return expiresAt != 0 && expiresAt <= now
    }

    @inline(__always)
    func isPinned(_ index: Int) -> Bool { field(index, Slot.flags, as: UInt8.self) & ZoneLayout.Flag.pinned != 0 }

    @inline(__always)
    func touch(_ index: Int) {
        let flags = field(index, Slot.flags, as: UInt8.self)
        if flags & ZoneLayout.Flag.referenced == 0 { setField(index, Slot.flags, flags | ZoneLayout.Flag.referenced) }
    }

    func value(of index: Int) -> ZoneValue {
        let bits = number(index).pointee.load(ordering: .relaxed)
        switch field(index, Slot.kind, as: UInt8.self) {
        case 1: return .integer(Int64(bitPattern: bits))
        case 2: return .double(Double(bitPattern: bits))
        case 3: return .bool(bits != 0)
        default:
            let keyLength = Int(field(index, Slot.keyLength, as: UInt16.self))
            let valueLength = Int(field(index, Slot.valueLength, as: UInt32.self))
            var bytes = [UInt8](repeating: 0, count: valueLength)
            var offset = 0
            bytes.withUnsafeMutableBytes { out in
                visitData(index, from: keyLength, count: valueLength) { segment, length in
                    (out.baseAddress! + offset).copyMemory(from: segment, byteCount: length)
                    offset += length
                    return true
                }
            }
            return .bytes(bytes)
        }
    }

    // MARK: - Slots

    var freeSlots: Int { slotCount - Int(headerWord(Header.usedSlots)) }

    /// A free slot, from the free list or never used; nil when none is left.
    func takeSlot() -> Int? {
        let head = headerWord(Header.freeHead)
        if head != 0, Int(head) <= slotCount {
            let index = Int(head) - 1
            setHeaderWord(Header.freeHead, field(index, Slot.bucketNext, as: UInt32.self))
            setHeaderWord(Header.usedSlots, headerWord(Header.usedSlots) + 1)
            return index
        }
        let highWater = headerWord(Header.highWater)
        guard Int(highWater) < slotCount else { return nil }
        setHeaderWord(Header.highWater, highWater + 1)
        setHeaderWord(Header.usedSlots, headerWord(Header.usedSlots) + 1)
        return Int(highWater)
    }

    /// Frees a slot: state first (the commit), then the free list, which a recovery rebuilds anyway.
    func releaseSlot(_ index: Int) {
        setState(index, State.free)
        setField(index, Slot.bucketNext, headerWord(Header.freeHead))
        setHeaderWord(Header.freeHead, UInt32(index + 1))
        setHeaderWord(Header.usedSlots, headerWord(Header.usedSlots) - 1)
    }

    // MARK: - Insert and remove

    /// Writes a new entry and commits it (without looking for an existing copy of the key).
    /// The caller has made sure `slotsNeeded` slots are free.
    func insert(_ key: UnsafeRawBufferPointer, hash: UInt64, value: ZoneValue, expiresAt: Int64, pinned: Bool) -> Int {
        let dataLength = key.count + value.byteCount
        let head = takeSlot()!
        setState(head, State.writing)
        setField(head, Slot.kind, value.kind)
        setField(head, Slot.flags, (pinned ? ZoneLayout.Flag.pinned : 0) | ZoneLayout.Flag.referenced)
        setField(head, Slot.keyLength, UInt16(key.count))
        setField(head, Slot.valueLength, UInt32(value.byteCount))
        setField(head, Slot.hash, hash)
        let sequence = base.load(fromByteOffset: Header.sequence, as: UInt64.self) &+ 1
        base.storeBytes(of: sequence, toByteOffset: Header.sequence, as: UInt64.self)
        setField(head, Slot.sequence, sequence)
        setField(head, Slot.expiresAt, expiresAt)
        number(head).pointee.store(value.number, ordering: .relaxed)
        setField(head, Slot.userFlags, UInt32(0))
        // The chunk chain, each chunk marked before the head can become live.
        var previous = head
        var linkOffset = Slot.chunkNext
        for _ in 1..<ZoneLayout.slotsNeeded(dataLength: dataLength) {
            let chunk = takeSlot()!
            setState(chunk, State.chunk)
            setField(chunk, Slot.chunkLink, UInt32(0))
            setField(previous, linkOffset, UInt32(chunk + 1))
            previous = chunk
            linkOffset = Slot.chunkLink
        }
        setField(previous, linkOffset, UInt32(0))
        var offset = 0
        visitData(head, from: 0, count: key.count) { segment, length in
            segment.copyMemory(from: key.baseAddress! + offset, byteCount: length)
            offset += length
            return true
        }
        if case .bytes(let bytes) = value, !bytes.isEmpty {
            offset = 0
            bytes.withUnsafeBytes { source in
                visitData(head, from: key.count, count: bytes.count) { segment, length in
                    segment.copyMemory(from: source.baseAddress! + offset, byteCount: length)
                    offset += length
                    return true
                }
            }
        }
        let bucket = bucket(bucketIndex(hash))
        setField(head, Slot.bucketNext, bucket.pointee)
        bucket.pointee = UInt32(head + 1)
        if crashPoint == .beforeCommit { crash() }
        setState(head, State.live)
        setHeaderWord(Header.liveEntries, headerWord(Header.liveEntries) + 1)
        return head
    }

    /// Removes a live entry: its head is freed first (the commit: from then on the entry is
    /// gone), then unlinked, then its chunks are returned.
    func remove(_ head: Int) {
        let hash = field(head, Slot.hash, as: UInt64.self)
        var chunkLink = field(head, Slot.chunkNext, as: UInt32.self)
        setState(head, State.free)
        setHeaderWord(Header.liveEntries, headerWord(Header.liveEntries) - 1)
        let bucket = bucket(bucketIndex(hash))
        let next = field(head, Slot.bucketNext, as: UInt32.self)
        if bucket.pointee == UInt32(head + 1) {
            bucket.pointee = next
        } else {
            var link = bucket.pointee
            var steps = 0
            while link != 0, Int(link) <= slotCount, steps < slotCount {
                let index = Int(link) - 1
                let following = field(index, Slot.bucketNext, as: UInt32.self)
                if following == UInt32(head + 1) {
                    setField(index, Slot.bucketNext, next)
                    break
                }
                link = following
                steps += 1
            }
        }
        // The head slot's own free-list link reuses bucketNext: only after the unlink.
        setField(head, Slot.bucketNext, headerWord(Header.freeHead))
        setHeaderWord(Header.freeHead, UInt32(head + 1))
        setHeaderWord(Header.usedSlots, headerWord(Header.usedSlots) - 1)
        if crashPoint == .beforeFreeingChunks { crash() }
        var steps = 0
        while chunkLink != 0, Int(chunkLink) <= slotCount, steps < slotCount {
            let chunk = Int(chunkLink) - 1
            guard state(chunk) == State.chunk else { break }
            chunkLink = field(chunk, Slot.chunkLink, as: UInt32.self)
            releaseSlot(chunk)
            steps += 1
        }
    }

    // MARK: - Eviction

    /// Frees slots until `needed` are free. Returns the number of unexpired entries evicted, or nil
    /// when the policy allows no more (then nothing more is removed).
    func reserve(_ needed: Int, policy: EvictionPolicy, protecting protected: Int?, now: Int64) -> Int? {
        var forced = 0
        while freeSlots < needed {
            guard let victim = nextVictim(policy: policy, protecting: protected, now: now) else { return nil }
            if !isExpired(victim, now: now) { forced += 1 }
            remove(victim)
        }
        return forced
    }

    /// One CLOCK sweep from the hand: the first expired entry, else (policy `.any`) the first
    /// unreferenced one, clearing referenced bits on the way; after ``sweepLimit`` slots without
    /// either, the first evictable entry passed. Counters and `protected` are never chosen. A sweep
    /// looks at 4 x ``sweepLimit`` slots at most (``sweepLimit`` for expired entries only), so an
    /// operation in a zone full of counters is refused quickly instead of walking it all.
    func nextVictim(policy: EvictionPolicy, protecting protected: Int?, now: Int64) -> Int? {
        let highWater = Int(headerWord(Header.highWater))
        guard highWater > 0 else { return nil }
        var hand = Int(headerWord(Header.clockHand)) % highWater
        var fallback: Int?
        var steps = 0
        // Up to two turns (the first may only clear referenced bits), bounded for big zones.
        let limit = min(2 * highWater, policy == .any ? 4 * SharedZone.sweepLimit : SharedZone.sweepLimit)
        while steps < limit {
            let index = hand
            hand = (hand + 1) % highWater
            steps += 1
            guard state(index) == State.live, !isPinned(index), index != protected else { continue }
            if isExpired(index, now: now) {
                setHeaderWord(Header.clockHand, UInt32(hand))
                return index
            }
            guard policy == .any else { continue }
            let flags = field(index, Slot.flags, as: UInt8.self)
            if flags & ZoneLayout.Flag.referenced == 0 {
                setHeaderWord(Header.clockHand, UInt32(hand))
                return index
            }
            setField(index, Slot.flags, flags & ~ZoneLayout.Flag.referenced)
            if fallback == nil { fallback = index }
            if steps >= SharedZone.sweepLimit, let fallback {
                setHeaderWord(Header.clockHand, UInt32(hand))
                return fallback
            }
        }
        setHeaderWord(Header.clockHand, UInt32(hand))
        return policy == .any ? fallback : nil
    }
}
