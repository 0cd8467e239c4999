import Foundation
import Testing
import TestSupport

/// One invalid item in apisix.yaml: the running node (at start, through the file watcher and
/// through `sluice -s reload`) serves every valid item and logs the invalid one; `sluice -t`
/// prints the same line and fails (README, "config_provider: yaml").
@Suite(.serialized) struct StandaloneInvalidItemTests {
    @Test func validItemsServeAndTestFails() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        func file(_ route: String) -> String {
            """
            routes:
              - {id: \(route), uri: /\(route), upstream: {nodes: {"\(upstream.address)": 1}}}
              - {id: broken, uri: /broken, plugins: {no-such-plugin: {}}, upstream: {nodes: {"\(upstream.address)": 1}}}
            consumers:
              - {username: jack, plugins: {key-auth: {}}}
            #END

            """
        }
        let sluice = try SluiceProcess(configYAML: SluiceProcess.defaultConfigYAML(workers: 1), apisixYAML: file("one"), workers: 1)
        try sluice.start()
        defer { sluice.stopCheckingWorkers() }
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/one").status == 200)
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/broken").status == 404)
        let routeLine = "failed to check item data of [routes] err: unknown plugin [no-such-plugin]"
        let consumerLine = #"failed to check item data of [consumers] err: invalid plugins configuration: failed to check the configuration of plugin key-auth err: property "key" is required"#
        #expect(sluice.errorLog.contains(routeLine))
        #expect(sluice.errorLog.contains(consumerLine))

        let test = sluice.run(["-t"])
        #expect(test.status == 1, "\(test.output)")
        #expect(test.output.contains(routeLine))
        #expect(test.output.contains(consumerLine))
        #expect(test.output.contains("apisix.yaml test failed"))

        // `-s reload` signals (the file is usable as a whole); the node serves the new valid route.
        try file("two").write(toFile: sluice.prefix + "/conf/apisix.yaml", atomically: true, encoding: .utf8)
        let reload = sluice.run(["-s", "reload"])
        #expect(reload.status == 0, "\(reload.output)")
        #expect(sluice.waitUntil(timeout: 5) { (try? HTTPClient.request(port: sluice.proxyPort, path: "/two").status) == 200 })
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/one").status == 404)

        // A file cut short (no #END) changes nothing, and `-s reload` refuses to signal.
        try "routes:\n  - {id: three, uri: /three}\n".write(toFile: sluice.prefix + "/conf/apisix.yaml", atomically: true, encoding: .utf8)
        let refused = sluice.run(["-s", "reload"])
        #expect(refused.status == 1, "\(refused.output)")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try HTTPClient.request(port: sluice.proxyPort, path: "/two").status == 200)
    }
}
