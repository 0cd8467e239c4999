/// `deployment.etcd` of config.yaml: the etcd cluster the `etcd` config provider reads and
/// writes (APISIX's defaults, apisix/cli/config.lua).
package struct EtcdSettings: Sendable, Equatable {
    /// `host`: endpoints as `http://ip:port` (or a host name). Default: `["http://127.0.0.1:2379"]`.
    package var hosts: [String] = ["http://127.0.0.1:2379"]
    /// `prefix`: where the resources live (`<prefix>/routes/<id>`). Default: `/apisix`.
    package var prefix: String = "/apisix"
    /// `timeout`, seconds: bound of one request (connect included). Default: 30 s.
    package var timeout: Double = 30
    /// `user` and `password`: etcd's authentication (`/v3/auth/authenticate`), both or neither.
    package var user: String?
    package var password: String?

    package init() {}

    /// `http://127.0.0.1:2379` → (host, port); nil for anything but `http://host[:port]`.
    package static func endpoint(_ url: String) -> (host: String, port: Int)? {
        guard url.hasPrefix("http://") else { return nil }
        var rest = Substring(url.dropFirst(7))
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/") else { return nil }
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            let host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.isEmpty { return (host, 2379) }
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (1...65535).contains(port) else { return nil }
            return (host, port)
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty else { return nil }
        if parts.count == 1 { return (String(parts[0]), 2379) }
        guard let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
        return (String(parts[0]), port)
    }
}
