#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport

// Private helpers for the openfunction integration tests: routes in apisix.yaml flow style, a
// gateway started with them, self-signed certificates, bounded log waits.

enum OF {
    /// An apisix.yaml route line: `uri` with `plugins: {openfunction: {<plugin>}}` (`plugin` is
    /// the flow-mapping body, e.g. `function_uri: "http://127.0.0.1:1/x"`) and `extra` route members.
    static func route(id: String = "1", uri: String = "/hello", _ plugin: String, extra: String = "") -> String {
        "  - {id: \"\(id)\", uri: \"\(uri)\", plugins: {openfunction: {\(plugin)}}\(extra.isEmpty ? "" : ", " + extra)}\n"
    }

    /// A whole apisix.yaml from route lines.
    static func apisix(_ routes: String...) -> String { "routes:\n" + routes.joined() + "#END\n" }

    /// Starts sluice (`workers` workers, yaml provider) with `routes`, and `environment` for the binary.
    static func start(_ routes: String..., workers: Int = 1, environment: [String: String] = [:]) throws -> SluiceProcess {
        let sluice = try SluiceProcess(
            configYAML: SluiceProcess.defaultConfigYAML(workers: workers),
            apisixYAML: "routes:\n" + routes.joined() + "#END\n", workers: workers, environment: environment)
        try sluice.start()
        return sluice
    }

    /// A port on 127.0.0.1 where nothing listens (bound once, then closed).
    static func closedPort() throws -> Int {
        let probe = try TestUpstream()
        let port = probe.port
        probe.stop()
        return port
    }

    /// Waits (bounded) until `text` appears in sluice's error.log.
    @discardableResult
    static func waitForLog(_ sluice: SluiceProcess, _ text: String, timeout: Double = 5) -> Bool {
        TestSupport.waitUntil(timeout: timeout) { sluice.errorLog.contains(text) }
    }

    /// The stand-in function started with `arguments`.
    static func standIn(_ arguments: String...) throws -> StandInServer { try StandInServer(arguments) }

    /// A temporary directory holding a self-signed EC certificate for CN=localhost with subject
    /// alternative names `san` (e.g. `DNS:localhost,IP:127.0.0.1`): `cert.pem`, `key.pem`.
    final class Cert {
        let directory: String
        var cert: String { directory + "/cert.pem" }
        var key: String { directory + "/key.pem" }

        init(san: String) throws {
            var template = Array("/tmp/sluice-of-cert-XXXXXX".utf8CString)
            guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
                throw TestSupportError.system("mkdtemp", errno)
            }
            directory = String(cString: made)
            let result = try StandInChild.run("/usr/bin/openssl", [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem", "-days", "365",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=\(san)",
            ])
            guard result.code == 0 else { throw TestSupportError.process("openssl req failed:\n\(result.output)") }
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }
    }
}
