#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import Shared
import TestSupport

/// The process model under real traffic: a `TestUpstream` behind routes in `conf/apisix.yaml`,
/// requests through `HTTPClient`, while workers and the control process are killed, configs
/// change and the master is signalled. Serialized: each test forks a handful of processes.
@Suite(.serialized) struct TrafficTests {
    /// A gateway with 2 workers serving `routes`, all proxying to `upstream`, ready to serve.
    static func gateway(routes: [String], upstream: TestUpstream, workers: Int = 2) throws -> SluiceProcess {
        let sluice = try SluiceProcess(apisixYAML: apisixYAML(routes: routes, upstream: upstream), workers: workers)
        try sluice.start(waitForWorkers: true)
        // The workers start from the first snapshot; make sure it is the one with the routes.
        guard sluice.waitUntil(timeout: 5, { (try? sluice.requestNoting(path: routes[0]).response.status) == 200 }) else {
            sluice.stop()
            throw TestSupportError.process("route \(routes[0]) never served\n" + sluice.logsForFailure())
        }
        return sluice
    }

    /// kill -9 of a worker: the master logs `worker process PID exited on signal 9`, a new worker
    /// takes over the same slot (its listening socket), and requests on fresh connections all
    /// succeed afterwards, answered by every worker including the new one.
    @Test func workerRespawnKeepsServing() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.gateway(routes: ["/a"], upstream: upstream)
        defer { sluice.stop() }
        let before = sluice.workerListeners()
        #expect(before.count == 2)
        let victim = try #require(before.keys.sorted().first)
        let slot = try #require(before[victim])
        #expect(slot.count == 1)

        #expect(kill(victim, SIGKILL) == 0)
        var replacement: Int32?
        #expect(sluice.waitUntil(timeout: 10) {
            replacement = sluice.workerListeners().first { $0.key != victim && $0.value == slot }?.key
            return replacement != nil && sluice.workerPids.count == 2
        }, "no worker took over slot socket \(slot)\n\(sluice.logsForFailure())")
        let fresh = try #require(replacement)
        #expect(!before.keys.contains(fresh))
        #expect(sluice.waitUntil { sluice.errorLog.contains("worker process \(victim) exited on signal 9") })

        let workers = sluice.workerPids
        let result = try sluice.requestFromEveryWorker(path: "/a", workers: workers)
        #expect(result.statuses.allSatisfy { $0 == 200 }, "\(result.statuses)")
        #expect(result.answeredBy == Set(workers), "answered by \(result.answeredBy), workers \(workers)")
        #expect(sluice.workerPids == workers)
    }

    /// A changed `apisix.yaml` (new mtime) reaches every worker without restarting any, and
    /// without closing an idle keep-alive connection opened before the change: that connection
    /// then gets the new route too.
    @Test func standaloneChangeReachesEveryWorker() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.gateway(routes: ["/a"], upstream: upstream)
        defer { sluice.stop() }
        let workers = sluice.workerPids
        let control = sluice.controlPid

        // An idle keep-alive connection from before the change.
        let idle = try HTTPClient(port: sluice.proxyPort)
        defer { idle.close() }
        try idle.sendRequest(path: "/a")
        #expect(try idle.readResponse().status == 200)
        #expect(try sluice.requestNoting(path: "/b").response.status == 404)

        let generation = try #require(sluice.snapshotGeneration)
        try sluice.writeApisixYAML(apisixYAML(routes: ["/a", "/b"], upstream: upstream))
        #expect(sluice.waitUntil(timeout: 10) { (sluice.snapshotGeneration ?? 0) > generation },
                "no new snapshot\n\(sluice.logsForFailure())")
        let published = try #require(sluice.snapshotGeneration)
        #expect(sluice.waitForWorkersToApply(generation: published), "\(sluice.logsForFailure())")

        let result = try sluice.requestFromEveryWorker(path: "/b", workers: workers)
        #expect(result.statuses.allSatisfy { $0 == 200 }, "\(result.statuses)")
        #expect(result.answeredBy == Set(workers), "answered by \(result.answeredBy), workers \(workers)")
        // Nobody was restarted.
        #expect(sluice.workerPids == workers)
        #expect(sluice.controlPid == control)

        // The old connection is still open and now routes /b.
        #expect(!idle.isClosedByPeer(timeout: 0.2))
        try idle.sendRequest(path: "/b")
        let response = try idle.readResponse()
        #expect(response.status == 200)
        #expect(try response.echoed().target == "/b")
    }

    /// Replaces `old` by `new` (same length) in apisix.yaml in place, then puts its mtime back:
    /// same mtime, size and inode, so the control process's file check cannot see the edit and
    /// only a reload publishes it.
    static func editUnnoticed(_ sluice: SluiceProcess, replacing old: String, with new: String) throws {
        precondition(old.utf8.count == new.utf8.count)
        let path = sluice.path("conf/apisix.yaml")
        var before = stat()
        guard stat(path, &before) == 0 else { throw TestSupportError.system("stat \(path)", errno) }
        let edited = sluice.readFile("conf/apisix.yaml").replacingOccurrences(of: old, with: new)
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw TestSupportError.system("open \(path)", errno) }
        defer { close(fd) }
        let written = edited.withCString { pwrite(fd, $0, strlen($0), 0) }
        guard written == edited.utf8.count else { throw TestSupportError.system("pwrite \(path)", errno) }
        var times = [before.st_atim, before.st_mtim]
        guard futimens(fd, &times) == 0 else { throw TestSupportError.system("futimens \(path)", errno) }
    }

    /// `sluice -s reload` after an edit of apisix.yaml that leaves its mtime, size and inode as
    /// they were: the file check does not see it, the reload publishes the new route to every
    /// worker, and no worker is restarted.
    @Test func reloadCommandPublishesEditedRoutes() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.gateway(routes: ["/aaaa"], upstream: upstream)
        defer { sluice.stop() }
        let workers = sluice.workerPids
        let generation = try #require(sluice.snapshotGeneration)

        try Self.editUnnoticed(sluice, replacing: "/aaaa", with: "/bbbb")
        // Longer than the control process's 1 s check: the edit stays unnoticed.
        TestSupport.sleepSeconds(1.5)
        #expect(sluice.snapshotGeneration == generation, "the file check saw an edit it should not see")

        let result = sluice.runCapturing(["-s", "reload"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(sluice.waitUntil(timeout: 10) { (sluice.snapshotGeneration ?? 0) > generation },
                "no new snapshot\n\(sluice.logsForFailure())")
        let published = try #require(sluice.snapshotGeneration)
        #expect(sluice.waitForWorkersToApply(generation: published), "\(sluice.logsForFailure())")
        let served = try sluice.requestFromEveryWorker(path: "/bbbb", workers: workers)
        #expect(served.statuses.allSatisfy { $0 == 200 }, "\(served.statuses)")
        #expect(served.answeredBy == Set(workers))
        #expect(try sluice.requestNoting(path: "/aaaa").response.status == 404)
        #expect(sluice.workerPids == workers)
    }

    /// SIGHUP to the master after an unnoticeable edit of apisix.yaml: the master forwards it to
    /// the control process, which publishes the new route.
    @Test func sighupPublishesEditedRoutes() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.gateway(routes: ["/cccc"], upstream: upstream)
        defer { sluice.stop() }
        let workers = sluice.workerPids
        let control = try #require(sluice.controlPid)
        let generation = try #require(sluice.snapshotGeneration)
        try Self.editUnnoticed(sluice, replacing: "/cccc", with: "/dddd")
        #expect(sluice.signal(SIGHUP))
        #expect(sluice.waitUntil(timeout: 10) {
            sluice.errorLog.contains("\(control)#0: signal 1 (SIGHUP) received, reloading")
        }, "\(sluice.logsForFailure())")
        #expect(sluice.waitUntil(timeout: 10) { (sluice.snapshotGeneration ?? 0) > generation })
        let published = try #require(sluice.snapshotGeneration)
        #expect(sluice.waitForWorkersToApply(generation: published), "\(sluice.logsForFailure())")
        let served = try sluice.requestFromEveryWorker(path: "/dddd", workers: workers)
        #expect(served.statuses.allSatisfy { $0 == 200 }, "\(served.statuses)")
        #expect(sluice.workerPids == workers)
        #expect(sluice.controlPid == control)
    }

    /// An apisix.yaml without `#END` is refused with an error in error.log; the routes in force
    /// keep being served and the new ones are not.
    @Test func invalidStandaloneFileKeepsOldRoutes() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.gateway(routes: ["/a"], upstream: upstream)
        defer { sluice.stop() }
        let workers = sluice.workerPids
        let generation = try #require(sluice.snapshotGeneration)
        let broken = apisixYAML(routes: ["/a", "/d"], upstream: upstream).replacingOccurrences(of: "#END\n", with: "")
        try sluice.writeApisixYAML(broken)
        #expect(sluice.waitUntil(timeout: 10) {
            sluice.errorLog.contains("failed to load \(sluice.path("conf/apisix.yaml")): missing valid end flag")
        }, "\(sluice.logsForFailure())")
        #expect(sluice.snapshotGeneration == generation)
        let served = try sluice.requestFromEveryWorker(path: "/a", workers: workers)
        #expect(served.statuses.allSatisfy { $0 == 200 }, "\(served.statuses)")
        #expect(try sluice.requestNoting(path: "/d").response.status == 404)
        #expect(sluice.workerPids == workers)
    }

    /// `sluice -s reload` with an invalid config.yaml value exits non-zero naming the key; the
    /// master gets no signal and the running config keeps serving with the same processes.
    @Test func reloadWithInvalidConfigKeepsServing() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.gateway(routes: ["/a"], upstream: upstream)
        defer { sluice.stop() }
        let children = sluice.allChildPids
        let bad = SluiceProcess.defaultConfigYAML().replacingOccurrences(
            of: "worker_processes: 2", with: "worker_processes: -3")
        try sluice.writeConfigYAML(bad)
        let result = sluice.runCapturing(["-s", "reload"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("nginx_config.worker_processes"), "\(result.stderr)")
        #expect(result.stderr.contains("not reloading"), "\(result.stderr)")
        #expect(!sluice.errorLog.contains("(SIGHUP) received"))
        let served = try sluice.requestFromEveryWorker(path: "/a", workers: sluice.workerPids)
        #expect(served.statuses.allSatisfy { $0 == 200 }, "\(served.statuses)")
        #expect(sluice.allChildPids == children)
    }

    /// SIGUSR1 reopens the logs: after logs/access.log is renamed away, the workers let go of the
    /// old file and the next request's line is in a new logs/access.log.
    @Test func sigusr1ReopensLogs() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.gateway(routes: ["/a"], upstream: upstream)
        defer { sluice.stop() }
        let master = try #require(sluice.pid)
        let control = try #require(sluice.controlPid)
        for name in ["access.log", "error.log"] {
            #expect(rename(sluice.path("logs/\(name)"), sluice.path("logs/\(name).1")) == 0)
        }
        #expect(sluice.signal(SIGUSR1))
        let holders = [master, control] + sluice.workerPids
        func holdsOld(_ pid: Int32, _ name: String) -> Bool {
            ProcFS.descriptors(of: pid).contains { $0.target == sluice.path("logs/\(name).1") }
        }
        #expect(sluice.waitUntil(timeout: 5) { sluice.workerPids.allSatisfy { !holdsOld($0, "access.log") } },
                "\(sluice.workerPids.map { ProcFS.descriptors(of: $0) })")
        // The master and the control process let go of the old error log. Workers are not
        // checked: their logger reopens, but their stderr (a dup2 of the log) stays on the old file.
        #expect(sluice.waitUntil(timeout: 5) { [master, control].allSatisfy { !holdsOld($0, "error.log") } },
                "\([master, control].map { ProcFS.descriptors(of: $0) })")
        #expect(holders.allSatisfy { SluiceProcess.isAlive(pid: $0) })

        let marker = "/a?reopened=\(UInt32.random(in: 0...UInt32.max))"
        let response = try sluice.requestNoting(path: marker)
        #expect(response.response.status == 200)
        #expect(sluice.waitUntil(timeout: 5) { sluice.accessLog.contains(marker) },
                "new access.log: \(sluice.accessLog)")
        #expect(!sluice.readFile("logs/access.log.1").contains(marker))
    }

    /// SIGQUIT while a slow request is in flight: new connections are refused at once, the
    /// in-flight request still completes with 200, then the master exits 0 and removes its pid file.
    @Test func gracefulQuitFinishesInFlightRequest() throws {
        // The upstream answers once the test opens the gate (bounded: 1.5 s at most after the
        // test has checked what it must check while the request is in flight).
        let gate = Gate()
        let upstream = try TestUpstream { request in
            if request.query == "wait" { gate.wait(seconds: 4) }
            return TestUpstream.echo(request)
        }
        defer {
            gate.open()
            upstream.stop()
        }
        let sluice = try Self.gateway(routes: ["/slow"], upstream: upstream)
        defer { sluice.stop() }
        upstream.clearRecords()
        let before = upstream.requestCount

        let client = try HTTPClient(port: sluice.proxyPort, timeout: 10)
        defer { client.close() }
        try client.sendRequest(path: "/slow?wait")
        #expect(upstream.waitForRequests(before + 1), "the request never reached the upstream")

        #expect(sluice.signal(SIGQUIT))
        #expect(sluice.waitUntil(timeout: 5) { !SluiceProcess.isListening(port: sluice.proxyPort) },
                "new connections still accepted during the graceful stop")
        // Still in flight: the master waits for it.
        #expect(sluice.isRunning)
        #expect(sluice.pidFromFile != nil)

        gate.open(after: 1.5)
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(try response.echoed().target == "/slow?wait")
        #expect(sluice.waitForExit(timeout: 15) == 0)
        #expect(!FileManager.default.fileExists(atPath: sluice.path("logs/sluice.pid")))
        #expect(sluice.stop() == 0)
        #expect(sluice.strayProcessesKilled == 0)
    }

    /// kill -9 of the control process while serving: the workers keep serving throughout (same
    /// pids), a new control process replaces the old one, and it publishes the next change.
    @Test func controlKilledWhileServing() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.gateway(routes: ["/a"], upstream: upstream)
        defer { sluice.stop() }
        let workers = sluice.workerPids
        let control = try #require(sluice.controlPid)

        #expect(kill(control, SIGKILL) == 0)
        let during = try sluice.requestFromEveryWorker(path: "/a", workers: workers)
        #expect(during.statuses.allSatisfy { $0 == 200 }, "\(during.statuses)")
        var replacement: Int32?
        #expect(sluice.waitUntil(timeout: 10) {
            replacement = sluice.controlPid
            return replacement != nil && replacement != control
        }, "\(sluice.logsForFailure())")
        #expect(sluice.waitUntil { sluice.errorLog.contains("control process \(control) exited on signal 9") })
        #expect(sluice.workerPids == workers)

        // The new control process watches apisix.yaml as the old one did.
        let generation = try #require(sluice.snapshotGeneration)
        try sluice.writeApisixYAML(apisixYAML(routes: ["/a", "/e"], upstream: upstream))
        #expect(sluice.waitUntil(timeout: 10) { (sluice.snapshotGeneration ?? 0) > generation },
                "\(sluice.logsForFailure())")
        let published = try #require(sluice.snapshotGeneration)
        #expect(sluice.waitForWorkersToApply(generation: published), "\(sluice.logsForFailure())")
        let after = try sluice.requestFromEveryWorker(path: "/e", workers: workers)
        #expect(after.statuses.allSatisfy { $0 == 200 }, "\(after.statuses)")
        #expect(sluice.workerPids == workers)
        #expect(sluice.controlPid == replacement)
    }

    /// A control process that cannot start (no descriptors left for its event base) is respawned
    /// with a growing back-off instead of in a tight loop; libevent's complaints land in
    /// error.log, not on the master's stderr; the workers serve throughout; once descriptors are
    /// available again a control process runs and publishes changes.
    @Test func controlCrashLoopBacksOff() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.gateway(routes: ["/a"], upstream: upstream)
        defer { sluice.stop() }
        let master = try #require(sluice.pid)
        let workers = sluice.workerPids
        let control = try #require(sluice.controlPid)

        // 0, 1, 2 and the error log: nothing left for epoll or libevent's signal pipe.
        let previous = try setOpenFileLimit(of: master, soft: 4)
        var restored = false
        defer { if !restored { _ = try? setOpenFileLimit(of: master, soft: previous) } }
        #expect(kill(control, SIGKILL) == 0)

        func delays() -> [Int] {
            sluice.errorLog.split(separator: "\n").compactMap { line -> Int? in
                guard line.contains("\(master)#0: control process "),
                      let range = line.range(of: "ms after its start, respawning in ") else { return nil }
                return Int(line[range.upperBound...].prefix { $0.isNumber })
            }
        }
        #expect(sluice.waitUntil(timeout: 10) { delays().count >= 3 }, "\(sluice.logsForFailure())")
        let seen = delays()
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0 < $1 || $1 == 5000 }, "respawn delays \(seen)")
        // libevent's reason is in error.log, in its format, and not on the master's stderr.
        #expect(sluice.errorLog.contains("libevent: "), "\(sluice.logsForFailure())")
        #expect(!sluice.stdoutLog.contains("Too many open files"), "\(sluice.stdoutLog)")

        // The data plane does not notice.
        let during = try sluice.requestFromEveryWorker(path: "/a", workers: workers)
        #expect(during.statuses.allSatisfy { $0 == 200 }, "\(during.statuses)")

        _ = try setOpenFileLimit(of: master, soft: previous)
        restored = true
        var replacement: Int32?
        #expect(sluice.waitUntil(timeout: 10) {
            replacement = sluice.controlPid
            guard let pid = replacement else { return false }
            return sluice.errorLog.contains("\(pid)#0: config file ")
        }, "\(sluice.logsForFailure())")
        let generation = try #require(sluice.snapshotGeneration)
        try sluice.writeApisixYAML(apisixYAML(routes: ["/a", "/f"], upstream: upstream))
        #expect(sluice.waitUntil(timeout: 10) { (sluice.snapshotGeneration ?? 0) > generation },
                "\(sluice.logsForFailure())")
        let published = try #require(sluice.snapshotGeneration)
        #expect(sluice.waitForWorkersToApply(generation: published), "\(sluice.logsForFailure())")
        #expect(try sluice.requestNoting(path: "/f").response.status == 200)
        #expect(sluice.workerPids == workers)
    }

    /// A worker slot whose worker cannot start is respawned with a growing back-off; the other
    /// slot serves meanwhile; connections the kernel queued in the empty slot's socket are
    /// served by the worker that finally takes the slot over.
    @Test func workerCrashLoopBacksOffAndKeepsQueuedConnections() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.gateway(routes: ["/a"], upstream: upstream)
        defer { sluice.stop() }
        let master = try #require(sluice.pid)
        let listeners = sluice.workerListeners()
        let victim = try #require(listeners.keys.sorted().first)
        let survivor = try #require(listeners.keys.sorted().last)
        let slot = try #require(listeners[victim])

        let previous = try setOpenFileLimit(of: master, soft: 4)
        var restored = false
        defer { if !restored { _ = try? setOpenFileLimit(of: master, soft: previous) } }
        #expect(kill(victim, SIGKILL) == 0)
        func delays() -> [Int] {
            sluice.errorLog.split(separator: "\n").compactMap { line -> Int? in
                guard line.contains("\(master)#0: worker process "),
                      let range = line.range(of: "ms after its start, respawning in ") else { return nil }
                return Int(line[range.upperBound...].prefix { $0.isNumber })
            }
        }
        #expect(sluice.waitUntil(timeout: 10) { delays().count >= 3 }, "\(sluice.logsForFailure())")
        let seen = delays()
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0 < $1 || $1 == 5000 }, "respawn delays \(seen)")

        // Requests on fresh connections until one is queued in the empty slot (accepted by the
        // kernel, held by no process); the others are answered by the surviving worker.
        var queued: [HTTPClient] = []
        defer { for client in queued { client.close() } }
        var answered = 0
        for _ in 0..<50 where queued.isEmpty {
            let client = try HTTPClient(port: sluice.proxyPort, timeout: 15)
            try client.sendRequest(path: "/a")
            if ProcFS.holder(ofConnectionFrom: client.localPort, to: sluice.proxyPort, among: [survivor]) != nil {
                #expect(try client.readResponse().status == 200)
                answered += 1
                client.close()
            } else if sluice.waitUntil(timeout: 0.3, {
                ProcFS.holder(ofConnectionFrom: client.localPort, to: sluice.proxyPort, among: [survivor]) != nil
            }) {
                #expect(try client.readResponse().status == 200)
                answered += 1
                client.close()
            } else {
                queued.append(client)
            }
        }
        #expect(queued.count == 1, "no connection landed in the empty slot (\(answered) answered)")

        _ = try setOpenFileLimit(of: master, soft: previous)
        restored = true
        var replacement: Int32?
        #expect(sluice.waitUntil(timeout: 10) {
            replacement = sluice.workerListeners().first { $0.key != victim && $0.value == slot }?.key
            return replacement != nil
        }, "\(sluice.logsForFailure())")
        for client in queued {
            let response = try client.readResponse()
            #expect(response.status == 200)
        }
        #expect(SluiceProcess.isAlive(pid: survivor))
    }
}

/// A one-way latch a `TestUpstream` handler can wait on (bounded), opened by the test.
final class Gate: Sendable {
    private let state = Mutex<Double?>(nil)

    /// Opens the gate now.
    func open() { open(after: 0) }

    /// Lets waiters through `seconds` from now (at the latest; `open()` makes it now).
    func open(after seconds: Double) {
        let at = now() + seconds
        state.withLock { $0 = min($0 ?? at, at) }
    }

    /// Waits until the gate is open, at most `seconds`.
    func wait(seconds: Double) {
        TestSupport.waitUntil(timeout: seconds, interval: 0.01) {
            guard let at = state.withLock({ $0 }) else { return false }
            return now() >= at
        }
    }

    private func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
