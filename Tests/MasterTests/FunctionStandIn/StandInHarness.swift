#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport

// Runs the real `sluice-function` binary (and curl/openssl for TLS) from tests. Every wait is
// bounded; every child is stopped by its pid.

/// A child started with posix_spawn: empty signal mask and default dispositions (the test runner's
/// threads block signals, which a child would otherwise inherit), its own process group, stdin from
/// /dev/null, stdout and stderr together in one temporary file, no other inherited descriptor.
final class StandInChild {
    /// The child's pid (also its process group id).
    let pid: pid_t
    private let directory: String
    private var status: Int32?

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+), hidden from Swift's Glibc module.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32).self)
    }()

    /// Starts `path` with `arguments`.
    init(path: String, arguments: [String]) throws {
        var template = Array("/tmp/sluice-function-test-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestSupportError.system("mkdtemp", errno)
        }
        directory = String(cString: made)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory + "/output", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        if let addCloseFrom = StandInChild.addCloseFrom { _ = addCloseFrom(&actions, 3) }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, &attributes, argv, environ)
        guard rc == 0 else {
            try? FileManager.default.removeItem(atPath: directory)
            throw TestSupportError.system("posix_spawn \(path)", rc)
        }
        pid = child
    }

    deinit {
        if status == nil {
            kill(pid, SIGKILL)
            _ = exitCode(within: 5)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// What the child wrote to stdout and stderr so far.
    var output: String {
        (try? String(contentsOfFile: directory + "/output", encoding: .utf8)) ?? ""
    }

    /// Waits up to `seconds` for the child to exit and reaps it: its exit code, 128 + the signal
    /// when a signal killed it, nil if it is still running.
    func exitCode(within seconds: Double) -> Int32? {
        if status == nil {
            TestSupport.waitUntil(timeout: seconds, interval: 0.01) {
                var raw: Int32 = 0
                let rc = waitpid(pid, &raw, WNOHANG)
                if rc == pid { status = raw }
                return rc != 0
            }
        }
        guard let raw = status else { return nil }
        return raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    }

    /// Sends `signal`, waits up to `seconds` for the exit, SIGKILLs on timeout. The exit code as
    /// ``exitCode(within:)`` reports it (nil when the SIGKILL was needed).
    @discardableResult
    func stop(signal: Int32 = SIGTERM, within seconds: Double = 5) -> Int32? {
        if status == nil { kill(pid, signal) }
        if let code = exitCode(within: seconds) { return code }
        kill(pid, SIGKILL)
        _ = exitCode(within: 5)
        return nil
    }

    /// Runs `path` to completion, bounded by `seconds` (then killed): exit code (nil on timeout) and output.
    static func run(_ path: String, _ arguments: [String], within seconds: Double = 20) throws -> (code: Int32?, output: String) {
        let child = try StandInChild(path: path, arguments: arguments)
        let code = child.exitCode(within: seconds)
        if code == nil { child.stop(signal: SIGKILL) }
        return (code, child.output)
    }
}

/// A running `sluice-function`, started on a free loopback port and ready (it printed
/// `listening on 127.0.0.1:PORT`). Stop it with ``stop(signal:)``; `deinit` kills it otherwise.
final class StandInServer {
    /// `$SLUICE_FUNCTION_BIN`, else `<package root>/.build/debug/sluice-function`.
    static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["SLUICE_FUNCTION_BIN"], !path.isEmpty { return path }
        // #filePath = <root>/Tests/MasterTests/FunctionStandIn/StandInHarness.swift
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent(".build/debug/sluice-function").path
    }

    /// The port it listens on.
    let port: Int
    /// The process.
    let child: StandInChild

    /// Starts `sluice-function ARGUMENTS --port <free port>` and waits up to `timeout` seconds for
    /// its ready line; throws (with its output) if it exits or is not ready in time.
    init(_ arguments: [String], timeout: Double = 10) throws {
        guard SluiceProcess.isExecutable(StandInServer.binaryPath) else {
            throw TestSupportError.process("sluice-function not found at \(StandInServer.binaryPath): run `swift build` or set SLUICE_FUNCTION_BIN")
        }
        port = SluiceProcess.freePort()
        child = try StandInChild(path: StandInServer.binaryPath, arguments: arguments + ["--port", String(port)])
        let ready = "listening on 127.0.0.1:\(port)\n"
        var exited = false
        let started = TestSupport.waitUntil(timeout: timeout, interval: 0.01) {
            if child.output.contains(ready) { return true }
            exited = child.exitCode(within: 0) != nil
            return exited
        }
        guard started, !exited else {
            child.stop(signal: SIGKILL)
            throw TestSupportError.process("sluice-function \(arguments) not ready (exited: \(exited)):\n\(child.output)")
        }
    }

    /// Stops the server with `signal` (bounded); its exit code, nil if it had to be killed.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32? { child.stop(signal: signal) }

    /// One request on a new connection (`Connection: close`).
    func request(
        method: String = "GET", _ path: String, headers: [(String, String)] = [], body: String? = nil
    ) throws -> TestHTTPResponse {
        try HTTPClient.request(port: port, method: method, path: path, headers: headers, body: body.map { Array($0.utf8) })
    }

    /// `GET /_standin/stats`, decoded.
    func stats() throws -> StandInStats {
        try HTTPClient.request(port: port, path: "/_standin/stats").decode(StandInStats.self)
    }
}

/// The body of `GET /_standin/stats`.
struct StandInStats: Decodable, Equatable {
    /// Connections that carried at least one function request.
    var connections: Int
    /// Function requests answered or being answered (not `/_standin/` ones).
    var requests: Int
    /// Of ``connections``, those still open.
    var open: Int
    /// Every accepted connection (including the stats requests' own).
    var accepted: Int
}
