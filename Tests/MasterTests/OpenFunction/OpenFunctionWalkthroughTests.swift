import Foundation
import Shared
import Testing
import TestSupport

/// The README's quick start, which is the openfunction plugin's documentation walked through: the
/// same Admin API calls with the same bodies, against the stand-in function gateway with
/// `--basic test:test`, as `make run` starts it.
@Suite(.serialized) struct OpenFunctionWalkthroughTests {
    /// Enable on `/hello`, `POST -d test`, path forwarding with `/hello/*` and `/hello/123`, then
    /// disable by replacing the route: each step gives the documented answer.
    @Test func readmeWalkthrough() throws {
        let fn = try OF.standIn("--mode", "gateway", "--basic", "test:test")
        defer { fn.stop() }
        let upstream = try TestUpstream { _ in TestResponse.text("plain upstream\n") }
        defer { upstream.stop() }
        let admin = try AdminFixture(workers: 2)
        defer { admin.sluice.stop() }

        let enable = try admin.call("PUT", "/apisix/admin/routes/1", """
            {
                "uri": "/hello",
                "plugins": {
                    "openfunction": {
                        "function_uri": "http://localhost:\(fn.port)/default/function-sample/test",
                        "authorization": {
                            "service_token": "test:test"
                        }
                    }
                }
            }
            """)
        #expect(enable.status == 201, "\(enable.bodyText)")
        #expect(admin.sluice.waitUntil(timeout: 3) { (try? admin.proxy("/hello", method: "POST").status) == 200 })
        let post = try HTTPClient.request(port: admin.sluice.proxyPort, method: "POST", path: "/hello", body: "test")
        #expect(post.status == 200)
        #expect(post.bodyText == "Hello, test!\n")

        let forward = try admin.call("PUT", "/apisix/admin/routes/1", """
            {
                "uri": "/hello/*",
                "plugins": {
                    "openfunction": {
                        "function_uri": "http://localhost:\(fn.port)/default/function-sample",
                        "authorization": {
                            "service_token": "test:test"
                        }
                    }
                }
            }
            """)
        #expect(forward.status == 200, "\(forward.bodyText)")
        #expect(admin.sluice.waitUntil(timeout: 3) { (try? admin.proxy("/hello/123").bodyText) == "Hello, 123!\n" })

        let disable = try admin.call("PUT", "/apisix/admin/routes/1", """
            {
                "methods": ["GET"],
                "uri": "/hello",
                "upstream": {
                    "type": "roundrobin",
                    "nodes": {
                        "\(upstream.address)": 1
                    }
                }
            }
            """)
        #expect(disable.status == 200, "\(disable.bodyText)")
        #expect(admin.sluice.waitUntil(timeout: 3) { (try? admin.proxy("/hello").bodyText) == "plain upstream\n" })
        #expect(try admin.proxy("/hello/123").status == 404)
        #expect(!admin.sluice.workerCrashed, "\(admin.sluice.errorLog)")
    }
}
