// config.yaml in APISIX's key paths (apisix/cli/config.lua holds APISIX's defaults; ours are in
// GatewayConfig.swift). Known keys are parsed strictly, like `nginx -t`: a bad value refuses the
// whole file, naming the key. Keys APISIX knows but Sluice does not use are accepted silently,
// because real APISIX files carry many of them; anything else is a warning.

import CLibevent
import Yams
#if canImport(Glibc)
import Glibc
#endif

extension GatewayConfig {
    /// Reads and validates `config.yaml`. Unknown keys become warnings naming them; a bad value of a
    /// known key throws an error naming the key. A missing file is an error.
    ///
    /// Warnings read `unknown key apisix.foo in <path>, ignored`. Errors read
    /// `invalid value "abc" for nginx_config.worker_processes in <path>: expected a positive
    /// integer or "auto"`. An empty file gives the defaults.
    package static func load(path: String) throws(ConfigError) -> (config: GatewayConfig, warnings: [String]) {
        let text = try YAMLSupport.readText(path)
        var loader = ConfigYAMLLoader(path: path)
        guard let root = try YAMLSupport.compose(text, path: path) else { return (loader.config, []) }
        if case .scalar(let scalar) = root, scalar.string.isEmpty { return (loader.config, []) }
        try loader.walk(root, at: "")
        try loader.resolveProvider()
        try loader.checkAdminKeyPolicy()
        if (loader.config.etcd.user == nil) != (loader.config.etcd.password == nil) {
            throw ConfigError("deployment.etcd.user and deployment.etcd.password in \(path) go together: set both or neither")
        }
        return (loader.config, loader.warnings)
    }
}

private struct ConfigYAMLLoader {
    let path: String
    var config = GatewayConfig()
    var warnings: [String] = []
    var role = "traditional"
    var traditionalProvider: GatewayConfig.ConfigProvider?
    var dataPlaneProvider: GatewayConfig.ConfigProvider?
    /// `custom_lua_shared_dict` names seen so far.
    var customDicts: Set<String> = []

    init(path: String) { self.path = path }

    /// Mappings Sluice descends into.
    static let sections: Set<String> = [
        "", "apisix", "apisix.data_encryption", "nginx_config", "nginx_config.event", "nginx_config.http", "nginx_config.http.upstream",
        "deployment", "deployment.role_traditional", "deployment.role_data_plane", "deployment.admin",
        "deployment.etcd",
    ]

    /// APISIX keys (whole subtrees) Sluice accepts without using them, or reads elsewhere
    /// (`deployment.admin`, `deployment.etcd`).
    static let silentlyAccepted: Set<String> = [
        "stream_plugins", "plugin_attr", "wasm", "graphql", "ext-plugin", "xrpc", "discovery", "apisix.ssl",
        "apisix.id", "apisix.enable_admin", "apisix.enable_dev_mode", "apisix.enable_reuseport", "apisix.enable_ipv6",
        "apisix.enable_http2", "apisix.show_upstream_status_in_response_header", "apisix.proxy_cache", "apisix.router",
        "apisix.delete_uri_tail_slash", "apisix.normalize_uri_like_servlet", "apisix.resolver_timeout",
        "apisix.dns_resolver", "apisix.dns_resolver_valid", "apisix.enable_resolv_search_opt", "apisix.proxy_mode",
        "apisix.stream_proxy", "apisix.proxy_protocol", "apisix.enable_control",
        "apisix.control", "apisix.extra_lua_path", "apisix.extra_lua_cpath", "apisix.lua_module_hook",
        "apisix.trusted_addresses", "apisix.disable_sync_configuration_during_start", "apisix.events",
        "apisix.tracing", "apisix.status", "apisix.enable_server_tokens_header", "apisix.node_listen_http2",
        "nginx_config.user", "nginx_config.enable_cpu_affinity",
        "nginx_config.max_pending_timers", "nginx_config.max_running_timers", "nginx_config.meta",
        "nginx_config.stream", "nginx_config.main_configuration_snippet", "nginx_config.http_configuration_snippet",
        "nginx_config.http_server_configuration_snippet", "nginx_config.http_server_location_configuration_snippet",
        "nginx_config.http_admin_configuration_snippet", "nginx_config.http_end_configuration_snippet",
        "nginx_config.stream_configuration_snippet", "nginx_config.env", "nginx_config.lua_shared_dict",
        "nginx_config.http.access_log_format", "nginx_config.http.access_log_format_escape",
        "nginx_config.http.access_log_buffer", "nginx_config.http.real_ip_header", "nginx_config.http.real_ip_recursive",
        "nginx_config.http.real_ip_from",
        "nginx_config.http.proxy_ssl_server_name", "nginx_config.http.charset", "nginx_config.http.variables_hash_max_size",
        "nginx_config.http.underscores_in_headers", "nginx_config.http.enable_http2", "nginx_config.http.proxy_buffering",
        "nginx_config.http.lua_socket_log_errors",
        "deployment.admin.https_admin", "deployment.admin.admin_ssl", "deployment.admin.admin_api_mtls",
        "deployment.admin.enable_admin_ui", "deployment.role_control_plane",
        "deployment.etcd.tls", "deployment.etcd.watch_timeout", "deployment.etcd.startup_retry",
        "deployment.etcd.resync_delay", "deployment.etcd.health_check_timeout", "deployment.etcd.use_grpc", "deployment.certs",
        "deployment.config_provider", "deployment.fallback_cp",
    ]

    mutating func walk(_ node: Node, at prefix: String) throws(ConfigError) {
        guard case .mapping(let mapping) = node else {
            throw invalid(node, prefix.isEmpty ? "the top level" : prefix, "a mapping")
        }
        for (keyNode, value) in mapping {
            let key = keyNode.scalar?.string ?? YAMLSupport.display(keyNode)
            let keyPath = prefix.isEmpty ? key : prefix + "." + key
            if Self.sections.contains(keyPath) {
                if value.null != nil { continue }
                try walk(value, at: keyPath)
            } else if try setLeaf(keyPath, value) {
                continue
            } else if !Self.silentlyAccepted.contains(keyPath) {
                warnings.append("unknown key \(keyPath) in \(path), ignored")
            }
        }
    }

    /// Parses a known leaf; false when `keyPath` is not one.
    mutating func setLeaf(_ keyPath: String, _ node: Node) throws(ConfigError) -> Bool {
        switch keyPath {
        case "plugins":
            guard case .sequence(let items) = node else { throw invalid(node, keyPath, "a list of plugin names") }
            var names: [String] = []
            for item in items {
                guard let name = item.scalar?.string, !name.isEmpty else { throw invalid(item, keyPath, "a list of plugin names") }
                names.append(name)
            }
            config.plugins = names
        case "apisix.node_listen": config.nodeListen = try listen(node, keyPath)
        case "apisix.enable_server_tokens": config.enableServerTokens = try bool(node, keyPath)
        case "apisix.data_encryption.enable_encrypt_fields": config.dataEncryption.enableEncryptFields = try bool(node, keyPath)
        case "apisix.data_encryption.keyring":
            // A single string is accepted as a one-key ring (cli/schema.lua).
            let keys: [String]
            if let text = node.scalar?.string, node.null == nil {
                keys = [text]
            } else if node.null != nil {
                keys = []
            } else {
                guard case .sequence(let items) = node else { throw invalid(node, keyPath, "a list of 16 or 32 byte keys") }
                keys = try items.map { (item: Node) throws(ConfigError) -> String in
                    guard let text = item.scalar?.string else { throw invalid(item, keyPath, "a list of 16 or 32 byte keys") }
                    return text
                }
            }
            if keys.isEmpty {
                config.dataEncryption.cipher = nil
            } else {
                guard let cipher = FieldCipher(keyring: keys) else {
                    throw invalid(node, keyPath, "keys of 16 bytes (AES-128-CBC) or 32 bytes (AES-256-CBC)")
                }
                config.dataEncryption.cipher = cipher
            }
        case "nginx_config.worker_processes":
            if node.scalar?.string == "auto" {
                config.workerProcesses = nil
            } else {
                guard let count = integer(node), count >= 1 else { throw invalid(node, keyPath, "a positive integer or \"auto\"") }
                config.workerProcesses = count
            }
        case "nginx_config.worker_shutdown_timeout": config.workerShutdownTimeout = try time(node, keyPath)
        case "nginx_config.event.worker_connections": config.workerConnections = try positive(node, keyPath)
        case "nginx_config.worker_rlimit_nofile": config.workerRlimitNofile = try positive(node, keyPath)
        case "nginx_config.error_log": config.errorLog = try string(node, keyPath)
        case "nginx_config.error_log_level":
            guard let name = node.scalar?.string, let level = LogLevel(name: name) else {
                throw invalid(node, keyPath, "one of " + LogLevel.allCases.map(\.name).joined(separator: ", "))
            }
            config.errorLogLevel = level
        case "nginx_config.http.enable_access_log": config.enableAccessLog = try bool(node, keyPath)
        case "nginx_config.http.access_log": config.accessLog = try string(node, keyPath)
        case "nginx_config.http.keepalive_timeout": config.keepaliveTimeout = try time(node, keyPath)
        case "nginx_config.http.client_header_timeout": config.clientHeaderTimeout = try time(node, keyPath)
        case "nginx_config.http.client_body_timeout": config.clientBodyTimeout = try time(node, keyPath)
        case "nginx_config.http.send_timeout": config.sendTimeout = try time(node, keyPath)
        case "nginx_config.http.client_max_body_size":
            guard let text = node.scalar?.string, let size = YAMLSupport.bytes(text) else {
                throw invalid(node, keyPath, "a size such as 0, 1024, 8k or 1m")
            }
            config.clientMaxBodySize = size
        case "nginx_config.http.lua_shared_dict": try sharedDicts(node, keyPath, custom: false)
        case "nginx_config.http.custom_lua_shared_dict": try sharedDicts(node, keyPath, custom: true)
        case "nginx_config.http.upstream.keepalive": config.upstreamKeepalive = try positive(node, keyPath)
        case "nginx_config.http.upstream.keepalive_requests": config.upstreamKeepaliveRequests = try positive(node, keyPath)
        case "nginx_config.http.upstream.keepalive_timeout": config.upstreamKeepaliveTimeout = try time(node, keyPath)
        case "deployment.role":
            guard let name = node.scalar?.string, name == "traditional" || name == "data_plane" else {
                throw invalid(node, keyPath, "traditional or data_plane")
            }
            role = name
        case "deployment.role_traditional.config_provider":
            guard let name = node.scalar?.string, let provider = GatewayConfig.ConfigProvider(rawValue: name) else {
                throw invalid(node, keyPath, "yaml, local or etcd")
            }
            traditionalProvider = provider
        case "deployment.role_data_plane.config_provider":
            guard let name = node.scalar?.string, name == "yaml" || name == "etcd" else {
                throw invalid(node, keyPath, "yaml or etcd")
            }
            dataPlaneProvider = GatewayConfig.ConfigProvider(rawValue: name)
        case "deployment.admin.admin_listen":
            guard case .mapping(let fields) = node, let portNode = fields["port"], let port = integer(portNode),
                  (1...65535).contains(port) else { throw invalid(node, keyPath, "{ip, port}") }
            let ip = fields["ip"]?.scalar?.string ?? "0.0.0.0"
            guard Self.isNumericAddress(ip) else { throw invalid(node, keyPath, "{ip, port} with a numeric ip") }
            config.admin.listen = GatewayConfig.ListenAddress(ip: ip, port: port)
        case "deployment.admin.allow_admin":
            if node.null != nil { config.admin.allowAdmin = nil; break }
            guard case .sequence(let items) = node else { throw invalid(node, keyPath, "a list of CIDRs") }
            var list: [String] = []
            for item in items {
                guard let text = item.scalar?.string, Self.isCIDR(text) else {
                    throw invalid(item, keyPath, "a list of CIDRs such as 127.0.0.0/24 or ::1")
                }
                list.append(text)
            }
            config.admin.allowAdmin = list.isEmpty ? nil : list
        case "deployment.admin.admin_key":
            if node.null != nil { config.admin.keys = []; break }
            guard case .sequence(let items) = node else { throw invalid(node, keyPath, "a list of {name, key, role}") }
            config.admin.keys = []
            for item in items {
                guard case .mapping(let fields) = item else { throw invalid(item, keyPath, "a list of {name, key, role}") }
                let roleName = fields["role"]?.scalar?.string ?? "admin"
                guard let role = AdminSettings.Key.Role(rawValue: roleName) else {
                    throw invalid(item, keyPath + ".role", "admin or viewer")
                }
                let key = fields["key"].flatMap { $0.null != nil ? "" : $0.scalar?.string } ?? ""
                let name = fields["name"]?.scalar?.string ?? roleName
                config.admin.keys.append(AdminSettings.Key(name: name, key: key, role: role))
            }
        case "deployment.etcd.host":
            guard case .sequence(let items) = node, !items.isEmpty else { throw invalid(node, keyPath, "a list of http://host:port") }
            var hosts: [String] = []
            for item in items {
                guard let text = item.scalar?.string, EtcdSettings.endpoint(text) != nil else {
                    throw invalid(item, keyPath, "a list of http://host:port (https is not supported)")
                }
                hosts.append(text)
            }
            config.etcd.hosts = hosts
        case "deployment.etcd.prefix":
            let prefix = try string(node, keyPath)
            guard prefix.hasPrefix("/") else { throw invalid(node, keyPath, "a key prefix starting with /") }
            config.etcd.prefix = prefix.count > 1 && prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        case "deployment.etcd.timeout":
            let seconds = try time(node, keyPath)
            guard seconds > 0 else { throw invalid(node, keyPath, "a positive time") }
            config.etcd.timeout = seconds
        case "deployment.etcd.user": config.etcd.user = try string(node, keyPath)
        case "deployment.etcd.password": config.etcd.password = try string(node, keyPath)
        case "deployment.admin.admin_key_required": config.admin.keyRequired = try bool(node, keyPath)
        case "deployment.admin.enable_admin_cors": config.admin.enableCORS = try bool(node, keyPath)
        case "deployment.admin.admin_api_version":
            // v3_adapter.lua: `v3` is v3; anything else (`default` in APISIX's docs) is v2.
            guard let version = node.scalar?.string, ["v3", "default", "v2"].contains(version) else {
                throw invalid(node, keyPath, "v3, default or v2")
            }
            config.admin.apiVersion = version == "v3" ? "v3" : "v2"
        default:
            return false
        }
        return true
    }

    /// `lua_shared_dict` (each entry replaces APISIX's size of that name) and
    /// `custom_lua_shared_dict` (new names only: nginx refuses a second `lua_shared_dict` of one
    /// name). Sizes as nginx parses them, more than 8191 bytes; the error starts with nginx's
    /// message for the directive. An entry without a value keeps its default.
    mutating func sharedDicts(_ node: Node, _ keyPath: String, custom: Bool) throws(ConfigError) {
        if node.null != nil { return }
        guard case .mapping(let entries) = node else { throw invalid(node, keyPath, "a mapping of zone names to sizes such as 10m") }
        for (nameNode, sizeNode) in entries {
            let name = nameNode.scalar?.string ?? ""
            guard !name.isEmpty, nameNode.scalar != nil else {
                throw ConfigError("invalid lua shared dict name \(YAMLSupport.display(nameNode)) for \(keyPath) in \(path)")
            }
            if sizeNode.null != nil { continue }
            guard let text = sizeNode.scalar?.string, let size = YAMLSupport.bytes(text),
                  size >= Int64(ZoneLayout.minimumSize), size <= Int64(Int.max) else {
                throw ConfigError("invalid lua shared dict size \(YAMLSupport.display(sizeNode)) "
                    + "for \(keyPath).\(name) in \(path): expected a size above 8191 bytes such as 50k, 10m or 1g")
            }
            if custom, GatewayConfig.apisixSharedDicts[name] != nil || customDicts.contains(name) {
                throw ConfigError("lua_shared_dict \"\(name)\" is already defined as \"\(name)\" "
                    + "(\(keyPath).\(name) in \(path))")
            }
            if !custom && GatewayConfig.apisixSharedDicts[name] == nil {
                // APISIX's template names each dict it knows; any other one is never declared.
                warnings.append("unknown key \(keyPath).\(name) in \(path), ignored "
                    + "(zones of your own go in nginx_config.http.custom_lua_shared_dict)")
                continue
            }
            if custom { customDicts.insert(name) }
            config.sharedDicts[name] = Int(size)
        }
    }

    /// The docs' well-known key is public knowledge: it may only guard a loopback listener
    /// (the "deliberately differs" table of apisix-compat.md).
    func checkAdminKeyPolicy() throws(ConfigError) {
        let admin = config.admin
        guard admin.keys.contains(where: { $0.key == AdminSettings.docsKey }), !admin.listensOnLoopback else { return }
        throw ConfigError("deployment.admin.admin_key in \(path) is the well-known key \(AdminSettings.docsKey) "
            + "from the APISIX docs, which is allowed only while deployment.admin.admin_listen is a loopback address, "
            + "not \(admin.listen.ip): set a key of your own (or an empty one to have one generated)")
    }

    static func isNumericAddress(_ text: String) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        let bare = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        return evutil_inet_pton(AF_INET, bare, &buffer) == 1 || evutil_inet_pton(AF_INET6, bare, &buffer) == 1
    }

    /// `a.b.c.d`, `a.b.c.d/n` (n <= 32), an IPv6 address, or one with `/n` (n <= 128).
    static func isCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, isNumericAddress(String(parts[0])) else { return false }
        guard parts.count == 2 else { return true }
        let limit = parts[0].contains(":") ? 128 : 32
        guard let bits = Int(parts[1]), parts[1].allSatisfy(\.isNumber) else { return false }
        return bits >= 0 && bits <= limit
    }

    /// `deployment.role` picks which `role_*` section names the provider.
    mutating func resolveProvider() throws(ConfigError) {
        if role == "data_plane" {
            guard let dataPlaneProvider else {
                throw ConfigError("missing deployment.role_data_plane.config_provider in \(path)")
            }
            config.configProvider = dataPlaneProvider
        } else if let traditionalProvider {
            config.configProvider = traditionalProvider
        }
    }

    // MARK: - value parsers

    /// `9080`, `[9080, 9081]`, `[{ip: 127.0.0.1, port: 9080}, {port: 9081}]`.
    func listen(_ node: Node, _ keyPath: String) throws(ConfigError) -> [GatewayConfig.ListenAddress] {
        let expected = "a port, a list of ports, or a list of {ip, port}"
        func port(_ node: Node) -> Int? {
            guard let port = integer(node), (1...65535).contains(port) else { return nil }
            return port
        }
        if let single = port(node) { return [GatewayConfig.ListenAddress(ip: "0.0.0.0", port: single)] }
        guard case .sequence(let items) = node, !items.isEmpty else { throw invalid(node, keyPath, expected) }
        var addresses: [GatewayConfig.ListenAddress] = []
        for item in items {
            if let single = port(item) {
                addresses.append(GatewayConfig.ListenAddress(ip: "0.0.0.0", port: single))
            } else if case .mapping(let fields) = item, let portNode = fields["port"], let number = port(portNode) {
                let ip = fields["ip"]?.scalar?.string ?? "0.0.0.0"
                addresses.append(GatewayConfig.ListenAddress(ip: ip, port: number))
            } else {
                throw invalid(item, keyPath, expected)
            }
        }
        return addresses
    }

    func integer(_ node: Node) -> Int? {
        guard let text = node.scalar?.string, !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    func positive(_ node: Node, _ keyPath: String) throws(ConfigError) -> Int {
        guard let value = integer(node), value >= 1 else { throw invalid(node, keyPath, "a positive integer") }
        return value
    }

    func bool(_ node: Node, _ keyPath: String) throws(ConfigError) -> Bool {
        guard case .scalar = node, let value = node.bool else { throw invalid(node, keyPath, "true or false") }
        return value
    }

    func string(_ node: Node, _ keyPath: String) throws(ConfigError) -> String {
        guard let text = node.scalar?.string, !text.isEmpty else { throw invalid(node, keyPath, "a non-empty string") }
        return text
    }

    func time(_ node: Node, _ keyPath: String) throws(ConfigError) -> Double {
        guard let text = node.scalar?.string, let seconds = YAMLSupport.seconds(text) else {
            throw invalid(node, keyPath, "a time such as 60, 60s, 500ms, 10m or 1h")
        }
        return seconds
    }

    func invalid(_ node: Node, _ keyPath: String, _ expected: String) -> ConfigError {
        ConfigError("invalid value \(YAMLSupport.display(node)) for \(keyPath) in \(path): expected \(expected)")
    }
}
