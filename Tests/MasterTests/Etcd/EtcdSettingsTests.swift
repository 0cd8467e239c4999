import Foundation
import Shared
import Testing

/// `deployment.etcd` in config.yaml: APISIX's keys and defaults, parsed strictly.
@Suite struct EtcdSettingsTests {
    func load(_ yaml: String) throws -> GatewayConfig {
        let path = NSTemporaryDirectory() + "sluice-etcd-settings-\(UUID().uuidString).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try GatewayConfig.load(path: path).config
    }

    @Test func defaults() throws {
        let etcd = try load("deployment:\n  role_traditional:\n    config_provider: etcd\n").etcd
        #expect(etcd.hosts == ["http://127.0.0.1:2379"] && etcd.prefix == "/apisix" && etcd.timeout == 30)
        #expect(etcd.user == nil && etcd.password == nil)
    }

    @Test func everyKey() throws {
        let config = try load("""
            deployment:
              role_traditional:
                config_provider: etcd
              etcd:
                host: ["http://10.0.0.1:2379", "http://etcd-2:32379", "http://[::1]:2379"]
                prefix: /gw/
                timeout: 5
                user: root
                password: secret
                watch_timeout: 50
                tls: {verify: false}
            """)
        #expect(config.configProvider == .etcd)
        #expect(config.etcd.hosts == ["http://10.0.0.1:2379", "http://etcd-2:32379", "http://[::1]:2379"])
        #expect(config.etcd.prefix == "/gw" && config.etcd.timeout == 5)
        #expect(config.etcd.user == "root" && config.etcd.password == "secret")
        #expect(EtcdSettings.endpoint("http://[::1]:2379")! == ("::1", 2379))
        #expect(EtcdSettings.endpoint("http://etcd")! == ("etcd", 2379))
    }

    @Test(arguments: [
        ("host: [\"https://127.0.0.1:2379\"]", "deployment.etcd.host"),
        ("host: \"http://127.0.0.1:2379\"", "deployment.etcd.host"),
        ("host: [\"http://127.0.0.1:99999\"]", "deployment.etcd.host"),
        ("prefix: apisix", "deployment.etcd.prefix"),
        ("timeout: soon", "deployment.etcd.timeout"),
        ("user: root", "deployment.etcd.user and deployment.etcd.password"),
    ])
    func refused(line: String, names: String) throws {
        #expect {
            _ = try load("deployment:\n  etcd:\n    \(line)\n")
        } throws: { error in
            "\(error)".contains(names)
        }
    }
}
