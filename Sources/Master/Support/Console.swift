#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Messages of the command line itself, before any log file is open: `sluice: [emerg] ...` on
/// stderr, nginx's `ngx_log_stderr` shape. One `write(2)` each, so nothing sits in a stdio buffer
/// that a fork could duplicate.
enum Console {
    /// `sluice: [level] message` on stderr.
    static func log(_ level: LogLevel, _ message: String) {
        writeLine(2, "sluice: [\(level.name)] \(message)")
    }

    /// `sluice: message` on stderr (the `-t` verdict lines carry no level, as nginx's).
    static func say(_ message: String) {
        writeLine(2, "sluice: \(message)")
    }

    /// The whole text plus a newline, in one write when the pipe takes it.
    static func writeLine(_ fd: Int32, _ text: String) {
        write(fd, text + "\n")
    }

    static func write(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { buf in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }
}

extension Logger {
    /// `[alert]`: something failed that the process works around (a fork, a kill, a crash).
    func alert(_ message: @autoclosure () -> String) { log(.alert, message()) }
}
