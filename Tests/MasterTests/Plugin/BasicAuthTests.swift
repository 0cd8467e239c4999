import Foundation
import Shared
import Testing
import TestSupport

/// basic-auth on the real binary with consumers from the Admin API (plugins.md section 3).
@Suite struct BasicAuthTests {
    private static func get(_ admin: AdminFixture, _ authorization: String?) throws -> TestHTTPResponse {
        try HTTPClient.request(port: admin.sluice.proxyPort, path: "/b", headers: authorization.map { [("Authorization", $0)] } ?? [])
    }

    private static func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    @Test func authenticates() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let admin = try AdminFixture()
        for (path, body) in [
            ("/consumers/foo", #"{"username":"foo","plugins":{"basic-auth":{"username":"foo","password":"bar"}}}"#),
            ("/consumers/colon", #"{"username":"colon","plugins":{"basic-auth":{"username":"c","password":"p:q"}}}"#),
            ("/routes/b", #"{"uri":"/b","plugins":{"basic-auth":{}},"upstream":{"nodes":{"\#(upstream.address)":1}}}"#),
        ] {
            let answer = try admin.call("PUT", "/apisix/admin" + path, body)
            #expect(answer.status == 201, "\(path): \(answer.bodyText)")
        }
        #expect(admin.sluice.waitUntil(timeout: 5) { (try? Self.get(admin, "Basic Zm9vOmJhcg==").status) == 200 })
        #expect(upstream.lastRequest?.header("X-Consumer-Username") == "foo")
        #expect(upstream.lastRequest?.header("Authorization") == "Basic Zm9vOmJhcg==", "kept without hide_credentials")
        #expect(try Self.get(admin, "basic Zm9vOmJhcg==").status == 200)
        #expect(try Self.get(admin, "BASIC Zm9vOmJhcg==").status == 200)
        #expect(try Self.get(admin, "Basic " + Self.b64(" foo : bar \n")).status == 200, "whitespace is removed from both parts")
        #expect(try Self.get(admin, "Basic " + Self.b64("c:p:q")).status == 200, "split at the first colon")

        let missing = try Self.get(admin, nil)
        #expect(missing.status == 401)
        #expect(missing.bodyText == #"{"message":"Missing authorization in request"}"# + "\n")
        #expect(missing.header("www-authenticate") == #"Basic realm="basic""#)
        for bad in ["Basic YmFy", "Basic aca_a", "Bad_header Zm9vOmJhcg==", "Basic "] {
            let answer = try Self.get(admin, bad)
            #expect(answer.status == 401, "\(bad)")
            #expect(answer.bodyText == #"{"message":"Invalid authorization in request"}"# + "\n", "\(bad)")
        }
        for wrong in ["Basic " + Self.b64("foo:nope"), "Basic " + Self.b64("nobody:bar")] {
            let answer = try Self.get(admin, wrong)
            #expect(answer.bodyText == #"{"message":"Invalid user authorization"}"# + "\n")
            #expect(answer.header("www-authenticate") == #"Basic realm="basic""#)
        }
        #expect(admin.sluice.waitUntil(timeout: 5) { admin.sluice.errorLog.contains("failed to find user: invalid user") })
        #expect(admin.sluice.errorLog.contains("Invalid authorization header format"))
        #expect(!admin.sluice.errorLog.contains("nope"), "a password is never logged")

        // hide_credentials; the Admin API's checks.
        #expect(try admin.call("PATCH", "/apisix/admin/routes/b", #"{"plugins":{"basic-auth":{"hide_credentials":true}}}"#).status == 200)
        #expect(admin.sluice.waitUntil(timeout: 5) {
            _ = try? Self.get(admin, "Basic Zm9vOmJhcg==")
            return upstream.lastRequest?.header("Authorization") == nil
        })
        #expect(try admin.call("PUT", "/apisix/admin/consumers/other", #"{"username":"other","plugins":{"basic-auth":{"username":"foo","password":"x"}}}"#).bodyText
            == errorBody("duplicate username of plugin basic-auth found with consumer: foo"))
        #expect(try admin.call("PUT", "/apisix/admin/consumers/other", #"{"username":"other","plugins":{"basic-auth":{"username":"o"}}}"#).bodyText
            == errorBody(#"invalid plugins configuration: failed to check the configuration of plugin basic-auth err: property "password" is required"#))
    }
}
