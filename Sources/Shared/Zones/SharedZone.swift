// Shared memory zones: nginx's `lua_shared_dict` (lua-nginx-module `ngx_http_lua_shdict.c`), for a
// node of N workers and one control process that must see one count, one limit, one health state.
//
// Design
// ------
// * The master maps each zone with `mmap(MAP_SHARED | MAP_ANONYMOUS)` before it forks, so every
//   child inherits the same pages at the same address (nginx's `ngx_shm_alloc`). There is no file
//   and no name in the file system: a zone dies with the last process that maps it.
// * A zone is fixed-size slots plus a bucket array (ZoneLayout.swift): no allocator that a dead
//   process could leave half-updated. An entry is a head slot and, when key + value exceed 72
//   bytes, a chain of chunk slots.
// * Counters are lock-free: a counter is a pinned entry whose 8-byte number word takes atomic
//   adds (``ZoneCounter``). The lock is taken once, to find or create it.
// * The table (get/set/add/replace/incr/delete with expiry) is under one robust process-shared
//   mutex (``ZoneLock``). Every change commits with a single release store of a slot's state, in
//   an order that a dead writer can only leave in one of a few recognisable shapes: a slot being
//   written (free it), an old and a new copy of one key (keep the higher sequence number), a freed
//   head whose chunks are not yet returned (sweep them). Bucket chains, the free list and the
//   counts are derived from the slots alone, so the process that gets `EOWNERDEAD` rebuilds them
//   (`SharedZone+recover.swift`). Recovery is idempotent: a recoverer killed while recovering
//   hands the same job to the next one.
// * A full zone evicts as nginx's does: expired entries first, then (except for `safeSet`/`add`
//   in safe mode and for counters) the least recently used by a CLOCK sweep with referenced bits,
//   bounded per operation. An entry that still does not fit is refused with `no memory`. Both
//   are counted in the header and said in error.log, at most once a second per zone and process.
// * Walks of a whole zone (`flushExpired`, `forEachEntry`) take the lock per batch of slots, so
//   the control process that runs them never holds workers up for long.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One shared memory zone: a hash table with expiry and lock-free counters in `MAP_SHARED`
/// memory (nginx's `ngx.shared.DICT`).
///
/// Confinement: the object is per process (its `logger` is this process's); the memory it wraps is
/// shared by every process forked after ``map(name:size:)``, and every operation is safe against
/// the others, across processes and threads, and against any of them dying at any instant.
package final class SharedZone: @unchecked Sendable {
    /// The `lua_shared_dict` name, e.g. `prometheus-metrics`.
    package let name: String
    /// Bytes mapped, as configured (`10m` = 10485760). nginx's `capacity()`.
    package let size: Int
    let base: UnsafeMutableRawPointer
    let slotCount: Int
    let bucketCount: Int
    let slotsOffset: Int
    let lock: ZoneLock
    let seed: UInt64
    /// Where this process says that the zone is full. Set by each process after fork.
    package var logger: Logger?
    var pressure = ZonePressureLog()
    /// Tests: die with SIGKILL at this point of a table change, holding the lock.
    var crashPoint: CrashPoint?

    /// The places a test can kill a writer at (``crashPoint``).
    enum CrashPoint: Equatable {
        /// The new entry's slots are taken and written, not committed.
        case beforeCommit
        /// A replaced key's new copy is committed, the old one still live.
        case beforeRemovingOld
        /// An entry's head is freed, its chunks not yet returned.
        case beforeFreeingChunks
        /// Just after taking the lock, before touching anything.
        case holdingLock
    }

    /// A mapping that could not be made; `message` reads as nginx's.
    package struct MapError: Error, Sendable, Equatable {
        package var message: String
    }

    private init(name: String, size: Int, base: UnsafeMutableRawPointer) {
        self.name = name
        self.size = size
        self.base = base
        let geometry = ZoneLayout.geometry(size: size)
        slotCount = geometry.slotCount
        bucketCount = geometry.bucketCount
        slotsOffset = geometry.slotsOffset
        lock = ZoneLock(at: base + ZoneLayout.Header.mutex)
        seed = base.load(fromByteOffset: ZoneLayout.Header.seed, as: UInt64.self)
    }

    deinit {
        munmap(base, size)
    }

    /// Maps and formats a new zone of `size` bytes (at least 8192, nginx's minimum). Processes
    /// forked afterwards share it; this object unmaps this process's view when it goes away.
    package static func map(name: String, size: Int) throws(MapError) -> SharedZone {
        // Slot indices are 32-bit: 500 GiB and more would not be addressable.
        guard size >= ZoneLayout.minimumSize, ZoneLayout.geometry(size: size).slotCount < Int(UInt32.max) else {
            throw MapError(message: "invalid lua shared dict size \"\(size)\" for shared zone \"\(name)\"")
        }
        guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
              base != MAP_FAILED else {
            throw MapError(message: "mmap(MAP_ANON|MAP_SHARED, \(size)) failed (\(errno): \(errnoString(errno))) "
                + "for shared zone \"\(name)\"")
        }
        let geometry = ZoneLayout.geometry(size: size)
        typealias H = ZoneLayout.Header
        base.storeBytes(of: UInt64(size), toByteOffset: H.size, as: UInt64.self)
        base.storeBytes(of: UInt32(geometry.slotCount), toByteOffset: H.slotCount, as: UInt32.self)
        base.storeBytes(of: UInt32(geometry.bucketCount), toByteOffset: H.bucketCount, as: UInt32.self)
        base.storeBytes(of: UInt64(ZoneLayout.headerSize), toByteOffset: H.bucketsOffset, as: UInt64.self)
        base.storeBytes(of: UInt64(geometry.slotsOffset), toByteOffset: H.slotsOffset, as: UInt64.self)
        // Keys come from clients (limit-count keys carry their address): a secret seed keeps
        // anyone from choosing keys that all land in one bucket.
        base.storeBytes(of: UInt64.random(in: .min ... .max), toByteOffset: H.seed, as: UInt64.self)
        let nameBytes = Array(name.utf8.prefix(H.nameCapacity))
        base.storeBytes(of: UInt32(nameBytes.count), toByteOffset: H.nameLength, as: UInt32.self)
        nameBytes.withUnsafeBytes { (base + H.name).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let result = ZoneLock(at: base + H.mutex).initialise()
        if result != 0 {
            munmap(base, size)
            throw MapError(message: "pthread_mutex_init() failed (\(result): \(errnoString(result))) "
                + "for shared zone \"\(name)\"")
        }
        base.storeBytes(of: ZoneLayout.magic, toByteOffset: H.magic, as: UInt64.self)
        return SharedZone(name: name, size: size, base: base)
    }

    // MARK: - Sizes and statistics

    /// Bytes not taken by entries: free slots times the slot size (nginx's `free_space()` counts
    /// free pages of its slab the same way: what a new entry could use).
    package var freeSpace: Int {
        withLock { (slotCount - Int(headerWord(ZoneLayout.Header.usedSlots))) * ZoneLayout.slotSize }
    }

    /// Live entries, expired ones not yet reclaimed included, counters included.
    package var entryCount: Int {
        withLock { Int(headerWord(ZoneLayout.Header.liveEntries)) }
    }

    /// Unexpired entries that were evicted to make room since the zone was mapped.
    package var evictions: Int { Int(atomicHeader(ZoneLayout.Header.evictions).pointee.load(ordering: .relaxed)) }
    /// Writes refused with `no memory` since the zone was mapped.
    package var refusals: Int { Int(atomicHeader(ZoneLayout.Header.refusals).pointee.load(ordering: .relaxed)) }
    /// Times a process found the lock's owner dead and rebuilt the table.
    package var recoveries: Int { Int(atomicHeader(ZoneLayout.Header.recoveries).pointee.load(ordering: .relaxed)) }

    /// The monotonic clock expiry times are kept in: one clock for every process of the host.
    package static func monotonicMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    // MARK: - Raw access

    @inline(__always)
    func slot(_ index: Int) -> UnsafeMutableRawPointer {
        base + slotsOffset + index &* ZoneLayout.slotSize
    }

    @inline(__always)
    func headerWord(_ offset: Int) -> UInt32 { base.load(fromByteOffset: offset, as: UInt32.self) }

    @inline(__always)
    func setHeaderWord(_ offset: Int, _ value: UInt32) { base.storeBytes(of: value, toByteOffset: offset, as: UInt32.self) }

    @inline(__always)
    func atomicHeader(_ offset: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        (base + offset).assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    @inline(__always)
    func bucket(_ index: Int) -> UnsafeMutablePointer<UInt32> {
        (base + ZoneLayout.headerSize + index &* 4).assumingMemoryBound(to: UInt32.self)
    }

    /// A slot's state word, the commit point of every change.
    @inline(__always)
    func state(_ index: Int) -> UInt32 {
        (slot(index) + ZoneLayout.Slot.state).assumingMemoryBound(to: Atomic<UInt32>.self)
            .pointee.load(ordering: .acquiring)
    }

    @inline(__always)
    func setState(_ index: Int, _ value: UInt32) {
        (slot(index) + ZoneLayout.Slot.state).assumingMemoryBound(to: Atomic<UInt32>.self)
            .pointee.store(value, ordering: .releasing)
    }

    @inline(__always)
    func field<T>(_ index: Int, _ offset: Int, as type: T.Type) -> T {
        slot(index).load(fromByteOffset: offset, as: T.self)
    }

    @inline(__always)
    func setField<T>(_ index: Int, _ offset: Int, _ value: T) {
        slot(index).storeBytes(of: value, toByteOffset: offset, as: T.self)
    }

    /// The number word of a head slot, the one field written outside the lock (counters).
    @inline(__always)
    func number(_ index: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        (slot(index) + ZoneLayout.Slot.number).assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    /// Runs `body` with the table locked, first repairing it if the last owner died holding it.
    @inline(__always)
    func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock.lock(recover: recover)
        defer { lock.unlock() }
        if crashPoint == .holdingLock { crash() }
        return try body()
    }

    func crash() {
        kill(getpid(), SIGKILL)
        while true { pause() }
    }
}
