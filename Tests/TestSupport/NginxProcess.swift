#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Debian's real nginx (`/usr/sbin/nginx`), run from a temporary prefix on a free loopback port:
/// a second real HTTP server for comparisons and benchmarks.
///
/// Started as `nginx -p PREFIX/ -c conf/nginx.conf -g 'daemon off;'` (master process on, own
/// process group, clean signal state); pid file, logs and temp directories live in the prefix.
/// ``stop(timeout:)`` (also `deinit`) sends `SIGQUIT`, then kills the process group after the
/// deadline, and removes the prefix (kept with `SLUICE_KEEP_TEST_PREFIX`).
///
/// ```swift
/// let nginx = try NginxProcess(serverConfig: """
///     listen 127.0.0.1:{{PORT}};
///     location / { proxy_pass http://127.0.0.1:\(upstream.port); }
///     """)
/// try nginx.start()
/// ```
package final class NginxProcess: Sendable {
    /// The prefix directory.
    package let prefix: String
    /// The free port the default server listens on (127.0.0.1); `{{PORT}}` in configs.
    package let port: Int
    /// The nginx executable.
    package let binaryPath: String

    private struct State {
        var pid: Int32?
        var exitStatus: Int32?
        var cleanedUp = false
    }
    private let state = Mutex(State())

    /// The body of the default `server { }` block: listens on `{{PORT}}` and answers `200 ok\n`.
    package static let defaultServerConfig = """
        listen 127.0.0.1:{{PORT}};
        location / { return 200 "ok\\n"; }
        """

    /// Prepares the prefix and `conf/nginx.conf` (nothing runs yet).
    /// - Parameters:
    ///   - serverConfig: the contents of the one `server { }` block (placeholders `{{PORT}}`,
    ///     `{{PREFIX}}`); default ``defaultServerConfig``.
    ///   - httpConfig: extra directives for the `http { }` block (e.g. `upstream` blocks, `keepalive_timeout`).
    ///   - workers: `worker_processes`.
    ///   - binary: default `/usr/sbin/nginx`.
    package init(serverConfig: String = NginxProcess.defaultServerConfig, httpConfig: String = "", workers: Int = 1, binary: String = "/usr/sbin/nginx") throws {
        var template = Array("/tmp/sluice-nginx-XXXXXX".utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestSupportError.system("mkdtemp", errno)
        }
        prefix = String(cString: dir)
        port = SluiceProcess.freePort()
        binaryPath = binary
        do {
            for sub in ["conf", "logs", "temp"] {
                try FileManager.default.createDirectory(atPath: prefix + "/" + sub, withIntermediateDirectories: true)
            }
            let user = geteuid() == 0 ? "user root;\n" : ""
            let temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
                .map { "    \($0)_temp_path \(prefix)/temp/\($0);" }.joined(separator: "\n")
            let conf = """
                \(user)worker_processes \(workers);
                master_process on;
                pid \(prefix)/logs/nginx.pid;
                error_log \(prefix)/logs/error.log info;
                events { worker_connections 4096; }
                http {
                    access_log \(prefix)/logs/access.log;
                \(temps)
                \(httpConfig)
                    server {
                \(serverConfig)
                    }
                }

                """
            try Data(substitute(conf).utf8).write(to: URL(fileURLWithPath: prefix + "/conf/nginx.conf"))
        } catch {
            try? FileManager.default.removeItem(atPath: prefix)
            throw error
        }
    }

    deinit {
        stop(timeout: 5)
        removePrefix()
    }

    /// `text` with `{{PORT}}` and `{{PREFIX}}` replaced.
    package func substitute(_ text: String) -> String {
        text.replacingOccurrences(of: "{{PORT}}", with: String(port)).replacingOccurrences(of: "{{PREFIX}}", with: prefix)
    }

    /// The master's pid once started.
    package var pid: Int32? { state.withLock { $0.pid } }

    /// `logs/error.log` and nginx's own stdout/stderr (`logs/stdout.log`).
    package var errorLog: String {
        ["logs/error.log", "logs/stdout.log"].map { Processes.readFile(prefix + "/" + $0).map { String(decoding: $0, as: UTF8.self) } ?? "" }
            .joined(separator: "\n")
    }

    /// Starts nginx and waits (at most `timeout` seconds) until ``port`` accepts connections.
    /// Throws with the error log if nginx exits or is not ready in time (it is then stopped).
    package func start(timeout: Double = 10) throws {
        guard access(binaryPath, X_OK) == 0 else { throw TestSupportError.process("nginx not found at \(binaryPath)") }
        try state.withLock { s in
            guard s.pid == nil else { throw TestSupportError.process("NginxProcess.start called twice") }
            s.pid = try Processes.spawn(
                path: binaryPath, arguments: ["-p", prefix + "/", "-c", "conf/nginx.conf", "-g", "daemon off;"],
                environment: ProcessInfo.processInfo.environment, outputPath: prefix + "/logs/stdout.log")
        }
        let pid = self.pid!
        let ready = TestSupport.waitUntil(timeout: timeout) {
            !Processes.isAlive(pid) || SluiceProcess.isListening(port: port)
        }
        if !ready || !Processes.isAlive(pid) {
            let status = stop(timeout: 2).map(String.init) ?? "unknown"
            throw TestSupportError.process("nginx not ready within \(timeout) s (status \(status))\n\(errorLog)")
        }
    }

    /// `SIGQUIT` (graceful stop), up to `timeout` seconds, then `SIGKILL` to the process group;
    /// reaps the master and returns its exit code (nil if never started). Idempotent.
    @discardableResult
    package func stop(timeout: Double = 10) -> Int32? {
        guard let pid else { return nil }
        if let status = state.withLock({ $0.exitStatus }) { return status }
        kill(pid, SIGQUIT)
        if !Processes.waitForZombie(pid, timeout: timeout) {
            killpg(pid, SIGKILL)
            _ = Processes.waitForZombie(pid, timeout: 5)
        }
        for p in Processes.all() where p.pgrp == pid && p.pid != pid && p.state != "Z" { kill(p.pid, SIGKILL) }
        let code = Processes.waitForExit(pid, timeout: 5)
        state.withLock { $0.exitStatus = code }
        return code
    }

    /// Removes the prefix unless `SLUICE_KEEP_TEST_PREFIX` is set. Idempotent; `deinit` calls it.
    package func removePrefix() {
        let already = state.withLock { s in
            defer { s.cleanedUp = true }
            return s.cleanedUp
        }
        guard !already else { return }
        if let keep = ProcessInfo.processInfo.environment["SLUICE_KEEP_TEST_PREFIX"], !keep.isEmpty { return }
        try? FileManager.default.removeItem(atPath: prefix)
    }
}
