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

/// access.log lines carry only bytes of their own request, escaped as nginx's `escape=default`.
@Suite(.serialized) struct ProxyAccessLogSafetyTests {
    private func lines(_ sluice: SluiceProcess, count: Int) -> [String] {
        TestSupport.waitUntil(timeout: 5) { sluice.accessLog.split(separator: "\n").count >= count }
        return sluice.accessLog.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// After a request whose `X-Real-IP` was honoured, later requests that fail to parse (on new
    /// connections, on the same worker) log the peer's address, never bytes of their own head read
    /// at the earlier request's offsets; every line stays one well-formed line.
    @Test func realIPIsNotReusedByLaterRequests() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let first = try HTTPClient(port: sluice.proxyPort)
        try first.send("GET /ok HTTP/1.1\r\nHost: x\r\nX-Real-IP: 10.1.2.3\r\n\r\n")
        #expect(try first.readResponse().status == 200)
        first.close()
        // Same offsets as the X-Real-IP value above, holding a newline; then a bare LF (400).
        for bad in ["GET /ok HTTP/1.1\r\nHost: x\r\nX-Real-I: a\nB-evil\r\n\r\n",
                    "GET /ok HTTP/1.1\r\nHost: x\r\nX-Bad\u{1}: 10.9.9.9\r\n\r\n"] {
            let client = try HTTPClient(port: sluice.proxyPort)
            defer { client.close() }
            try client.send(bad)
            #expect(try client.readResponse().status == 400)
        }
        let logged = lines(sluice, count: 3)
        #expect(logged.count == 3, "\(logged)")
        #expect(logged.first?.hasPrefix("10.1.2.3 - - [") == true, "\(logged)")
        for line in logged.dropFirst() {
            #expect(line.hasPrefix("127.0.0.1 - - ["), "\(line)")
        }
    }

    /// Quotes, backslashes and bytes outside printable ASCII from the request are logged as
    /// `\xHH`, so a value can neither end its field nor start a new line.
    @Test func requestBytesAreEscaped() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send(Array("GET /p?q=\"x\\ HTTP/1.1\r\nHost: x\r\nUser-Agent: a\"b\\c ".utf8) + [0xFF, 0xC3, 0xA9]
            + Array("\r\nReferer: r\"\r\n\r\n".utf8))
        #expect(try client.readResponse().status == 200)
        let line = try #require(lines(sluice, count: 1).first)
        #expect(line.contains(#""GET /p?q=\x22x\x5C HTTP/1.1""#), "\(line)")
        #expect(line.contains(#""r\x22" "a\x22b\x5Cc \xFF\xC3\xA9""#), "\(line)")
    }
}
