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
        // A request's bytes can grow four times when escaped (`\xHH`); the buffer grows only for such lines.
        line = ByteBuffer(capacity: 2048, limit: 512 * 1024)
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

    /// Writes the line in `line` (which must end with `\n`) and clears it. A line that overflowed
    /// the buffer is written as far as it got, still ending with its newline, so it never merges
    /// with the next one.
    package func flushLine() {
        if line.overflowed && line.count > 0 {
            line.base.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: line.writeIndex - 1, as: UInt8.self)
        }
        if fd >= 0 { _ = write(fd, line.base + line.readIndex, line.count) }
        line.clear()
    }
}

extension ByteBuffer {
    /// Appends request bytes for a log line as nginx's `escape=default` does: `"`, `\\`, control
    /// bytes and bytes from 0x7F up become `\xHH`, so a value can neither end its field nor start a
    /// new line (log injection).
    package mutating func appendLogEscaped(_ bytes: UnsafeRawBufferPointer) {
        var start = 0
        for i in 0..<bytes.count {
            let byte = bytes[i]
            guard byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if i > start { append(UnsafeRawBufferPointer(rebasing: bytes[start..<i])) }
            append(UInt8(ascii: "\\"))
            append(UInt8(ascii: "x"))
            append(Self.upperHex[Int(byte >> 4)])
            append(Self.upperHex[Int(byte & 0x0F)])
            start = i + 1
        }
        if start < bytes.count { append(UnsafeRawBufferPointer(rebasing: bytes[start..<bytes.count])) }
    }

    /// `bytes` escaped as for a log line, as a String (error.log lines, which are rare).
    package static func logEscaped(_ bytes: UnsafeRawBufferPointer) -> String {
        var buffer = ByteBuffer(capacity: max(16, bytes.count), limit: 4 * bytes.count + 16)
        defer { buffer.deallocate() }
        buffer.appendLogEscaped(bytes)
        return String(decoding: buffer.readable, as: UTF8.self)
    }

    private static let upperHex: [UInt8] = Array("0123456789ABCDEF".utf8)
}
