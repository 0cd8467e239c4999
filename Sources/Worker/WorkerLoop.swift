import CLibevent
package import Shared
#if canImport(Glibc)
import Glibc
#endif

/// Everything one worker process owns: the event base, listeners, the live configuration, the
/// connection free lists and the logs. One instance per process, confined to its loop; libevent
/// callbacks recover it from their context pointer (no globals).
package final class WorkerLoop {
    package let base: OpaquePointer
    /// The master that forked this worker; a different parent means it is gone.
    private let masterPid: pid_t
    package let context: WorkerContext
    package var config: GatewayConfig { context.config }
    package let logger: Logger
    package let accessLog: AccessLog?
    package private(set) var runtime: RuntimeConfig
    package var clock = CachedClock()
    /// `Server:` header line, built once.
    package let serverHeader: [UInt8]
    /// Host names of nodes and functions, resolved without blocking.
    package lazy var resolver = Resolver(base: base)
    /// TLS to `https` upstreams and functions; made on first use, after fork.
    package lazy var tlsContext: TLSClientContext? = TLSClientContext()
    /// Spare buffer blocks: idle pooled upstream connections park theirs here.
    package let buffers = BufferCache()
    /// Connections' timeouts, through the base's common-timeout queues.
    package let timeouts: CommonTimeouts

    private struct Listener {
        let fd: Int32
        let port: Int
        let event: EventHandle
    }
    private var listeners: [Listener] = []
    private var signalEvents: [OpaquePointer] = []
    /// Open client connections (swap-remove by `liveIndex`).
    var live: [ClientConnection] = []
    private var freeClients: [ClientConnection] = []
    private var freeUpstreams: [UpstreamConnection] = []
    /// Every upstream connection object ever made: they are owned here for the life of the process
    /// (callbacks reach them unretained), and recycled through `freeUpstreams`.
    private var upstreamArena: [UpstreamConnection] = []
    /// Set by SIGQUIT: no new connections; exit once the live ones are done.
    package private(set) var quitting = false
    private var quitDeadline: OpaquePointer?
    /// Out of descriptors (EMFILE/ENFILE): accepting is off until this one-shot timer fires, as
    /// nginx disables its accept events for `accept_mutex_delay`, so the worker serves what it has
    /// instead of spinning on a listener it cannot drain.
    private var acceptResume: OpaquePointer?
    /// When "accept4() failed" was last logged (monotonic ms): once per back-off at most.
    private var lastAcceptFailureLogMs: Int64 = 0
    /// nginx's `accept_mutex_delay` default.
    static let acceptBackoff: Double = 0.5

    /// `ownsStderr`: make fd 2 the error log (a worker process; not a unit test's process).
    package init(context: WorkerContext, ownsStderr: Bool = true) {
        self.context = context
        masterPid = getppid()
        let errorLogPath = context.config.errorLog.hasPrefix("/") ? context.config.errorLog : context.prefix + "/" + context.config.errorLog
        logger = Logger(path: errorLogPath, level: context.config.errorLogLevel)
        context.zones.attach(logger: logger)
        // libevent prints its warnings to stderr: make stderr the error log, as nginx does, before
        // the event base exists so its start-up errors land there too.
        if ownsStderr && logger.fd > 2 { dup2(logger.fd, 2) }
        guard let base = event_base_new() else {
            logger.log(.emerg, "event_base_new() failed, exiting")
            // nginx's fatal code: the master backs off instead of respawning at once.
            exit(2)
        }
        self.base = base
        timeouts = CommonTimeouts(base: base)
        if context.config.enableAccessLog {
            let path = context.config.accessLog.hasPrefix("/") ? context.config.accessLog : context.prefix + "/" + context.config.accessLog
            accessLog = AccessLog(path: path)
        } else {
            accessLog = nil
        }
        serverHeader = Array((context.config.enableServerTokens ? "Server: sluice/\(sluiceVersion)\r\n" : "Server: sluice\r\n").utf8)
        let snapshotPath = SnapshotFile.path(prefix: context.prefix)
        var snapshot = ConfigSnapshot()
        do {
            snapshot = try SnapshotFile.read(path: snapshotPath)
        } catch {
            logger.log(.warn, "no configuration snapshot at \(snapshotPath) yet (\(error.message)), serving no routes")
        }
        runtime = RuntimeConfig(snapshot: snapshot, defaults: context.config, previous: nil)
    }

    var selfPointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// Installs signal events and listeners, unblocks signals and runs until the worker exits.
    package func run() -> Never {
        for signo in [SIGHUP, SIGQUIT, SIGTERM, SIGINT, SIGUSR1] {
            let ev = event_new(base, signo, Int16(EV_SIGNAL | EV_PERSIST), workerSignalCallback, selfPointer)!
            event_add(ev, nil)
            signalEvents.append(ev)
        }
        for (fd, address) in context.listeners {
            let event = EventHandle(base: base, callback: acceptCallback, context: selfPointer)
            event.assign(base: base, fd: fd, events: EV_READ | EV_PERSIST, callback: acceptCallback, context: selfPointer)
            event.add()
            listeners.append(Listener(fd: fd, port: address.port, event: event))
        }
        // A check once a second that the master is still there (PR_SET_PDEATHSIG covers most cases;
        // this covers a master that died before the child set it).
        let tick = event_new(base, -1, Int16(EV_PERSIST), workerTickCallback, selfPointer)!
        var tv = timevalOf(seconds: 1)
        event_add(tick, &tv)
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
        logger.log(.info, "worker process \(getpid()) started (slot \(context.slot), config generation \(runtime.generation))")
        event_base_dispatch(base)
        exit(0)
    }

    // MARK: - Accepting

    fileprivate func acceptReady(listenerFD: Int32) {
        guard !quitting else { return }
        // Bounded so one busy listener cannot starve the loop (nginx's multi_accept off/on).
        accept(on: listenerFD, budget: 64)
    }

    /// Accepts up to `budget` connections waiting on `listenerFD`; stops early when none is left.
    private func accept(on listenerFD: Int32, budget: Int) {
        let port = listeners.first(where: { $0.fd == listenerFD })?.port ?? 0
        var budget = budget
        while budget > 0 {
            budget -= 1
            var peer = SocketAddress()
            let fd = Socket.accept(listenerFD, into: &peer)
            if fd < 0 {
                let err = errno
                if err == EAGAIN || err == EINTR || err == ECONNABORTED { return }
                if err == EMFILE || err == ENFILE {
                    pauseAccepting(err)
                    return
                }
                logger.log(.alert, "accept4() failed (\(err): \(errnoString(err)))")
                return
            }
            if live.count >= config.workerConnections {
                logger.log(.alert, "\(config.workerConnections) worker_connections are not enough")
                close(fd)
                continue
            }
            Socket.setNoDelay(fd)
            let conn = freeClients.popLast() ?? ClientConnection(worker: self)
            conn.liveIndex = live.count
            live.append(conn)
            conn.open(fd: fd, peer: peer, listenerPort: port)
        }
    }

    private func pauseAccepting(_ err: Int32) {
        let now = monotonicMilliseconds()
        if now - lastAcceptFailureLogMs >= 1000 {
            lastAcceptFailureLogMs = now
            logger.log(.crit, "accept4() failed (\(err): \(errnoString(err))), accepting paused for \(Int(Self.acceptBackoff * 1000)) ms")
        }
        guard acceptResume == nil else { return }
        for listener in listeners { listener.event.delete() }
        let ev = event_new(base, -1, 0, workerAcceptResumeCallback, selfPointer)!
        var tv = timevalOf(seconds: Self.acceptBackoff)
        event_add(ev, &tv)
        acceptResume = ev
    }

    fileprivate func resumeAccepting() {
        if let ev = acceptResume { event_free(ev) }
        acceptResume = nil
        guard !quitting else { return }
        // Accepting may run out again at once: then the next pause holds.
        for listener in listeners where acceptResume == nil {
            listener.event.add()
            accept(on: listener.fd, budget: 64)
        }
    }

    // MARK: - Free lists

    func newUpstreamConnection() -> UpstreamConnection {
        if let conn = freeUpstreams.popLast() { return conn }
        let conn = UpstreamConnection(worker: self)
        upstreamArena.append(conn)
        return conn
    }

    func recycle(_ conn: UpstreamConnection) {
        freeUpstreams.append(conn)
    }

    func recycle(_ conn: ClientConnection) {
        // Into the free list first: `live` may hold the last reference, and the object may still
        // be running the callback that closed it.
        freeClients.append(conn)
        let index = conn.liveIndex
        conn.liveIndex = -1
        if index >= 0 && index < live.count && live[index] === conn {
            let last = live.removeLast()
            if index < live.count {
                live[index] = last
                last.liveIndex = index
            }
        }
        if quitting && live.isEmpty { finishQuit() }
    }

    // MARK: - Signals

    fileprivate func handleSignal(_ signo: Int32) {
        switch signo {
        case SIGHUP:
            reloadSnapshot()
        case SIGQUIT:
            beginQuit()
        case SIGTERM, SIGINT:
            logger.log(.notice, "exiting")
            exit(0)
        case SIGUSR1:
            logger.reopen()
            if logger.fd > 2 { dup2(logger.fd, 2) }
            accessLog?.reopen()
        default:
            break
        }
    }

    /// Reads the newest snapshot and swaps it in between two requests (we are on the loop).
    package func reloadSnapshot() {
        let started = monotonicMilliseconds()
        let path = SnapshotFile.path(prefix: context.prefix)
        let snapshot: ConfigSnapshot
        do {
            snapshot = try SnapshotFile.read(path: path)
        } catch {
            logger.log(.error, "failed to read configuration snapshot \(path): \(error.message), keeping generation \(runtime.generation)")
            return
        }
        guard snapshot.generation != runtime.generation else { return }
        let read = monotonicMilliseconds()
        runtime = RuntimeConfig(snapshot: snapshot, defaults: config, previous: runtime)
        // The loop is stalled meanwhile (process-model.md budget: well under 100 ms at 10,000 routes).
        let done = monotonicMilliseconds()
        logger.log(.info, "configuration generation \(runtime.generation) applied (\(snapshot.routes.count) routes, \(done - started) ms: read \(read - started) ms, build \(done - read) ms)")
    }

    /// Graceful stop: close listeners now, let in-flight requests finish, close idle connections,
    /// exit when none is left or `worker_shutdown_timeout` passed.
    ///
    /// Nothing a client already sent is dropped (zero-drop reload, when a new generation replaces
    /// this one):
    /// - connections already queued in the listening sockets are accepted before they close: a
    ///   socket of a slot the new generation no longer has would otherwise reset them on close;
    /// - a request in flight is answered with `Connection: close` (the client reconnects, to the
    ///   new generation) unless its response head is already out;
    /// - an idle keep-alive connection (or one accepted whose request is not read yet) is not
    ///   closed at once: a client may be sending its next request at that very moment, and closing
    ///   would lose it. It gets ``quitIdleGrace`` to send one, which is answered with
    ///   `Connection: close`; silent that long, it is closed (the ordinary keepalive-timeout case).
    private func beginQuit() {
        guard !quitting else { return }
        logger.log(.notice, "gracefully shutting down")
        for listener in listeners {
            accept(on: listener.fd, budget: max(0, config.workerConnections - live.count))
        }
        quitting = true
        for listener in listeners {
            listener.event.delete()
            close(listener.fd)
        }
        listeners.removeAll()
        for (_, upstream) in runtime.upstreams { upstream.pool.drain() }
        let grace = min(WorkerLoop.quitIdleGrace, config.keepaliveTimeout)
        for conn in live {
            if conn.isIdle {
                conn.readEvent.add(timeout: grace)
            } else if !conn.responseHeadDone {
                conn.machine.noKeepAlive()
            }
        }
        if live.isEmpty { finishQuit(); return }
        let ev = event_new(base, -1, 0, workerQuitDeadlineCallback, selfPointer)!
        var tv = timevalOf(seconds: config.workerShutdownTimeout)
        event_add(ev, &tv)
        quitDeadline = ev
    }

    /// How long an idle connection may still send one request once a graceful stop began.
    package static let quitIdleGrace: Double = 1

    fileprivate func finishQuit() {
        logger.log(.notice, "exit")
        exit(0)
    }

    fileprivate func tick() {
        if getppid() != masterPid {
            logger.log(.alert, "master process is gone, exiting")
            exit(1)
        }
    }
}

private func workerSignalCallback(_ signo: Int32, _ what: Int16, _ ctx: UnsafeMutableRawPointer?) {
    Unmanaged<WorkerLoop>.fromOpaque(ctx!).takeUnretainedValue().handleSignal(signo)
}

private func acceptCallback(_ fd: Int32, _ what: Int16, _ ctx: UnsafeMutableRawPointer?) {
    Unmanaged<WorkerLoop>.fromOpaque(ctx!)._withUnsafeGuaranteedRef { $0.acceptReady(listenerFD: fd) }
}

private func workerAcceptResumeCallback(_ fd: Int32, _ what: Int16, _ ctx: UnsafeMutableRawPointer?) {
    Unmanaged<WorkerLoop>.fromOpaque(ctx!).takeUnretainedValue().resumeAccepting()
}

private func workerTickCallback(_ fd: Int32, _ what: Int16, _ ctx: UnsafeMutableRawPointer?) {
    Unmanaged<WorkerLoop>.fromOpaque(ctx!).takeUnretainedValue().tick()
}

private func workerQuitDeadlineCallback(_ fd: Int32, _ what: Int16, _ ctx: UnsafeMutableRawPointer?) {
    let worker = Unmanaged<WorkerLoop>.fromOpaque(ctx!).takeUnretainedValue()
    worker.logger.log(.warn, "worker_shutdown_timeout expired with \(worker.live.count) connections open")
    worker.finishQuit()
}
