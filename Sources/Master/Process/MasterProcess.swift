#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Shared
import Worker

/// The master (supervisor) process: nginx's `ngx_master_process_cycle`.
///
/// It parses no network input and runs no event library. Every signal stays blocked for its whole
/// life and one loop collects them with `sigtimedwait` (no handlers, no globals), notes what
/// arrived as flags, then acts in a fixed order: reap, stop, reload, snapshot, reopen, timers.
/// The wait's timeout drives the timed work: respawn back-off, the start-up wait for the first
/// snapshot and shutdown escalation.
///
/// Children: `worker_processes` workers (one slot each, each slot with its own listening sockets)
/// and one control process. A child that dies is respawned into its slot unless the master is
/// stopping or the child belongs to a retired generation.
final class MasterProcess {
    // MARK: - State

    /// Where the master is in its life.
    enum Phase {
        /// The control process runs; workers start at its first snapshot (SIGUSR2) or at `deadline`.
        case starting(deadline: ContinuousClock.Instant)
        case running
        /// SIGQUIT: children finish their work; SIGKILL for those left at `killAt`.
        case quitting(killAt: ContinuousClock.Instant)
        /// SIGTERM/SIGINT (or a graceful stop out of time): polls every `delay`, doubling from
        /// 50 ms; above 1 s the survivors get SIGKILL; above 8 s the master exits regardless.
        case terminating(nextPoll: ContinuousClock.Instant, delay: Duration)
    }

    /// One worker slot of the current generation.
    struct WorkerSlot {
        let index: Int
        /// 0 while no process serves the slot.
        var pid: pid_t = 0
        var startedAt: ContinuousClock.Instant
        var backoff = RespawnBackoff()
        /// Set while a respawn waits out its back-off.
        var respawnAt: ContinuousClock.Instant?
    }

    /// The control process's slot.
    struct ControlSlot {
        var pid: pid_t = 0
        var startedAt: ContinuousClock.Instant
        var backoff = RespawnBackoff()
        var respawnAt: ContinuousClock.Instant?
        /// A reload changed process settings: when the current one exits, start the next at once.
        var restartRequested = false
    }

    /// What one turn of the loop received.
    struct Received {
        var child = false, terminate = false, quit = false, reload = false, snapshot = false, reopen = false
    }

    /// How long the master waits for the control process's first snapshot before starting
    /// workers anyway (they then start from whatever `data/` holds).
    static let firstSnapshotWait: Duration = .seconds(5)
    /// Added to `worker_shutdown_timeout` before a graceful stop turns into SIGKILL: the workers
    /// bound themselves by the timeout; this is for the ones that could not.
    static let quitGrace: Duration = .seconds(5)
    /// The signals the loop waits for; every other one stays blocked and pending, unseen.
    static let handled: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD]

    private let prefix: String
    private let configPath: String
    private var config: GatewayConfig
    private var logger: Logger
    private let lock: PrefixLock
    private let listeners: Listeners
    /// The shared zones every child inherits (ZoneMapping.swift).
    private var zones: SharedZones
    private let pid = getpid()
    private let clock = ContinuousClock()
    /// Grows by one with each reload that replaced the workers.
    private var generation = 1
    private var phase: Phase
    private var workers: [WorkerSlot] = []
    private var control: ControlSlot
    /// Children told to quit by a reload (old generation, replaced control process): pid → name.
    private var retiring: [pid_t: String] = [:]
    /// A SIGHUP that arrived before the workers were started.
    private var reloadAfterStart = false

    private init(prefix: String, configPath: String, config: GatewayConfig, logger: Logger,
                 lock: PrefixLock, listeners: Listeners, zones: SharedZones) {
        self.prefix = prefix
        self.configPath = configPath
        self.config = config
        self.logger = logger
        self.lock = lock
        self.listeners = listeners
        self.zones = zones
        let now = clock.now
        self.phase = .starting(deadline: now + MasterProcess.firstSnapshotWait)
        self.control = ControlSlot(startedAt: now)
    }

    // MARK: - Start

    /// Runs the master in the foreground until it is stopped. Failures before the loop starts
    /// (bad config, prefix held by another master, a port that cannot be bound) print the reason
    /// and exit 1, nginx's `[emerg]`.
    static func start(prefix: String, configPath: String) -> Never {
        // Before anything can fork or a signal can kill us with its default action (traps 1, 2).
        Signals.blockAll()
        Signals.resetDispositions()
        ProcessTitle.set(name: "sluice: master")

        let loaded: (config: GatewayConfig, warnings: [String])
        do {
            loaded = try GatewayConfig.load(path: configPath)
        } catch {
            Console.log(.emerg, error.message)
            exit(1)
        }
        for warning in loaded.warnings + PluginCatalog.warnings(loaded.config) { Console.log(.warn, warning) }
        var config = loaded.config
        // An empty admin key: a random one, shown once (APISIX writes it into config.yaml).
        for generated in config.admin.generateMissingKeys(previous: nil) {
            Console.say("generated Admin API key for \"\(generated.name)\": \(generated.key)")
        }

        for directory in ["logs", "data"] {
            let path = prefix + "/" + directory
            if let errorNumber = Paths.makeDirectory(path) {
                Console.log(.emerg, "mkdir() \"\(path)\" failed \(errnoText(errorNumber))")
                exit(1)
            }
        }

        let lock: PrefixLock
        do {
            lock = try PrefixLock.acquire(prefix: prefix, configPath: configPath)
        } catch {
            switch error {
            case .held(let holder):
                let who = holder.map { "pid \($0)" } ?? "another process"
                Console.log(.emerg, "prefix \"\(prefix)\" is in use by a running sluice master (\(who)), "
                    + "see \"\(PrefixLock.path(prefix: prefix))\"")
            case .system(let message):
                Console.log(.emerg, message)
            }
            exit(1)
        }

        let logPath = config.resolved(config.errorLog, prefix: prefix)
        // Also on stderr until the workers run, so a start-up failure shows where it was typed.
        let logger = Logger(path: logPath, level: config.errorLogLevel, alsoStderr: true)
        if logger.fd < 0 {
            Console.log(.emerg, "open() \"\(logPath)\" failed \(errnoText(errno))")
            exit(1)
        }
        for warning in loaded.warnings + PluginCatalog.warnings(loaded.config) where logger.fd != 2 { logger.warn(warning) }

        if let failure = DescriptorLimit.apply(config.workerRlimitNofile) { logger.log(.alert, failure) }
        let listeners = Listeners()
        if let failure = listeners.ensure(slots: config.resolvedWorkerProcesses, addresses: config.nodeListen) {
            logger.log(.emerg, failure)
            exit(1)
        }
        // The control process binds the Admin API itself (retrying while a previous control
        // process lets go of it on reload); at start, a port someone else holds is fatal.
        if config.configProvider != .yaml, let failure = Listeners.probe(config.admin.listen) {
            logger.log(.emerg, failure)
            exit(1)
        }

        // No local for the zones: this frame lives as long as the master, and would keep a zone
        // that a reload drops mapped.
        let master = MasterProcess(prefix: prefix, configPath: configPath, config: config,
                                   logger: logger, lock: lock, listeners: listeners,
                                   zones: ZoneMapping.start(config, logger: logger))
        master.cycle()
    }

    // MARK: - The loop

    private func cycle() -> Never {
        logger.notice("sluice/\(sluiceVersion), prefix \"\(prefix)\", configuration \"\(configPath)\"")
        spawnControl()
        while true {
            let received = waitForSignals(timeout: nextTimeout())
            reapChildren()
            if received.terminate {
                beginTerminate()
            } else if received.quit {
                beginQuit()
            }
            if received.reload { reload() }
            if received.snapshot { snapshotPublished() }
            if received.reopen { reopenLogs() }
            runTimers()
            if isStopping && liveChildren == 0 { finish() }
        }
    }

    private var isServing: Bool {
        switch phase {
        case .starting, .running: true
        case .quitting, .terminating: false
        }
    }

    private var isStopping: Bool { !isServing }

    private var liveChildren: Int {
        workers.count(where: { $0.pid != 0 }) + (control.pid != 0 ? 1 : 0) + retiring.count
    }

    /// Waits for the first handled signal (or the timeout), then takes whatever else is pending,
    /// so a burst of signals is handled in one turn and in the fixed order.
    private func waitForSignals(timeout: Duration) -> Received {
        var set = sigset_t()
        sigemptyset(&set)
        for signo in MasterProcess.handled { sigaddset(&set, signo) }
        var received = Received()
        var wait = MasterProcess.timespec(timeout)
        while true {
            var info = siginfo_t()
            let signo = sigtimedwait(&set, &info, &wait)
            if signo < 0 {
                if errno == EINTR { continue }
                return received  // EAGAIN: nothing (more) pending
            }
            record(signo, from: info._sifields._kill.si_pid, into: &received)
            wait = Glibc.timespec(tv_sec: 0, tv_nsec: 0)
        }
    }

    private func record(_ signo: Int32, from sender: pid_t, into received: inout Received) {
        let action: String
        switch signo {
        case SIGCHLD: received.child = true; action = ""
        case SIGTERM, SIGINT: received.terminate = true; action = ", exiting"
        case SIGQUIT: received.quit = true; action = ", shutting down"
        case SIGHUP: received.reload = true; action = ", reconfiguring"
        case SIGUSR2: received.snapshot = true; action = ", signalling workers"
        case SIGUSR1: received.reopen = true; action = ", reopening"
        default: action = ", ignored"
        }
        logger.notice("signal \(signo) (\(Signals.name(signo))) received from \(sender)\(action)")
    }

    private func nextTimeout() -> Duration {
        let now = clock.now
        // A safety net: children are reaped every turn, even if a SIGCHLD was somehow missed.
        var next = now + .seconds(5)
        switch phase {
        case .starting(let deadline): next = min(next, deadline)
        case .running: break
        case .quitting(let killAt): next = min(next, killAt)
        case .terminating(let poll, _): next = min(next, poll)
        }
        for slot in workers { if let at = slot.respawnAt { next = min(next, at) } }
        if let at = control.respawnAt { next = min(next, at) }
        return max(.zero, now.duration(to: next))
    }

    private func runTimers() {
        let now = clock.now
        switch phase {
        case .starting(let deadline):
            if now >= deadline {
                logger.warn("the control process published no configuration snapshot within "
                    + "\(MasterProcess.milliseconds(MasterProcess.firstSnapshotWait)) ms, starting the workers anyway")
                startWorkers()
            }
        case .running:
            break
        case .quitting(let killAt):
            if now >= killAt {
                logger.alert("\(liveChildren) child processes still running after worker_shutdown_timeout, "
                    + "sending SIGKILL")
                phase = .terminating(nextPoll: now, delay: .seconds(2))
                signalChildren(SIGKILL)
            }
            return
        case .terminating(let poll, let delay):
            guard now >= poll, liveChildren > 0 else { return }
            let next = delay * 2
            if next > .seconds(8) {
                logger.alert("\(liveChildren) child processes did not exit after SIGKILL, exiting anyway")
                finish()
            }
            if next > .seconds(1) {
                if delay <= .seconds(1) { logger.warn("sending SIGKILL to \(liveChildren) child processes") }
                signalChildren(SIGKILL)
            }
            phase = .terminating(nextPoll: now + next, delay: next)
            return
        }
        guard isServing else { return }
        for index in workers.indices {
            if let at = workers[index].respawnAt, now >= at { spawnWorker(index) }
        }
        if let at = control.respawnAt, now >= at { spawnControl() }
    }

    // MARK: - Children

    private func startWorkers() {
        phase = .running
        let count = config.resolvedWorkerProcesses
        let now = clock.now
        workers = (0..<count).map { WorkerSlot(index: $0, startedAt: now) }
        for index in workers.indices { spawnWorker(index) }
        if let failure = PidFile.write(prefix: prefix, pid: pid) {
            logger.alert(failure)
        }
        logger.notice("ready: \(count) worker processes, pid file \"\(PidFile.path(prefix: prefix))\"")
        if logger.alsoStderr {
            // One line on the terminal whatever the log level: what is listening, and where to signal.
            let ports = config.nodeListen.map(Listeners.text).joined(separator: ", ")
            let admin = config.configProvider == .yaml ? "" : ", Admin API on \(Listeners.text(config.admin.listen))"
            Console.say("ready: listening on \(ports)\(admin), \(count) worker processes, master pid \(pid) in \(PidFile.path(prefix: prefix))")
        }
        // From here on the log file alone, as nginx's master once its workers run.
        logger.alsoStderr = false
        if reloadAfterStart {
            reloadAfterStart = false
            reload()
        }
    }

    private func spawnWorker(_ index: Int) {
        let context = WorkerContext(slot: index, prefix: prefix, config: config,
                                    listeners: listeners.descriptors(slot: index, addresses: config.nodeListen),
                                    zones: zones)
        let keep = context.listeners.map(\.fd)
        let result = Spawner.spawn(masterPid: pid, keep: keep, name: "sluice: worker",
                                   title: "sluice: worker process") {
            WorkerProcess.run(context)
        }
        let now = clock.now
        workers[index].respawnAt = nil
        switch result {
        case .success(let child):
            workers[index].pid = child
            workers[index].startedAt = now
            logger.notice("start worker process \(child)")
        case .failure(let failure):
            logger.alert("fork() failed while spawning \"worker process\" \(errnoText(failure.errno))")
            let delay = workers[index].backoff.childExited(after: .zero)
            workers[index].respawnAt = now + delay
        }
    }

    private func spawnControl() {
        var announce = false
        if case .starting = phase { announce = true }
        let context = ControlContext(prefix: prefix, config: config, masterPid: pid, announceAtStart: announce,
                                     zones: zones)
        let result = Spawner.spawn(masterPid: pid, keep: [], name: "sluice: control",
                                   title: "sluice: control process") {
            ControlProcess.run(context)
        }
        let now = clock.now
        control.respawnAt = nil
        switch result {
        case .success(let child):
            control.pid = child
            control.startedAt = now
            logger.notice("start control process \(child)")
        case .failure(let failure):
            logger.alert("fork() failed while spawning \"control process\" \(errnoText(failure.errno))")
            control.respawnAt = now + control.backoff.childExited(after: .zero)
        }
    }

    /// `waitpid(WNOHANG)` until nothing is left to reap; respawns what must be.
    private func reapChildren() {
        while true {
            var status: Int32 = 0
            let child = waitpid(-1, &status, WNOHANG)
            if child == 0 { return }
            if child < 0 {
                if errno == EINTR { continue }
                return  // ECHILD: no children at all
            }
            let now = clock.now
            if let index = workers.firstIndex(where: { $0.pid == child }) {
                logExit("worker process", child, status)
                workers[index].pid = 0
                guard isServing else { continue }
                let uptime = workers[index].startedAt.duration(to: now)
                let delay = workers[index].backoff.childExited(after: uptime, fatal: MasterProcess.isFatal(status))
                if delay == .zero {
                    spawnWorker(index)
                } else {
                    workers[index].respawnAt = now + delay
                    logger.warn("worker process \(child) of slot \(index) exited "
                        + "\(MasterProcess.milliseconds(uptime)) ms after its start, "
                        + "respawning in \(MasterProcess.milliseconds(delay)) ms")
                }
            } else if child == control.pid {
                logExit("control process", child, status)
                control.pid = 0
                guard isServing else { continue }
                if control.restartRequested {
                    control.restartRequested = false
                    control.backoff.reset()
                    spawnControl()
                    continue
                }
                let uptime = control.startedAt.duration(to: now)
                let delay = control.backoff.childExited(after: uptime, fatal: MasterProcess.isFatal(status))
                if delay == .zero {
                    spawnControl()
                } else {
                    control.respawnAt = now + delay
                    logger.warn("control process \(child) exited \(MasterProcess.milliseconds(uptime)) ms "
                        + "after its start, respawning in \(MasterProcess.milliseconds(delay)) ms")
                }
            } else if let name = retiring.removeValue(forKey: child) {
                logExit(name, child, status)
            } else {
                logExit("process", child, status)
            }
        }
    }

    /// Whether a wait status is an exit with ``RespawnBackoff/fatalExitCode``.
    private static func isFatal(_ status: Int32) -> Bool {
        sluice_wifexited(status) != 0 && sluice_wexitstatus(status) == RespawnBackoff.fatalExitCode
    }

    /// nginx's wording: `worker process 1234 exited on signal 9 (core dumped)`, or
    /// `... exited with code 2`; alert unless the exit was clean.
    private func logExit(_ name: String, _ child: pid_t, _ status: Int32) {
        if sluice_wifsignaled(status) != 0 {
            let core = sluice_wcoredump(status) != 0 ? " (core dumped)" : ""
            logger.alert("\(name) \(child) exited on signal \(sluice_wtermsig(status))\(core)")
        } else {
            let code = sluice_wexitstatus(status)
            logger.log(code == 0 ? .notice : .alert, "\(name) \(child) exited with code \(code)")
        }
    }

    /// Sends `signo` to every live child: workers, the control process, retiring ones.
    private func signalChildren(_ signo: Int32) {
        var targets = workers.compactMap { $0.pid != 0 ? $0.pid : nil }
        if control.pid != 0 { targets.append(control.pid) }
        targets.append(contentsOf: retiring.keys)
        for target in targets { send(signo, to: target) }
    }

    private func send(_ signo: Int32, to target: pid_t) {
        if kill(target, signo) != 0 {
            let errorNumber = errno
            // ESRCH: it died and is not reaped yet; SIGCHLD will tell.
            if errorNumber != ESRCH { logger.alert("kill(\(target), \(signo)) failed \(errnoText(errorNumber))") }
        }
    }

    // MARK: - Signals

    /// SIGQUIT: stop taking connections, let every child finish, then exit.
    private func beginQuit() {
        guard isServing else { return }
        logger.notice("gracefully shutting down")
        phase = .quitting(killAt: clock.now + .seconds(config.workerShutdownTimeout) + MasterProcess.quitGrace)
        stopRespawning()
        listeners.closeAll()
        signalChildren(SIGQUIT)
    }

    /// SIGTERM/SIGINT: children get SIGTERM now and SIGKILL after about a second.
    private func beginTerminate() {
        if case .terminating = phase { return }
        logger.notice("exiting")
        phase = .terminating(nextPoll: clock.now + .milliseconds(50), delay: .milliseconds(50))
        stopRespawning()
        listeners.closeAll()
        signalChildren(SIGTERM)
    }

    private func stopRespawning() {
        for index in workers.indices { workers[index].respawnAt = nil }
        control.respawnAt = nil
    }

    /// SIGHUP: re-read config.yaml. Unchanged process settings: only the control process reloads
    /// (it publishes a snapshot if apisix.yaml changed). Changed: "start new, then retire old".
    /// Invalid: nothing changes at all, as nginx keeps its workers when the new config fails.
    private func reload() {
        guard isServing else { return }
        if case .starting = phase {
            reloadAfterStart = true
            return
        }
        let loaded: (config: GatewayConfig, warnings: [String])
        do {
            loaded = try GatewayConfig.load(path: configPath)
        } catch {
            logger.log(.emerg, error.message)
            logger.error("reloading \"\(configPath)\" failed, the running configuration is kept")
            return
        }
        for warning in loaded.warnings + PluginCatalog.warnings(loaded.config) { logger.warn(warning) }
        var reloaded = loaded.config
        for generated in reloaded.admin.generateMissingKeys(previous: config.admin) {
            Console.say("generated Admin API key for \"\(generated.name)\": \(generated.key)")
        }
        if reloaded == config {
            if control.pid != 0 { send(SIGHUP, to: control.pid) }
            return
        }

        let next = reloaded
        let count = next.resolvedWorkerProcesses
        if let failure = listeners.ensure(slots: count, addresses: next.nodeListen) {
            logger.log(.emerg, failure)
            logger.error("reloading \"\(configPath)\" failed, the running configuration is kept")
            return
        }
        guard let nextZones = ZoneMapping.reload(zones, to: next, logger: logger) else {
            logger.error("reloading \"\(configPath)\" failed, the running configuration is kept")
            return
        }
        zones = nextZones
        reopenLogger(for: next)
        if next.workerRlimitNofile != config.workerRlimitNofile, let failure = DescriptorLimit.apply(next.workerRlimitNofile) {
            logger.log(.alert, failure)
        }
        config = next
        generation += 1
        logger.notice("start generation \(generation): \(count) worker processes")

        // Let go of the sockets the new generation does not have first: then no new worker
        // inherits them at fork, and the retiring worker that still serves one holds its last
        // reference. Its graceful stop accepts what is queued there before closing it; any other
        // holder closing last would reset the connections queued meanwhile.
        var keep = Set<Listeners.Key>()
        for slot in 0..<count {
            for address in next.nodeListen { keep.insert(Listeners.Key(slot: slot, address: address)) }
        }
        listeners.closeAll(except: keep)

        // Start new...
        let old = workers
        let now = clock.now
        workers = (0..<count).map { WorkerSlot(index: $0, startedAt: now) }
        for index in workers.indices { spawnWorker(index) }
        // ...then retire old.
        for slot in old where slot.pid != 0 {
            retiring[slot.pid] = "worker process"
            send(SIGQUIT, to: slot.pid)
        }

        // The control process gets the new settings by being replaced (the Admin API's listen
        // address lives in them); the next one starts as soon as this one has exited, so two
        // never write snapshots at once.
        if control.pid != 0 {
            control.restartRequested = true
            send(SIGQUIT, to: control.pid)
        }
    }

    /// A reload that moved the error log or changed its level: a new logger for the master.
    private func reopenLogger(for next: GatewayConfig) {
        let path = next.resolved(next.errorLog, prefix: prefix)
        if path == logger.path {
            logger.level = next.errorLogLevel
            return
        }
        let replacement = Logger(path: path, level: next.errorLogLevel)
        if replacement.fd < 0 {
            logger.alert("open() \"\(path)\" failed \(errnoText(errno)), the error log stays \"\(logger.path ?? "stderr")\"")
            return
        }
        logger = replacement
    }

    /// SIGUSR2 from the control process: a new snapshot exists.
    private func snapshotPublished() {
        switch phase {
        case .starting:
            startWorkers()
        case .running:
            for slot in workers where slot.pid != 0 { send(SIGHUP, to: slot.pid) }
        case .quitting, .terminating:
            break
        }
    }

    /// SIGUSR1: reopen the master's log, then every child reopens its own.
    private func reopenLogs() {
        logger.reopen()
        signalChildren(SIGUSR1)
    }

    private func finish() -> Never {
        if let failure = PidFile.remove(prefix: prefix) { logger.alert(failure) }
        logger.notice("exit")
        _ = lock  // held until the process ends; the kernel releases it
        exit(0)
    }

    // MARK: - Time

    static func timespec(_ duration: Duration) -> Glibc.timespec {
        let parts = duration.components
        return Glibc.timespec(tv_sec: Int(parts.seconds), tv_nsec: Int(parts.attoseconds / 1_000_000_000))
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let parts = duration.components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }
}
