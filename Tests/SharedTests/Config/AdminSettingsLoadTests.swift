import Testing
@testable import Shared

private func loadAdmin(_ lines: String) throws -> AdminSettings {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = try directory.write("conf/config.yaml", "deployment:\n  admin:\n" + lines)
    return try GatewayConfig.load(path: path).config.admin
}

private func adminError(_ lines: String) throws -> String? {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = try directory.write("conf/config.yaml", "deployment:\n  admin:\n" + lines)
    do {
        _ = try GatewayConfig.load(path: path)
        return nil
    } catch {
        return error.message.replacingOccurrences(of: path, with: "<path>")
    }
}

/// `deployment.admin` of config.yaml.
@Suite struct AdminSettingsLoadTests {
    /// Defaults: 127.0.0.1:9180, 127.0.0.0/24, one empty admin key, key required, CORS, v3; local provider.
    @Test func defaults() throws {
        let config = GatewayConfig()
        #expect(config.configProvider == .local)
        #expect(config.admin.listen == GatewayConfig.ListenAddress(ip: "127.0.0.1", port: 9180))
        #expect(config.admin.allowAdmin == ["127.0.0.0/24"])
        #expect(config.admin.keys == [AdminSettings.Key(name: "admin", key: "", role: .admin)])
        #expect(config.admin.keyRequired && config.admin.enableCORS && config.admin.apiVersion == "v3")
    }

    /// Every key is read.
    @Test func everyKey() throws {
        let admin = try loadAdmin("""
                admin_listen: {ip: 127.0.0.2, port: 9999}
                allow_admin: [10.0.0.0/8, "::1"]
                admin_key:
                  - {name: a, key: k1, role: admin}
                  - {name: v, key: k2, role: viewer}
                admin_key_required: false
                enable_admin_cors: false
                admin_api_version: default
                https_admin: false

            """)
        #expect(admin.listen == GatewayConfig.ListenAddress(ip: "127.0.0.2", port: 9999))
        #expect(admin.allowAdmin == ["10.0.0.0/8", "::1"])
        #expect(admin.keys == [AdminSettings.Key(name: "a", key: "k1", role: .admin),
                               AdminSettings.Key(name: "v", key: "k2", role: .viewer)])
        #expect(!admin.keyRequired && !admin.enableCORS && admin.apiVersion == "v2")
    }

    /// Bad values are refused, naming the key.
    @Test(arguments: [
        ("    admin_listen: 9180\n", #"invalid value "9180" for deployment.admin.admin_listen in <path>: expected {ip, port}"#),
        ("    allow_admin: [300.0.0.0/8]\n",
         #"invalid value "300.0.0.0/8" for deployment.admin.allow_admin in <path>: expected a list of CIDRs such as 127.0.0.0/24 or ::1"#),
        ("    admin_api_version: v4\n", #"invalid value "v4" for deployment.admin.admin_api_version in <path>: expected v3, default or v2"#),
    ])
    func badValues(lines: String, message: String) throws {
        #expect(try adminError(lines) == message)
    }

    /// The docs key is refused on a non-loopback listener, accepted on loopback.
    @Test func docsKeyPolicy() throws {
        let key = "    admin_key:\n      - {name: admin, key: \(AdminSettings.docsKey), role: admin}\n"
        let message = try #require(try adminError("    admin_listen: {ip: 0.0.0.0, port: 9180}\n" + key))
        #expect(message.contains("well-known key \(AdminSettings.docsKey)"))
        #expect(message.contains("allowed only while deployment.admin.admin_listen is a loopback address, not 0.0.0.0"))
        #expect(try adminError("    admin_listen: {ip: \"::1\", port: 9180}\n" + key) == nil)
        #expect(try adminError(key) == nil)
    }

    /// Empty keys are generated once and kept across a reload.
    @Test func generatedKeys() {
        var settings = AdminSettings()
        let fresh = settings.generateMissingKeys(previous: nil)
        #expect(fresh.count == 1 && fresh[0].key.count == 32)
        #expect(settings.keys[0].generated && settings.keys[0].key == fresh[0].key)
        var reloaded = AdminSettings()
        #expect(reloaded.generateMissingKeys(previous: settings).isEmpty)
        #expect(reloaded == settings)
    }
}
