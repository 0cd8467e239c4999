/// A hash table from byte strings to values, built once and then only read, looked up with
/// borrowed bytes (a header's value in the request buffer) so a lookup allocates nothing. Open
/// addressing, linear probing, at most half full; FNV-1a.
package struct BytesTable<Value> {
    private var keys: [[UInt8]?]
    private var values: [Value?]
    private var mask: Int
    package private(set) var count = 0

    /// `pairs` in order: a later pair replaces an earlier one of the same key.
    package init(_ pairs: [([UInt8], Value)]) {
        var capacity = 8
        while capacity < pairs.count * 2 { capacity *= 2 }
        keys = Array(repeating: nil, count: capacity)
        values = Array(repeating: nil, count: capacity)
        mask = capacity - 1
        for (key, value) in pairs { insert(key, value) }
    }

    private mutating func insert(_ key: [UInt8], _ value: Value) {
        var slot = key.withUnsafeBytes { Self.hash($0) } & mask
        while let existing = keys[slot] {
            if existing == key { values[slot] = value; return }
            slot = (slot + 1) & mask
        }
        keys[slot] = key
        values[slot] = value
        count += 1
    }

    /// The value stored under the bytes `key`.
    package func find(_ key: UnsafeRawBufferPointer) -> Value? {
        var slot = Self.hash(key) & mask
        while let existing = keys[slot] {
            if existing.withUnsafeBytes({ $0.elementsEqual(key) }) { return values[slot] }
            slot = (slot + 1) & mask
        }
        return nil
    }

    static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }
}
