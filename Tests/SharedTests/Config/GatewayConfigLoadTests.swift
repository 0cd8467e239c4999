import Testing
@testable import Shared

private func load(_ yaml: String) throws -> (config: GatewayConfig, warnings: [String], path: String) {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = try directory.write("conf/config.yaml", yaml)
    let (config, warnings) = try GatewayConfig.load(path: path)
    return (config, warnings, path)
}

@Suite struct GatewayConfigLoadTests {
    /// An empty file or empty sections give the defaults and no warnings.
    @Test(arguments: ["", "\n", "# only a comment\n", "apisix:\nnginx_config:\n"])
    func defaults(yaml: String) throws {
        let result = try load(yaml)
        #expect(result.config == GatewayConfig())
        #expect(result.warnings.isEmpty)
    }

    /// A missing file is an error naming it.
    @Test func missingFile() {
        #expect(throws: ConfigError("failed to read /nonexistent/conf/config.yaml: no such file")) {
            try GatewayConfig.load(path: "/nonexistent/conf/config.yaml")
        }
    }

    /// Every known key is read from its APISIX path.
    @Test func everyKey() throws {
        let yaml = """
        apisix:
          node_listen: 9081
          enable_server_tokens: false
        nginx_config:
          worker_processes: 3
          worker_shutdown_timeout: 10s
          error_log: logs/err.log
          error_log_level: info
          event:
            worker_connections: 2048
          http:
            enable_access_log: false
            access_log: logs/a.log
            keepalive_timeout: 75s
            client_header_timeout: 1m
            client_body_timeout: 500ms
            client_max_body_size: 8k
            send_timeout: 30
            upstream:
              keepalive: 64
              keepalive_requests: 500
              keepalive_timeout: 1h
        deployment:
          role: traditional
          role_traditional:
            config_provider: etcd
          admin:
            admin_key:
              - name: admin
                key: edd1c9f034335f136f87ad84b625c8f1
          etcd:
            host: ["http://127.0.0.1:2379"]
        """
        let (config, warnings, _) = try load(yaml)
        #expect(warnings.isEmpty)
        var expected = GatewayConfig()
        expected.nodeListen = [GatewayConfig.ListenAddress(ip: "0.0.0.0", port: 9081)]
        expected.enableServerTokens = false
        expected.workerProcesses = 3
        expected.workerShutdownTimeout = 10
        expected.errorLog = "logs/err.log"
        expected.errorLogLevel = .info
        expected.workerConnections = 2048
        expected.enableAccessLog = false
        expected.accessLog = "logs/a.log"
        expected.keepaliveTimeout = 75
        expected.clientHeaderTimeout = 60
        expected.clientBodyTimeout = 0.5
        expected.clientMaxBodySize = 8192
        expected.sendTimeout = 30
        expected.upstreamKeepalive = 64
        expected.upstreamKeepaliveRequests = 500
        expected.upstreamKeepaliveTimeout = 3600
        expected.configProvider = .etcd
        expected.admin.keys = [AdminSettings.Key(name: "admin", key: AdminSettings.docsKey, role: .admin)]
        #expect(config == expected)
    }

    /// `node_listen`: a port, a list of ports, `{ip, port}` and `{port}` items.
    @Test(arguments: [
        ("9080", [("0.0.0.0", 9080)]),
        ("[9080, 9081]", [("0.0.0.0", 9080), ("0.0.0.0", 9081)]),
        ("\n    - ip: 127.0.0.1\n      port: 9082\n    - port: 9083\n      enable_http2: true", [("127.0.0.1", 9082), ("0.0.0.0", 9083)]),
        ("\n    - 9084", [("0.0.0.0", 9084)]),
    ])
    func nodeListenForms(value: String, expected: [(String, Int)]) throws {
        let config = try load("apisix:\n  node_listen: \(value)\n").config
        #expect(config.nodeListen == expected.map { GatewayConfig.ListenAddress(ip: $0.0, port: $0.1) })
    }

    /// `worker_processes: auto` is nil (resolved to the CPU count).
    @Test func workerProcessesAuto() throws {
        let config = try load("nginx_config:\n  worker_processes: auto\n").config
        #expect(config.workerProcesses == nil)
        #expect(config.resolvedWorkerProcesses >= 1)
    }

    /// Data-plane role with the yaml provider, as APISIX's standalone docs write it.
    @Test func dataPlaneRole() throws {
        let yaml = "deployment:\n  role: data_plane\n  role_data_plane:\n    config_provider: yaml\n"
        #expect(try load(yaml).config.configProvider == .yaml)
    }

    /// A bad value of a known key names the value, the key path and the file.
    @Test(arguments: [
        ("nginx_config:\n  worker_processes: abc\n",
         #"invalid value "abc" for nginx_config.worker_processes in <path>: expected a positive integer or "auto""#),
        ("nginx_config:\n  worker_processes: 0\n",
         #"invalid value "0" for nginx_config.worker_processes in <path>: expected a positive integer or "auto""#),
        ("apisix:\n  node_listen: 70000\n",
         #"invalid value "70000" for apisix.node_listen in <path>: expected a port, a list of ports, or a list of {ip, port}"#),
        ("apisix:\n  node_listen:\n    - ip: 1.2.3.4\n",
         #"invalid value {"ip":"1.2.3.4"} for apisix.node_listen in <path>: expected a port, a list of ports, or a list of {ip, port}"#),
        ("apisix:\n  enable_server_tokens: maybe\n",
         #"invalid value "maybe" for apisix.enable_server_tokens in <path>: expected true or false"#),
        ("nginx_config:\n  http:\n    keepalive_timeout: 10x\n",
         #"invalid value "10x" for nginx_config.http.keepalive_timeout in <path>: expected a time such as 60, 60s, 500ms, 10m or 1h"#),
        ("nginx_config:\n  http:\n    client_max_body_size: 1t\n",
         #"invalid value "1t" for nginx_config.http.client_max_body_size in <path>: expected a size such as 0, 1024, 8k or 1m"#),
        ("nginx_config:\n  error_log_level: loud\n",
         #"invalid value "loud" for nginx_config.error_log_level in <path>: expected one of emerg, alert, crit, error, warn, notice, info, debug"#),
        ("nginx_config:\n  event:\n    worker_connections: -1\n",
         #"invalid value "-1" for nginx_config.event.worker_connections in <path>: expected a positive integer"#),
        ("deployment:\n  role_traditional:\n    config_provider: consul\n",
         #"invalid value "consul" for deployment.role_traditional.config_provider in <path>: expected yaml, local or etcd"#),
        ("nginx_config: 5\n", #"invalid value "5" for nginx_config in <path>: expected a mapping"#),
        ("deployment:\n  role: data_plane\n", "missing deployment.role_data_plane.config_provider in <path>"),
        ("apisix: [\n", nil),
    ] as [(String, String?)])
    func badValues(yaml: String, expected: String?) throws {
        let message = try #require(try loadError(yaml))
        if let expected { #expect(message == expected) } else { #expect(message.hasPrefix("invalid YAML in <path>")) }
    }

    /// Unknown keys warn once each with their path; known-but-unused APISIX keys are silent.
    @Test func unknownKeys() throws {
        let yaml = """
        apisix:
          foo: 1
          ssl:
            enable: true
          router:
            http: radixtree_host_uri
        nginx_config:
          http:
            bar: 2
            real_ip_from: [127.0.0.1]
        plugins: [openfunction]
        plugin_attr: {}
        whatever: true
        """
        let (_, warnings, path) = try load(yaml)
        #expect(warnings == [
            "unknown key apisix.foo in \(path), ignored",
            "unknown key nginx_config.http.bar in \(path), ignored",
            "unknown key whatever in \(path), ignored",
        ])
    }
}

/// `plugins:`: absent enables everything (nil); a list names the enabled plugins.
@Suite struct GatewayConfigPluginsTests {
    @Test func pluginsList() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let listed = try directory.write("a.yaml", "plugins:\n  - request-id\n  - proxy-rewrite\n")
        #expect(try GatewayConfig.load(path: listed).config.plugins == ["request-id", "proxy-rewrite"])
        let absent = try directory.write("b.yaml", "apisix:\n  enable_server_tokens: true\n")
        #expect(try GatewayConfig.load(path: absent).config.plugins == nil)
        let scalar = try directory.write("c.yaml", "plugins: request-id\n")
        #expect(throws: ConfigError.self) { try GatewayConfig.load(path: scalar) }
    }
}
