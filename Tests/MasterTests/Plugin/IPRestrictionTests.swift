import Foundation
import Shared
import Testing
import TestSupport

/// ip-restriction on the real binary (plugins.md section 12), and its place after authentication.
@Suite struct IPRestrictionTests {
    @Test func listsAndMessages() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let admin = try AdminFixture()
        func route(_ plugins: String) throws -> TestHTTPResponse {
            try admin.call("PUT", "/apisix/admin/routes/ip", #"{"uri":"/ip","plugins":\#(plugins),"upstream":{"nodes":{"\#(upstream.address)":1}}}"#)
        }
        func served(_ status: Int, _ headers: [(String, String)] = []) -> Bool {
            admin.sluice.waitUntil(timeout: 5) {
                (try? HTTPClient.request(port: admin.sluice.proxyPort, path: "/ip", headers: headers).status) == status
            }
        }
        #expect(try route(#"{"ip-restriction":{"whitelist":["127.0.0.2","10.0.0.0/8"]}}"#).status == 201)
        #expect(served(403))
        let refused = try HTTPClient.request(port: admin.sluice.proxyPort, path: "/ip")
        #expect(refused.bodyText == #"{"message":"Your IP address is not allowed"}"# + "\n")
        #expect(admin.sluice.waitUntil(timeout: 5) { admin.sluice.errorLog.contains("ip-restriction exits with http status code 403") })
        #expect(try route(#"{"ip-restriction":{"whitelist":["127.0.0.0/24"]}}"#).status == 200)
        #expect(served(200))
        #expect(try route(#"{"ip-restriction":{"blacklist":["::1","127.0.0.1"],"response_code":404,"message":"go away"}}"#).status == 200)
        #expect(served(404))
        #expect(try HTTPClient.request(port: admin.sluice.proxyPort, path: "/ip").bodyText == #"{"message":"go away"}"# + "\n")

        // Authentication (rewrite) runs first: a blocked client without a key gets 401, with one 403.
        #expect(try admin.call("PUT", "/apisix/admin/consumers/jack", #"{"username":"jack","plugins":{"key-auth":{"key":"k"}}}"#).status == 201)
        #expect(try route(#"{"key-auth":{},"ip-restriction":{"blacklist":["127.0.0.1"]}}"#).status == 200)
        #expect(served(401))
        #expect(served(403, [("apikey", "k")]))

        let prefix = "failed to check the configuration of plugin ip-restriction err: "
        for (conf, message) in [
            (#"{}"#, "value should match only one schema, but matches none"),
            (#"{"whitelist":["1.1.1.1"],"blacklist":["2.2.2.2"]}"#, "value should match only one schema, but matches both schemas 1 and 2"),
            (#"{"whitelist":["10.255.256.0/24"]}"#, #"property "whitelist" validation failed: failed to validate item 1: object matches none of the required"#),
            (#"{"whitelist":[]}"#, #"property "whitelist" validation failed: expect array to have at least 1 items"#),
            (#"{"blacklist":["1.1.1.1"],"response_code":500}"#, #"property "response_code" validation failed: expected 500 to be at most 404"#),
        ] {
            let answer = try route(#"{"ip-restriction":\#(conf)}"#)
            #expect(answer.status == 400, "\(conf)")
            #expect(answer.bodyText == errorBody(prefix + message), "\(conf)")
        }
    }
}
