#if canImport(Glibc)
import Glibc
#endif

/// A contiguous byte buffer with a read index and a write index, allocated once and reused for
/// the life of its owner (a pooled connection): `clear()` and `compact()` never free.
///
/// Bytes `[readIndex, writeIndex)` are pending. Growth doubles up to `limit` and is rare (large
/// request heads); the steady state allocates nothing.
package struct ByteBuffer {
    package private(set) var base: UnsafeMutableRawPointer
    package private(set) var capacity: Int
    /// First pending byte.
    package var readIndex: Int = 0
    /// One past the last pending byte.
    package var writeIndex: Int = 0
    /// Largest capacity `reserve` may grow to.
    package let limit: Int

    package init(capacity: Int, limit: Int) {
        self.capacity = capacity
        self.limit = max(limit, capacity)
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    /// Frees the storage; the owner calls it once, when it is destroyed.
    package func deallocate() { base.deallocate() }

    @inline(__always) package var count: Int { writeIndex - readIndex }
    @inline(__always) package var isEmpty: Bool { writeIndex == readIndex }
    @inline(__always) package var freeSpace: Int { capacity - writeIndex }

    /// The pending bytes.
    @inline(__always)
    package var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + readIndex, count: writeIndex - readIndex)
    }

    @inline(__always)
    package mutating func clear() { readIndex = 0; writeIndex = 0 }

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
        var newCapacity = capacity
        while newCapacity - writeIndex < n { newCapacity *= 2 }
        guard newCapacity <= limit else { return false }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newBase.copyMemory(from: base, byteCount: writeIndex)
        base.deallocate()
        base = newBase
        capacity = newCapacity
        return true
    }

    /// Shrinks storage grown past `capacity` back to `size` when empty (after a large head).
    package mutating func shrink(to size: Int) {
        guard capacity > size, isEmpty else { return }
        base.deallocate()
        base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        capacity = size
        readIndex = 0
        writeIndex = 0
    }

    @inline(__always)
    package mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0, reserve(bytes.count) else { return }
        (base + writeIndex).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        writeIndex += bytes.count
    }

    @inline(__always)
    package mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    @inline(__always)
    package mutating func append(_ byte: UInt8) {
        guard reserve(1) else { return }
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
