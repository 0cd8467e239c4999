import Testing
@testable import Shared

private func load(_ yaml: String) throws -> (config: GatewayConfig, warnings: [String]) {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = try directory.write("conf/config.yaml", yaml)
    let loaded = try GatewayConfig.load(path: path)
    return (loaded.config, loaded.warnings.map { $0.replacingOccurrences(of: path, with: "<path>") })
}

/// `nginx_config.http.lua_shared_dict` and `custom_lua_shared_dict`: the shared zones' names and sizes.
@Suite struct SharedDictLoadTests {
    /// Without the section, APISIX's dicts at APISIX's sizes.
    @Test func defaults() throws {
        let config = try load("apisix:\n  node_listen: 9080\n").config
        #expect(config.sharedDicts.count == 30)
        #expect(config.sharedDicts["prometheus-metrics"] == 128 * 1024 * 1024)
        #expect(config.sharedDicts["plugin-limit-count"] == 10 * 1024 * 1024)
        #expect(config.sharedDicts["jwks"] == 1024 * 1024)
        #expect(config.sharedDicts["tracing_buffer"] == 32 * 1024 * 1024)
    }

    /// Named entries replace their default, in nginx's units; the others keep theirs; custom
    /// dicts are added.
    @Test func sizes() throws {
        let config = try load("""
            nginx_config:
              http:
                lua_shared_dict:
                  prometheus-metrics: 10m
                  plugin-limit-count: 50k
                  plugin-limit-req: 1G
                  jwks: 16384
                  internal-status:
                custom_lua_shared_dict:
                  ipc_shared_dict: 100m
            """).config
        #expect(config.sharedDicts["prometheus-metrics"] == 10_485_760)
        #expect(config.sharedDicts["plugin-limit-count"] == 51_200)
        #expect(config.sharedDicts["plugin-limit-req"] == 1 << 30)
        #expect(config.sharedDicts["jwks"] == 16_384)
        #expect(config.sharedDicts["internal-status"] == 10 * 1024 * 1024)
        #expect(config.sharedDicts["ipc_shared_dict"] == 100 * 1024 * 1024)
        #expect(config.sharedDicts["plugin-limit-conn"] == 10 * 1024 * 1024)
    }

    /// A bad size is refused with nginx's message and the key; so are 8191 bytes or less, a custom
    /// dict that takes a built-in name, and a section that is not a mapping.
    @Test(arguments: [
        ("lua_shared_dict:\n      plugin-limit-count: abc",
         "invalid lua shared dict size \"abc\" for nginx_config.http.lua_shared_dict.plugin-limit-count in <path>: "
            + "expected a size above 8191 bytes such as 50k, 10m or 1g"),
        ("lua_shared_dict:\n      prometheus-metrics: 8191",
         "invalid lua shared dict size \"8191\" for nginx_config.http.lua_shared_dict.prometheus-metrics in <path>: "
            + "expected a size above 8191 bytes such as 50k, 10m or 1g"),
        ("lua_shared_dict:\n      jwks: 10mb",
         "invalid lua shared dict size \"10mb\" for nginx_config.http.lua_shared_dict.jwks in <path>: "
            + "expected a size above 8191 bytes such as 50k, 10m or 1g"),
        ("lua_shared_dict:\n      jwks: [1m]",
         "invalid lua shared dict size [\"1m\"] for nginx_config.http.lua_shared_dict.jwks in <path>: "
            + "expected a size above 8191 bytes such as 50k, 10m or 1g"),
        ("custom_lua_shared_dict:\n      plugin-limit-count: 1m",
         "lua_shared_dict \"plugin-limit-count\" is already defined as \"plugin-limit-count\" "
            + "(nginx_config.http.custom_lua_shared_dict.plugin-limit-count in <path>)"),
        ("lua_shared_dict: 10m",
         "invalid value \"10m\" for nginx_config.http.lua_shared_dict in <path>: expected a mapping of zone names to sizes such as 10m"),
        ("custom_lua_shared_dict:\n      \"\": 1m",
         "invalid lua shared dict name \"\" for nginx_config.http.custom_lua_shared_dict in <path>"),
    ])
    func badValues(section: String, message: String) throws {
        #expect(try loadError("nginx_config:\n  http:\n    " + section + "\n") == message)
    }

    /// A name APISIX does not know under lua_shared_dict is never declared there: a warning.
    @Test func unknownNameWarns() throws {
        let loaded = try load("nginx_config:\n  http:\n    lua_shared_dict:\n      my-dict: 1m\n")
        #expect(loaded.config.sharedDicts["my-dict"] == nil)
        #expect(loaded.warnings == ["unknown key nginx_config.http.lua_shared_dict.my-dict in <path>, ignored "
            + "(zones of your own go in nginx_config.http.custom_lua_shared_dict)"])
    }
}
