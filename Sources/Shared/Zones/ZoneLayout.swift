// The bytes of a shared zone (nginx's `ngx_shm_zone_t` plus the lua-nginx-module shdict's
// rbtree/LRU queue, redone as fixed-size slots so that a process killed mid-update can be cleaned
// up after). Everything here is an offset into one `MAP_SHARED` mapping: no pointers, because the
// mapping is at the same address in every process only by inheritance, and indices survive a
// rebuild where pointers would not.
//
//     0      header (ZoneLayout.Header), 256 bytes; the robust mutex lives at +192
//     256    buckets: bucketCount x UInt32, slot index + 1 of a chain head (0 = empty)
//     ...    slots: slotCount x 128 bytes, 128-aligned
//
// A slot is free, being written, the head of a live entry, or a chunk of one:
//
//     head   +0 state:UInt32  +4 kind:UInt8  +5 flags:UInt8  +6 keyLength:UInt16
//            +8 valueLength:UInt32  +12 bucketNext:UInt32  +16 hash:UInt64  +24 sequence:UInt64
//            +32 expiresAt:Int64 (ms, monotonic; 0 = never)  +40 number:UInt64 (atomic)
//            +48 chunkNext:UInt32  +52 userFlags:UInt32  +56 data: 72 bytes
//     chunk  +0 state:UInt32  +4 chunkNext:UInt32  +8 data: 120 bytes
//
// An entry's data is its key followed by its byte value, continued through the chunk chain.
// Zero-filled memory (what mmap gives) is a valid empty table: a fresh zone touches only its header
// page, and a slot's page is first touched when the slot is first used.

#if canImport(Glibc)
import Glibc
#endif

/// Offsets and sizes of a zone's header and slots. See the file comment for the picture.
enum ZoneLayout {
    /// "SLUICEZ1": a mapping that does not start with it was never formatted.
    static let magic: UInt64 = 0x315A_4543_4955_4C53
    static let headerSize = 256
    static let slotSize = 128
    /// Bytes of entry data in a head slot and in a chunk slot.
    static let headData = 72
    static let chunkData = 120
    /// nginx refuses a `lua_shared_dict` of 8191 bytes or less (`ngx_http_lua_shared_dict`).
    static let minimumSize = 8192
    /// nginx's shdict limit (`key too long` above it).
    static let maximumKeyLength = 65535

    enum Header {
        static let magic = 0, size = 8, slotCount = 16, bucketCount = 20, bucketsOffset = 24, slotsOffset = 32
        static let seed = 40
        // Under the lock.
        static let freeHead = 48, highWater = 52, usedSlots = 56, liveEntries = 60, sequence = 64, clockHand = 72
        // Atomic, outside the lock.
        static let evictions = 80, refusals = 88, recoveries = 96
        static let nameLength = 104, name = 108, nameCapacity = 64
        static let mutex = 192
    }

    enum Slot {
        static let state = 0, kind = 4, flags = 5, keyLength = 6, valueLength = 8, bucketNext = 12
        static let hash = 16, sequence = 24, expiresAt = 32, number = 40, chunkNext = 48, userFlags = 52
        static let data = 56
        // Chunk slots.
        static let chunkLink = 4, chunkBytes = 8
    }

    /// `Slot.state` values. The commit point of every change is one release store of a state.
    enum State {
        /// Never used, or returned to the free list.
        static let free: UInt32 = 0
        /// Taken by a writer that has not committed: a recovery frees it.
        static let writing: UInt32 = 1
        /// The head of a visible entry.
        static let live: UInt32 = 2
        /// Holds the continuation of some head's data; free once no live head reaches it.
        static let chunk: UInt32 = 3
    }

    /// `Slot.flags` bits.
    enum Flag {
        /// A counter: never evicted, expired, moved or deleted, so its address can be kept.
        static let pinned: UInt8 = 1
        /// Read or written since the clock hand last passed (CLOCK, the "LRU-ish" of eviction).
        static let referenced: UInt8 = 2
    }

    /// How many slots an entry of `dataLength` bytes (key + byte value) takes.
    static func slotsNeeded(dataLength: Int) -> Int {
        dataLength <= headData ? 1 : 1 + (dataLength - headData + chunkData - 1) / chunkData
    }

    /// The geometry of a zone of `size` bytes: as many slots as fit with one bucket each.
    static func geometry(size: Int) -> (slotCount: Int, bucketCount: Int, slotsOffset: Int) {
        let slotCount = (size - headerSize - slotSize) / (slotSize + 4)
        let bucketsEnd = headerSize + slotCount * 4
        let slotsOffset = (bucketsEnd + slotSize - 1) / slotSize * slotSize
        return (slotCount, slotCount, slotsOffset)
    }
}
