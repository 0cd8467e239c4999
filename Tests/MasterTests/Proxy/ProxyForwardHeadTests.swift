import Testing
import TestSupport

/// The request head Sluice writes upstream is always well formed, whatever the client sent: the
/// bytes the upstream receives are checked line by line (issue 11's two smuggling defects).
@Suite(.serialized) struct ProxyForwardHeadTests {
    /// The header lines of the first request head in `raw` (request line excluded).
    private func headerLines(_ raw: [UInt8]) -> [String] {
        let text = String(decoding: raw, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return [] }
        return text[..<end.lowerBound].components(separatedBy: "\r\n").dropFirst().map { $0 }
    }

    /// Every line of a head is `name: value`; returns the lines that are not.
    private func malformedLines(_ lines: [String]) -> [String] {
        lines.filter { line in
            guard let colon = line.firstIndex(of: ":") else { return true }
            let name = line[..<colon]
            return name.isEmpty || name.contains(" ")
        }
    }

    private func values(_ lines: [String], _ name: String) -> [String] {
        lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name else { return nil }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }

    /// A client `X-Forwarded-For` at any position among other headers reaches the upstream as one
    /// well-formed line `<client value>, 127.0.0.1`, and every other header as its own line.
    @Test func forwardedForAtEveryPosition() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let others = [("Host", "x"), ("X-Custom", "z"), ("Accept", "*/*"), ("X-Last", "end")]
        for position in 0...others.count {
            var headers = others
            headers.insert(("X-Forwarded-For", "1.1.1.1"), at: position)
            let client = try HTTPClient(port: sluice.proxyPort)
            defer { client.close() }
            upstream.clearRecords()
            let head = "GET /p\(position) HTTP/1.1\r\n" + headers.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n"
            try client.send(head)
            let r = try client.readResponse()
            #expect(r.status == 200, "position \(position)")
            let lines = headerLines(upstream.rawReceivedAll)
            #expect(malformedLines(lines).isEmpty, "position \(position): \(lines)")
            #expect(values(lines, "x-forwarded-for") == ["1.1.1.1, 127.0.0.1"], "position \(position): \(lines)")
            #expect(values(lines, "x-custom") == ["z"], "position \(position)")
            #expect(values(lines, "accept") == ["*/*"], "position \(position)")
            #expect(values(lines, "x-last") == ["end"], "position \(position)")
            #expect(upstream.parseErrors.isEmpty, "position \(position): \(upstream.parseErrors)")
        }
    }

    /// Several client `X-Forwarded-For` lines, wherever they are, are joined in order into one line
    /// that ends with the client's address.
    @Test(arguments: [
        ["X-Forwarded-For: 1.1.1.1", "X-A: a", "X-Forwarded-For: 2.2.2.2, 3.3.3.3", "X-B: b"],
        ["X-Forwarded-For: 1.1.1.1", "X-Forwarded-For: 2.2.2.2, 3.3.3.3", "X-A: a", "X-B: b"],
        ["X-A: a", "X-B: b", "x-forwarded-for: 1.1.1.1", "X-FORWARDED-FOR: 2.2.2.2, 3.3.3.3"],
    ])
    func severalForwardedForLines(_ fields: [String]) throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("GET / HTTP/1.1\r\nHost: x\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n")
        #expect(try client.readResponse().status == 200)
        let lines = headerLines(upstream.rawReceivedAll)
        #expect(malformedLines(lines).isEmpty, "\(lines)")
        #expect(values(lines, "x-forwarded-for") == ["1.1.1.1, 2.2.2.2, 3.3.3.3, 127.0.0.1"], "\(lines)")
        #expect(values(lines, "x-a") == ["a"] && values(lines, "x-b") == ["b"], "\(lines)")
    }

    /// The attack the malformed XFF line allowed, against a keep-alive pooled upstream: a POST
    /// whose body is a request never becomes a second request upstream, and each client gets the
    /// response to its own request.
    @Test func forwardedForCannotSmuggleABody() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        let attacker = try HTTPClient(port: sluice.proxyPort)
        defer { attacker.close() }
        try attacker.send("POST /a HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.1.1.1\r\nX-Custom: z\r\n"
            + "Content-Length: \(smuggled.utf8.count)\r\n\r\n" + smuggled)
        let a = try attacker.readResponse()
        #expect(a.status == 200)
        #expect(try a.echoed().target == "/a")
        #expect(try a.echoed().body == smuggled)

        let victim = try HTTPClient(port: sluice.proxyPort)
        defer { victim.close() }
        try victim.sendRequest(path: "/victim")
        let v = try victim.readResponse()
        #expect(try v.echoed().target == "/victim")
        #expect(!upstream.requests.contains { $0.target == "/smuggled" })
    }

    /// A client head just under the 32 KiB limit whose Host is copied into the forwarded head twice
    /// (Host and X-Forwarded-Host, about 64 KiB together) reaches the upstream whole, for every
    /// Host length around the point where the forwarded head crosses 64 KiB: its Content-Length
    /// and final blank line are there, so the body is never read as a second request.
    @Test func largeHostIsForwardedWhole() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        let prefix = "POST /big HTTP/1.1\r\nHost: "
        let suffix = "\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n"
        let longest = 32 * 1024 - prefix.utf8.count - suffix.utf8.count
        for length in stride(from: longest - 200, through: longest, by: 1) {
            let client = try HTTPClient(port: sluice.proxyPort)
            defer { client.close() }
            try client.send(prefix + String(repeating: "a", count: length) + suffix + smuggled)
            let r = try client.readResponse()
            #expect(r.status == 200, "host length \(length): \(r.status)")
            guard r.status == 200 else { break }
        }
        #expect(upstream.requests.allSatisfy { $0.target == "/big" && $0.bodyText == smuggled })
        #expect(!upstream.requests.contains { $0.target == "/smuggled" })
        #expect(upstream.parseErrors.isEmpty, "\(upstream.parseErrors.prefix(3))")
    }

    /// A field whose name equals a framing header once `_` is read as `-` (`Transfer_Encoding`,
    /// `Content_Length`, as CGI/WSGI upstreams read them) is not forwarded; other names with `_` are.
    @Test func underscoreFramingNamesDropped() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stopCheckingWorkers() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("POST /u HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\nCONTENT_LENGTH: 99\r\n"
            + "content_length: 7\r\nX_Other: y\r\nContent-Length: 2\r\n\r\nok")
        let r = try client.readResponse()
        #expect(r.status == 200)
        let lines = headerLines(upstream.rawReceivedAll)
        #expect(!lines.contains { $0.lowercased().hasPrefix("transfer_encoding") }, "\(lines)")
        #expect(!lines.contains { $0.lowercased().hasPrefix("content_length") }, "\(lines)")
        #expect(values(lines, "x_other") == ["y"], "\(lines)")
        #expect(values(lines, "content-length") == ["2"], "\(lines)")
    }
}
