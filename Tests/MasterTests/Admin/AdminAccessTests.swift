#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Shared
import Testing
import TestSupport

/// Keys, roles, the allow-list and the key policy (apisix-compat.md 3.1, 3.2 and the differences table).
@Suite struct AdminAccessTests {
    static func unauthorized(_ description: String) -> JSONValue {
        .object(["error_msg": "failed to check token", "description": .string(description)])
    }

    /// The key is taken from `api_key`, `X-API-KEY` or the cookie; missing and wrong keys get APISIX's 401s.
    @Test func keyLookupAndRefusals() throws {
        let admin = try AdminFixture()
        let missing = try admin.call("GET", "/apisix/admin/routes", key: nil)
        #expect(missing.status == 401)
        #expect(missing.header("content-type") == "application/json")
        #expect(missing.json == Self.unauthorized("missing apikey"))
        let wrong = try admin.call("GET", "/apisix/admin/routes", key: "nope")
        #expect(wrong.status == 401 && wrong.json == Self.unauthorized("wrong apikey"))
        let query = try admin.call("GET", "/apisix/admin/routes?api_key=\(SluiceProcess.adminKey)", key: nil)
        #expect(query.status == 200)
        let cookie = try admin.call("GET", "/apisix/admin/routes", key: nil,
                                    headers: [("Cookie", "a=b; X-API-KEY=\(SluiceProcess.adminKey)")])
        #expect(cookie.status == 200)
        // The query argument wins over the header.
        let both = try admin.call("GET", "/apisix/admin/routes?api_key=nope")
        #expect(both.status == 401 && both.json == Self.unauthorized("wrong apikey"))
        let plugins = try admin.call("GET", "/apisix/admin/plugins/list", key: nil)
        #expect(plugins.status == 401)
    }

    /// A viewer key may GET only; `admin_key_required: false` lets everyone in.
    @Test func viewerRoleAndKeyNotRequired() throws {
        let viewer = "4054f7cf07e344346cd3f287985e76a2"
        let admin = try AdminFixture(configYAML: localConfig(admin: """
                admin_key:
                  - {name: admin, key: \(SluiceProcess.adminKey), role: admin}
                  - {name: viewer, key: \(viewer), role: viewer}
            """))
        #expect(try admin.call("GET", "/apisix/admin/routes", key: viewer).status == 200)
        let put = try admin.call("PUT", "/apisix/admin/upstreams/1", #"{"nodes":{}}"#, key: viewer)
        #expect(put.status == 401 && put.json == Self.unauthorized("invalid method for role viewer"))
        #expect(try admin.call("PUT", "/apisix/admin/upstreams/1", #"{"nodes":{}}"#).status == 201)

        let open = try AdminFixture(configYAML: localConfig(admin: "    admin_key_required: false"))
        #expect(try open.call("PUT", "/apisix/admin/upstreams/1", #"{"nodes":{}}"#, key: nil).status == 201)
    }

    /// A client outside `allow_admin` gets nginx's 403 page, whatever its key.
    @Test func allowListRefusesOthers() throws {
        let admin = try AdminFixture(configYAML: localConfig(admin: """
                allow_admin:
                  - 10.0.0.0/8
                admin_key:
                  - {name: admin, key: \(SluiceProcess.adminKey), role: admin}
            """))
        let refused = try admin.call("GET", "/apisix/admin/routes")
        #expect(refused.status == 403)
        #expect(refused.header("content-type") == "text/html")
        #expect(refused.bodyText == "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
            + "<center><h1>403 Forbidden</h1></center>\r\n<hr><center>sluice</center>\r\n</body>\r\n</html>\r\n")
    }

    /// The docs key off loopback refuses to start, saying why; `-t` says the same.
    @Test func docsKeyOnlyOnLoopback() throws {
        let yaml = """
            apisix:
              node_listen: [{ip: 127.0.0.1, port: {{PROXY_PORT}}}]
            deployment:
              admin:
                admin_listen: {ip: 0.0.0.0, port: {{ADMIN_PORT}}}
                admin_key:
                  - {name: admin, key: \(SluiceProcess.adminKey), role: admin}

            """
        let sluice = try SluiceProcess(configYAML: yaml, workers: 1, configProvider: "local")
        let test = sluice.run(["-t"])
        #expect(test.status == 1)
        #expect(test.output.contains("well-known key \(SluiceProcess.adminKey)"))
        #expect(test.output.contains("not 0.0.0.0"))
        #expect(throws: (any Error).self) { try sluice.start(timeout: 5) }
        #expect(sluice.stdoutLog.contains("allowed only while deployment.admin.admin_listen is a loopback address"))
    }

    /// An empty key is replaced by a random 32-letter key, printed once at start, which then works.
    @Test func emptyKeyIsGenerated() throws {
        let admin = try AdminFixture(configYAML: localConfig(admin: """
                admin_key:
                  - {name: admin, key: "", role: admin}
            """))
        let output = admin.sluice.stdoutLog
        let marker = "generated Admin API key for \"admin\": "
        let line = try #require(output.split(separator: "\n").first { $0.contains(marker) })
        let key = String(line[line.range(of: marker)!.upperBound...])
        #expect(key.count == 32 && key.allSatisfy { $0.isASCII && $0.isLetter })
        #expect(output.components(separatedBy: marker).count == 2)
        #expect(try admin.call("GET", "/apisix/admin/routes", key: key).status == 200)
        #expect(try admin.call("GET", "/apisix/admin/routes", key: "").status == 401)
    }

    /// The Admin API is served by the control process alone: not on the proxy port, and the yaml
    /// provider has none (as APISIX's standalone mode).
    @Test func servedByControlProcessOnly() throws {
        let admin = try AdminFixture()
        let onProxy = try admin.proxy("/apisix/admin/routes")
        #expect(onProxy.status == 404)
        let control = try #require(admin.sluice.controlPid)
        kill(control, SIGKILL)
        // Between the kill and the respawn nothing answers; afterwards the new control process does.
        #expect(admin.sluice.waitUntil(timeout: 5) { admin.sluice.controlPid.map { $0 != control } ?? false })
        try admin.sluice.waitForPort(admin.sluice.adminPort)
        #expect(try admin.call("GET", "/apisix/admin/routes").status == 200)

        let yaml = try SluiceProcess(workers: 1, configProvider: "yaml")
        try yaml.start(waitForWorkers: true)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(!SluiceProcess.isListening(port: yaml.adminPort))
    }

    /// Keep-alive: several requests on one connection; a malformed head gets nginx's 400 page and a close.
    @Test func keepAliveAndMalformedInput() throws {
        let admin = try AdminFixture()
        let client = try HTTPClient(port: admin.sluice.adminPort)
        defer { client.close() }
        for index in 1...3 {
            try client.sendRequest(method: "PUT", path: "/apisix/admin/upstreams/\(index)",
                                   headers: [("X-API-KEY", SluiceProcess.adminKey)], body: Array(#"{"nodes":{}}"#.utf8))
            let response = try client.readResponse()
            #expect(response.status == 201)
            #expect(response.header("connection") == "keep-alive")
        }
        let bad = try HTTPClient(port: admin.sluice.adminPort)
        defer { bad.close() }
        try bad.send("GARBAGE\r\n\r\n")
        let response = try bad.readResponse()
        #expect(response.status == 400)
        #expect(response.bodyText.contains("400 Bad Request"))
        #expect(bad.isClosedByPeer())
        // Chunked request bodies are read too.
        let chunked = try HTTPClient(port: admin.sluice.adminPort)
        defer { chunked.close() }
        try chunked.send("PUT /apisix/admin/upstreams/c HTTP/1.1\r\nHost: x\r\nX-API-KEY: \(SluiceProcess.adminKey)\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"nod\r\n7\r\nes\":{}}\r\n0\r\n\r\n")
        #expect(try chunked.readResponse().status == 201)
    }
}
