import Testing
import TestSupport

/// Request and response bodies through the real binary: framing re-done, bytes intact.
@Suite(.serialized) struct ProxyBodyTests {
    /// A POST with a Content-Length body reaches the upstream byte for byte, with the same length.
    @Test func contentLengthBody() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stop() }

        let body = Array("name=value&binary=\u{1}\u{2}".utf8)
        let e = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/post", body: body).echoed()
        #expect(e.method == "POST")
        #expect(e.bodyLength == body.count)
        #expect(e.body == String(decoding: body, as: UTF8.self))
        #expect(e.headerValues("content-length") == [String(body.count)])
        #expect(!e.chunked)
    }

    /// A POST without a body is sent upstream with `Content-Length: 0`.
    @Test func emptyPost() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stop() }

        let e = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/empty").echoed()
        #expect(e.bodyLength == 0)
        #expect(e.headerValues("content-length") == ["0"])
    }

    /// A chunked request body (odd chunk sizes, a chunk extension, a trailer) arrives at the upstream
    /// as a correctly re-framed body with the same bytes; the next request on the connection works.
    @Test func chunkedRequestBody() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stop() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5\r\nhello\r\n1;ext=1\r\n \r\na\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n")
        let r = try client.readResponse()
        #expect(r.status == 200)
        let e = try r.echoed()
        #expect(e.body == "hello 0123456789")
        #expect(e.bodyLength == 16)
        #expect(e.header("content-length") == nil || e.header("content-length") == "16")
        #expect(e.headerValues("transfer-encoding").count <= 1)

        try client.sendRequest(path: "/after")
        let next = try client.readResponse()
        #expect(try next.echoed().target == "/after")
        #expect(upstream.parseErrors.isEmpty)
    }

    /// A chunked body sent in several writes (the gateway streams it) arrives whole.
    @Test func chunkedBodyInPieces() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stop() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("POST /pieces HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try client.send("3\r\nabc\r\n")
        TestSupport.sleepSeconds(0.05)
        try client.send("4\r\ndefg\r")
        TestSupport.sleepSeconds(0.05)
        try client.send("\n0\r\n\r\n")
        let e = try client.readResponse().echoed()
        #expect(e.body == "abcdefg")
    }

    /// `Expect: 100-continue`: the client sees `100 Continue`, then the final response; the body
    /// reaches the upstream.
    @Test func expectContinue() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stop() }

        let client = try HTTPClient(port: sluice.proxyPort)
        defer { client.close() }
        try client.send("POST /expect HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let interim = try client.readResponse(skipInformational: false)
        #expect(interim.status == 100)
        try client.send("12345")
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(r.informational.isEmpty)  // exactly one 100 (the upstream's is not forwarded)
        let e = try r.echoed()
        #expect(e.body == "12345")
        #expect(e.header("expect") == nil)
    }

    /// A 5 MiB request body streamed through the gateway reaches the upstream complete and unchanged.
    @Test func largeRequestBody() throws {
        let upstream = try TestUpstream { request in
            var sum: UInt64 = 0
            for (i, b) in request.body.enumerated() { sum &+= UInt64(b) &* UInt64(i % 251 + 1) }
            return TestResponse.text("\(request.body.count) \(sum)")
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stop() }

        let size = 5 * 1024 * 1024
        let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        var sum: UInt64 = 0
        for (i, b) in body.enumerated() { sum &+= UInt64(b) &* UInt64(i % 251 + 1) }
        let r = try HTTPClient.request(port: sluice.proxyPort, method: "PUT", path: "/big", body: body, timeout: 20)
        #expect(r.status == 200)
        #expect(r.bodyText == "\(size) \(sum)")
    }

    /// A 50 MiB response body (Content-Length) and a chunked 8 MiB one reach the client with every byte.
    @Test func largeResponseBody() throws {
        let chunk = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let upstream = try TestUpstream(recording: false) { request in
            request.path == "/chunked"
                ? TestResponse(bodyRepeat: (chunk, 128), chunked: true, chunkSize: 10000)
                : TestResponse(bodyRepeat: (chunk, 800))
        }
        defer { upstream.stop() }
        let sluice = try Proxy.start(to: upstream)
        defer { sluice.stop() }

        let client = try HTTPClient(port: sluice.proxyPort, timeout: 20)
        defer { client.close() }
        try client.sendRequest(path: "/big")
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(r.header("Content-Length") == String(65536 * 800))
        #expect(r.body.count == 65536 * 800)
        #expect(Array(r.body.prefix(65536)) == chunk && Array(r.body.suffix(65536)) == chunk)

        try client.sendRequest(path: "/chunked")
        let c = try client.readResponse()
        #expect(c.status == 200)
        #expect(c.body.count == 65536 * 128)
        #expect(Array(c.body[65536 * 5 ..< 65536 * 6]) == chunk)
    }
}
