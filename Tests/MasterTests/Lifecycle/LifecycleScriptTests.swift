#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport

/// `benchmarks/lifecycle.sh --short` (issue 5, item 5) against the binary under test: under
/// constant load, 10 SIGHUP reloads (some replacing the workers), 5 route changes and 2 kill -9
/// of a worker. The script itself checks that no request failed except on connections a killed
/// worker held, and exits 1 otherwise; this test checks its exit status and its summary, never
/// its timings.
@Suite(.serialized) struct LifecycleScriptTests {
    static let script = SluiceProcess.packageRoot + "/benchmarks/lifecycle.sh"
    @Test(.requires("/usr/sbin/nginx", "/usr/bin/python3", "/usr/bin/curl"))
    func shortRunHasNoUnexplainedFailure() throws {
        let output = "/tmp/sluice-lifecycle-test-\(getpid()).out"
        defer { unlink(output) }
        var environment = ProcessInfo.processInfo.environment
        environment["SLUICE"] = SluiceProcess.defaultBinaryPath
        environment["ROUTES"] = LifecycleScriptTests.routes
        let pid = try spawnScript(["/bin/bash", Self.script, "--short"], environment: environment, output: output)
        // Bounded: the short run takes a few seconds. SIGTERM to its process group makes the script
        // stop what it started (its EXIT trap); SIGKILL if even that hangs.
        var status = waitForExit(pid, timeout: 120)
        let finished = status != nil
        if !finished {
            killpg(pid, SIGTERM)
            status = waitForExit(pid, timeout: 20)
            if status == nil {
                killpg(pid, SIGKILL)
                status = waitForExit(pid, timeout: 5)
            }
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        print(text)
        #expect(finished, "the script did not finish within 120 s\n\(text)")
        #expect(status == 0, "exit status \(status.map(String.init) ?? "none")\n\(text)")
        #expect(text.contains("lifecycle: PASS (0 unexplained failures, 0 problems)"), "\(text)")
        for phase in ["reloads", "changes", "kills"] {
            #expect(text.split(separator: "\n").contains { $0.hasPrefix(phase + " ") }, "no \(phase) line\n\(text)")
        }
        #expect(text.contains("respawn delay"), "\(text)")
    }

    /// How the script makes its route changes: `admin` (Admin API, `local` provider) or `yaml`.
    static let routes = "admin"
}

/// Spawns `argv` in its own process group with an empty signal mask and default dispositions
/// (the test runner's threads block signals, which the script and its children would inherit:
/// then SIGTERM would never stop the load client), stdin from /dev/null, stdout and stderr to
/// `output`.
private func spawnScript(_ argv: [String], environment: [String: String], output: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attr, &none)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigdefault(&attr, &all)
    posix_spawnattr_setpgroup(&attr, 0)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
    let args: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for p in args { free(p) }
        for p in envp { free(p) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, &attr, args, envp)
    guard rc == 0 else { throw TestSupportError.system("posix_spawn \(argv[0])", rc) }
    return pid
}

/// Reaps `pid`, polling for at most `timeout` seconds: its exit code (128 + signal), nil if still running.
private func waitForExit(_ pid: pid_t, timeout: Double) -> Int32? {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        if rc == pid {
            let signal = status & 0x7f
            return signal == 0 ? (status >> 8) & 0xff : 128 + signal
        }
        if rc < 0 && errno != EINTR { return -1 }
        if Date() >= deadline { return nil }
        usleep(50_000)
    }
}
