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
