#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import Shared

/// `sluice`'s command line, through the built binary (MasterTests cannot import the executable).
@Suite struct CommandLineTests {
    /// `--version` and `-v` print the version on stdout and exit 0.
    @Test func version() throws {
        for flag in ["--version", "-v"] {
            let result = try runSluice([flag])
            #expect(result.code == 0)
            #expect(result.stdout.hasPrefix("sluice version "))
            let version = result.stdout.dropFirst("sluice version ".count).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(version.split(separator: ".").count == 3)
        }
    }

    /// `-h` prints the usage and exits 0.
    @Test func help() throws {
        let result = try runSluice(["-h"])
        #expect(result.code == 0)
        #expect(result.stdout.contains("Usage: sluice"))
        #expect(result.stdout.contains("-s signal"))
    }

    /// An unknown option prints what was wrong and the usage on stderr, exit 1.
    @Test func unknownOption() throws {
        let result = try runSluice(["-x"])
        #expect(result.code == 1)
        #expect(result.stderr.contains("invalid option: \"-x\""))
        #expect(result.stderr.contains("Usage: sluice"))
    }

    /// A stray argument that is no option is refused the same way.
    @Test func strayArgument() throws {
        let result = try runSluice(["reload"])
        #expect(result.code == 1)
        #expect(result.stderr.contains("invalid option: \"reload\""))
    }

    /// `-p` without its value is a usage error.
    @Test func missingValue() throws {
        let result = try runSluice(["-p"])
        #expect(result.code == 1)
        #expect(result.stderr.contains("option \"-p\" requires a parameter"))
    }

    /// `-s` accepts only stop, quit, reopen, reload.
    @Test func invalidSignal() throws {
        let result = try runSluice(["-s", "restart"])
        #expect(result.code == 1)
        #expect(result.stderr.contains("invalid option: \"-s restart\""))
    }

    /// `-t` on a valid prefix prints nginx's two verdict lines and exits 0.
    @Test func testConfigOK() throws {
        let prefix = try TestPrefix()
        let result = try runSluice(["-t", "-p", prefix.path])
        #expect(result.code == 0)
        let config = prefix.path + "/conf/config.yaml"
        #expect(result.stderr.contains("sluice: the configuration file \(config) syntax is ok"))
        #expect(result.stderr.contains("sluice: configuration file \(config) test is successful"))
        // -t starts nothing and writes no pid file.
        #expect(prefix.recordedPid == nil)
    }

    /// `-t -c FILE` checks the given file (value attached to the option works too).
    @Test func testConfigExplicitFile() throws {
        let prefix = try TestPrefix()
        let config = prefix.path + "/conf/config.yaml"
        let result = try runSluice(["-t", "-p" + prefix.path, "-c", config])
        #expect(result.code == 0)
        #expect(result.stderr.contains("configuration file \(config) test is successful"))
    }

    /// `-t` on a broken config.yaml prints the reason and "test failed", exit 1.
    @Test(.enabled(if: SluiceBinary.loaderIsReal, "needs the real GatewayConfig loader"))
    func testConfigInvalid() throws {
        let prefix = try TestPrefix()
        try prefix.write("conf/config.yaml", "apisix:\n  node_listen: [ 9080\n")
        let result = try runSluice(["-t", "-p", prefix.path])
        #expect(result.code == 1)
        #expect(result.stderr.contains("[emerg]"))
        #expect(result.stderr.contains("configuration file \(prefix.path)/conf/config.yaml test failed"))
    }

    /// `-t -c` naming a missing file fails.
    @Test(.enabled(if: SluiceBinary.loaderIsReal, "needs the real GatewayConfig loader"))
    func testConfigMissingFile() throws {
        let prefix = try TestPrefix()
        let result = try runSluice(["-t", "-c", prefix.path + "/conf/nope.yaml"])
        #expect(result.code == 1)
        #expect(result.stderr.contains("test failed"))
    }

    /// `-s` without a running master says which pid file is missing, exit 1.
    @Test func signalWithoutPidFile() throws {
        let prefix = try TestPrefix()
        let result = try runSluice(["-s", "quit", "-p", prefix.path])
        #expect(result.code == 1)
        #expect(result.stderr.contains("open() \"\(prefix.pidFile)\" failed (2: No such file or directory)"))
    }

    /// A pid file naming a dead process is reported as stale, exit 1.
    @Test func signalWithStalePid() throws {
        let prefix = try TestPrefix()
        // A pid that surely belongs to no process: a reaped child's.
        let dead = try SpawnedSluice(["-v"])
        _ = dead.exitCode()
        try makeLogsDirectory(prefix)
        try prefix.write("logs/sluice.pid", "\(dead.pid)\n")
        let result = try runSluice(["-s", "stop", "-p", prefix.path])
        #expect(result.code == 1)
        #expect(result.stderr.contains("stale pid file") || result.stderr.contains("not a sluice master"))
    }

    /// A pid file naming a live process that is not a sluice master gets no signal.
    @Test func signalWithForeignPid() throws {
        let prefix = try TestPrefix()
        try makeLogsDirectory(prefix)
        try prefix.write("logs/sluice.pid", "\(getpid())\n")
        let result = try runSluice(["-s", "reopen", "-p", prefix.path])
        #expect(result.code == 1)
        #expect(result.stderr.contains("is not a sluice master"))
    }

    /// Garbage in the pid file is named.
    @Test func signalWithInvalidPid() throws {
        let prefix = try TestPrefix()
        try makeLogsDirectory(prefix)
        try prefix.write("logs/sluice.pid", "twelve\n")
        let result = try runSluice(["-s", "reload", "-p", prefix.path])
        #expect(result.code == 1)
        #expect(result.stderr.contains("invalid PID number \"twelve\""))
    }

    /// `-s reload` with a broken config.yaml refuses before signalling anything.
    @Test(.enabled(if: SluiceBinary.loaderIsReal, "needs the real GatewayConfig loader"))
    func reloadRefusesInvalidConfig() throws {
        let prefix = try TestPrefix()
        try prefix.write("conf/config.yaml", "apisix:\n  node_listen: [ 9080\n")
        let result = try runSluice(["-s", "reload", "-p", prefix.path])
        #expect(result.code == 1)
        #expect(result.stderr.contains("not reloading"))
    }
}

/// `PREFIX/logs`, for tests that plant a pid file.
func makeLogsDirectory(_ prefix: TestPrefix) throws {
    if mkdir(prefix.path + "/logs", 0o755) != 0 && errno != EEXIST {
        throw HarnessError("mkdir logs failed: \(errno)")
    }
}
