/// A validated APISIX upstream (`/apisix/upstreams/<id>` or a route's inline `upstream`).
package struct Upstream: Sendable, Equatable {
    package struct Node: Sendable, Equatable {
        /// Host as written (IP or name; IPv6 without brackets).
        package var host: String
        package var port: Int
        package var weight: Int
        package var priority: Int
        package init(host: String, port: Int, weight: Int, priority: Int = 0) {
            self.host = host; self.port = port; self.weight = weight; self.priority = priority
        }
    }
    /// `timeout` of an upstream or route: seconds each.
    package struct Timeout: Sendable, Equatable {
        package var connect: Double
        package var send: Double
        package var read: Double
        package init(connect: Double, send: Double, read: Double) {
            self.connect = connect; self.send = send; self.read = read
        }
    }
    /// `keepalive_pool`. Defaults come from config.yaml's `nginx_config.http.upstream` when absent.
    package struct KeepalivePool: Sendable, Equatable {
        package var size: Int
        /// Seconds.
        package var idleTimeout: Double
        package var requests: Int
        package init(size: Int, idleTimeout: Double, requests: Int) {
            self.size = size; self.idleTimeout = idleTimeout; self.requests = requests
        }
    }
    package enum PassHost: String, Sendable, Equatable { case pass, node, rewrite }

    /// The store id; nil for an inline upstream.
    package var id: String?
    package var nodes: [Node]
    /// Balancer type; only `roundrobin` is served.
    package var type: String = "roundrobin"
    /// nil = number of nodes - 1.
    package var retries: Int?
    /// Seconds; nil = unbounded.
    package var retryTimeout: Double?
    package var timeout: Timeout?
    package var keepalivePool: KeepalivePool?
    /// http or https.
    package var scheme: String = "http"
    package var passHost: PassHost = .pass
    package var upstreamHost: String?
    /// The APISIX object this upstream was built from, as validated (`id` set to the id string
    /// for stored upstreams). `.null` for an upstream built in code (see `apisixJSON`).
    package var json: JSONValue = .null

    package init(id: String? = nil, nodes: [Node]) { self.id = id; self.nodes = nodes }
}
