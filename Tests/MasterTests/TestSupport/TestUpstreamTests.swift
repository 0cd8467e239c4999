import Testing
import TestSupport

/// TestUpstream exercised with HTTPClient directly (no gateway involved).
@Suite struct TestUpstreamTests {
    /// The echo handler reports method, target, headers (order and case kept) and body.
    @Test func echoReportsTheRequest() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let response = try HTTPClient.request(
            port: upstream.port, method: "POST", path: "/a/b%2F?x=1&y",
            headers: [("X-Test", "one"), ("x-test", "two")], body: "hello")
        #expect(response.status == 200)
        #expect(response.header("content-type") == "application/json")
        let echoed = try response.echoed()
        #expect(echoed.method == "POST")
        #expect(echoed.target == "/a/b%2F?x=1&y")
        #expect(echoed.version == "HTTP/1.1")
        #expect(echoed.body == "hello")
        #expect(echoed.headerValues("X-TEST") == ["one", "two"])
        #expect(echoed.headers.map { $0[0] } == ["Host", "X-Test", "x-test", "Connection", "Content-Length"])
        #expect(echoed.connection == 0)
        let recorded = try #require(upstream.lastRequest)
        #expect(recorded.path == "/a/b%2F" && recorded.query == "x=1&y")
        #expect(recorded.header("host") == "127.0.0.1:\(upstream.port)")
        #expect(upstream.rawReceivedText.hasPrefix("POST /a/b%2F?x=1&y HTTP/1.1\r\n"))
    }

    /// Requests on one keep-alive connection are counted as one accepted connection.
    @Test func keepAliveReusesTheConnection() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let client = try HTTPClient(port: upstream.port)
        for i in 0..<3 {
            try client.sendRequest(path: "/\(i)")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(try response.echoed().requestOnConnection == i)
            #expect(!response.closesConnection)
        }
        client.close()
        #expect(upstream.acceptedConnections == 1)
        #expect(upstream.requests.map(\.target) == ["/0", "/1", "/2"])
        let second = try HTTPClient.request(port: upstream.port, path: "/x")
        #expect(try second.echoed().connection == 1)
        #expect(upstream.acceptedConnections == 2)
    }

    /// A chunked request body is de-chunked, trailers kept, and `wasChunked` says so.
    @Test func chunkedRequestBodyIsDecoded() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let client = try HTTPClient(port: upstream.port)
        try client.send("PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
        let echoed = try client.readResponse().echoed()
        #expect(echoed.body == "hello world")
        #expect(echoed.chunked)
        let request = try #require(upstream.lastRequest)
        #expect(request.wasChunked)
        #expect(request.trailers.first?.value == "t")
    }

    /// A chunked response is decoded by the client, with the raw framing kept in `rawBody`.
    @Test func chunkedResponseIsDecodedByTheClient() throws {
        let upstream = try TestUpstream { _ in
            TestResponse(body: Array("abcdefghij".utf8), bodyRepeat: (Array("xyz".utf8), 2), chunked: true, chunkSize: 4)
        }
        defer { upstream.stop() }
        let response = try HTTPClient.request(port: upstream.port, path: "/")
        #expect(response.wasChunked)
        #expect(response.header("content-length") == nil)
        #expect(response.bodyText == "abcdefghijxyzxyz")
        #expect(String(decoding: response.rawBody, as: UTF8.self) == "4\r\nabcd\r\n4\r\nefgh\r\n2\r\nij\r\n3\r\nxyz\r\n3\r\nxyz\r\n0\r\n\r\n")
    }

    /// A large streamed body (`bodyRepeat`) arrives complete with the right Content-Length.
    @Test func largeRepeatedBody() throws {
        let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
        let upstream = try TestUpstream { _ in TestResponse(bodyRepeat: (chunk, 64)) }
        defer { upstream.stop() }
        let response = try HTTPClient.request(port: upstream.port, path: "/big")
        #expect(response.header("content-length") == String(64 * 64 * 1024))
        #expect(response.body.count == 64 * 64 * 1024)
    }

    /// `delayMs` delays the head; `bodyDelayMs` the body.
    @Test func delays() throws {
        let upstream = try TestUpstream { _ in TestResponse(body: [0x41], delayMs: 200, bodyDelayMs: 100) }
        defer { upstream.stop() }
        let start = ContinuousClock.now
        let response = try HTTPClient.request(port: upstream.port, path: "/slow")
        #expect(response.bodyText == "A")
        #expect(ContinuousClock.now - start >= .milliseconds(300))
    }

    /// A client timeout is reported as an error, not a hang.
    @Test func clientTimesOutOnAHangingUpstream() throws {
        let upstream = try TestUpstream { _ in TestResponse(action: .hang) }
        defer { upstream.stop() }
        let start = ContinuousClock.now
        #expect(throws: TestSupportError.self) {
            _ = try HTTPClient.request(port: upstream.port, path: "/", timeout: 0.3)
        }
        #expect(ContinuousClock.now - start < .seconds(3))
        #expect(upstream.requestCount == 1)
    }

    /// `.closeImmediately` closes without a response; the client sees the close.
    @Test func closeImmediately() throws {
        let upstream = try TestUpstream { _ in TestResponse(action: .closeImmediately) }
        defer { upstream.stop() }
        let client = try HTTPClient(port: upstream.port)
        try client.sendRequest(path: "/")
        #expect(client.isClosedByPeer(timeout: 2))
        #expect(throws: TestSupportError.self) { _ = try HTTPClient.request(port: upstream.port, path: "/") }
    }

    /// `isClosedByPeer` is false while the server keeps the connection open.
    @Test func openConnectionIsNotClosed() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let client = try HTTPClient(port: upstream.port)
        try client.sendRequest(path: "/")
        _ = try client.readResponse()
        #expect(!client.isClosedByPeer(timeout: 0.2))
        #expect(upstream.openConnections == 1)
    }

    /// `closeAfter` adds `Connection: close` and closes after the response.
    @Test func closeAfter() throws {
        let upstream = try TestUpstream { _ in TestResponse.text("bye", headers: []).closing() }
        defer { upstream.stop() }
        let client = try HTTPClient(port: upstream.port)
        try client.sendRequest(path: "/")
        let response = try client.readResponse()
        #expect(response.bodyText == "bye")
        #expect(response.closesConnection)
        #expect(client.isClosedByPeer(timeout: 2))
    }

    /// Pipelined requests are answered in order; leftover bytes stay buffered in the client.
    @Test func pipelinedRequests() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let client = try HTTPClient(port: upstream.port)
        try client.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcHEAD /3 HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try client.readResponse().echoed().target == "/1")
        let second = try client.readResponse().echoed()
        #expect(second.target == "/2" && second.body == "abc")
        let head = try client.readResponse(forHEAD: true)
        #expect(head.status == 200 && head.body.isEmpty && head.header("content-length") != nil)
        #expect(upstream.acceptedConnections == 1)
        #expect(upstream.requests.map(\.indexOnConnection) == [0, 1, 2])
    }

    /// `Expect: 100-continue` is answered with 100 before the body is read.
    @Test func expectContinue() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let client = try HTTPClient(port: upstream.port)
        try client.send("POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        let interim = try client.readResponse(skipInformational: false)
        #expect(interim.status == 100)
        try client.send("data")
        let final = try client.readResponse()
        #expect(try final.echoed().body == "data")
        #expect(upstream.lastRequest?.sentContinue == true)
    }

    /// A handler that rejects an `Expect: 100-continue` request answers without reading the body.
    @Test func expectContinueRejected() throws {
        let upstream = try TestUpstream(continueDecision: { _ in .reject(TestResponse(status: 417)) })
        defer { upstream.stop() }
        let client = try HTTPClient(port: upstream.port)
        try client.send("POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 417 && response.informational.isEmpty && response.closesConnection)
        #expect(upstream.lastRequest?.body == [])
    }

    /// With the default client, 1xx responses are skipped and collected.
    @Test func informationalResponsesAreSkippedByDefault() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let body = Array("xy".utf8)
        let response = try HTTPClient.request(
            port: upstream.port, method: "POST", path: "/", headers: [("Expect", "100-continue")], body: body)
        #expect(response.status == 200)
        #expect(response.informational.map(\.status) == [100])
    }

    /// HTTP/1.0 without keep-alive gets `Connection: close` and the connection closed; with it, kept.
    @Test func http10() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let client = try HTTPClient(port: upstream.port)
        try client.send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let kept = try client.readResponse()
        #expect(kept.header("connection") == "keep-alive")
        #expect(try kept.echoed().version == "HTTP/1.0")
        try client.send("GET /old2 HTTP/1.0\r\n\r\n")
        let closed = try client.readResponse()
        #expect(closed.header("connection") == "close")
        #expect(client.isClosedByPeer(timeout: 2))
        #expect(upstream.acceptedConnections == 1)
    }

    /// A malformed request gets 400 and is recorded in `parseErrors`, not in `requests`.
    @Test func malformedRequestIsRejected() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let client = try HTTPClient(port: upstream.port)
        try client.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 400)
        #expect(upstream.requests.isEmpty)
        #expect(upstream.parseErrors.count == 1)
        #expect(client.isClosedByPeer(timeout: 2))
        #expect(upstream.rawReceived(connection: 0).count > 0)
    }

    /// `.raw` sends bytes verbatim; `.resetImmediately` resets the connection.
    @Test func rawAndReset() throws {
        let upstream = try TestUpstream { request in
            request.path == "/raw"
                ? TestResponse(closeAfter: true, action: .raw(Array("HTTP/1.1 299 Odd\r\nX: y\r\n\r\nuntil-close".utf8)))
                : TestResponse(action: .resetImmediately)
        }
        defer { upstream.stop() }
        let raw = try HTTPClient.request(port: upstream.port, path: "/raw")
        #expect(raw.status == 299 && raw.reason == "Odd" && raw.bodyText == "until-close")
        let client = try HTTPClient(port: upstream.port)
        try client.sendRequest(path: "/reset")
        #expect(client.isClosedByPeer(timeout: 2))
    }

    /// `stop` ends hanging handlers and open connections promptly, and the port stops accepting.
    @Test func stopEndsEverything() throws {
        let upstream = try TestUpstream { _ in TestResponse(action: .hang) }
        let clients = try (0..<3).map { _ in try HTTPClient(port: upstream.port) }
        for client in clients { try client.sendRequest(path: "/") }
        #expect(upstream.waitForRequests(3, timeout: 5))
        let start = ContinuousClock.now
        upstream.stop()
        #expect(ContinuousClock.now - start < .seconds(2))
        for client in clients { #expect(client.isClosedByPeer(timeout: 2)) }
        #expect(upstream.openConnections == 0)
        #expect(throws: TestSupportError.self) { _ = try HTTPClient(port: upstream.port, timeout: 1) }
        upstream.stop()  // idempotent
    }

    /// Dropping the last reference stops the server (deinit).
    @Test func deinitStops() throws {
        var upstream: TestUpstream? = try TestUpstream()
        let port = upstream!.port
        _ = try HTTPClient(port: port)
        upstream = nil
        #expect(throws: TestSupportError.self) { _ = try HTTPClient(port: port, timeout: 1) }
    }

    /// Without recording, counters work and nothing is kept.
    @Test func recordingOff() throws {
        let upstream = try TestUpstream(recording: false)
        defer { upstream.stop() }
        _ = try HTTPClient.request(port: upstream.port, method: "POST", path: "/", body: [UInt8](repeating: 1, count: 100_000))
        #expect(upstream.requestCount == 1 && upstream.waitForRequests(1, timeout: 1))
        #expect(upstream.requests.isEmpty && upstream.rawReceivedAll.isEmpty)
    }

    /// An over-long request line gets 400 and a parse error.
    @Test func overlongRequestLine() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let client = try HTTPClient(port: upstream.port)
        try client.send("GET /" + String(repeating: "a", count: 70_000) + " HTTP/1.1\r\n\r\n")
        #expect(try client.readResponse().status == 400)
        #expect(upstream.parseErrors.count == 1)
    }
}
