/// `deployment.admin` of config.yaml: where and for whom the control process serves the Admin API.
/// Defaults follow APISIX (apisix/cli/config.lua) except the listen address, which is loopback
/// (see the "deliberately differs" table of apisix-compat.md).
package struct AdminSettings: Sendable, Equatable {
    /// One `admin_key` item.
    package struct Key: Sendable, Equatable {
        /// What a key may do: `admin` everything, `viewer` GET only.
        package enum Role: String, Sendable, Equatable { case admin, viewer }
        package var name: String
        /// The secret; empty in the file means "generate one at start" (see `generated`).
        package var key: String
        package var role: Role
        /// True when `key` was generated at start because the file left it empty.
        package var generated: Bool = false

        package init(name: String, key: String, role: Role, generated: Bool = false) {
            self.name = name; self.key = key; self.role = role; self.generated = generated
        }
    }

    /// The APISIX docs' well-known key (`edd1c9f034335f136f87ad84b625c8f1`): accepted only while
    /// the Admin API listens on a loopback address.
    package static let docsKey = "edd1c9f034335f136f87ad84b625c8f1"

    /// `admin_listen`. Default: `127.0.0.1:9180`.
    package var listen = GatewayConfig.ListenAddress(ip: "127.0.0.1", port: 9180)
    /// `allow_admin`: CIDRs (or single addresses) allowed to connect; others get 403. nil (the
    /// key present but empty) allows everyone. Default: `["127.0.0.0/24"]`.
    package var allowAdmin: [String]? = ["127.0.0.0/24"]
    /// `admin_key`. Default: one `admin` key, empty, so generated at start.
    package var keys: [Key] = [Key(name: "admin", key: "", role: .admin)]
    /// `admin_key_required`. Default: true.
    package var keyRequired = true
    /// `enable_admin_cors`. Default: true.
    package var enableCORS = true
    /// `admin_api_version`: v3, or v2 (config `default` or `v2`): APISIX's v2 bodies and
    /// `X-API-VERSION: v2`. Default: v3.
    package var apiVersion = "v3"

    package init() {}

    /// Whether `listen.ip` is a loopback address (127.0.0.0/8 or ::1).
    package var listensOnLoopback: Bool {
        let ip = listen.ip.hasPrefix("[") ? String(listen.ip.dropFirst().dropLast()) : listen.ip
        return ip.hasPrefix("127.") || ip == "::1" || ip == "0:0:0:0:0:0:0:1"
    }

    /// Fills every empty key with a random 32-letter `[A-Za-z]` one (APISIX's
    /// `autogenerate_admin_key`), reusing the one `previous` generated for the same name so a
    /// reload keeps it. Returns the keys generated just now (name, key), for printing once.
    package mutating func generateMissingKeys(previous: AdminSettings?) -> [(name: String, key: String)] {
        var fresh: [(name: String, key: String)] = []
        for index in keys.indices where keys[index].key.isEmpty {
            if let old = previous?.keys.first(where: { $0.generated && $0.name == keys[index].name }) {
                keys[index].key = old.key
            } else {
                let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
                var generator = SystemRandomNumberGenerator()
                keys[index].key = String((0..<32).map { _ in letters.randomElement(using: &generator)! })
                fresh.append((keys[index].name, keys[index].key))
            }
            keys[index].generated = true
        }
        return fresh
    }
}
