#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// The real `sluice` binary, started with a temporary prefix and free loopback ports.
///
/// ```swift
/// let upstream = try TestUpstream()
/// let sluice = try SluiceProcess(apisixYAML: """
///     routes:
///       - uri: /hello
///         upstream: {nodes: {"\(upstream.address)": 1}, type: roundrobin}
///     #END
///     """)
/// try sluice.start()
/// defer { sluice.stop() }
/// let response = try HTTPClient.request(port: sluice.proxyPort, path: "/hello")
/// ```
///
/// `init` only prepares the prefix (`/tmp/sluice-test-XXXXXX` with `conf/` and `logs/`); ``start(waitForPort:waitForWorkers:timeout:)``
/// spawns `sluice -p PREFIX` in its own process group with a clean signal state, its stdout and
/// stderr going to `logs/stdout.log`. ``stop(timeout:)`` (also run by `deinit`) stops it by pid and
/// removes the prefix unless the environment has `SLUICE_KEEP_TEST_PREFIX`.
///
/// The binary is `$SLUICE_BIN`, else `<package root>/.build/debug/sluice` (build it first:
/// `swift build`; `swift build --build-tests` builds it too).
package final class SluiceProcess: Sendable {
    /// The admin key the default `config.yaml` configures (the APISIX docs' well-known key).
    package static let adminKey = "edd1c9f034335f136f87ad84b625c8f1"

    /// The prefix directory (`-p`), e.g. `/tmp/sluice-test-a1B2c3`.
    package let prefix: String
    /// The port the default config's `apisix.node_listen` uses (127.0.0.1); `{{PROXY_PORT}}`.
    package let proxyPort: Int
    /// The port the default config's `deployment.admin.admin_listen` uses (127.0.0.1); `{{ADMIN_PORT}}`.
    package let adminPort: Int
    /// `worker_processes` in the default config.
    package let workers: Int
    /// The `sluice` executable started.
    package let binaryPath: String
    /// The environment the binary runs with: the test process's, plus `environment` from `init`.
    package let environment: [String: String]

    /// Mutable bookkeeping.
    private struct State {
        var pid: Int32?
        var exitStatus: Int32?
        var strayProcessesKilled = 0
        var forcedKill = false
        var runCount = 0
        var cleanedUp = false
    }
    private let state = Mutex(State())

    /// The default `$SLUICE_BIN`, else `<package root>/.build/debug/sluice`.
    package static var defaultBinaryPath: String {
        if let bin = ProcessInfo.processInfo.environment["SLUICE_BIN"], !bin.isEmpty { return bin }
        return packageRoot + "/.build/debug/sluice"
    }

    /// The package root, found from this source file's path (`<root>/Tests/TestSupport/...`).
    package static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// The `config.yaml` written when `init` gets none, with its placeholders still in it.
    /// Listens on 127.0.0.1:`{{PROXY_PORT}}`, Admin API on 127.0.0.1:`{{ADMIN_PORT}}` with
    /// ``adminKey``, `worker_processes: workers`, the given config provider, `error_log_level: info`.
    package static func defaultConfigYAML(workers: Int = 2, configProvider: String = "yaml") -> String {
        """
        apisix:
          node_listen:
            - ip: 127.0.0.1
              port: {{PROXY_PORT}}
        deployment:
          role: traditional
          role_traditional:
            config_provider: \(configProvider)
          admin:
            admin_key:
              - name: admin
                key: \(adminKey)
                role: admin
            admin_listen:
              ip: 127.0.0.1
              port: {{ADMIN_PORT}}
        nginx_config:
          worker_processes: \(workers)
          error_log_level: info

        """
    }

    /// The `apisix.yaml` written when `init` gets none: no routes.
    package static let defaultApisixYAML = "routes: []\n#END\n"

    /// Creates the prefix and writes its files (nothing is started yet).
    /// - Parameters:
    ///   - configYAML: `conf/config.yaml`; nil writes ``defaultConfigYAML(workers:configProvider:)``.
    ///     `{{PROXY_PORT}}`, `{{ADMIN_PORT}}` and `{{PREFIX}}` are replaced (see ``substitute(_:)``).
    ///   - apisixYAML: `conf/apisix.yaml` (placeholders replaced too); nil writes ``defaultApisixYAML``.
    ///   - workers: `worker_processes` of the default config (and what `waitForWorkers` waits for).
    ///   - configProvider: `config_provider` of the default config: `yaml` (default), `local`, `etcd`.
    ///   - extraFiles: more files, path relative to the prefix → contents (placeholders replaced);
    ///     directories are created.
    ///   - environment: variables added to (or overriding) the test process's environment for the binary.
    ///   - binary: the executable; nil uses ``defaultBinaryPath``.
    package init(
        configYAML: String? = nil, apisixYAML: String? = nil, workers: Int = 2, configProvider: String = "yaml",
        extraFiles: [String: String] = [:], environment: [String: String] = [:], binary: String? = nil
    ) throws {
        var template = Array("/tmp/sluice-test-XXXXXX".utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestSupportError.system("mkdtemp", errno)
        }
        prefix = String(cString: dir)
        self.workers = workers
        binaryPath = binary ?? SluiceProcess.defaultBinaryPath
        self.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let ports = SluiceProcess.freePorts(2)
        proxyPort = ports[0]
        adminPort = ports[1]
        do {
            try FileManager.default.createDirectory(atPath: prefix + "/conf", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: prefix + "/logs", withIntermediateDirectories: true)
            try writeFile("conf/config.yaml", configYAML ?? SluiceProcess.defaultConfigYAML(workers: workers, configProvider: configProvider))
            try writeFile("conf/apisix.yaml", apisixYAML ?? SluiceProcess.defaultApisixYAML)
            for (path, contents) in extraFiles.sorted(by: { $0.key < $1.key }) { try writeFile(path, contents) }
        } catch {
            try? FileManager.default.removeItem(atPath: prefix)
            throw error
        }
    }

    deinit {
        stop(timeout: 5)
        removePrefix()
    }

    // MARK: - Files

    /// `text` with `{{PROXY_PORT}}`, `{{ADMIN_PORT}}` and `{{PREFIX}}` replaced by this instance's values.
    package func substitute(_ text: String) -> String {
        text.replacingOccurrences(of: "{{PROXY_PORT}}", with: String(proxyPort))
            .replacingOccurrences(of: "{{ADMIN_PORT}}", with: String(adminPort))
            .replacingOccurrences(of: "{{PREFIX}}", with: prefix)
    }

    /// The absolute path of `relativePath` under the prefix.
    package func path(_ relativePath: String) -> String {
        relativePath.hasPrefix("/") ? relativePath : prefix + "/" + relativePath
    }

    /// Writes `contents` (placeholders replaced) to `relativePath` under the prefix, atomically
    /// (temporary file, then rename), creating directories as needed.
    package func writeFile(_ relativePath: String, _ contents: String) throws {
        let target = path(relativePath)
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let temp = target + ".tmp-\(getpid())"
        try Data(substitute(contents).utf8).write(to: URL(fileURLWithPath: temp))
        guard rename(temp, target) == 0 else { throw TestSupportError.system("rename \(temp)", errno) }
    }

    /// Replaces `conf/apisix.yaml` atomically and makes its mtime newer than before by at least one
    /// whole second (so even a watcher comparing mtimes in seconds sees the change; the mtime may
    /// be up to a second in the future). Placeholders are replaced.
    package func writeApisixYAML(_ text: String) throws { try writeBumpingMtime("conf/apisix.yaml", text) }

    /// Replaces `conf/config.yaml` like ``writeApisixYAML(_:)`` (for reload tests: then `signal(SIGHUP)`).
    package func writeConfigYAML(_ text: String) throws { try writeBumpingMtime("conf/config.yaml", text) }

    private func writeBumpingMtime(_ relativePath: String, _ contents: String) throws {
        let target = path(relativePath)
        var old = stat()
        let hadOld = stat(target, &old) == 0
        let temp = target + ".tmp-\(getpid())"
        try Data(substitute(contents).utf8).write(to: URL(fileURLWithPath: temp))
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var mtime = now
        if hadOld && now.tv_sec <= old.st_mtim.tv_sec {
            mtime = timespec(tv_sec: old.st_mtim.tv_sec + 1, tv_nsec: 0)
        }
        var times = [mtime, mtime]
        guard utimensat(AT_FDCWD, temp, &times, 0) == 0 else { throw TestSupportError.system("utimensat \(temp)", errno) }
        guard rename(temp, target) == 0 else { throw TestSupportError.system("rename \(temp)", errno) }
    }

    /// The contents of `relativePath` under the prefix (or an absolute path); "" if missing.
    package func readFile(_ relativePath: String) -> String {
        Processes.readFile(path(relativePath)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// `logs/error.log` (the default path).
    package var errorLog: String { readFile("logs/error.log") }
    /// `logs/access.log` (the default path).
    package var accessLog: String { readFile("logs/access.log") }
    /// `logs/stdout.log`: what the master (and anything it forked) wrote to stdout and stderr.
    package var stdoutLog: String { readFile("logs/stdout.log") }

    /// The pid in `logs/sluice.pid`, nil if missing or not a number.
    package var pidFromFile: Int32? {
        Int32(readFile("logs/sluice.pid").trimmingCharacters(in: .whitespacesAndNewlines))
    }

    // MARK: - Starting

    /// Spawns `sluice -p PREFIX` and, with `waitForPort`, waits until the proxy port accepts a TCP
    /// connection and `logs/sluice.pid` exists. With `waitForWorkers`, also until ``workerPids`` has
    /// ``workers`` entries and ``controlPid`` is set (needs the processes to name themselves).
    ///
    /// Throws, with `stdout.log` and `error.log` in the message, if the binary cannot be spawned,
    /// exits early, or is not ready within `timeout` seconds; it is then stopped (process group killed).
    /// The readiness probe is a bare connect-and-close on the proxy port: a worker may log it.
    /// `arguments` are added after `-p PREFIX` (e.g. `["-c", path]`).
    package func start(waitForPort: Bool = true, waitForWorkers: Bool = false, timeout: Double = 10,
                       arguments: [String] = []) throws {
        try state.withLock { s in
            guard s.pid == nil else { throw TestSupportError.process("SluiceProcess.start called twice (prefix \(prefix))") }
            guard access(binaryPath, X_OK) == 0 else {
                throw TestSupportError.process("sluice binary not found at \(binaryPath): run `swift build` first or set SLUICE_BIN")
            }
            s.pid = try Processes.spawn(
                path: binaryPath, arguments: ["-p", prefix] + arguments, environment: environment,
                outputPath: prefix + "/logs/stdout.log")
        }
        guard waitForPort || waitForWorkers else { return }
        var portOpen = false, pidFile = false, children = false
        let ready = TestSupport.waitUntil(timeout: timeout, interval: 0.02) {
            if state.withLock({ $0.exitStatus }) != nil || !isRunning { return true }
            pidFile = pidFromFile != nil
            if waitForPort && !portOpen { portOpen = SluiceProcess.isListening(port: proxyPort) }
            if waitForWorkers { children = workerPids.count >= workers && controlPid != nil }
            return (!waitForPort || (portOpen && pidFile)) && (!waitForWorkers || children)
        }
        if !isRunning {
            // stop() kills what the master left in its group before reaping it.
            let status = stop(timeout: 2).map(String.init) ?? "unknown"
            throw TestSupportError.process("sluice exited early with status \(status)\n" + logsForFailure())
        }
        if !ready {
            let what = "port \(proxyPort) accepting: \(portOpen), pid file: \(pidFile)"
                + (waitForWorkers ? ", workers \(workerPids.count)/\(workers), control: \(controlPid != nil)" : "")
            stop(timeout: 2)
            throw TestSupportError.process("sluice not ready within \(timeout) s (\(what))\n" + logsForFailure())
        }
    }

    /// The tail of stdout.log and error.log, for failure messages.
    package func logsForFailure(limit: Int = 4000) -> String {
        func tail(_ s: String) -> String { s.count > limit ? "...\n" + s.suffix(limit) : s }
        return "prefix: \(prefix)\n--- logs/stdout.log ---\n\(tail(stdoutLog))\n--- logs/error.log ---\n\(tail(errorLog))"
    }

    /// Waits up to `timeout` seconds until 127.0.0.1:`port` accepts a TCP connection (e.g. ``adminPort``).
    package func waitForPort(_ port: Int, timeout: Double = 10) throws {
        guard TestSupport.waitUntil(timeout: timeout, { SluiceProcess.isListening(port: port) }) else {
            throw TestSupportError.timeout("port \(port) accepting connections within \(timeout) s\n" + logsForFailure())
        }
    }

    /// Whether 127.0.0.1:`port` accepts a TCP connection now (connects and closes at once).
    package static func isListening(port: Int) -> Bool {
        guard let fd = try? Sock.connect(host: "127.0.0.1", port: port, timeout: 0.5) else { return false }
        close(fd)
        return true
    }

    // MARK: - Processes

    /// The master's pid once started (also after it exited).
    package var pid: Int32? { state.withLock { $0.pid } }

    /// Whether the master has been started and not exited.
    package var isRunning: Bool {
        guard let pid, state.withLock({ $0.exitStatus }) == nil else { return false }
        return Processes.isAlive(pid)
    }

    /// Sends `signo` to the master. Returns false if it is not running.
    @discardableResult
    package func signal(_ signo: Int32) -> Bool {
        guard let pid, state.withLock({ $0.exitStatus }) == nil else { return false }
        return kill(pid, signo) == 0
    }

    /// Live (non-zombie) children of the master whose name is `name`: `/proc/PID/comm` (set by
    /// `prctl(PR_SET_NAME)`, at most 15 bytes) equals it, or `argv[0]` starts with it. Sorted.
    package func childPids(named name: String) -> [Int32] {
        guard let master = pid else { return [] }
        return Processes.all()
            .filter { $0.ppid == master && $0.state != "Z" && $0.state != "X" }
            .filter { $0.comm == name || Processes.argv0($0.pid).hasPrefix(name) }
            .map(\.pid).sorted()
    }

    /// Every live child of the master, whatever its name.
    package var allChildPids: [Int32] {
        guard let master = pid else { return [] }
        return Processes.all().filter { $0.ppid == master && $0.state != "Z" }.map(\.pid).sorted()
    }

    /// ``childPids(named:)`` for `sluice: worker`.
    package var workerPids: [Int32] { childPids(named: "sluice: worker") }

    /// The `sluice: control` child, if there is one.
    package var controlPid: Int32? { childPids(named: "sluice: control").first }

    /// Whether `path` is an executable file (e.g. to skip a test when a tool is not installed).
    package static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    /// Whether `pid` exists and is not a zombie (e.g. to see a worker exit after its master died).
    package static func isAlive(pid: Int32) -> Bool { Processes.isAlive(pid) }

    /// Polls `condition` every 20 ms for up to `timeout` seconds; returns whether it became true.
    @discardableResult
    package func waitUntil(timeout: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
        try TestSupport.waitUntil(timeout: timeout, condition)
    }

    /// Waits up to `timeout` seconds for the master to exit (reaping it) and returns its exit code
    /// (128 + signal number if a signal ended it), or nil if it is still running (or never started).
    /// Children that outlive the master are not touched (``stop(timeout:)`` kills them).
    package func waitForExit(timeout: Double) -> Int32? {
        guard let pid else { return nil }
        if let status = state.withLock({ $0.exitStatus }) { return status }
        var result: Int32?
        TestSupport.waitUntil(timeout: timeout, interval: 0.01) {
            state.withLock { s in
                if s.exitStatus == nil, let code = Processes.reap(pid).code { s.exitStatus = code }
                result = s.exitStatus
            }
            return result != nil
        }
        return result
    }

    /// The master's exit code once reaped (see ``waitForExit(timeout:)``).
    package var exitStatus: Int32? { state.withLock { $0.exitStatus } }

    /// Processes of the group still alive after the master exited, killed by the last ``stop(timeout:)``.
    /// Non-zero means children did not exit with their master: worth asserting on.
    package var strayProcessesKilled: Int { state.withLock { $0.strayProcessesKilled } }

    /// Whether the last ``stop(timeout:)`` had to SIGKILL the master after its deadline.
    package var neededForcedKill: Bool { state.withLock { $0.forcedKill } }

    /// Graceful stop: `SIGQUIT` to the master and up to `timeout` seconds for it to exit; then
    /// `SIGKILL` to the whole process group. Any process of the group still alive once the master has
    /// exited is killed too (counted in ``strayProcessesKilled``). Reaps the master and returns its
    /// exit code (nil if it was never started). Idempotent; does not remove the prefix.
    @discardableResult
    package func stop(timeout: Double = 10) -> Int32? {
        guard let pid else { return nil }
        if state.withLock({ $0.exitStatus }) == nil {
            kill(pid, SIGQUIT)
            if !Processes.waitForZombie(pid, timeout: timeout) {
                killpg(pid, SIGKILL)
                state.withLock { $0.forcedKill = true }
                _ = Processes.waitForZombie(pid, timeout: 5)
            }
            // The master is a zombie (not reaped): its pid, which is the group id, cannot be reused yet.
            killStragglers(group: pid)
            _ = waitForExit(timeout: 5)
        } else {
            killStragglers(group: pid)
        }
        return state.withLock { $0.exitStatus }
    }

    private func killStragglers(group: Int32) {
        let stray = Processes.all().filter { $0.pgrp == group && $0.pid != group && $0.state != "Z" }
        guard !stray.isEmpty else { return }
        state.withLock { $0.strayProcessesKilled += stray.count }
        for p in stray { kill(p.pid, SIGKILL) }
        for p in stray { TestSupport.waitUntil(timeout: 2) { !Processes.isAlive(p.pid) } }
    }

    /// Removes the prefix directory, unless `SLUICE_KEEP_TEST_PREFIX` is set (then its path is
    /// printed). Stop first. Idempotent; `deinit` calls it.
    package func removePrefix() {
        let already = state.withLock { s in
            defer { s.cleanedUp = true }
            return s.cleanedUp
        }
        guard !already else { return }
        if let keep = environment["SLUICE_KEEP_TEST_PREFIX"], !keep.isEmpty {
            FileHandle.standardError.write(Data("SluiceProcess: kept prefix \(prefix)\n".utf8))
            return
        }
        try? FileManager.default.removeItem(atPath: prefix)
    }

    // MARK: - Running the binary again

    /// Runs the binary again with `arguments` (e.g. `["-t"]`, `["-s", "reload"]`) and waits for it,
    /// at most `timeout` seconds (then its process group is killed and the status is -1).
    /// With `addPrefix`, `-p PREFIX` is appended unless `arguments` has `-p`.
    /// Returns the exit code (128 + signal if killed by one) and stdout+stderr together.
    package func run(_ arguments: [String], addPrefix: Bool = true, timeout: Double = 10) -> (status: Int32, output: String) {
        var arguments = arguments
        if addPrefix && !arguments.contains("-p") { arguments += ["-p", prefix] }
        let n = state.withLock { s in
            s.runCount += 1
            return s.runCount
        }
        return Processes.run(
            path: binaryPath, arguments: arguments, environment: environment,
            outputPath: prefix + "/logs/run-\(n).out", timeout: timeout)
    }

    /// Runs the binary (``defaultBinaryPath``) with `arguments` without any prefix (e.g. `["-v"]`).
    package static func runBinary(_ arguments: [String], timeout: Double = 10) -> (status: Int32, output: String) {
        let output = "/tmp/sluice-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { unlink(output) }
        return Processes.run(
            path: defaultBinaryPath, arguments: arguments, environment: ProcessInfo.processInfo.environment,
            outputPath: output, timeout: timeout)
    }

    /// ``run(_:addPrefix:timeout:)`` with stdout and stderr kept apart (e.g. to check that
    /// `-v` prints on stdout and `-t` on stderr).
    package func runCapturing(
        _ arguments: [String], addPrefix: Bool = true, timeout: Double = 10
    ) -> (status: Int32, stdout: String, stderr: String) {
        var arguments = arguments
        if addPrefix && !arguments.contains("-p") { arguments += ["-p", prefix] }
        let n = state.withLock { s in
            s.runCount += 1
            return s.runCount
        }
        let result = Processes.run(
            path: binaryPath, arguments: arguments, environment: environment,
            outputPath: prefix + "/logs/run-\(n).out", errorPath: prefix + "/logs/run-\(n).err", timeout: timeout)
        return (result.status, result.output, result.errors)
    }

    /// ``runBinary(_:timeout:)`` with stdout and stderr kept apart.
    package static func runBinaryCapturing(
        _ arguments: [String], timeout: Double = 10
    ) -> (status: Int32, stdout: String, stderr: String) {
        let base = "/tmp/sluice-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer {
            unlink(base + ".out")
            unlink(base + ".err")
        }
        let result = Processes.run(
            path: defaultBinaryPath, arguments: arguments, environment: ProcessInfo.processInfo.environment,
            outputPath: base + ".out", errorPath: base + ".err", timeout: timeout)
        return (result.status, result.output, result.errors)
    }

    // MARK: - Ports

    /// Ports handed out by this process, never handed out twice.
    private static let handedOut = Mutex(Set<Int>())

    /// A TCP port free on 127.0.0.1 right now, below the kernel's ephemeral range (so outgoing
    /// connections, which take their local ports from that range, cannot grab it before the
    /// gateway binds it) and never returned twice by this process. Another process may still take
    /// it before it is used: pass it to the gateway soon.
    package static func freePort() -> Int { freePorts(1)[0] }

    /// `count` distinct ports as ``freePort()`` picks them.
    package static func freePorts(_ count: Int) -> [Int] {
        var ephemeralLow = 32768
        if let text = Processes.readFile("/proc/sys/net/ipv4/ip_local_port_range"),
           let low = String(decoding: text, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" }).first,
           let value = Int(low) {
            ephemeralLow = value
        }
        let range = ephemeralLow > 12000 ? 10000..<ephemeralLow : 20000..<30000
        var ports: [Int] = []
        while ports.count < count {
            let port = Int.random(in: range)
            let fresh = handedOut.withLock { $0.insert(port).inserted }
            guard fresh else { continue }
            // Free if a socket can bind it without SO_REUSEADDR (no listener, no TIME_WAIT).
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard var addr = try? Sock.address(host: "127.0.0.1", port: port) else { continue }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if rc == 0 { ports.append(port) }
        }
        return ports
    }
}
