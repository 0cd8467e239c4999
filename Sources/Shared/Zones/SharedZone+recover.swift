// Repair after a process died holding the lock (`EOWNERDEAD`), and the invariant check tests use.
//
// The slots' states are the truth; everything else is rebuilt from them. The shapes a dead writer
// can leave (see `insert`, `remove`, `storeLocked`): a head or chunks still `writing`/unreachable
// (an insert that never committed, or a removal that freed its head), two live copies of one key
// (a replace between its commit and the removal of the old copy), and any half-updated bucket
// chain, free list or count. Counters are pinned heads that recovery never moves or frees, so the
// handles workers hold stay valid.

extension SharedZone {
    /// A state used only during recovery: a chunk reached from a live head.
    static let reachedChunk: UInt32 = 0xC0DE

    /// Rebuilds buckets, free list and counts from the slots. Runs with the lock held; idempotent.
    func recover() {
        atomicHeader(Header.recoveries).pointee.wrappingAdd(1, ordering: .relaxed)
        let highWater = min(Int(headerWord(Header.highWater)), slotCount)
        setHeaderWord(Header.highWater, UInt32(highWater))
        for index in 0..<bucketCount { bucket(index).pointee = 0 }

        // Uncommitted heads and chunks that do not belong to a complete live head go.
        for index in 0..<highWater {
            let current = state(index)
            if current == State.writing { setState(index, State.free) }
            if current == SharedZone.reachedChunk { setState(index, State.chunk) }
        }
        for index in 0..<highWater where state(index) == State.live {
            if !chainIsComplete(index) { setState(index, State.free) }
        }

        // Relink; of two copies of a key keep the later one.
        for index in 0..<highWater where state(index) == State.live {
            let hash = field(index, Slot.hash, as: UInt64.self)
            let other = keyBytes(index).withUnsafeBytes { find($0, hash: hash) }
            if let other {
                let mine = field(index, Slot.sequence, as: UInt64.self)
                let theirs = field(other, Slot.sequence, as: UInt64.self)
                if mine < theirs || isPinned(other) {
                    setState(index, State.free)
                    continue
                }
                unlinkForRecovery(other)
                setState(other, State.free)
            }
            let bucket = bucket(bucketIndex(hash))
            setField(index, Slot.bucketNext, bucket.pointee)
            bucket.pointee = UInt32(index + 1)
        }

        // Chunks reached from the surviving heads stay; the others are freed.
        for index in 0..<highWater where state(index) == State.live {
            forEachChunk(of: index) { setState($0, SharedZone.reachedChunk) }
        }
        var freeHead: UInt32 = 0
        var used: UInt32 = 0
        var live: UInt32 = 0
        for index in (0..<highWater).reversed() {
            switch state(index) {
            case SharedZone.reachedChunk:
                setState(index, State.chunk)
                used += 1
            case State.live:
                used += 1
                live += 1
            default:
                setState(index, State.free)
                setField(index, Slot.bucketNext, freeHead)
                freeHead = UInt32(index + 1)
            }
        }
        setHeaderWord(Header.freeHead, freeHead)
        setHeaderWord(Header.usedSlots, used)
        setHeaderWord(Header.liveEntries, live)
        setHeaderWord(Header.clockHand, 0)
    }

    /// Whether a live head's fields are sane and its chain has exactly the chunks its data needs,
    /// each in range and marked as a chunk (a committed head always has; this guards the rest).
    func chainIsComplete(_ head: Int) -> Bool {
        let keyLength = Int(field(head, Slot.keyLength, as: UInt16.self))
        let valueLength = Int(field(head, Slot.valueLength, as: UInt32.self))
        guard keyLength > 0, valueLength <= slotCount * ZoneLayout.chunkData else { return false }
        let expected = ZoneLayout.slotsNeeded(dataLength: keyLength + valueLength) - 1
        var link = field(head, Slot.chunkNext, as: UInt32.self)
        var count = 0
        while link != 0 {
            guard Int(link) <= slotCount, count < expected else { return false }
            let chunk = Int(link) - 1
            let chunkState = state(chunk)
            guard chunkState == State.chunk || chunkState == SharedZone.reachedChunk else { return false }
            count += 1
            link = field(chunk, Slot.chunkLink, as: UInt32.self)
        }
        return count == expected
    }

    func forEachChunk(of head: Int, _ body: (Int) -> Void) {
        var link = field(head, Slot.chunkNext, as: UInt32.self)
        var steps = 0
        while link != 0, Int(link) <= slotCount, steps < slotCount {
            let chunk = Int(link) - 1
            body(chunk)
            link = field(chunk, Slot.chunkLink, as: UInt32.self)
            steps += 1
        }
    }

    /// Takes a head out of its bucket chain without touching the counts (recovery recomputes them).
    func unlinkForRecovery(_ head: Int) {
        let hash = field(head, Slot.hash, as: UInt64.self)
        let bucket = bucket(bucketIndex(hash))
        let next = field(head, Slot.bucketNext, as: UInt32.self)
        if bucket.pointee == UInt32(head + 1) {
            bucket.pointee = next
            return
        }
        var link = bucket.pointee
        while link != 0, Int(link) <= slotCount {
            let index = Int(link) - 1
            let following = field(index, Slot.bucketNext, as: UInt32.self)
            if following == UInt32(head + 1) {
                setField(index, Slot.bucketNext, next)
                return
            }
            link = following
        }
    }

    /// The table's invariants, checked under the lock: every live head is in its bucket's chain
    /// once and no key twice, chains hold only live heads, every slot below the high-water mark is
    /// live, a reachable chunk or on the free list exactly once, and the counts match. Nil when all
    /// hold, else what failed. For tests.
    func verify() -> String? {
        withLock { () -> String? in
            let highWater = Int(headerWord(Header.highWater))
            var role = [UInt8](repeating: 0, count: highWater)  // 1 head, 2 chunk, 3 free
            var live = 0
            for bucketNumber in 0..<bucketCount {
                var link = bucket(bucketNumber).pointee
                var keys: [[UInt8]] = []
                while link != 0 {
                    guard Int(link) <= highWater else { return "bucket \(bucketNumber): link \(link) out of range" }
                    let index = Int(link) - 1
                    guard state(index) == State.live else { return "bucket \(bucketNumber): slot \(index) not live" }
                    guard role[index] == 0 else { return "slot \(index) linked twice" }
                    guard bucketIndex(field(index, Slot.hash, as: UInt64.self)) == bucketNumber else {
                        return "slot \(index) in the wrong bucket"
                    }
                    guard chainIsComplete(index) else { return "slot \(index): incomplete chunk chain" }
                    role[index] = 1
                    live += 1
                    let key = keyBytes(index)
                    guard !keys.contains(key) else { return "bucket \(bucketNumber): a key twice" }
                    keys.append(key)
                    var clash: String?
                    forEachChunk(of: index) { chunk in
                        if chunk >= highWater || role[chunk] != 0 { clash = "chunk \(chunk) shared or out of range" }
                        else { role[chunk] = 2 }
                    }
                    if let clash { return clash }
                    link = field(index, Slot.bucketNext, as: UInt32.self)
                }
            }
            var free = headerWord(Header.freeHead)
            while free != 0 {
                guard Int(free) <= highWater else { return "free list: link \(free) out of range" }
                let index = Int(free) - 1
                guard role[index] == 0, state(index) == State.free else { return "free list: slot \(index) in use" }
                role[index] = 3
                free = field(index, Slot.bucketNext, as: UInt32.self)
            }
            if let lost = role.firstIndex(of: 0) { return "slot \(lost) (state \(state(lost))) is in no structure" }
            let used = role.count(where: { $0 == 1 || $0 == 2 })
            guard used == Int(headerWord(Header.usedSlots)) else {
                return "usedSlots \(headerWord(Header.usedSlots)), counted \(used)"
            }
            guard live == Int(headerWord(Header.liveEntries)) else {
                return "liveEntries \(headerWord(Header.liveEntries)), counted \(live)"
            }
            return nil
        }
    }

    func keyBytes(_ index: Int) -> [UInt8] {
        let keyLength = Int(field(index, Slot.keyLength, as: UInt16.self))
        var key = [UInt8](repeating: 0, count: keyLength)
        var offset = 0
        key.withUnsafeMutableBytes { out in
            visitData(index, from: 0, count: keyLength) { segment, length in
                (out.baseAddress! + offset).copyMemory(from: segment, byteCount: length)
                offset += length
                return true
            }
        }
        return key
    }
}
