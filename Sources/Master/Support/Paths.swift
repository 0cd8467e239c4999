#if canImport(Glibc)
import Glibc
#endif
import Shared

/// File-system helpers for the prefix layout (`conf/`, `logs/`, `data/`).
enum Paths {
    /// The current directory, or "/" when it cannot be read (deleted under us).
    /// The prefix without `-p`: `<dir of the executable>/../sluice` when it holds
    /// `conf/config.yaml` (the layout `make install` makes: `PREFIX/bin/sluice` and
    /// `PREFIX/sluice/{conf,logs,data}`, nginx's compiled-in prefix), else the current directory.
    static func defaultPrefix() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 {
            let exe = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let bin = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            let installed = absolute("../sluice", relativeTo: bin)
            if access(installed + "/conf/config.yaml", R_OK) == 0 { return installed }
        }
        return currentDirectory()
    }

    static func currentDirectory() -> String {
        guard let raw = getcwd(nil, 0) else { return "/" }
        defer { free(raw) }
        return String(cString: raw)
    }

    /// `path` if absolute, else joined to `base`; `.` and `..` components and repeated slashes
    /// are folded so logs and the pid file name one spelling of the prefix.
    static func absolute(_ path: String, relativeTo base: String) -> String {
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Creates the directory (mode 0755) unless it exists. Returns the errno on failure.
    static func makeDirectory(_ path: String) -> Int32? {
        if mkdir(path, 0o755) == 0 { return nil }
        let errorNumber = errno
        if errorNumber == EEXIST { return nil }
        return errorNumber
    }

    /// Whole small file as a string; nil when it cannot be read (errno kept for the message).
    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension GatewayConfig {
    /// A path from config.yaml (`error_log`, `access_log`) as an absolute path under the prefix.
    func resolved(_ path: String, prefix: String) -> String {
        Paths.absolute(path, relativeTo: prefix)
    }
}

/// `(2: No such file or directory)`: how nginx quotes an errno in a log line.
func errnoText(_ errorNumber: Int32) -> String { "(\(errorNumber): \(errnoString(errorNumber)))" }
