#if canImport(Glibc)
import Glibc
#endif

/// The access log: nginx's `combined` format plus `$upstream_addr $upstream_status $request_time
/// $upstream_response_time`. Each line is assembled in a reused buffer and written with one
/// `write(2)`, so a crash loses no line and logging allocates nothing per request.
package final class AccessLog {
    package let path: String
    package private(set) var fd: Int32
    /// The line being built; reused.
    package var line: ByteBuffer

    package init(path: String) {
        self.path = path
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        line = ByteBuffer(capacity: 2048, limit: 64 * 1024)
    }

    deinit {
        if fd >= 0 { close(fd) }
        line.deallocate()
    }

    /// `SIGUSR1`: reopen at the same path (logrotate moved the file).
    package func reopen() {
        let new = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard new >= 0 else { return }
        if fd >= 0 { close(fd) }
        fd = new
    }

    /// Writes the line in `line` (which must end with `\n`) and clears it.
    package func flushLine() {
        if fd >= 0 { _ = write(fd, line.base + line.readIndex, line.count) }
        line.clear()
    }
}
