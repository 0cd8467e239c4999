#if canImport(Glibc)
import Glibc
#endif

/// nginx's error log levels, most severe first (`error_log_level` in config.yaml).
package enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case emerg, alert, crit, error, warn, notice, info, debug

    package init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { $0.name == name }) else { return nil }
        self = level
    }
    package var name: String {
        switch self {
        case .emerg: "emerg"
        case .alert: "alert"
        case .crit: "crit"
        case .error: "error"
        case .warn: "warn"
        case .notice: "notice"
        case .info: "info"
        case .debug: "debug"
        }
    }
    package static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// An nginx-style error log: `2026/11/29 05:27:15 [error] 1234#0: message`.
///
/// Writes with one `write(2)` per line (no stdio buffer, so nothing is duplicated across `fork`).
/// Confined to one process's main thread. `reopen()` implements `SIGUSR1`.
package final class Logger {
    /// Lines above this level are dropped.
    package var level: LogLevel
    /// Absolute path; nil logs to stderr only.
    package private(set) var path: String?
    package private(set) var fd: Int32
    /// Also copy each line to stderr (the master in the foreground, before the log is open).
    package var alsoStderr: Bool

    package init(path: String?, level: LogLevel, alsoStderr: Bool = false) {
        self.path = path
        self.level = level
        self.alsoStderr = alsoStderr
        self.fd = path.map { Logger.open(path: $0) } ?? 2
    }

    deinit { if fd > 2 { close(fd) } }

    /// Opens (creating, mode 0644) for appending, close-on-exec. -1 when it cannot.
    package static func open(path: String) -> Int32 {
        Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    }

    /// Reopens the file at the same path (logrotate moved the old one away). Keeps the old
    /// descriptor when the new open fails, and says so.
    package func reopen() {
        guard let path else { return }
        let new = Logger.open(path: path)
        if new < 0 {
            let err = errno
            log(.alert, "open() \"\(path)\" failed (\(err): \(errnoString(err)))")
            return
        }
        let old = fd
        fd = new
        if old > 2 { close(old) }
    }

    @inline(__always)
    package func enabled(_ level: LogLevel) -> Bool { level <= self.level }

    package func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard level <= self.level else { return }
        var line = Logger.timestamp()
        line += " [\(level.name)] \(getpid())#0: "
        line += message()
        line += "\n"
        line.withUTF8 { buf in
            if fd >= 0 { _ = write(fd, buf.baseAddress, buf.count) }
            if alsoStderr && fd != 2 { _ = write(2, buf.baseAddress, buf.count) }
        }
    }

    package func error(_ message: @autoclosure () -> String) { log(.error, message()) }
    package func warn(_ message: @autoclosure () -> String) { log(.warn, message()) }
    package func notice(_ message: @autoclosure () -> String) { log(.notice, message()) }
    package func info(_ message: @autoclosure () -> String) { log(.info, message()) }

    /// Local time as nginx prints it: `2026/11/29 05:27:15`.
    package static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        return "\(parts.tm_year + 1900)/\(pad2(parts.tm_mon + 1))/\(pad2(parts.tm_mday)) "
            + "\(pad2(parts.tm_hour)):\(pad2(parts.tm_min)):\(pad2(parts.tm_sec))"
    }
}

@inline(__always)
func pad2(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }

/// `strerror` as a Swift string: "Connection refused".
package func errnoString(_ err: Int32) -> String {
    guard let text = strerror(err) else { return "Unknown error \(err)" }
    return String(cString: text)
}
