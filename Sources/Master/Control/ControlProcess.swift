#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Shared
import Worker

/// What the master hands the control process at fork.
struct ControlContext {
    /// Absolute prefix directory.
    var prefix: String
    var config: GatewayConfig
    /// The master's pid: the control process exits when its parent is no longer this process.
    var masterPid: pid_t
    /// The master waits for a first SIGUSR2 before it starts workers: send one even when the
    /// snapshot is unchanged. A respawned control process leaves running workers alone instead.
    var announceAtStart: Bool
    /// The node's shared zones, mapped by the master before this fork.
    var zones: SharedZones
}

/// The control process: the config store's only writer (APISIX's privileged agent, nginx's cache
/// manager: a helper process with one job). It publishes numbered snapshots and tells the master
/// with SIGUSR2. With the `local` provider it also hosts the Admin API and its store.
///
/// One instance per process owns the libevent base (created after fork: the master never has
/// one, so nothing is inherited, traps item 3) and everything that hangs off it. Callbacks get it
/// back through their `void *` argument. Confined to the control process's only thread.
final class ControlProcess {
    private let context: ControlContext
    private let base: OpaquePointer
    private let logger: Logger
    private let publisher: SnapshotPublisher
    private var watcher: StandaloneWatcher?
    private var store: ConfigStore?
    private var etcd: EtcdStore?
    private var admin: AdminServer?
    private var events: [OpaquePointer] = []

    /// How often the control process looks at `conf/apisix.yaml` and at its parent.
    static let tick = timeval(tv_sec: 1, tv_usec: 0)

    private init(context: ControlContext, base: OpaquePointer, logger: Logger) {
        self.context = context
        self.base = base
        self.logger = logger
        self.publisher = SnapshotPublisher(prefix: context.prefix, masterPid: context.masterPid, logger: logger)
    }

    /// Runs the control process until SIGQUIT/SIGTERM/SIGINT or the master's death; called in the
    /// forked child with every signal blocked and default dispositions.
    static func run(_ context: ControlContext) -> Never {
        let config = context.config
        let logger = Logger(path: config.resolved(config.errorLog, prefix: context.prefix), level: config.errorLogLevel)
        context.zones.attach(logger: logger)
        // stderr is still the master's (its terminal, or whatever started it): make it the error
        // log, as the worker does, so libevent's messages and a Swift runtime error land there.
        ControlProcess.redirectStderr(to: logger)
        event_set_log_callback(ControlProcess.onLibeventLog)
        guard let base = event_base_new() else {
            logger.log(.emerg, "event_base_new() failed")
            exit(2)
        }
        let process = ControlProcess(context: context, base: base, logger: logger)
        let code = process.serve()
        process.release()
        exit(code)
    }

    private func serve() -> Int32 {
        let arg = Unmanaged.passUnretained(self).toOpaque()
        for signo in [SIGHUP, SIGQUIT, SIGTERM, SIGINT, SIGUSR1] {
            guard let event = event_new(base, signo, Int16(EV_SIGNAL | EV_PERSIST), ControlProcess.onSignal, arg),
                  event_add(event, nil) == 0
            else {
                logger.log(.emerg, "adding the event for signal \(signo) (\(Signals.name(signo))) failed")
                return 2
            }
            events.append(event)
        }
        guard let timer = event_new(base, -1, Int16(EV_PERSIST), ControlProcess.onTick, arg) else {
            logger.log(.emerg, "event_new() for the timer failed")
            return 2
        }
        var tick = ControlProcess.tick
        event_add(timer, &tick)
        events.append(timer)
        // The signal events exist: only now may signals arrive (traps item 4).
        Signals.unblockAll()

        startProvider()
        event_base_dispatch(base)
        logger.notice("exit")
        return 0
    }

    private func release() {
        admin?.shutdown()
        etcd?.shutdown()
        for event in events { event_free(event) }
        events.removeAll()
        event_base_free(base)
    }

    // MARK: - Provider

    private func startProvider() {
        switch context.config.configProvider {
        case .yaml:
            let watcher = StandaloneWatcher(path: context.prefix + "/conf/apisix.yaml")
            self.watcher = watcher
            loadStandalone(announce: context.announceAtStart)
        case .local:
            startLocal()
        case .etcd:
            startEtcd()
        }
    }

    /// The `etcd` provider: workers start on the stored snapshot (the last one published, kept
    /// in data/ across restarts) while the store reads etcd; every change it applies is
    /// published. The Admin API writes to etcd.
    private func startEtcd() {
        if context.announceAtStart || publisher.current == nil { publisher.announceStored() }
        let config = context.config
        let publisher = publisher
        let etcd = EtcdStore(base: base, settings: config.etcd, cipher: config.dataEncryption.fieldCipher, logger: logger, plugins: PluginCatalog.lookup(config),
                             publish: { publisher.publish($0, announceUnchanged: false) })
        self.etcd = etcd
        etcd.start()
        startAdmin(store: etcd, failure: "")
    }

    /// The `local` provider: load the store, publish it, serve the Admin API. An unreadable store
    /// is left untouched (never overwritten): workers keep the stored snapshot and the Admin API
    /// answers 503 with the reason until it is repaired and the control process reloads.
    private func startLocal() {
        let path = ConfigStore.path(prefix: context.prefix)
        var failure = ""
        do {
            store = try ConfigStore(path: path)
        } catch {
            failure = "the store is unusable: \(error.message)"
            logger.alert(failure)
        }
        if store != nil {
            publishStore(announce: context.announceAtStart)
        } else if context.announceAtStart || publisher.current == nil {
            publisher.announceStored()
        }
        startAdmin(store: store, failure: failure)
    }

    /// The Admin API on `store` (nil: every resource request answers 503 with `failure`).
    private func startAdmin(store: (any AdminStore)?, failure: String) {
        let config = context.config
        let api = AdminAPI(settings: config.admin, store: store, storeFailure: failure,
                           plugins: PluginCatalog.lookup(config), pluginNames: PluginCatalog.names(config),
                           committed: { [unowned self] in self.publishStore(announce: false) })
        let server = AdminServer(base: base, address: config.admin.listen,
                                 serverHeader: config.enableServerTokens ? "sluice/\(sluiceVersion)" : "sluice",
                                 logger: logger, handler: { api.handle($0, respond: $1) })
        admin = server
        server.listen()
    }

    /// Publishes what the store holds (after every accepted Admin API write).
    private func publishStore(announce: Bool) {
        guard let store else { return }
        let (snapshot, errors) = store.snapshot()
        for error in errors { logger.error(error) }
        publisher.publish(snapshot, announceUnchanged: announce)
    }

    /// Loads `conf/apisix.yaml` and publishes it. An unusable file keeps the previous snapshot
    /// (and at the very first start, with none at all, an empty one is published so workers
    /// start). `announce`: tell the master even when nothing changed (it waits for that at start).
    private func loadStandalone(announce: Bool) {
        guard let watcher else { return }
        watcher.noteCurrentFile()
        do {
            let (snapshot, errors) = try StandaloneConfig.load(
                path: watcher.path, environment: ControlProcess.environment(),
                plugins: PluginCatalog.lookup(context.config))
            for error in errors { logger.error(error) }
            publisher.publish(snapshot, announceUnchanged: announce)
            logger.notice("config file \(watcher.path) reloaded.")
        } catch {
            logger.error("failed to load \(watcher.path): \(error.message)")
            if publisher.current == nil {
                publisher.publish(ConfigSnapshot(), announceUnchanged: true)
            } else if announce {
                publisher.announceStored()
            }
        }
    }

    /// The process environment (for `${{VAR}}` in apisix.yaml), read without Foundation: importing
    /// it into the Master module breaks Glibc's socket constants in release builds.
    static func environment() -> [String: String] {
        var variables: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            cursor += 1
        }
        return variables
    }

    // MARK: - Events

    private static let onSignal: event_callback_fn = { signo, _, arg in
        guard let arg else { return }
        Unmanaged<ControlProcess>.fromOpaque(arg).takeUnretainedValue().signalReceived(signo)
    }

    private static let onTick: event_callback_fn = { _, _, arg in
        guard let arg else { return }
        Unmanaged<ControlProcess>.fromOpaque(arg).takeUnretainedValue().tickElapsed()
    }

    private func signalReceived(_ signo: Int32) {
        switch signo {
        case SIGHUP:
            logger.notice("signal \(signo) (SIGHUP) received, reloading")
            if watcher != nil { loadStandalone(announce: false) }
            if store != nil { publishStore(announce: false) }
            etcd?.reload()
        case SIGUSR1:
            logger.notice("signal \(signo) (SIGUSR1) received, reopening")
            logger.reopen()
            ControlProcess.redirectStderr(to: logger)
        default:
            logger.notice("signal \(signo) (\(Signals.name(signo))) received, exiting")
            event_base_loopbreak(base)
        }
    }

    /// Points descriptor 2 at the error log's file (a no-op while the log is stderr itself).
    private static func redirectStderr(to logger: Logger) {
        if logger.fd > 2 { dup2(logger.fd, 2) }
    }

    /// libevent's own messages, in the error log's format, written to stderr (the error log).
    private static let onLibeventLog: event_log_cb = { severity, message in
        let level = switch severity {
        case EVENT_LOG_ERR: "error"
        case EVENT_LOG_WARN: "warn"
        case EVENT_LOG_MSG: "info"
        default: "debug"
        }
        let text = message.map { String(cString: $0) } ?? ""
        let line = "\(Logger.timestamp()) [\(level)] \(getpid())#0: libevent: \(text)\n"
        line.withCString { _ = write(2, $0, strlen($0)) }
    }

    private func tickElapsed() {
        // PR_SET_PDEATHSIG covers the master's death; this covers a signal lost on the way.
        if getppid() != context.masterPid {
            logger.alert("the master process \(context.masterPid) is gone, exiting")
            event_base_loopbreak(base)
            return
        }
        if let watcher, watcher.fileChanged() { loadStandalone(announce: false) }
        if let admin, !admin.isListening { admin.listen() }
        context.zones.flushExpired()
        expireStore()
    }

    /// The `local` store's `?ttl=` items that lapsed are deleted, then the rest is published.
    private func expireStore() {
        guard let store else { return }
        do {
            if try store.expire(now: ConfigStore.now()) { publishStore(announce: false) }
        } catch {
            logger.error("deleting the expired items of the store failed: \(error.message)")
        }
    }
}
