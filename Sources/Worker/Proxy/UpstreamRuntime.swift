package import Shared

/// One upstream as a worker runs it: resolved peers, the balancer's state and the keepalive pool.
/// Built when a snapshot is applied; kept across snapshots while its configuration is unchanged,
/// so the pool and the balancer's position survive a reload (nginx loses both; APISIX keeps pools).
package final class UpstreamRuntime {
    package struct Peer {
        /// Numeric nodes only; host names are resolved per connect by the worker's resolver.
        package var address: SocketAddress?
        /// `host:port` as configured (logs, `upstream_addr`).
        package var name: [UInt8]
        /// The `Host` header value for `pass_host: node`: host, plus `:port` unless 80/443.
        package var hostHeader: [UInt8]
        /// `http://host:port` for error.log's `upstream: "..."`.
        package var url: String
    }

    package let config: Upstream
    package let peers: [Peer]
    package var balancer: RoundRobinBalancer
    package let pool: KeepalivePool
    /// Extra tries after the first (`retries`, default nodes - 1).
    package let retries: Int
    /// `upstream_host` bytes for `pass_host: rewrite`.
    package let rewriteHost: [UInt8]

    package init(config: Upstream, defaults: GatewayConfig) {
        self.config = config
        let tls = config.scheme == "https"
        peers = config.nodes.map { node in
            let bracketed = node.host.contains(":") && !node.host.hasPrefix("[") ? "[\(node.host)]" : node.host
            let defaultPort = tls ? 443 : 80
            let hostHeader = node.port == defaultPort ? bracketed : "\(bracketed):\(node.port)"
            return Peer(address: SocketAddress(numericHost: node.host, port: node.port),
                        name: Array("\(bracketed):\(node.port)".utf8),
                        hostHeader: Array(hostHeader.utf8),
                        url: "\(config.scheme)://\(bracketed):\(node.port)")
        }
        balancer = RoundRobinBalancer(nodes: config.nodes)
        let poolConfig = config.keepalivePool
        pool = KeepalivePool(size: poolConfig?.size ?? defaults.upstreamKeepalive,
                             idleTimeout: poolConfig?.idleTimeout ?? defaults.upstreamKeepaliveTimeout,
                             maxRequests: poolConfig?.requests ?? defaults.upstreamKeepaliveRequests)
        retries = config.retries ?? max(0, config.nodes.count - 1)
        rewriteHost = Array((config.upstreamHost ?? "").utf8)
    }
}
