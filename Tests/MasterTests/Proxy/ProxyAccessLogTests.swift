import Foundation
import Testing
import TestSupport

/// access.log: nginx `combined` plus `$upstream_addr $upstream_status $request_time $upstream_response_time`.
@Suite(.serialized) struct ProxyAccessLogTests {
    private func lines(_ sluice: SluiceProcess, count: Int) -> [String] {
        TestSupport.waitUntil(timeout: 5) { sluice.accessLog.split(separator: "\n").count >= count }
        return sluice.accessLog.split(separator: "\n").map(String.init)
    }

    private func matches(_ line: String, _ pattern: String) -> Bool {
        line.range(of: pattern, options: .regularExpression) != nil
    }

    /// A proxied request logs client, time, request line, status, body bytes, referer, user agent,
    /// upstream address and status, and two times.
    @Test func proxiedRequestLine() throws {
        let upstream = try TestUpstream { _ in TestResponse.text("0123456789") }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stop() }

        _ = try HTTPClient.request(port: sluice.proxyPort, path: "/path?q=1", headers: [("User-Agent", "itest/1.0"), ("Referer", "http://ref.example/")])
        let line = try #require(lines(sluice, count: 1).first)
        let time = #"\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]"#
        let pattern = #"^127\.0\.0\.1 - - "# + time + #" "GET /path\?q=1 HTTP/1\.1" 200 10 "http://ref\.example/" "itest/1\.0" "#
            + NSRegularExpression.escapedPattern(for: upstream.address) + #" 200 \d+\.\d{3} \d+\.\d{3}$"#
        #expect(matches(line, pattern), "\(line)")
    }

    /// A local 404 logs `- -` for the upstream and `-` for the upstream time; missing referer and
    /// user agent are `-`.
    @Test func localResponseLine() throws {
        let sluice = try SluiceProcess(configYAML: Proxy.config(), workers: 1)
        try sluice.start()
        defer { sluice.stop() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        let r = try client.readResponse()
        #expect(r.status == 404)
        let line = try #require(lines(sluice, count: 1).last)
        #expect(matches(line, #"^127\.0\.0\.1 - - \[[^\]]+\] "GET /nope HTTP/1\.1" 404 36 "-" "-" - - \d+\.\d{3} -$"#), "\(line)")
    }

    /// A 502 after a refused connect logs the node and `502`.
    @Test func failedUpstreamLine() throws {
        let port = try Proxy.closedPort()
        let sluice = try SluiceProcess(configYAML: Proxy.config(), apisixYAML: Proxy.apisix(
            Proxy.route(id: "dead", uri: "/*", nodes: ["127.0.0.1:\(port)"])), workers: 1)
        try sluice.start()
        defer { sluice.stop() }

        let r = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/d", body: "abc")
        #expect(r.status == 502)
        let line = try #require(lines(sluice, count: 1).last)
        #expect(matches(line, #""POST /d HTTP/1\.1" 502 \d+ "-" "-" 127\.0\.0\.1:\#(port) 502 \d+\.\d{3} -$"#), "\(line)")
    }

    /// A rejected (malformed) request is logged with its status too, and the line is well formed.
    @Test func badRequestLine() throws {
        let sluice = try SluiceProcess(configYAML: Proxy.config(), workers: 1)
        try sluice.start()
        defer { sluice.stop() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("POST /bad HTTP/1.1\r\nHost: x\r\nUser-Agent: ua\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        #expect(try client.readResponse().status == 400)
        let line = try #require(lines(sluice, count: 1).last)
        #expect(matches(line, #"^127\.0\.0\.1 - - \[[^\]]+\] "[^"]*" 400 \d+ "-" "ua" - - \d+\.\d{3} -$"#), "\(line)")
    }
}
