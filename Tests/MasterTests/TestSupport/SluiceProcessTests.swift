import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// SluiceProcess without a working gateway: prefix preparation, ports, cleanup, and the process
/// machinery exercised with small shell scripts standing in for the binary.
@Suite struct SluiceProcessTests {
    /// A temporary executable shell script; removed by `remove()`.
    struct FakeBinary {
        let path: String
        init(_ script: String) throws {
            path = "/tmp/sluice-fake-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sh"
            try Data(("#!/bin/sh\n" + script + "\n").utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }
        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Ports are distinct, bindable on loopback, and below the ephemeral range.
    @Test func freePorts() throws {
        let ports = SluiceProcess.freePorts(20)
        #expect(Set(ports).count == 20)
        #expect(SluiceProcess.freePort() > 0)
        for port in ports.prefix(3) {
            let upstream = try TestUpstream(port: port)  // binds it
            #expect(upstream.port == port)
            upstream.stop()
        }
    }

    /// `init` writes the default config with its ports and the default apisix.yaml.
    @Test func defaultPrefix() throws {
        let sluice = try SluiceProcess(workers: 3)
        #expect(sluice.prefix.hasPrefix("/tmp/sluice-test-"))
        #expect(sluice.proxyPort != sluice.adminPort)
        var isDir: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: sluice.prefix + "/logs", isDirectory: &isDir) && isDir.boolValue)
        let config = sluice.readFile("conf/config.yaml")
        #expect(config.contains("port: \(sluice.proxyPort)\n"))
        #expect(config.contains("port: \(sluice.adminPort)\n"))
        #expect(config.contains("worker_processes: 3\n"))
        #expect(config.contains("config_provider: yaml\n"))
        #expect(!config.contains("{{"))
        #expect(sluice.readFile("conf/apisix.yaml") == "routes: []\n#END\n")
        #expect(sluice.pid == nil && !sluice.isRunning && sluice.stop() == nil)
    }

    /// Placeholders are replaced in config.yaml, apisix.yaml and extra files.
    @Test func placeholders() throws {
        let sluice = try SluiceProcess(
            configYAML: "listen: {{PROXY_PORT}}\nadmin: {{ADMIN_PORT}}\nlog: {{PREFIX}}/logs/e.log\n",
            apisixYAML: "# {{PROXY_PORT}}\nroutes: []\n#END\n",
            extraFiles: ["conf/sub/extra.txt": "at {{PREFIX}}"])
        #expect(sluice.readFile("conf/config.yaml") == "listen: \(sluice.proxyPort)\nadmin: \(sluice.adminPort)\nlog: \(sluice.prefix)/logs/e.log\n")
        #expect(sluice.readFile("conf/apisix.yaml").hasPrefix("# \(sluice.proxyPort)\n"))
        #expect(sluice.readFile("conf/sub/extra.txt") == "at \(sluice.prefix)")
        #expect(sluice.substitute("{{ADMIN_PORT}}") == String(sluice.adminPort))
    }

    /// The prefix is removed on deinit, and kept with SLUICE_KEEP_TEST_PREFIX.
    @Test func prefixCleanup() throws {
        var sluice: SluiceProcess? = try SluiceProcess()
        let prefix = sluice!.prefix
        #expect(FileManager.default.fileExists(atPath: prefix))
        sluice = nil
        #expect(!FileManager.default.fileExists(atPath: prefix))

        var kept: SluiceProcess? = try SluiceProcess(environment: ["SLUICE_KEEP_TEST_PREFIX": "1"])
        let keptPrefix = kept!.prefix
        kept = nil
        #expect(FileManager.default.fileExists(atPath: keptPrefix))
        try FileManager.default.removeItem(atPath: keptPrefix)
    }

    /// writeApisixYAML replaces the file and moves its mtime forward by at least a second each time.
    @Test func writeApisixYAMLBumpsMtime() throws {
        let sluice = try SluiceProcess()
        func mtime() throws -> Date {
            try #require(FileManager.default.attributesOfItem(atPath: sluice.path("conf/apisix.yaml"))[.modificationDate] as? Date)
        }
        let before = try mtime()
        try sluice.writeApisixYAML("routes: []\n# {{PROXY_PORT}}\n#END\n")
        let first = try mtime()
        try sluice.writeApisixYAML("routes: []\n#END\n")
        let second = try mtime()
        #expect(floor(first.timeIntervalSince1970) > floor(before.timeIntervalSince1970))
        #expect(floor(second.timeIntervalSince1970) > floor(first.timeIntervalSince1970))
        #expect(sluice.readFile("conf/apisix.yaml") == "routes: []\n#END\n")
    }

    /// A missing binary gives a clear error.
    @Test func missingBinary() throws {
        let sluice = try SluiceProcess(binary: "/nonexistent/sluice")
        #expect {
            try sluice.start()
        } throws: { error in
            "\(error)".contains("sluice binary not found at /nonexistent/sluice")
        }
    }

    /// A binary that exits at once makes start fail with its output and status.
    @Test func earlyExitIsReported() throws {
        let fake = try FakeBinary("echo \"boom: $*\"\nexit 3")
        defer { fake.remove() }
        let sluice = try SluiceProcess(binary: fake.path)
        #expect {
            try sluice.start(timeout: 5)
        } throws: { error in
            let text = "\(error)"
            return text.contains("exited early with status 3") && text.contains("boom: -p \(sluice.prefix)")
        }
        #expect(sluice.exitStatus == 3)
    }

    /// A binary that never listens makes start fail after the deadline, and is stopped.
    @Test func notReadyTimesOut() throws {
        let fake = try FakeBinary("trap 'exit 0' QUIT\nsleep 30 & wait")
        defer { fake.remove() }
        let sluice = try SluiceProcess(binary: fake.path)
        let start = ContinuousClock.now
        #expect {
            try sluice.start(timeout: 1)
        } throws: { error in
            "\(error)".contains("not ready within 1.0 s")
        }
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(!sluice.isRunning)
        #expect(sluice.strayProcessesKilled == 1)  // the background sleep
    }

    /// The child starts with no blocked and no ignored signals, in its own process group; stop
    /// sends SIGQUIT, and kills the group members the master left behind.
    @Test func spawnStateAndGracefulStop() throws {
        let fake = try FakeBinary("""
            # A builtin loop, not grep: dash blocks every signal while it waits for a child.
            while read -r line; do case $line in SigBlk*|SigIgn*) echo "$line";; esac; done < /proc/$$/status
            ps -o pgid= -p $$ 2>/dev/null || awk '{print $5}' /proc/$$/stat
            echo $$ > "$2/logs/sluice.pid"
            trap 'echo got QUIT; exit 0' QUIT
            sleep 30 & sleep 30 &
            wait
            """)
        defer { fake.remove() }
        let sluice = try SluiceProcess(binary: fake.path)
        try sluice.start(waitForPort: false)
        let pid = try #require(sluice.pid)
        #expect(sluice.waitUntil(timeout: 5) { sluice.childPids(named: "sleep").count == 2 })
        #expect(sluice.pidFromFile == pid)
        #expect(sluice.isRunning)
        #expect(sluice.allChildPids.count == 2)
        #expect(sluice.workerPids.isEmpty && sluice.controlPid == nil)
        let sleepers = sluice.childPids(named: "sleep")
        #expect(sluice.stop(timeout: 5) == 0)
        #expect(!sluice.neededForcedKill)
        #expect(sluice.strayProcessesKilled == 2)
        for p in sleepers { #expect(!SluiceProcess.isAlive(pid: p)) }
        let out = sluice.stdoutLog
        #expect(out.contains("SigBlk:\t0000000000000000") || out.contains("SigBlk: 0000000000000000"))
        // Standard signals (1-31) none ignored; 32 and 33 are glibc-internal and reset by glibc at exec.
        let ignored = out.split(separator: "\n").first { $0.hasPrefix("SigIgn:") }
            .flatMap { UInt64($0.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16) }
        #expect(ignored.map { $0 & 0x7fff_ffff } == 0)
        #expect(out.contains("got QUIT"))
        #expect(out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.contains(String(pid)))  // pgid == pid
    }

    /// A master that ignores SIGQUIT is killed after the deadline.
    @Test func stopForcesKillAfterDeadline() throws {
        let fake = try FakeBinary("trap '' QUIT\necho ready\nwhile true; do sleep 1; done")
        defer { fake.remove() }
        let sluice = try SluiceProcess(binary: fake.path)
        try sluice.start(waitForPort: false)
        #expect(sluice.waitUntil(timeout: 5) { sluice.stdoutLog.contains("ready") })
        #expect(sluice.signal(0))
        let start = ContinuousClock.now
        #expect(sluice.stop(timeout: 0.5) == 128 + SIGKILL)
        #expect(ContinuousClock.now - start < .seconds(4))
        #expect(sluice.neededForcedKill)
        #expect(!sluice.signal(0))
    }

    /// waitForExit reports the exit code of a master that exits by itself, or nil while it runs.
    @Test func waitForExit() throws {
        let fake = try FakeBinary("sleep 0.3\nexit 7")
        defer { fake.remove() }
        let sluice = try SluiceProcess(binary: fake.path)
        try sluice.start(waitForPort: false)
        #expect(sluice.waitForExit(timeout: 0.05) == nil)
        #expect(sluice.waitForExit(timeout: 5) == 7)
        #expect(sluice.stop() == 7)
    }

    /// run() passes the arguments plus `-p PREFIX`, returns status and output, and is bounded.
    @Test func runAgain() throws {
        let fake = try FakeBinary("echo \"args: $*\"\n[ \"$1\" = slow ] && sleep 30\nexit 4")
        defer { fake.remove() }
        let sluice = try SluiceProcess(binary: fake.path)
        let result = sluice.run(["-s", "reload"])
        #expect(result.status == 4)
        #expect(result.output == "args: -s reload -p \(sluice.prefix)\n")
        #expect(sluice.run(["-t", "-p", "/x"]).output == "args: -t -p /x\n")
        let start = ContinuousClock.now
        let slow = sluice.run(["slow"], timeout: 0.3)
        #expect(slow.status == -1)
        #expect(ContinuousClock.now - start < .seconds(4))
    }

    /// runCapturing() returns stdout and stderr apart, with the same arguments as run().
    @Test func runCapturingSeparatesStreams() throws {
        let fake = try FakeBinary("echo \"out: $*\"\necho \"err: $1\" >&2\nexit 5")
        defer { fake.remove() }
        let sluice = try SluiceProcess(binary: fake.path)
        let result = sluice.runCapturing(["-t"])
        #expect(result.status == 5)
        #expect(result.stdout == "out: -t -p \(sluice.prefix)\n")
        #expect(result.stderr == "err: -t\n")
        #expect(sluice.runCapturing(["-v"], addPrefix: false).stdout == "out: -v\n")
    }

    /// isListening sees a listening port and not a closed one.
    @Test func isListening() throws {
        let upstream = try TestUpstream()
        #expect(SluiceProcess.isListening(port: upstream.port))
        upstream.stop()
        #expect(!SluiceProcess.isListening(port: upstream.port))
    }
}
