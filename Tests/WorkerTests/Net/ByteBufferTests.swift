#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Worker

@Suite struct ByteBufferTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Growth doubles up to the limit, keeps the pending bytes, and refuses beyond the limit.
    @Test func growsToLimitKeepingBytes() {
        var b = ByteBuffer(capacity: 8, limit: 32)
        defer { b.deallocate() }
        b.append(bytes("0123456789"))
        #expect(b.capacity == 16)
        #expect(Array(b.readable) == bytes("0123456789"))
        let grew = b.reserve(22)
        #expect(grew && b.capacity == 32)
        let overLimit = b.reserve(40)
        #expect(!overLimit)
        b.clear()
        b.shrink()
        #expect(b.capacity == 8)
    }

    /// A limit that is not a power-of-two multiple of the starting size is reachable: the last
    /// doubling stops at the limit (a 1 KiB buffer limited to 80 KiB holds 80 KiB, not 64).
    @Test func growsToALimitThatIsNotAPowerOfTwo() {
        var b = ByteBuffer(capacity: 1024, limit: 80 * 1024)
        defer { b.deallocate() }
        b.append([UInt8](repeating: 7, count: 70 * 1024))
        #expect(!b.overflowed)
        #expect(b.count == 70 * 1024)
        b.append([UInt8](repeating: 8, count: 10 * 1024))
        #expect(!b.overflowed)
        #expect(b.capacity == 80 * 1024 && b.count == 80 * 1024)
    }

    /// An append past the limit writes nothing and sets `overflowed`, which later appends that fit
    /// do not clear (a builder checks once at the end); `clear()` does.
    @Test func appendPastTheLimitIsRecorded() {
        var b = ByteBuffer(capacity: 8, limit: 32)
        defer { b.deallocate() }
        b.append(bytes("0123456789012345678901234567"))
        #expect(!b.overflowed)
        b.append(bytes("too long for the rest"))
        #expect(b.overflowed)
        #expect(b.count == 28)
        b.append(bytes("ok"))
        #expect(b.overflowed && b.count == 30)
        b.append(UInt8(1))
        b.append(UInt8(2))
        b.append(UInt8(3))
        #expect(b.count == 32)
        b.clear()
        #expect(!b.overflowed)
    }

    /// A parked buffer holds no storage; its block goes to the cache and comes back on unpark.
    @Test func parkGivesTheBlockToTheCache() {
        let cache = BufferCache()
        var b = ByteBuffer(capacity: 64, limit: 1024)
        defer { b.deallocate() }
        b.append(bytes("pending"))
        let block = b.base
        b.park(in: cache, keepSize: true)
        #expect(b.isParked && b.capacity == 0 && b.isEmpty)
        #expect(cache.spareCount(size: 64) == 1)
        b.unpark(from: cache)
        #expect(b.capacity == 64 && b.base == block && b.isEmpty)
        #expect(cache.spareCount(size: 64) == 0)
    }

    /// Appending to a parked buffer takes a block from its cache (no unpark needed), and growth
    /// trades blocks with the cache: the smaller block is given back.
    @Test func appendToParkedBufferUsesTheCache() {
        let cache = BufferCache()
        var other = ByteBuffer(capacity: 16, limit: 16)
        other.park(in: cache, keepSize: true)  // one spare 16-byte block
        var b = ByteBuffer(parkedCapacity: 16, limit: 256)
        b.park(in: cache, keepSize: true)  // binds the cache; nothing to give
        b.append(bytes("abc"))
        #expect(b.capacity == 16 && cache.spareCount(size: 16) == 0)
        b.append(bytes(String(repeating: "x", count: 20)))
        #expect(b.capacity == 32)
        #expect(cache.spareCount(size: 16) == 1)
        #expect(Array(b.readable) == bytes("abc" + String(repeating: "x", count: 20)))
        // Parked with keepSize, it comes back at the size it grew to; without, at nominal.
        b.park(in: cache, keepSize: true)
        #expect(cache.spareCount(size: 32) == 1)
        b.unpark(from: cache)
        #expect(b.capacity == 32)
        b.park(in: cache, keepSize: false)
        b.unpark(from: cache)
        #expect(b.capacity == 16)
        b.deallocate()
    }

    /// Reading from a descriptor into a parked buffer works (it takes storage first).
    @Test func readIntoParkedBuffer() {
        let cache = BufferCache()
        var b = ByteBuffer(parkedCapacity: 4096, limit: 8192)
        b.park(in: cache, keepSize: true)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        _ = "hello".withCString { write(fds[1], $0, 5) }
        #expect(b.read(from: fds[0]) == 5)
        #expect(Array(b.readable) == bytes("hello"))
        #expect(b.capacity == 4096)
        b.deallocate()
    }

    /// The cache keeps at most `maxSpare` blocks of a size and never blocks over `maxBlock`.
    @Test func cacheIsBounded() {
        let cache = BufferCache(maxSpare: 2)
        var buffers = (0..<3).map { _ in ByteBuffer(capacity: 128, limit: 128) }
        for i in buffers.indices { buffers[i].park(in: cache, keepSize: true) }
        #expect(cache.spareCount(size: 128) == 2)
        var big = ByteBuffer(capacity: BufferCache.maxBlock * 2, limit: BufferCache.maxBlock * 2)
        big.park(in: cache, keepSize: true)
        #expect(cache.spareCount(size: BufferCache.maxBlock * 2) == 0)
    }
}
