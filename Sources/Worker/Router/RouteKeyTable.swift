// The router's lookup structure: one open-addressing hash table holding every exact path, prefix,
// exact host and wildcard-host suffix of a snapshot. It stands in for lua-resty-radixtree's
// `hash_path` table plus its rax tree: instead of walking a tree up from the deepest node, the
// matcher asks for each candidate prefix length, longest first, using a hash it can shorten by one
// byte in O(1) (see `KeyHash`).

/// A polynomial byte hash, h' = h * m + (byte + 1) mod 2^64, that can also drop its last byte:
/// m is odd, so it has a multiplicative inverse mod 2^64. Hashing a path once and removing bytes
/// from the end yields the hash of every prefix without re-reading it or storing anything.
enum KeyHash {
    /// FNV-64 prime; any odd number works, this one spreads bytes over the high bits.
    static let multiplier: UInt64 = 0x0000_0100_0000_01b3
    /// multiplier * inverse == 1 (mod 2^64), by Newton's iteration (each step doubles the correct
    /// low bits; an odd m is its own inverse mod 8, so five steps give 96 >= 64 bits).
    static let inverse: UInt64 = {
        var x = multiplier
        for _ in 0..<5 { x = x &* (2 &- multiplier &* x) }
        return x
    }()

    @inline(__always)
    static func appending(_ hash: UInt64, _ byte: UInt8) -> UInt64 {
        hash &* multiplier &+ UInt64(byte) &+ 1
    }

    @inline(__always)
    static func removingLast(_ hash: UInt64, _ byte: UInt8, inverse: UInt64) -> UInt64 {
        (hash &- UInt64(byte) &- 1) &* inverse
    }

    /// The polynomial hash is weak in its low bits; this is murmur3's 64-bit finalizer mixed with
    /// the key's length and namespace, used to pick the slot.
    @inline(__always)
    static func slotHash(_ hash: UInt64, length: Int, space: Int32) -> UInt64 {
        var h = hash &+ UInt64(truncatingIfNeeded: length) &* 0x9E37_79B9_7F4A_7C15
        h ^= UInt64(truncatingIfNeeded: space) &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h = h &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }

    /// ASCII lower case, for hosts (RFC 9110 section 4.2.3: the host is case-insensitive).
    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }
}

/// What a key is, within one routing table. The namespace of a key is `table << 2 | kind`.
enum KeyKind: Int32 {
    /// A path with no `*`: its candidates.
    case exactPath = 0
    /// The text before the first `*` of a path: its candidates.
    case prefixPath = 1
    /// A host with no leading `*` (table 0 only): the routing table of that host.
    case exactHost = 2
    /// What follows the `*` of `*.foo.com` / `*` (table 0 only): the routing table of that host.
    case hostSuffix = 3
}

/// Immutable hash table from (namespace, bytes) to a value range, built once per snapshot.
struct RouteKeyTable: Sendable {
    struct Entry: Sendable {
        /// `KeyHash.slotHash` of the key; compared before the bytes.
        var slotHash: UInt64
        var space: Int32
        var bytesStart: Int32
        var length: Int32
        /// For path keys: first candidate index; for host keys: the routing table.
        var valueStart: Int32
        /// For path keys: number of candidates.
        var valueCount: Int32
    }

    private(set) var entries: [Entry] = []
    /// Key bytes, back to back. Host keys are stored lower-cased.
    private(set) var bytes: [UInt8] = []
    /// entry index + 1; 0 marks an empty slot.
    private var slots: [Int32] = []
    private var slotMask = 0

    init() {}

    /// Adds a key whose polynomial hash is `hash` (of the bytes in lookup order: reversed for hosts).
    mutating func append(space: Int32, key: [UInt8], hash: UInt64, valueStart: Int32, valueCount: Int32) {
        let entry = Entry(
            slotHash: KeyHash.slotHash(hash, length: key.count, space: space), space: space,
            bytesStart: Int32(bytes.count), length: Int32(key.count),
            valueStart: valueStart, valueCount: valueCount)
        bytes.append(contentsOf: key)
        entries.append(entry)
    }

    /// Builds the slot array; call once after the last `append`. Load factor at most 1/2.
    mutating func seal() {
        var capacity = 8
        while capacity < entries.count * 2 { capacity <<= 1 }
        slotMask = capacity - 1
        slots = [Int32](repeating: 0, count: capacity)
        for (index, entry) in entries.enumerated() {
            var slot = Int(truncatingIfNeeded: entry.slotHash) & slotMask
            while slots[slot] != 0 { slot = (slot + 1) & slotMask }
            slots[slot] = Int32(index + 1)
        }
    }

    /// The entry for `subject[start ..< start + length]` in `space`, where `hash` is the key's
    /// polynomial hash. With `foldCase`, subject bytes are lower-cased before comparing.
    @inline(__always)
    func find(space: Int32, hash: UInt64, subject: UnsafeRawBufferPointer, start: Int, length: Int,
              foldCase: Bool) -> Entry? {
        let slotHash = KeyHash.slotHash(hash, length: length, space: space)
        var slot = Int(truncatingIfNeeded: slotHash) & slotMask
        while true {
            let stored = Int(slots[slot])
            if stored == 0 { return nil }
            let entry = entries[stored - 1]
            if entry.slotHash == slotHash && entry.space == space && Int(entry.length) == length
                && equals(entry, subject: subject, start: start, foldCase: foldCase) {
                return entry
            }
            slot = (slot + 1) & slotMask
        }
    }

    @inline(__always)
    private func equals(_ entry: Entry, subject: UnsafeRawBufferPointer, start: Int, foldCase: Bool) -> Bool {
        let keyStart = Int(entry.bytesStart)
        for offset in 0..<Int(entry.length) {
            let byte = subject[start + offset]
            if (foldCase ? KeyHash.lower(byte) : byte) != bytes[keyStart + offset] { return false }
        }
        return true
    }

    /// A key's bytes (build-time helper and tests).
    func key(of entry: Entry) -> ArraySlice<UInt8> {
        bytes[Int(entry.bytesStart) ..< Int(entry.bytesStart + entry.length)]
    }
}
