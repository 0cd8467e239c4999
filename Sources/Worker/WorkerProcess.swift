#if canImport(Glibc)
import Glibc
#endif
package import Shared

/// What the master hands a worker process at fork.
package struct WorkerContext {
    /// 0-based worker slot; a respawned worker keeps its slot and its listening sockets.
    package var slot: Int
    /// Absolute prefix directory (`-p`).
    package var prefix: String
    package var config: GatewayConfig
    /// This slot's listening sockets (already bound and listening, non-blocking), one per
    /// `node_listen` address.
    package var listeners: [(fd: Int32, address: GatewayConfig.ListenAddress)]
    /// The node's shared zones, mapped by the master before this fork.
    package var zones: SharedZones

    package init(slot: Int, prefix: String, config: GatewayConfig,
                 listeners: [(fd: Int32, address: GatewayConfig.ListenAddress)], zones: SharedZones = SharedZones()) {
        self.slot = slot; self.prefix = prefix; self.config = config; self.listeners = listeners; self.zones = zones
    }
}

/// The data plane of one worker process.
package enum WorkerProcess {
    /// Runs the worker until it exits. Contract with the master: called in the forked child with
    /// every signal blocked, signal dispositions reset to default, every descriptor that is not this
    /// worker's already closed, and the process already named `sluice: worker`. The worker installs
    /// its own signal events, then unblocks signals. Exit status 0 after a graceful quit.
    package static func run(_ context: WorkerContext) -> Never {
        let loop = WorkerLoop(context: context)
        withExtendedLifetime(loop) { loop.run() }
    }
}
