#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Shared
import TestSupport

/// A real `sluice` with the `local` provider, and Admin API calls against it.
final class AdminFixture {
    let sluice: SluiceProcess

    /// Starts sluice (default config with `config_provider: local`, unless `configYAML` is given)
    /// and waits for the Admin API port. `storeFile` becomes `data/store.json` (a restart on the
    /// files another instance left).
    init(workers: Int = 1, configYAML: String? = nil, storeFile: String? = nil, waitForAdmin: Bool = true) throws {
        sluice = try SluiceProcess(configYAML: configYAML, workers: workers, configProvider: "local",
                                   extraFiles: storeFile.map { ["data/store.json": $0] } ?? [:])
        try sluice.start(waitForWorkers: true)
        if waitForAdmin { try sluice.waitForPort(sluice.adminPort) }
    }

    /// One Admin API request on a new connection, with the docs key in `X-API-KEY` unless `key` is nil.
    func call(_ method: String, _ path: String, _ body: String? = nil, key: String? = SluiceProcess.adminKey,
              headers: [(String, String)] = []) throws -> TestHTTPResponse {
        var all = headers
        if let key { all.append(("X-API-KEY", key)) }
        return try HTTPClient.request(port: sluice.adminPort, method: method, path: path, headers: all,
                                      body: body.map { Array($0.utf8) })
    }

    /// A request through the proxy port on a new connection.
    func proxy(_ path: String, method: String = "GET") throws -> TestHTTPResponse {
        try HTTPClient.request(port: sluice.proxyPort, method: method, path: path)
    }
}

extension TestHTTPResponse {
    /// The body parsed as JSON (`.null` if it is not JSON).
    var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
}

/// `{"error_msg":"<message>"}` plus the newline APISIX prints.
func errorBody(_ message: String) -> String { JSONValue.object(["error_msg": .string(message)]).jsonText + "\n" }

/// A config.yaml with the local provider and the given `deployment.admin` lines (indented by 4).
func localConfig(admin: String) -> String {
    """
    apisix:
      node_listen:
        - ip: 127.0.0.1
          port: {{PROXY_PORT}}
    deployment:
      role: traditional
      role_traditional:
        config_provider: local
      admin:
        admin_listen:
          ip: 127.0.0.1
          port: {{ADMIN_PORT}}
    \(admin)
    nginx_config:
      worker_processes: 1
      error_log_level: info

    """
}
