#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import Shared
import TestSupport

/// The master and control processes, through the real binary on a temporary prefix
/// (`TestSupport.SluiceProcess`). Serialized: each test forks a handful of processes and the
/// machine is shared.
@Suite(.serialized) struct MasterProcessTests {
    /// A started master writes its pid file and runs N `sluice: worker` and one `sluice: control`.
    @Test func startsWorkersAndControl() throws {
        let sluice = try SluiceProcess(workers: 2)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let master = try #require(sluice.pid)
        #expect(sluice.pidFromFile == master)
        #expect(processName(master) == "sluice: master")
        #expect(sluice.workerPids.count == 2)
        #expect(sluice.controlPid != nil)
        #expect(sluice.allChildPids.count == 3)
        // `ps` shows the children's role, not the master's command line.
        let worker = try #require(sluice.workerPids.first)
        let cmdline = sluice.readFile("/proc/\(worker)/cmdline")
        #expect(cmdline.hasPrefix("sluice: worker process"))
        #expect(FileManager.default.fileExists(atPath: sluice.path("data")))
    }

    /// A worker holds its own event base, its logs and exactly its slot's listening socket: no
    /// other slot's socket, no lock or pid file, nothing of the control process or the master.
    @Test func workerKeepsOnlyItsDescriptors() throws {
        let sluice = try SluiceProcess(workers: 2)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let master = try #require(sluice.pid)
        let proxyListeners = ProcFS.listeningInodes(port: sluice.proxyPort)
        // One SO_REUSEPORT socket per slot, all held by the master.
        #expect(proxyListeners.count == 2)
        #expect(ProcFS.socketInodes(of: master).isSuperset(of: proxyListeners))
        let allListening = ProcFS.allListeningInodes()
        let controlSockets = sluice.controlPid.map { ProcFS.socketInodes(of: $0) } ?? []

        var slotsHeld: [Set<UInt64>] = []
        for worker in sluice.workerPids {
            let descriptors = ProcFS.descriptors(of: worker)
            let context = "worker \(worker) holds \(descriptors)"
            let listening = Set(descriptors.compactMap(\.socketInode)).intersection(allListening)
            // Exactly one listening socket, and it is one of the master's proxy sockets.
            #expect(listening.count == 1, "\(context)")
            #expect(listening.isSubset(of: proxyListeners), "\(context)")
            slotsHeld.append(listening)
            for descriptor in descriptors where descriptor.fd > 2 {
                let target = descriptor.target
                if let inode = descriptor.socketInode {
                    #expect(!controlSockets.contains(inode), "control process socket: \(context)")
                    continue
                }
                // Its own event base (epoll, libevent's signal pipe) and its own logs only.
                let allowed = target == "anon_inode:[eventpoll]" || target.hasPrefix("pipe:[")
                    || target == sluice.path("logs/error.log") || target == sluice.path("logs/access.log")
                #expect(allowed, "unexpected descriptor \(descriptor): \(context)")
            }
            #expect(descriptors.count(where: { $0.target == "anon_inode:[eventpoll]" }) == 1,
                    "one event base, none inherited: \(context)")
        }
        // Each slot's socket is held by exactly one worker: no worker holds another slot's.
        #expect(slotsHeld.count == 2)
        #expect(Set(slotsHeld.flatMap { $0 }) == proxyListeners)
    }

    /// The control process holds its event base and its error log, and none of the listening
    /// sockets, the lock file or the pid file.
    @Test func controlKeepsOnlyItsDescriptors() throws {
        let sluice = try SluiceProcess(workers: 2)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let control = try #require(sluice.controlPid)
        let proxyListeners = ProcFS.listeningInodes(port: sluice.proxyPort)
        let workerSockets = sluice.workerPids.reduce(into: Set<UInt64>()) { $0.formUnion(ProcFS.socketInodes(of: $1)) }
        let descriptors = ProcFS.descriptors(of: control)
        let context = "control \(control) holds \(descriptors)"
        for descriptor in descriptors where descriptor.fd > 2 {
            if let inode = descriptor.socketInode {
                #expect(!proxyListeners.contains(inode), "a proxy listening socket: \(context)")
                #expect(!workerSockets.contains(inode), "a worker's socket: \(context)")
                continue
            }
            let allowed = descriptor.target == "anon_inode:[eventpoll]" || descriptor.target.hasPrefix("pipe:[")
                || descriptor.target == sluice.path("logs/error.log")
            #expect(allowed, "unexpected descriptor \(descriptor): \(context)")
        }
        #expect(descriptors.count(where: { $0.target == "anon_inode:[eventpoll]" }) == 1, "\(context)")
    }

    /// The control process's stderr is the error log, so libevent's `[warn]` lines land there
    /// (as the worker's do) instead of on the terminal that started the master.
    @Test func controlStderrIsTheErrorLog() throws {
        let sluice = try SluiceProcess(workers: 1)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let control = try #require(sluice.controlPid)
        let stderr = ProcFS.descriptors(of: control).first { $0.fd == 2 }
        #expect(stderr?.target == sluice.path("logs/error.log"))
    }

    /// SIGQUIT: every child exits, the pid file is removed, the master exits 0.
    @Test func gracefulQuit() throws {
        let sluice = try SluiceProcess(workers: 2)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let children = sluice.allChildPids
        #expect(sluice.signal(SIGQUIT))
        #expect(sluice.waitForExit(timeout: 10) == 0)
        #expect(!FileManager.default.fileExists(atPath: sluice.path("logs/sluice.pid")))
        #expect(sluice.waitUntil(timeout: 3) { children.allSatisfy { !SluiceProcess.isAlive(pid: $0) } })
        #expect(sluice.stop() == 0)
        #expect(sluice.strayProcessesKilled == 0)
    }

    /// SIGTERM: a fast stop, exit 0, pid file removed, every child gone.
    @Test func fastStop() throws {
        let sluice = try SluiceProcess(workers: 2)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let children = sluice.allChildPids
        #expect(sluice.signal(SIGTERM))
        #expect(sluice.waitForExit(timeout: 10) == 0)
        #expect(!FileManager.default.fileExists(atPath: sluice.path("logs/sluice.pid")))
        #expect(sluice.waitUntil(timeout: 3) { children.allSatisfy { !SluiceProcess.isAlive(pid: $0) } })
        #expect(sluice.strayProcessesKilled == 0)
    }

    /// `sluice -s quit` finds the master through the pid file and stops it.
    @Test func signalCommandQuits() throws {
        let sluice = try SluiceProcess(workers: 1)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let result = sluice.runCapturing(["-s", "quit"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    /// A second master on the same prefix is refused and names the running one; the first runs on.
    @Test func secondInstanceRefused() throws {
        let sluice = try SluiceProcess(workers: 1)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let master = try #require(sluice.pid)
        let result = sluice.runCapturing([], timeout: 5)
        #expect(result.status == 1)
        #expect(result.stderr.contains("pid \(master)"), "\(result.stderr)")
        #expect(sluice.isRunning)
        #expect(sluice.pidFromFile == master)
    }

    /// kill -9 of the master: its children notice (PR_SET_PDEATHSIG) and exit by themselves.
    @Test func childrenDieWithMaster() throws {
        let sluice = try SluiceProcess(workers: 2)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let children = sluice.allChildPids
        #expect(children.count == 3)
        #expect(sluice.signal(SIGKILL))
        _ = sluice.waitForExit(timeout: 3)
        #expect(sluice.waitUntil(timeout: 5) { children.allSatisfy { !SluiceProcess.isAlive(pid: $0) } },
                "still alive: \(children.filter { SluiceProcess.isAlive(pid: $0) })")
    }

    /// SIGHUP with config.yaml and apisix.yaml unchanged: the master stays, no child is replaced.
    @Test func reloadWithoutChangesKeepsWorkers() throws {
        let sluice = try SluiceProcess(workers: 2)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let before = sluice.allChildPids
        #expect(sluice.signal(SIGHUP))
        // The control process logs the forwarded SIGHUP once it has handled it.
        let control = try #require(sluice.controlPid)
        #expect(sluice.waitUntil { sluice.errorLog.contains("\(control)#0: signal 1 (SIGHUP) received, reloading") })
        #expect(sluice.isRunning)
        #expect(sluice.allChildPids == before)
    }

    /// SIGHUP after worker_processes changed: a new generation starts, the old one is retired.
    @Test func reloadWithNewWorkerCount() throws {
        let sluice = try SluiceProcess(workers: 2)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let before = Set(sluice.workerPids)
        try sluice.writeConfigYAML(SluiceProcess.defaultConfigYAML(workers: 3))
        #expect(sluice.signal(SIGHUP))
        #expect(sluice.waitUntil(timeout: 8) {
            let now = sluice.workerPids
            return now.count == 3 && before.isDisjoint(with: now)
        })
        #expect(sluice.waitUntil { sluice.controlPid != nil })
    }

    /// SIGHUP with a broken config.yaml: nothing changes, the error is logged.
    @Test func reloadWithInvalidConfigKeepsEverything() throws {
        let sluice = try SluiceProcess(workers: 2)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let before = sluice.allChildPids
        try sluice.writeConfigYAML("apisix:\n  node_listen: [ 9080\n")
        #expect(sluice.signal(SIGHUP))
        #expect(sluice.waitUntil { sluice.errorLog.contains("the running configuration is kept") })
        #expect(sluice.allChildPids == before)
    }

    /// A changed conf/apisix.yaml is noticed by the control process's check and published as a
    /// new snapshot generation.
    @Test func standaloneChangePublishesSnapshot() throws {
        let sluice = try SluiceProcess(workers: 1)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let path = SnapshotFile.path(prefix: sluice.prefix)
        #expect(sluice.waitUntil { (try? SnapshotFile.read(path: path)) != nil })
        let first = try SnapshotFile.read(path: path)
        try sluice.writeApisixYAML("""
            routes:
              - id: 1
                uri: /hello
                upstream:
                  nodes:
                    "127.0.0.1:1980": 1
                  type: roundrobin
            #END

            """)
        #expect(sluice.waitUntil(timeout: 5) {
            guard let now = try? SnapshotFile.read(path: path) else { return false }
            return now.generation > first.generation && now.routes.count == 1
        })
        #expect(sluice.errorLog.contains("config file \(sluice.prefix)/conf/apisix.yaml reloaded."))
    }
}
