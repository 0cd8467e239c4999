/// Process settings from `conf/config.yaml`, in APISIX's key paths. Every default is defined here,
/// once; the README's config reference lists the same values.
package struct GatewayConfig: Sendable, Equatable {
    /// One `apisix.node_listen` item. Default: `0.0.0.0:9080`.
    package struct ListenAddress: Sendable, Equatable, Hashable {
        package var ip: String
        package var port: Int
        package init(ip: String, port: Int) { self.ip = ip; self.port = port }
    }
    package enum ConfigProvider: String, Sendable, Equatable { case yaml, local, etcd }

    /// `apisix.node_listen`. Default: `[0.0.0.0:9080]`.
    package var nodeListen: [ListenAddress] = [ListenAddress(ip: "0.0.0.0", port: 9080)]
    /// `plugins`: the plugins enabled, by name; nil (the key absent) enables every plugin Sluice
    /// has (all of them are in APISIX's default list).
    package var plugins: [String]? = nil
    /// `apisix.enable_server_tokens`: `Server: sluice/<ver>` when true, `sluice` when false. Default: true.
    package var enableServerTokens: Bool = true
    /// `nginx_config.worker_processes`; nil means `auto` (number of CPUs). Default: auto.
    package var workerProcesses: Int? = nil
    /// `nginx_config.worker_shutdown_timeout`, seconds. Default: 240 s.
    package var workerShutdownTimeout: Double = 240
    /// `nginx_config.event.worker_connections`: client + upstream connections per worker. Default: 10620.
    package var workerConnections: Int = 10620
    /// `nginx_config.worker_rlimit_nofile` (APISIX's default 20480): the descriptor limit each
    /// worker sets for itself at start (nginx's `worker_rlimit_nofile`).
    package var workerRlimitNofile: Int = 20480
    /// `nginx_config.error_log`, relative to the prefix. Default: `logs/error.log`.
    package var errorLog: String = "logs/error.log"
    /// `nginx_config.error_log_level`. Default: warn.
    package var errorLogLevel: LogLevel = .warn
    /// `nginx_config.http.enable_access_log`. Default: true.
    package var enableAccessLog: Bool = true
    /// `nginx_config.http.access_log`, relative to the prefix. Default: `logs/access.log`.
    package var accessLog: String = "logs/access.log"
    /// `nginx_config.http.keepalive_timeout`, seconds a client connection may sit idle. Default: 60 s.
    package var keepaliveTimeout: Double = 60
    /// `nginx_config.http.client_header_timeout`, seconds to receive a request head. Default: 60 s.
    package var clientHeaderTimeout: Double = 60
    /// `nginx_config.http.client_body_timeout`, seconds between two reads of a request body. Default: 60 s.
    package var clientBodyTimeout: Double = 60
    /// `nginx_config.http.client_max_body_size`, bytes; 0 = unlimited. Default: 0 (APISIX's).
    package var clientMaxBodySize: Int64 = 0
    /// `nginx_config.http.send_timeout`, seconds between two writes to a client. Default: 10 s.
    package var sendTimeout: Double = 10
    /// `nginx_config.http.upstream.keepalive`: idle connections per upstream pool. Default: 320.
    package var upstreamKeepalive: Int = 320
    /// `nginx_config.http.upstream.keepalive_requests`. Default: 1000.
    package var upstreamKeepaliveRequests: Int = 1000
    /// `nginx_config.http.upstream.keepalive_timeout`, seconds. Default: 60 s.
    package var upstreamKeepaliveTimeout: Double = 60
    /// `deployment.role_traditional.config_provider`. Default: local (the embedded store the
    /// Admin API writes).
    package var configProvider: ConfigProvider = .local
    /// `deployment.admin`: the Admin API of the control process.
    package var admin = AdminSettings()
    /// `deployment.etcd`: the cluster of the `etcd` provider.
    package var etcd = EtcdSettings()
    /// `apisix.data_encryption`: the secrets the `etcd` provider stores encrypted.
    package var dataEncryption = DataEncryption()
    /// `nginx_config.http.lua_shared_dict` merged over APISIX's defaults, plus
    /// `nginx_config.http.custom_lua_shared_dict`: shared zone name → bytes. The master maps one
    /// zone per entry. Default: ``apisixSharedDicts``.
    package var sharedDicts: [String: Int] = GatewayConfig.apisixSharedDicts

    package init() {}

    /// APISIX's `nginx_config.http.lua_shared_dict` (`apisix/cli/config.lua`), in bytes: a
    /// config.yaml that names a few keeps the rest.
    package static let apisixSharedDicts: [String: Int] = {
        let m = 1024 * 1024
        return [
            "internal-status": 10 * m, "plugin-limit-req": 10 * m, "plugin-limit-count": 10 * m,
            "prometheus-metrics": 128 * m, "plugin-limit-conn": 10 * m, "worker-events": 10 * m,
            "lrucache-lock": 10 * m, "balancer-ewma": 10 * m, "balancer-ewma-locks": 10 * m,
            "balancer-ewma-last-touched-at": 10 * m, "plugin-limit-req-redis-cluster-slot-lock": 1 * m,
            "plugin-limit-count-lock": 1 * m, "plugin-limit-count-redis-cluster-slot-lock": 1 * m,
            "plugin-limit-conn-redis-cluster-slot-lock": 1 * m, "plugin-graphql-limit-count": 10 * m,
            "plugin-graphql-limit-count-reset-header": 10 * m, "plugin-ai-rate-limiting": 10 * m,
            "plugin-ai-rate-limiting-reset-header": 10 * m, "tracing_buffer": 32 * m, "plugin-api-breaker": 10 * m,
            "etcd-cluster-health-check": 10 * m, "discovery": 1 * m, "jwks": 1 * m, "introspection": 10 * m,
            "access-tokens": 1 * m, "ext-plugin": 1 * m, "tars": 1 * m, "cas-auth": 10 * m,
            "ocsp-stapling": 10 * m, "mcp-session": 10 * m,
        ]
    }()

    /// The worker count `auto` resolves to.
    package var resolvedWorkerProcesses: Int {
        if let n = workerProcesses { return n }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

#if canImport(Glibc)
import Glibc
#endif
