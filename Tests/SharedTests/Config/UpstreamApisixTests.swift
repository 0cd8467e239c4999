import Testing
@testable import Shared

@Suite struct UpstreamApisixTests {
    /// Map-form keys: ports, default ports per scheme, bracketed IPv6; sorted by key.
    @Test func mapNodes() throws {
        let json = try JSONValue.parse(#"{"nodes":{"b.example:8080":2,"a.example":1,"[::1]:81":3,"[::2]":4},"scheme":"https"}"#)
        let upstream = try Upstream(apisix: json, id: "u1")
        #expect(upstream.nodes == [
            Upstream.Node(host: "::1", port: 81, weight: 3),
            Upstream.Node(host: "::2", port: 443, weight: 4),
            Upstream.Node(host: "a.example", port: 443, weight: 1),
            Upstream.Node(host: "b.example", port: 8080, weight: 2),
        ])
        #expect(upstream.scheme == "https")
        #expect(upstream.json["id"] == "u1")
    }

    /// Array-form nodes keep order, priority, default port 80.
    @Test func arrayNodes() throws {
        let json = try JSONValue.parse(#"{"nodes":[{"host":"b","weight":1,"priority":2},{"host":"[::1]","port":90,"weight":0}]}"#)
        let upstream = try Upstream(apisix: json, id: nil)
        #expect(upstream.nodes == [Upstream.Node(host: "b", port: 80, weight: 1, priority: 2),
                                   Upstream.Node(host: "::1", port: 90, weight: 0)])
    }

    /// Optional fields map to the model.
    @Test func fields() throws {
        let json = try JSONValue.parse(#"{"nodes":{},"retries":2,"retry_timeout":1.5,"timeout":{"connect":1,"send":2,"read":3},"#
            + #""keepalive_pool":{"size":5},"pass_host":"rewrite","upstream_host":"h","type":"roundrobin"}"#)
        let upstream = try Upstream(apisix: json, id: nil)
        #expect(upstream.retries == 2)
        #expect(upstream.retryTimeout == 1.5)
        #expect(upstream.timeout == Upstream.Timeout(connect: 1, send: 2, read: 3))
        #expect(upstream.keepalivePool == Upstream.KeepalivePool(size: 5, idleTimeout: 60, requests: 1000))
        #expect(upstream.passHost == .rewrite)
        #expect(upstream.upstreamHost == "h")
    }

    /// An upstream built in code still has an APISIX form that converts back to it.
    @Test func apisixJSONRoundTrip() throws {
        var upstream = Upstream(id: "x", nodes: [Upstream.Node(host: "::1", port: 8080, weight: 2, priority: 1)])
        upstream.retries = 1
        upstream.timeout = Upstream.Timeout(connect: 1, send: 1, read: 1)
        let back = try Upstream(apisix: upstream.apisixJSON, id: "x")
        #expect(back.nodes == upstream.nodes)
        #expect(back.retries == 1)
        #expect(back.timeout == upstream.timeout)
        #expect(try ResourceCheck.upstream(upstream.apisixJSON).get().nodes == upstream.nodes)
    }
}
