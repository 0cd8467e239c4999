#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import Shared

/// The master and control processes, through the real binary on a temporary prefix.
/// Serialized: each test forks a handful of processes and the machine is shared.
@Suite(.serialized) struct MasterProcessTests {
    /// A started master writes its pid file and runs N `sluice: worker` and one `sluice: control`.
    @Test func startsWorkersAndControl() throws {
        let master = try RunningMaster(workers: 2)
        #expect(ProcTable.entry(master.pid)?.comm == "sluice: master")
        #expect(ProcTable.workers(of: master.pid).count == master.workerCount)
        #expect(ProcTable.control(of: master.pid).count == 1)
        #expect(ProcTable.children(of: master.pid).count == master.workerCount + 1)
        // `ps` shows the children's role, not the master's command line.
        let worker = try #require(ProcTable.workers(of: master.pid).first)
        let cmdline = try String(contentsOfFile: "/proc/\(worker)/cmdline", encoding: .utf8)
        #expect(cmdline.hasPrefix("sluice: worker process"))
        #expect(FileManager.default.fileExists(atPath: master.prefix.path + "/data"))
    }

    /// A worker keeps only its own slot's listening sockets (and stdio): not the lock file, not
    /// the master's log, not other slots' sockets.
    @Test func workerKeepsOnlyItsDescriptors() throws {
        let master = try RunningMaster(workers: 2)
        for worker in ProcTable.workers(of: master.pid) {
            let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(worker)/fd").compactMap { Int32($0) }
            let above = fds.filter { $0 > 2 }
            #expect(above.count == 1, "worker \(worker) holds \(fds)")
            for fd in above {
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(worker)/fd/\(fd)")
                #expect(target.hasPrefix("socket:"))
            }
        }
    }

    /// kill -9 of a worker: the master logs it and a new worker takes the slot.
    @Test func respawnsKilledWorker() throws {
        let master = try RunningMaster(workers: 2)
        let before = ProcTable.workers(of: master.pid)
        let victim = try #require(before.first)
        kill(victim, SIGKILL)
        #expect(eventually {
            let now = ProcTable.workers(of: master.pid)
            return now.count == master.workerCount && !now.contains(victim)
        })
        #expect(eventually { master.errorLog.contains("worker process \(victim) exited on signal 9") })
    }

    /// kill -9 of the control process: a new one replaces it; the master keeps running.
    @Test func respawnsKilledControl() throws {
        let master = try RunningMaster(workers: 2)
        let control = try #require(ProcTable.control(of: master.pid).first)
        kill(control, SIGKILL)
        #expect(eventually {
            let now = ProcTable.control(of: master.pid)
            return now.count == 1 && now[0] != control
        })
        #expect(eventually { master.errorLog.contains("control process \(control) exited on signal 9") })
        #expect(eventually { ProcTable.workers(of: master.pid).count == master.workerCount })
    }

    /// SIGQUIT: every child exits, the pid file is removed, the master exits 0.
    @Test func gracefulQuit() throws {
        let master = try RunningMaster(workers: 2)
        let children = ProcTable.children(of: master.pid).map(\.pid)
        kill(master.pid, SIGQUIT)
        #expect(master.process.exitCode(seconds: 10) == 0)
        #expect(!FileManager.default.fileExists(atPath: master.prefix.pidFile))
        #expect(eventually(seconds: 3) { children.allSatisfy { !ProcTable.isAlive($0) } })
    }

    /// SIGTERM: a fast stop, well within the SIGKILL escalation, exit 0.
    @Test func fastStop() throws {
        let master = try RunningMaster(workers: 2)
        let children = ProcTable.children(of: master.pid).map(\.pid)
        let start = Date()
        kill(master.pid, SIGTERM)
        #expect(master.process.exitCode(seconds: 5) == 0)
        #expect(Date().timeIntervalSince(start) < 3)
        #expect(!FileManager.default.fileExists(atPath: master.prefix.pidFile))
        #expect(eventually(seconds: 3) { children.allSatisfy { !ProcTable.isAlive($0) } })
    }

    /// `sluice -s quit` finds the master through the pid file and stops it.
    @Test func signalCommandQuits() throws {
        let master = try RunningMaster(workers: 1)
        let result = try runSluice(["-s", "quit", "-p", master.prefix.path])
        #expect(result.code == 0, "\(result.stderr)")
        #expect(master.process.exitCode(seconds: 10) == 0)
    }

    /// A second master on the same prefix is refused and names the running one; the first runs on.
    @Test func secondInstanceRefused() throws {
        let master = try RunningMaster(workers: 1)
        let result = try runSluice(["-p", master.prefix.path], seconds: 5)
        #expect(result.code == 1)
        #expect(result.stderr.contains("pid \(master.pid)"), "\(result.stderr)")
        #expect(ProcTable.isAlive(master.pid))
        #expect(master.prefix.recordedPid == master.pid)
    }

    /// kill -9 of the master: its children notice (PR_SET_PDEATHSIG) and exit by themselves.
    @Test func childrenDieWithMaster() throws {
        let master = try RunningMaster(workers: 2)
        let children = ProcTable.children(of: master.pid).map(\.pid)
        #expect(children.count == master.workerCount + 1)
        kill(master.pid, SIGKILL)
        _ = master.process.waitForExit(seconds: 3)
        #expect(eventually(seconds: 5) { children.allSatisfy { !ProcTable.isAlive($0) } },
                "still alive: \(children.filter { ProcTable.isAlive($0) })")
    }

    /// SIGHUP with config.yaml and apisix.yaml unchanged: the master stays, workers are not replaced.
    @Test func reloadWithoutChangesKeepsWorkers() throws {
        let master = try RunningMaster(workers: 2)
        let before = ProcTable.workers(of: master.pid)
        kill(master.pid, SIGHUP)
        // Longer than the control process's 1 s file check.
        usleep(1_500_000)
        #expect(ProcTable.isAlive(master.pid))
        #expect(ProcTable.workers(of: master.pid) == before)
        #expect(ProcTable.control(of: master.pid).count == 1)
    }

    /// SIGHUP after worker_processes changed: a new generation starts, the old one is retired.
    @Test(.enabled(if: SluiceBinary.loaderIsReal, "needs the real GatewayConfig loader"))
    func reloadWithNewWorkerCount() throws {
        let master = try RunningMaster(workers: 2)
        let before = Set(ProcTable.workers(of: master.pid))
        try master.prefix.writeConfig(workers: 3)
        kill(master.pid, SIGHUP)
        #expect(eventually(seconds: 8) {
            let now = ProcTable.workers(of: master.pid)
            return now.count == 3 && before.isDisjoint(with: now)
        })
        #expect(ProcTable.control(of: master.pid).count == 1)
    }

    /// SIGHUP with a broken config.yaml: nothing changes, the error is logged.
    @Test(.enabled(if: SluiceBinary.loaderIsReal, "needs the real GatewayConfig loader"))
    func reloadWithInvalidConfigKeepsEverything() throws {
        let master = try RunningMaster(workers: 2)
        let before = ProcTable.children(of: master.pid)
        try master.prefix.write("conf/config.yaml", "apisix:\n  node_listen: [ 9080\n")
        kill(master.pid, SIGHUP)
        #expect(eventually { master.errorLog.contains("the running configuration is kept") })
        #expect(ProcTable.children(of: master.pid) == before)
    }

    /// A changed conf/apisix.yaml is noticed within the control process's 1 s check and
    /// published as a new snapshot generation.
    @Test(.enabled(if: SluiceBinary.publishingIsReal, "needs the real standalone loader and snapshot writer"))
    func standaloneChangePublishesSnapshot() throws {
        let master = try RunningMaster(workers: 1)
        let path = SnapshotFile.path(prefix: master.prefix.path)
        #expect(eventually { (try? SnapshotFile.read(path: path)) != nil })
        let first = try SnapshotFile.read(path: path)
        try master.prefix.write("conf/apisix.yaml", """
            routes:
              - id: 1
                uri: /hello
                upstream:
                  nodes:
                    "127.0.0.1:1980": 1
                  type: roundrobin
            #END
            """ + "\n")
        #expect(eventually(seconds: 5) {
            guard let now = try? SnapshotFile.read(path: path) else { return false }
            return now.generation > first.generation && now.routes.count == 1
        })
        #expect(master.errorLog.contains("config file \(master.prefix.path)/conf/apisix.yaml reloaded."))
    }
}
