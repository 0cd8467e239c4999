#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Shared

// A minimal, private process harness for the master's tests. TestSupport is growing a richer one;
// this is to be merged into it. Every wait is bounded; every spawned process group is killed.

/// Where the `sluice` binary under test is: `$SLUICE_BIN`, else `.build/debug/sluice` of this package.
enum SluiceBinary {
    static var path: String {
        if let env = ProcessInfo.processInfo.environment["SLUICE_BIN"], !env.isEmpty { return env }
        // #filePath = <root>/Tests/MasterTests/Process/SluiceHarness.swift
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent(".build/debug/sluice").path
    }

    /// Whether `GatewayConfig.load` is the real loader (a missing file throws) rather than the
    /// skeleton's placeholder: tests that need config errors or settings honoured depend on it.
    static let loaderIsReal: Bool = (try? GatewayConfig.load(path: "/nonexistent/sluice/config.yaml")) == nil

    /// Whether the standalone loader and the snapshot writer are real (the skeleton's
    /// placeholders load nothing and write nothing).
    static let publishingIsReal: Bool = {
        guard (try? StandaloneConfig.load(path: "/nonexistent/sluice/apisix.yaml")) == nil else { return false }
        let path = "/tmp/sluice-probe-\(getpid()).json"
        defer { unlink(path) }
        try? SnapshotFile.write(ConfigSnapshot(), to: path)
        return access(path, F_OK) == 0
    }()

    /// The worker count a master started by `TestPrefix(workers:)` runs.
    static func expectedWorkers(_ configured: Int) -> Int {
        loaderIsReal ? configured : GatewayConfig().resolvedWorkerProcesses
    }
}

/// A temporary prefix with `conf/config.yaml` and `conf/apisix.yaml`, removed at deinit.
final class TestPrefix {
    let path: String
    let port: Int

    init(workers: Int = 2) throws {
        var template = Array("/tmp/sluice-master-test-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw HarnessError("mkdtemp failed: \(errno)")
        }
        path = String(cString: made)
        port = try freePort()
        try FileManager.default.createDirectory(atPath: path + "/conf", withIntermediateDirectories: true)
        try writeConfig(workers: workers)
        try write("conf/apisix.yaml", "routes: []\n#END\n")
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func writeConfig(workers: Int) throws {
        try write("conf/config.yaml", """
            apisix:
              node_listen:
                - ip: 127.0.0.1
                  port: \(port)
            deployment:
              role_traditional:
                config_provider: yaml
            nginx_config:
              worker_processes: \(workers)
              error_log_level: info
            """ + "\n")
    }

    func write(_ relative: String, _ text: String) throws {
        try text.write(toFile: path + "/" + relative, atomically: true, encoding: .utf8)
    }

    func read(_ relative: String) -> String? {
        try? String(contentsOfFile: path + "/" + relative, encoding: .utf8)
    }

    var pidFile: String { path + "/logs/sluice.pid" }

    /// The pid in `logs/sluice.pid`, once it holds a whole number.
    var recordedPid: pid_t? {
        read("logs/sluice.pid").flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A child started with posix_spawn: empty signal mask, default dispositions, its own process
/// group (so one `kill(-pgid)` reaches everything it forks), stdout and stderr to files.
final class SpawnedSluice {
    let pid: pid_t
    private let outputPath: String
    private let errorPath: String
    private var status: Int32?

    init(_ arguments: [String]) throws {
        var template = Array("/tmp/sluice-out-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw HarnessError("mkdtemp failed")
        }
        let directory = String(cString: made)
        outputPath = directory + "/stdout"
        errorPath = directory + "/stderr"

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes,
                                 Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        let argv = ([SluiceBinary.path] + arguments).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, SluiceBinary.path, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw HarnessError("posix_spawn \(SluiceBinary.path) failed: \(rc)") }
        pid = child
    }

    deinit {
        killGroup()
        if let directory = Optional(URL(fileURLWithPath: outputPath).deletingLastPathComponent().path) {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// SIGKILL to the whole process group (the master and everything it forked), then reap.
    func killGroup() {
        kill(-pid, SIGKILL)
        if status == nil { _ = waitForExit(seconds: 2) }
    }

    /// The raw wait status once the process exited, nil when it is still running at the deadline.
    func waitForExit(seconds: Double) -> Int32? {
        if let status { return status }
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            var raw: Int32 = 0
            let rc = waitpid(pid, &raw, WNOHANG)
            if rc == pid {
                status = raw
                return raw
            }
            if rc < 0 { return nil }
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    /// The exit code, nil on timeout or death by signal.
    func exitCode(seconds: Double = 10) -> Int32? {
        guard let raw = waitForExit(seconds: seconds), raw & 0x7f == 0 else { return nil }
        return (raw >> 8) & 0xff
    }

    var stdout: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
}

/// Runs `sluice` with `arguments` to completion (bounded): exit code and output.
func runSluice(_ arguments: [String], seconds: Double = 10) throws -> (code: Int32?, stdout: String, stderr: String) {
    let process = try SpawnedSluice(arguments)
    let code = process.exitCode(seconds: seconds)
    return (code, process.stdout, process.stderr)
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass.
func eventually(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
        if condition() { return true }
        usleep(50_000)
    } while Date() < deadline
    return condition()
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard ok else { throw HarnessError("bind failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// What /proc says about live processes (zombies count as gone).
enum ProcTable {
    struct Entry: Equatable { var pid: pid_t; var parent: pid_t; var comm: String }

    /// `/proc/PID/stat`: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
    static func entry(_ pid: pid_t) -> Entry? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
        else { return nil }
        let comm = String(stat[stat.index(after: open)..<close])
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        guard rest.count > 2, rest[0] != "Z", rest[0] != "X", let parent = pid_t(rest[1]) else { return nil }
        return Entry(pid: pid, parent: parent, comm: comm)
    }

    static func isAlive(_ pid: pid_t) -> Bool { entry(pid) != nil }

    static func children(of parent: pid_t) -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { pid_t($0) }.compactMap { entry($0) }.filter { $0.parent == parent }
            .sorted { $0.pid < $1.pid }
    }

    static func workers(of master: pid_t) -> [pid_t] {
        children(of: master).filter { $0.comm == "sluice: worker" }.map(\.pid)
    }

    static func control(of master: pid_t) -> [pid_t] {
        children(of: master).filter { $0.comm == "sluice: control" }.map(\.pid)
    }
}

/// A master started on a fresh prefix, ready (pid file written, all children up).
final class RunningMaster {
    let prefix: TestPrefix
    let process: SpawnedSluice
    let workerCount: Int
    var pid: pid_t { process.pid }

    init(workers: Int = 2, prefix: TestPrefix? = nil) throws {
        let prefix = try prefix ?? TestPrefix(workers: workers)
        self.prefix = prefix
        self.workerCount = SluiceBinary.expectedWorkers(workers)
        process = try SpawnedSluice(["-p", prefix.path])
        let pid = process.pid
        let count = workerCount
        guard eventually(seconds: 10, {
            prefix.recordedPid == pid && ProcTable.workers(of: pid).count == count
                && ProcTable.control(of: pid).count == 1
        }) else {
            let log = prefix.read("logs/error.log") ?? ""
            throw HarnessError("master \(pid) not ready: children \(ProcTable.children(of: pid)), "
                + "stderr: \(process.stderr), error.log: \(log)")
        }
    }

    var errorLog: String { prefix.read("logs/error.log") ?? "" }
}
