import Foundation
import Shared
import Testing
import TestSupport

/// key-auth on the real binary with consumers from the Admin API (plugins.md sections 2 and 5):
/// header then query, the 401s, the consumer headers, credentials, hide_credentials, the
/// anonymous consumer and the consumer merge (group then consumer plugins over the route's).
@Suite struct KeyAuthTests {
    private static func get(_ admin: AdminFixture, _ path: String, _ headers: [(String, String)] = []) throws -> TestHTTPResponse {
        try HTTPClient.request(port: admin.sluice.proxyPort, path: path, headers: headers)
    }

    private static func setUp(_ upstream: TestUpstream, route: String = #"{"key-auth":{}}"#,
                              ready: (String, String) = ("apikey", "k-plain")) throws -> AdminFixture {
        let admin = try AdminFixture()
        let writes = [
            ("/consumer_groups/gold", #"{"plugins":{"proxy-rewrite":{"headers":{"set":{"X-Group":"gold","X-Who":"group"}}}}}"#),
            ("/consumers/jack", #"{"username":"jack","group_id":"gold","labels":{"custom_id":"c-42"},"#
                + #""plugins":{"key-auth":{"key":"k-jack"},"proxy-rewrite":{"headers":{"set":{"X-Who":"jack"}}}}}"#),
            ("/consumers/jack/credentials/phone", #"{"plugins":{"key-auth":{"key":"k-phone"}}}"#),
            ("/consumers/plain", #"{"username":"plain","plugins":{"key-auth":{"key":"k-plain"}}}"#),
            ("/routes/1", #"{"uri":"/k","plugins":\#(route),"upstream":{"nodes":{"\#(upstream.address)":1}}}"#),
        ]
        for (path, body) in writes {
            let answer = try admin.call("PUT", "/apisix/admin" + path, body)
            #expect(answer.status == 201, "\(path): \(answer.bodyText)")
        }
        #expect(admin.sluice.waitUntil(timeout: 5) { (try? get(admin, "/k", [ready]).status) == 200 })
        return admin
    }

    @Test func refusalsAndConsumerHeaders() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let admin = try Self.setUp(upstream)

        let missing = try Self.get(admin, "/k")
        #expect(missing.status == 401)
        #expect(missing.bodyText == #"{"message":"Missing API key in request"}"# + "\n")
        #expect(missing.header("www-authenticate") == #"apikey realm="key""#)
        let wrong = try Self.get(admin, "/k", [("apikey", "nope")])
        #expect(wrong.status == 401)
        #expect(wrong.bodyText == #"{"message":"Invalid API key in request"}"# + "\n")
        #expect(try Self.get(admin, "/k?apikey=k-plain", [("apikey", "nope")]).status == 401, "a present header is not retried from the query")

        let plain = try Self.get(admin, "/k", [("APIKEY", "k-plain"), ("X-Credential-Identifier", "forged"), ("X-Consumer-Custom-ID", "forged")])
        #expect(plain.status == 200)
        var seen = try #require(upstream.lastRequest)
        #expect(seen.header("X-Consumer-Username") == "plain")
        #expect(seen.header("X-Credential-Identifier") == nil, "a client's own are removed")
        #expect(seen.header("X-Consumer-Custom-ID") == nil)
        #expect(seen.header("apikey") == "k-plain", "forwarded without hide_credentials")

        #expect(try Self.get(admin, "/k?x=1&apikey=k-phone").status == 200)
        seen = try #require(upstream.lastRequest)
        #expect(seen.header("X-Consumer-Username") == "jack")
        #expect(seen.header("X-Credential-Identifier") == "phone")
        #expect(seen.header("X-Consumer-Custom-ID") == "c-42")
        #expect(seen.target == "/k?x=1&apikey=k-phone")
        // The group's plugins, then the consumer's over them (same name replaces).
        #expect(seen.header("X-Who") == "jack")
        #expect(seen.header("X-Group") == nil, "the consumer's proxy-rewrite replaces the group's whole conf")

        // A deleted credential stops matching at once; the consumer's own key still does.
        #expect(try admin.call("DELETE", "/apisix/admin/consumers/jack/credentials/phone").status == 200)
        #expect(admin.sluice.waitUntil(timeout: 5) { (try? Self.get(admin, "/k", [("apikey", "k-phone")]).status) == 401 })
        #expect(try Self.get(admin, "/k", [("apikey", "k-jack")]).status == 200)
        #expect(upstream.lastRequest?.header("X-Credential-Identifier") == nil)
    }

    @Test func hideCredentialsAndQuery() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let admin = try Self.setUp(upstream, route: #"{"key-auth":{"hide_credentials":true,"header":"X-Key","query":"token"}}"#,
                                  ready: ("X-Key", "k-plain"))
        #expect(try Self.get(admin, "/k", [("x-key", "k-plain")]).status == 200)
        #expect(upstream.lastRequest?.header("X-Key") == nil)
        #expect(try Self.get(admin, "/k?a=1&token=k-plain&b=2&token2=x", [("apikey", "k-jack")]).status == 200)
        #expect(upstream.lastRequest?.target == "/k?a=1&b=2&token2=x")
        #expect(upstream.lastRequest?.header("apikey") == "k-jack", "only the configured header is hidden")
        #expect(try Self.get(admin, "/k?token=k%2Dplain").status == 200, "the query value is percent-decoded")
        #expect(upstream.lastRequest?.target == "/k")
    }

    @Test func anonymousConsumer() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let admin = try Self.setUp(upstream, route: #"{"key-auth":{"anonymous_consumer":"plain","hide_credentials":true}}"#)
        #expect(try Self.get(admin, "/k?apikey=bad", [("apikey", "bad")]).status == 200)
        let seen = try #require(upstream.lastRequest)
        #expect(seen.header("X-Consumer-Username") == "plain")
        #expect(seen.header("apikey") == nil)
        #expect(seen.target == "/k")
        #expect(try Self.get(admin, "/k", [("apikey", "k-jack")]).status == 200)
        #expect(upstream.lastRequest?.header("X-Consumer-Username") == "jack")

        #expect(try admin.call("PUT", "/apisix/admin/routes/1", #"""
            {"uri":"/k","plugins":{"key-auth":{"anonymous_consumer":"ghost"}},"upstream":{"nodes":{"\#(upstream.address)":1}}}
            """#).status == 200)
        #expect(admin.sluice.waitUntil(timeout: 5) { (try? Self.get(admin, "/k").status) == 401 })
        let refused = try Self.get(admin, "/k")
        #expect(refused.bodyText == #"{"message":"Invalid user authorization"}"# + "\n")
        #expect(admin.sluice.waitUntil(timeout: 5) {
            admin.sluice.errorLog.contains("key-auth failed to authenticate the request, code: 401. error: failed to get anonymous consumer ghost")
        })
    }

    /// A plugin a consumer adds that the route lacks runs its rewrite once the consumer is known;
    /// one the route has too replaces the route's conf for the phases still to come, but its
    /// rewrite does not run again (init.lua `rewrite_in_consumer` skips it, as APISIX does).
    @Test func consumerPluginsOverRoute() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let admin = try Self.setUp(upstream, route: #"{"key-auth":{},"proxy-rewrite":{"headers":{"set":{"X-Who":"route","X-Route":"1"}}},"#
            + #""response-rewrite":{"headers":{"set":{"X-Resp":"route"}}}}"#)
        #expect(try Self.get(admin, "/k", [("apikey", "k-plain")]).status == 200)
        #expect(upstream.lastRequest?.header("X-Who") == "route", "plain adds no plugins")
        let jack = try Self.get(admin, "/k", [("apikey", "k-jack")])
        #expect(jack.status == 200)
        #expect(upstream.lastRequest?.header("X-Who") == "route", "the route's proxy-rewrite ran before the consumer was known")
        #expect(upstream.lastRequest?.header("X-Route") == "1")
        #expect(jack.header("x-resp") == "route")
        // The group's response-rewrite replaces the route's for jack only.
        #expect(try admin.call("PUT", "/apisix/admin/consumer_groups/gold",
                               #"{"plugins":{"response-rewrite":{"headers":{"set":{"X-Gold":"yes"}}}}}"#).status == 200)
        #expect(admin.sluice.waitUntil(timeout: 5) {
            (try? Self.get(admin, "/k", [("apikey", "k-jack")]).header("x-gold")) == "yes"
        })
        #expect(try Self.get(admin, "/k", [("apikey", "k-jack")]).header("x-resp") == nil)
        let plain = try Self.get(admin, "/k", [("apikey", "k-plain")])
        #expect(plain.header("x-gold") == nil)
        #expect(plain.header("x-resp") == "route")
    }

    /// A consumer's own serverless plugin calls its function for that consumer only, before and
    /// after another snapshot replaces the one its pools were made in.
    @Test func consumerFunctionAcrossSnapshots() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let function = try TestUpstream { _ in .text("from the function") }
        defer { function.stop() }
        let admin = try Self.setUp(upstream)
        #expect(try admin.call("PUT", "/apisix/admin/consumers/plain", #"""
            {"username":"plain","plugins":{"key-auth":{"key":"k-plain"},"openfunction":{"function_uri":"http://\#(function.address)/fn"}}}
            """#).status == 200)
        #expect(admin.sluice.waitUntil(timeout: 5) {
            (try? Self.get(admin, "/k", [("apikey", "k-plain")]).bodyText) == "from the function"
        })
        #expect(try Self.get(admin, "/k", [("apikey", "k-jack")]).status == 200)
        #expect(try Self.get(admin, "/k", [("apikey", "k-jack")]).bodyText != "from the function")
        for round in 0..<2 {
            #expect(try admin.call("PUT", "/apisix/admin/routes/other\(round)", #"{"uri":"/o","upstream":{"nodes":{"127.0.0.1:1":1}}}"#).status == 201)
            #expect(admin.sluice.waitUntil(timeout: 5) { (try? Self.get(admin, "/o").status) == 502 })
            #expect(try Self.get(admin, "/k", [("apikey", "k-plain")]).bodyText == "from the function")
        }
        #expect(function.requests.allSatisfy { $0.target == "/fn" })
    }

    /// A plugin's per-request state survives the switch to the merged chain: request-id's id,
    /// made in the rewrite phase, is the one its header filter answers with.
    @Test func stateCarriesIntoTheMergedChain() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let admin = try Self.setUp(upstream, route: #"{"key-auth":{},"request-id":{}}"#)
        let answer = try Self.get(admin, "/k", [("apikey", "k-jack")])
        #expect(answer.status == 200)
        #expect(upstream.lastRequest?.header("X-Who") == "jack", "the merged chain served it")
        let id = try #require(answer.header("x-request-id"))
        #expect(upstream.lastRequest?.header("X-Request-Id") == id)
    }
}
