#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Process plumbing shared by ``SluiceProcess`` and ``NginxProcess``: spawning with a clean signal
/// state in a new process group, polling for exit by pid, and reading `/proc`.
enum Processes {
    /// One line of `/proc/PID/stat`, the fields the helpers need.
    struct Info {
        /// Process id.
        var pid: Int32
        /// State letter (`R`, `S`, `Z`, ...).
        var state: Character
        /// Parent process id.
        var ppid: Int32
        /// Process group id.
        var pgrp: Int32
        /// `comm` from the stat line (the thread name, at most 15 bytes).
        var comm: String
    }

    /// Reads a small file (including `/proc` files, whose size reads as 0). Nil if it cannot be opened.
    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { out += chunk[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            return out
        }
    }

    /// The `/proc/PID/stat` fields of `pid`, nil if there is no such process (any more).
    static func info(_ pid: Int32) -> Info? {
        guard let bytes = readFile("/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        // "pid (comm) S ppid pgrp ...": comm may contain spaces and parentheses; it ends at the last ')'.
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        let rest = text[text.index(after: close)...].split(separator: " ")
        guard rest.count >= 3, let state = rest[0].first, let ppid = Int32(rest[1]), let pgrp = Int32(rest[2]) else { return nil }
        return Info(pid: pid, state: state, ppid: ppid, pgrp: pgrp, comm: comm)
    }

    /// Every process visible in `/proc`.
    static func all() -> [Info] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { Int32($0) }.compactMap { info($0) }
    }

    /// Whether `pid` exists and is not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let info = info(pid) else { return false }
        return info.state != "Z" && info.state != "X"
    }

    /// `argv[0]` from `/proc/PID/cmdline` (a process may rewrite it to show its role).
    static func argv0(_ pid: Int32) -> String {
        guard let bytes = readFile("/proc/\(pid)/cmdline") else { return "" }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// A `waitpid` status as a shell would report it: the exit code, or 128 + the signal number.
    static func exitCode(fromWaitStatus status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Reaps `pid` if it has exited; returns its ``exitCode(fromWaitStatus:)`` or nil if still running.
    /// Also nil (with `gone` set) if the pid is not our child (already reaped).
    static func reap(_ pid: Int32) -> (code: Int32?, gone: Bool) {
        var status: Int32 = 0
        while true {
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid { return (exitCode(fromWaitStatus: status), false) }
            if rc == 0 { return (nil, false) }
            if errno == EINTR { continue }
            return (nil, true)  // ECHILD
        }
    }

    /// Waits up to `timeout` seconds for `pid` (our child) to exit, reaping it. Returns the exit code,
    /// nil on timeout (or if the pid was already reaped).
    static func waitForExit(_ pid: Int32, timeout: Double) -> Int32? {
        var result: Int32?
        TestSupport.waitUntil(timeout: timeout, interval: 0.01) {
            let (code, gone) = reap(pid)
            result = code
            return code != nil || gone
        }
        return result
    }

    /// Waits up to `timeout` seconds until `pid` has exited but is not reaped yet (a zombie), so its
    /// pid and process-group id cannot be reused meanwhile. Returns whether it did.
    static func waitForZombie(_ pid: Int32, timeout: Double) -> Bool {
        TestSupport.waitUntil(timeout: timeout, interval: 0.01) {
            guard let info = info(pid) else { return true }
            return info.state == "Z" || info.state == "X"
        }
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+), which Swift's Glibc module does not show.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32).self)
    }()

    /// Starts `path` with `arguments` (argv[0] is `path`) and returns its pid.
    ///
    /// The child gets an empty signal mask and default dispositions for every signal (the test
    /// runner's threads block signals, which a child would otherwise inherit), its own process group
    /// (so a cleanup can kill everything it forked), stdin from `/dev/null`, stdout and stderr
    /// appended to `outputPath` (stderr to `errorPath` instead when given), and no other inherited
    /// descriptor.
    static func spawn(
        path: String, arguments: [String], environment: [String: String], outputPath: String, errorPath: String? = nil
    ) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errorPath {
            posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        if let addCloseFrom { _ = addCloseFrom(&actions, 3) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attr, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attr, &allSignals)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: Int32 = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        guard rc == 0 else { throw TestSupportError.system("posix_spawn \(path)", rc) }
        return pid
    }

    /// Runs `path` with `arguments` to completion, bounded by `timeout` seconds (then its process
    /// group is killed). Returns its exit code (128 + signal when killed, -1 on timeout) and output.
    static func run(
        path: String, arguments: [String], environment: [String: String], outputPath: String, timeout: Double
    ) -> (status: Int32, output: String) {
        let result = run(path: path, arguments: arguments, environment: environment, outputPath: outputPath,
                         errorPath: nil, timeout: timeout)
        return (result.status, result.output)
    }

    /// ``run(path:arguments:environment:outputPath:timeout:)`` with stderr going to `errorPath`
    /// (when given) and returned apart as `errors`.
    static func run(
        path: String, arguments: [String], environment: [String: String], outputPath: String, errorPath: String?,
        timeout: Double
    ) -> (status: Int32, output: String, errors: String) {
        unlink(outputPath)
        if let errorPath { unlink(errorPath) }
        let pid: Int32
        do {
            pid = try spawn(path: path, arguments: arguments, environment: environment, outputPath: outputPath,
                            errorPath: errorPath)
        } catch {
            return (-1, "\(error)", "")
        }
        var status = waitForExit(pid, timeout: timeout)
        if status == nil {
            killpg(pid, SIGKILL)
            _ = waitForExit(pid, timeout: 5)
            status = -1
        }
        let output = readFile(outputPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let errors = errorPath.flatMap { readFile($0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return (status!, status == -1 ? output + "\n[TestSupport: killed after \(timeout) s timeout]" : output, errors)
    }
}
