#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport

/// `sluice`'s command line, through the built binary (MasterTests cannot import the executable).
/// Nothing here starts a master.
@Suite struct CommandLineTests {
    /// `--version` and `-v` print the version on stdout and exit 0.
    @Test func version() throws {
        for flag in ["--version", "-v"] {
            let result = SluiceProcess.runBinaryCapturing([flag])
            #expect(result.status == 0)
            #expect(result.stdout.hasPrefix("sluice version "))
            let version = result.stdout.dropFirst("sluice version ".count).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(version.split(separator: ".").count == 3)
        }
    }

    /// `-h` prints the usage and exits 0.
    @Test func help() throws {
        let result = SluiceProcess.runBinaryCapturing(["-h"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("Usage: sluice"))
        #expect(result.stdout.contains("-s signal"))
    }

    /// An unknown option prints what was wrong and the usage on stderr, exit 1.
    @Test func unknownOption() throws {
        let result = SluiceProcess.runBinaryCapturing(["-x"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("invalid option: \"-x\""))
        #expect(result.stderr.contains("Usage: sluice"))
    }

    /// A stray argument that is no option is refused the same way.
    @Test func strayArgument() throws {
        let result = SluiceProcess.runBinaryCapturing(["reload"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("invalid option: \"reload\""))
    }

    /// `-p` without its value is a usage error.
    @Test func missingValue() throws {
        let result = SluiceProcess.runBinaryCapturing(["-p"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("option \"-p\" requires a parameter"))
    }

    /// `-s` accepts only stop, quit, reopen, reload.
    @Test func invalidSignal() throws {
        let result = SluiceProcess.runBinaryCapturing(["-s", "restart"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("invalid option: \"-s restart\""))
    }

    /// `-t` on a valid prefix prints nginx's two verdict lines and exits 0.
    @Test func testConfigOK() throws {
        let sluice = try SluiceProcess()
        let result = sluice.runCapturing(["-t"])
        #expect(result.status == 0)
        let config = sluice.path("conf/config.yaml")
        #expect(result.stderr.contains("sluice: the configuration file \(config) syntax is ok"))
        #expect(result.stderr.contains("sluice: configuration file \(config) test is successful"))
        // -t starts nothing and writes no pid file.
        #expect(sluice.pidFromFile == nil)
    }

    /// `-t -c FILE` checks the given file (value attached to the option works too).
    @Test func testConfigExplicitFile() throws {
        let sluice = try SluiceProcess()
        let config = sluice.path("conf/config.yaml")
        let result = sluice.runCapturing(["-t", "-p" + sluice.prefix, "-c", config], addPrefix: false)
        #expect(result.status == 0)
        #expect(result.stderr.contains("configuration file \(config) test is successful"))
    }

    /// `-t` on a broken config.yaml prints the reason and "test failed", exit 1.
    @Test func testConfigInvalid() throws {
        let sluice = try SluiceProcess(configYAML: "apisix:\n  node_listen: [ 9080\n")
        let result = sluice.runCapturing(["-t"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("[emerg]"))
        #expect(result.stderr.contains("configuration file \(sluice.path("conf/config.yaml")) test failed"))
    }

    /// `-t` with a bad value in config.yaml names the key and the value, exit 1.
    @Test func testConfigBadValueNamesKey() throws {
        let config = SluiceProcess.defaultConfigYAML().replacingOccurrences(
            of: "worker_processes: 2", with: "worker_processes: many")
        let sluice = try SluiceProcess(configYAML: config)
        let result = sluice.runCapturing(["-t"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("nginx_config.worker_processes"), "\(result.stderr)")
        #expect(result.stderr.contains("\"many\""), "\(result.stderr)")
        #expect(result.stderr.contains("test failed"))
    }

    /// `-t -c` naming a missing file fails.
    @Test func testConfigMissingFile() throws {
        let sluice = try SluiceProcess()
        let result = sluice.runCapturing(["-t", "-c", sluice.path("conf/nope.yaml")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("test failed"))
    }

    /// `-s` without a running master says which pid file is missing, exit 1.
    @Test func signalWithoutPidFile() throws {
        let sluice = try SluiceProcess()
        let result = sluice.runCapturing(["-s", "quit"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("open() \"\(sluice.path("logs/sluice.pid"))\" failed (2: No such file or directory)"))
    }

    /// A pid file naming a dead process is reported as stale, exit 1.
    @Test func signalWithStalePid() throws {
        let sluice = try SluiceProcess()
        try sluice.writeFile("logs/sluice.pid", "\(try reapedPid())\n")
        let result = sluice.runCapturing(["-s", "stop"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("stale pid file") || result.stderr.contains("not a sluice master"))
    }

    /// A pid file naming a live process that is not a sluice master gets no signal.
    @Test func signalWithForeignPid() throws {
        let sluice = try SluiceProcess()
        try sluice.writeFile("logs/sluice.pid", "\(getpid())\n")
        let result = sluice.runCapturing(["-s", "reopen"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("is not a sluice master"))
    }

    /// Garbage in the pid file is named.
    @Test func signalWithInvalidPid() throws {
        let sluice = try SluiceProcess()
        try sluice.writeFile("logs/sluice.pid", "twelve\n")
        let result = sluice.runCapturing(["-s", "reload"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("invalid PID number \"twelve\""))
    }

    /// `-s reload -p PREFIX` checks and reloads with the config file the master of PREFIX was
    /// started with (its `-c`), not `PREFIX/conf/config.yaml`: here there is none, and the check
    /// of a broken one names the master's file.
    @Test func reloadUsesTheMastersConfigFile() throws {
        let sluice = try SluiceProcess(workers: 1)
        let alternate = sluice.path("alt/gateway.yaml")
        try sluice.writeFile("alt/gateway.yaml", sluice.readFile("conf/config.yaml"))
        unlink(sluice.path("conf/config.yaml"))
        try sluice.start(arguments: ["-c", alternate])
        defer { sluice.stop() }

        let reload = sluice.runCapturing(["-s", "reload"])
        #expect(reload.status == 0, "\(reload.stderr)")
        #expect(sluice.waitUntil { sluice.errorLog.contains("signal 1 (SIGHUP) received") }, "\(sluice.errorLog)")

        try sluice.writeFile("alt/gateway.yaml", "apisix:\n  node_listen: [ 9080\n")
        let refused = sluice.runCapturing(["-s", "reload"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(alternate) && refused.stderr.contains("not reloading"), "\(refused.stderr)")
    }

    /// `-s reload` with a broken config.yaml refuses before signalling anything.
    @Test func reloadRefusesInvalidConfig() throws {
        let sluice = try SluiceProcess(configYAML: "apisix:\n  node_listen: [ 9080\n")
        let result = sluice.runCapturing(["-s", "reload"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("not reloading"))
    }
}
