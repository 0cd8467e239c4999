#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import Testing

// Small private helpers for the proxy integration tests (TestSupport has no route builder).

enum Proxy {
    /// A route in apisix.yaml flow style: `uri` (or a list in `uris`) proxied to `nodes`.
    /// `upstreamExtra` and `routeExtra` are inserted verbatim as more flow-mapping members
    /// (e.g. `"retries: 0"`, `"host: a.test"`).
    static func route(
        id: String, uri: String, nodes: [String], upstreamExtra: String = "", routeExtra: String = ""
    ) -> String {
        let nodeList = nodes.map { "\"\($0)\": 1" }.joined(separator: ", ")
        let up = "{nodes: {\(nodeList)}, type: roundrobin\(upstreamExtra.isEmpty ? "" : ", " + upstreamExtra)}"
        return "  - {id: \"\(id)\", uri: \"\(uri)\", upstream: \(up)\(routeExtra.isEmpty ? "" : ", " + routeExtra)}\n"
    }

    /// A whole apisix.yaml from route lines (see ``route(id:uri:nodes:upstreamExtra:routeExtra:)``).
    static func apisix(_ routes: String...) -> String {
        "routes:\n" + routes.joined() + "#END\n"
    }

    /// The default config with `extraHTTP` lines added under `nginx_config.http` (2-space indented
    /// key lines, e.g. `"client_max_body_size: 1k"`).
    static func config(workers: Int = 1, http extraHTTP: [String] = []) -> String {
        var text = SluiceProcess.defaultConfigYAML(workers: workers)
        if !extraHTTP.isEmpty {
            text += "  http:\n" + extraHTTP.map { "    \($0)\n" }.joined()
        }
        return text
    }

    /// Starts sluice with one catch-all route `/*` to `upstream` (plus `upstreamExtra` members).
    static func start(
        to upstream: TestUpstream, workers: Int = 1, upstreamExtra: String = "", http: [String] = []
    ) throws -> SluiceProcess {
        let sluice = try SluiceProcess(
            configYAML: config(workers: workers, http: http),
            apisixYAML: apisix(route(id: "all", uri: "/*", nodes: [upstream.address], upstreamExtra: upstreamExtra)),
            workers: workers)
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

    /// Waits (bounded) until `text` appears in the log read by `log`.
    @discardableResult
    static func waitForLog(_ log: @autoclosure () -> String, contains text: String, timeout: Double = 5) -> Bool {
        TestSupport.waitUntil(timeout: timeout) { log().contains(text) }
    }
}

extension SluiceProcess {
    /// Whether error.log reports a worker that died (a crash in the data plane).
    var workerCrashed: Bool { errorLog.contains("exited on signal") }
}

extension SluiceProcess {
    /// Stops this instance, first recording an issue if one of its workers died meanwhile (every
    /// proxy and openfunction test ends this way), then one if the graceful quit did not end
    /// by itself (a worker stuck in a loop, or a child that outlived the master).
    func stopCheckingWorkers(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!workerCrashed, "a worker died: \(errorLog)", sourceLocation: sourceLocation)
        stop()
        #expect(!neededForcedKill, "SIGQUIT did not stop the gateway within 10 s", sourceLocation: sourceLocation)
        #expect(strayProcessesKilled == 0, "processes outlived the master", sourceLocation: sourceLocation)
    }
}
