import Shared
#if canImport(Glibc)
import Glibc
#endif

/// A request body collected before it is sent (a function call needs its Content-Length; a
/// chunked client body does not say it): in memory up to `memoryLimit`, then in an unnamed
/// temporary file (nginx's client_body_temp), so memory per request stays bounded whatever
/// the body size. Reused across requests of one connection.
package final class BodySpool {
    /// Bytes kept in memory before moving to a file. Default: 256 KiB.
    package let memoryLimit: Int
    private var memory: ByteBuffer
    private var fd: Int32 = -1
    /// Total bytes collected.
    package private(set) var count: Int64 = 0
    /// Why the last `append` failed (a temp file could not be made or written).
    package private(set) var failure: String?

    package init(memoryLimit: Int = 256 * 1024) {
        self.memoryLimit = memoryLimit
        memory = ByteBuffer(capacity: 16 * 1024, limit: memoryLimit)
    }

    deinit {
        memory.deallocate()
        if fd >= 0 { close(fd) }
    }

    package func reset() {
        memory.clear()
        memory.shrink()
        if fd >= 0 { close(fd); fd = -1 }
        count = 0
        failure = nil
    }

    /// Adds bytes; false when the temporary file failed (`failure` says why).
    package func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return true }
        if fd < 0 && memory.count + bytes.count <= memoryLimit {
            memory.append(bytes)
            count += Int64(bytes.count)
            return true
        }
        if fd < 0 {
            // O_TMPFILE: no name, gone when closed, whatever happens to the process.
            fd = open("/tmp", O_RDWR | O_CLOEXEC | 0o20200000, 0o600)
            if fd < 0 {
                failure = "open() temporary file failed (\(errno): \(errnoString(errno)))"
                return false
            }
            if !writeAll(memory.readable) { return false }
            memory.clear()
        }
        guard writeAll(bytes) else { return false }
        count += Int64(bytes.count)
        return true
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = "write() to temporary file failed (\(errno): \(errnoString(errno)))"
                return false
            }
            offset += n
        }
        return true
    }

    /// Copies up to `max` bytes starting at `offset` into `out`; returns how many.
    package func copy(from offset: Int64, max: Int, into out: inout ByteBuffer) -> Int {
        let want = Int(min(Int64(max), count - offset))
        guard want > 0 else { return 0 }
        if fd < 0 {
            out.append(UnsafeRawBufferPointer(start: memory.base + memory.readIndex + Int(offset), count: want))
            return want
        }
        guard out.reserve(want) else { return 0 }
        let n = pread(fd, out.base + out.writeIndex, want, off_t(offset))
        if n <= 0 { return 0 }
        out.writeIndex += n
        return n
    }
}
