#if canImport(Glibc)
import Glibc
#endif

/// A contiguous byte buffer with a read index and a write index, allocated once and reused for
/// the life of its owner (a pooled connection): `clear()` and `compact()` never free.
///
/// Bytes `[readIndex, writeIndex)` are pending. Growth doubles up to `limit` and is rare (large
/// request heads); the steady state allocates nothing.
///
/// An owner that goes idle for a while (an upstream connection resting in a keepalive pool) can
/// `park` its empty storage in the worker's `BufferCache` and `unpark` a block when it is used
/// again: idle connections then hold no buffer memory, and the blocks serve the busy ones.
/// A parked buffer has capacity 0; anything that appends to it still works (`reserve` allocates).
///
/// An append that does not fit under `limit` writes nothing and sets `overflowed`, which stays set
/// until `clear()`: a builder checks it once when done, and a message is never sent truncated.
package struct ByteBuffer {
    package private(set) var base: UnsafeMutableRawPointer
    package private(set) var capacity: Int
    /// First pending byte.
    package var readIndex: Int = 0
    /// One past the last pending byte.
    package var writeIndex: Int = 0
    /// Largest capacity `reserve` may grow to.
    package let limit: Int
    /// An append did not fit under `limit` since the last `clear()` (its bytes were not written).
    package private(set) var overflowed = false
    /// The capacity it starts with and shrinks back to.
    package let nominal: Int
    /// The capacity `unpark` restores: what it had when parked (a connection that carries
    /// 2 KiB requests keeps a 2 KiB block), or `nominal`.
    private var parkedSize: Int
    /// Where blocks come from and go to once the owner parked or unparked it: growth then trades
    /// blocks with the cache instead of calling malloc.
    private var cache: Unmanaged<BufferCache>?  // see EventHandle.timeouts: not unowned(unsafe) ... ?

    package init(capacity: Int, limit: Int) {
        self.capacity = capacity
        self.nominal = capacity
        self.parkedSize = capacity
        self.limit = max(limit, capacity)
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    /// A buffer that starts parked: its first `unpark` (or append) gives it storage.
    package init(parkedCapacity capacity: Int, limit: Int) {
        self.capacity = 0
        self.nominal = capacity
        self.parkedSize = capacity
        self.limit = max(limit, capacity)
        base = BufferCache.parkedBase
    }

    /// Frees the storage; the owner calls it once, when it is destroyed.
    package func deallocate() {
        if capacity > 0 { base.deallocate() }
    }

    @inline(__always) package var isParked: Bool { capacity == 0 }

    /// Hands the storage to `cache`, dropping any pending bytes. With `keepSize` the next `unpark`
    /// asks for a block of the current capacity, else for `nominal`.
    package mutating func park(in cache: BufferCache, keepSize: Bool) {
        self.cache = Unmanaged.passUnretained(cache)
        readIndex = 0
        writeIndex = 0
        overflowed = false
        guard capacity > 0 else {
            if !keepSize { parkedSize = nominal }
            return
        }
        parkedSize = keepSize ? capacity : nominal
        cache.give(base, size: capacity)
        base = BufferCache.parkedBase
        capacity = 0
    }

    /// Takes storage back from `cache` (a no-op when not parked).
    @inline(__always)
    package mutating func unpark(from cache: BufferCache) {
        guard capacity == 0 else { return }
        self.cache = Unmanaged.passUnretained(cache)
        base = cache.take(size: parkedSize)
        capacity = parkedSize
    }

    private func obtain(_ size: Int) -> UnsafeMutableRawPointer {
        if let cache { return cache._withUnsafeGuaranteedRef { $0.take(size: size) } }
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
    }

    private func release(_ block: UnsafeMutableRawPointer, size: Int) {
        if let cache { cache._withUnsafeGuaranteedRef { $0.give(block, size: size) } } else { block.deallocate() }
    }

    @inline(__always) package var count: Int { writeIndex - readIndex }
    @inline(__always) package var isEmpty: Bool { writeIndex == readIndex }
    @inline(__always) package var freeSpace: Int { capacity - writeIndex }

    /// The pending bytes.
    @inline(__always)
    package var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + readIndex, count: writeIndex - readIndex)
    }

    @inline(__always)
    package mutating func clear() { readIndex = 0; writeIndex = 0; overflowed = false }

    /// Drops `n` pending bytes from the front.
    @inline(__always)
    package mutating func consume(_ n: Int) {
        readIndex += n
        if readIndex == writeIndex { readIndex = 0; writeIndex = 0 }
    }

    /// Moves the pending bytes to the start of the storage.
    package mutating func compact() {
        guard readIndex > 0 else { return }
        let n = writeIndex - readIndex
        if n > 0 { memmove(base, base + readIndex, n) }
        readIndex = 0
        writeIndex = n
    }

    /// Makes room for `n` more bytes at the end: compacts, then grows up to `limit`.
    /// Returns false when that is impossible.
    @discardableResult
    package mutating func reserve(_ n: Int) -> Bool {
        if freeSpace >= n { return true }
        compact()
        if freeSpace >= n { return true }
        guard writeIndex + n <= limit else { return false }
        // Doubling, but never past `limit`: a limit that is not a power-of-two multiple of the
        // nominal size is still reachable.
        var newCapacity = max(capacity, nominal, 16)
        while newCapacity - writeIndex < n { newCapacity = min(newCapacity * 2, limit) }
        let newBase = obtain(newCapacity)
        if capacity > 0 {
            newBase.copyMemory(from: base, byteCount: writeIndex)
            release(base, size: capacity)
        }
        base = newBase
        capacity = newCapacity
        return true
    }

    /// Shrinks storage grown past `nominal` back to it when empty (after a large head).
    package mutating func shrink() {
        guard capacity > nominal, isEmpty else { return }
        release(base, size: capacity)
        base = obtain(nominal)
        capacity = nominal
        readIndex = 0
        writeIndex = 0
    }

    @inline(__always)
    package mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        guard reserve(bytes.count) else { overflowed = true; return }
        (base + writeIndex).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        writeIndex += bytes.count
    }

    @inline(__always)
    package mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    @inline(__always)
    package mutating func append(_ byte: UInt8) {
        guard reserve(1) else { overflowed = true; return }
        base.storeBytes(of: byte, toByteOffset: writeIndex, as: UInt8.self)
        writeIndex += 1
    }

    /// Appends a static ASCII string (no allocation).
    @inline(__always)
    package mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends a string's UTF-8 (for values built once per snapshot, not per request).
    package mutating func append(string: String) {
        var s = string
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends a non-negative integer in decimal.
    package mutating func append(decimal value: Int64) {
        var v = value < 0 ? 0 : value
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch
        withUnsafeMutableBytes(of: &digits) { scratch in
            var i = scratch.count
            repeat {
                i -= 1
                scratch[i] = UInt8(truncatingIfNeeded: 48 + v % 10)
                v /= 10
            } while v > 0
            append(UnsafeRawBufferPointer(rebasing: scratch[i...]))
        }
    }

    /// Appends `value` in lower-case hex (chunk sizes).
    package mutating func append(hex value: Int) {
        var v = UInt(value)
        var digits: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &digits) { scratch in
            var i = scratch.count
            repeat {
                i -= 1
                let d = UInt8(truncatingIfNeeded: v & 0xF)
                scratch[i] = d < 10 ? 48 + d : 87 + d
                v >>= 4
            } while v > 0
            append(UnsafeRawBufferPointer(rebasing: scratch[i...]))
        }
    }

    /// Appends `data` as one chunk of a chunked body (RFC 9112 §7.1): size in hex, CRLF, data, CRLF.
    package mutating func appendChunk(_ data: UnsafeRawBufferPointer) {
        append(hex: data.count)
        append("\r\n")
        append(data)
        append("\r\n")
    }

    /// Reads from `fd` into the free space (reserving `atLeast` first). Returns read(2)'s result.
    @inline(__always)
    package mutating func read(from fd: Int32, atLeast: Int = 4096) -> Int {
        if freeSpace < atLeast { _ = reserve(atLeast) }
        let space = freeSpace
        if space == 0 { return -2 }
        let n = Glibc.read(fd, base + writeIndex, space)
        if n > 0 { writeIndex += n }
        return n
    }
}

/// A worker's spare buffer blocks, by size: parked buffers give theirs back, unparked (and
/// growing) ones take one, or a new allocation when none is spare. Only blocks up to `maxBlock`
/// bytes are kept, at most `maxSpare` of a size; others are freed. So memory for buffers follows
/// the number of connections in use, not the number open. One per worker; its thread only.
package final class BufferCache {
    package static let maxBlock = 16 * 1024

    /// The base of a parked buffer: never read or written (its capacity is 0).
    static var parkedBase: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 16)! }

    private var sizes: [Int] = []
    private var spare: [[UnsafeMutableRawPointer]] = []
    package let maxSpare: Int

    package init(maxSpare: Int = 4096) { self.maxSpare = maxSpare }

    deinit {
        for blocks in spare { for block in blocks { block.deallocate() } }
    }

    /// Blocks of `size` kept now.
    package func spareCount(size: Int) -> Int {
        guard let i = sizes.firstIndex(of: size) else { return 0 }
        return spare[i].count
    }

    @inline(__always)
    private func slot(_ size: Int) -> Int {
        var i = 0
        while i < sizes.count {
            if sizes[i] == size { return i }
            i += 1
        }
        sizes.append(size)
        spare.append([])
        return sizes.count - 1
    }

    func take(size: Int) -> UnsafeMutableRawPointer {
        guard size <= Self.maxBlock else { return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16) }
        let i = slot(size)
        if let block = spare[i].popLast() { return block }
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
    }

    func give(_ block: UnsafeMutableRawPointer, size: Int) {
        guard size <= Self.maxBlock else { block.deallocate(); return }
        let i = slot(size)
        if spare[i].count >= maxSpare {
            block.deallocate()
        } else {
            spare[i].append(block)
        }
    }
}
