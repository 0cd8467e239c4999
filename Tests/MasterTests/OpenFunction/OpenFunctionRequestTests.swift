import Foundation
import Testing
import TestSupport

/// The request the function receives (TestUpstream as the function, recording every byte): path
/// joining with the `:ext` capture, the query, headers and body framing.
@Suite(.serialized) struct OpenFunctionRequestTests {
    /// Sends `path` through sluice and returns the request the function received.
    static func received(_ sluice: SluiceProcess, _ fn: TestUpstream, method: String = "GET", _ path: String,
                         headers: [(String, String)] = [], body: [UInt8]? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> TestRequest? {
        fn.clearRecords()
        let before = fn.requestCount
        let r = try HTTPClient.request(port: sluice.proxyPort, method: method, path: path, headers: headers, body: body)
        #expect(r.status == 200, "\(path): \(r.status) \(r.bodyText)\n\(sluice.errorLog)", sourceLocation: sourceLocation)
        #expect(fn.requestCount == before + 1, sourceLocation: sourceLocation)
        return fn.lastRequest
    }

    /// The target the function received for `path`.
    static func target(_ sluice: SluiceProcess, _ fn: TestUpstream, _ path: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> String? {
        try received(sluice, fn, path, sourceLocation: sourceLocation)?.target
    }

    /// Function path and `:ext` capture join with exactly one `/`; an empty capture keeps the
    /// trailing `/`; no path at all is `/`; exact and `/hello*` routes add nothing.
    @Test func pathJoining() throws {
        let fn = try TestUpstream()
        defer { fn.stop() }
        let base = "http://127.0.0.1:\(fn.port)"
        let sluice = try OF.start(
            OF.route(id: "1", uri: "/p1/*", "function_uri: \"\(base)/api\""),
            OF.route(id: "2", uri: "/p2/*", "function_uri: \"\(base)/api/\""),
            OF.route(id: "3", uri: "/p3/*", "function_uri: \"\(base)\""),
            OF.route(id: "4", uri: "/p4/*", "function_uri: \"\(base)/\""),
            OF.route(id: "5", uri: "/exact", "function_uri: \"\(base)/api\""),
            OF.route(id: "6", uri: "/exactnopath", "function_uri: \"\(base)\""),
            OF.route(id: "7", uri: "/hello*", "function_uri: \"\(base)/api\""),
            OF.route(id: "8", uri: "/star*", "function_uri: \"\(base)\""))
        defer { sluice.stopCheckingWorkers() }
        let cases: [(String, String)] = [
            ("/p1/a/b", "/api/a/b"),
            ("/p1/", "/api/"),
            ("/p1/x", "/api/x"),
            ("/p2/a/b", "/api/a/b"),
            ("/p2/", "/api/"),
            ("/p3/a/b", "/a/b"),
            ("/p3/", "/"),
            ("/p4/a/b", "/a/b"),
            ("/p4/", "/"),
            ("/exact", "/api"),
            ("/exactnopath", "/"),
            ("/helloworld", "/api"),
            ("/hello/x", "/api"),
            ("/starry/x", "/"),
        ]
        for (path, expected) in cases {
            #expect(try Self.target(sluice, fn, path) == expected, "\(path)")
        }
    }

    /// The capture is the normalized, decoded path re-encoded per RFC 3986: `%20` stays `%20`,
    /// a decoded `?` or `#` is escaped, UTF-8 is escaped, sub-delims stay, dot segments and
    /// duplicate slashes are resolved.
    @Test func captureReencoded() throws {
        let fn = try TestUpstream()
        defer { fn.stop() }
        let sluice = try OF.start(OF.route(uri: "/hello/*", "function_uri: \"http://127.0.0.1:\(fn.port)/api\""))
        defer { sluice.stopCheckingWorkers() }
        let cases: [(String, String)] = [
            ("/hello/a%20b", "/api/a%20b"),
            ("/hello/a%3Fb", "/api/a%3Fb"),
            ("/hello/a%23b", "/api/a%23b"),
            ("/hello/%C3%A9t%C3%A9", "/api/%C3%A9t%C3%A9"),
            ("/hello/a%7Eb", "/api/a~b"),
            ("/hello/a;b=c,d@e:f!$&'()*+", "/api/a;b=c,d@e:f!$&'()*+"),
            ("/hello/a%22b%3Cc%3E", "/api/a%22b%3Cc%3E"),
            ("/hello/x/../y", "/api/y"),
            ("/hello/x/./y", "/api/x/y"),
            ("/hello/x//y", "/api/x/y"),
        ]
        for (path, expected) in cases {
            #expect(try Self.target(sluice, fn, path) == expected, "\(path)")
        }
    }

    /// The client's raw query is forwarded byte for byte; function_uri's own query comes first;
    /// no `?` when both are empty.
    @Test func queryString() throws {
        let fn = try TestUpstream()
        defer { fn.stop() }
        let base = "http://127.0.0.1:\(fn.port)"
        let sluice = try OF.start(
            OF.route(id: "1", uri: "/plain/*", "function_uri: \"\(base)/api\""),
            OF.route(id: "2", uri: "/fixed/*", "function_uri: \"\(base)/api?fixed=1\""),
            OF.route(id: "3", uri: "/nopath", "function_uri: \"\(base)?fixed=1\""))
        defer { sluice.stopCheckingWorkers() }
        let cases: [(String, String)] = [
            ("/plain/x?b=2&a=1%20x&&c&a=3", "/api/x?b=2&a=1%20x&&c&a=3"),
            ("/plain/x?q=a+b%2Fc/d?e", "/api/x?q=a+b%2Fc/d?e"),
            ("/plain/x", "/api/x"),
            ("/plain/x?", "/api/x"),
            ("/fixed/x?a=2", "/api/x?fixed=1&a=2"),
            ("/fixed/x", "/api/x?fixed=1"),
            ("/nopath?a=2", "/?fixed=1&a=2"),
        ]
        for (path, expected) in cases {
            #expect(try Self.target(sluice, fn, path) == expected, "\(path)")
        }
    }

    /// `Host` is the function's host without port (lower-cased); the method is the client's.
    @Test func hostAndMethod() throws {
        let fn = try TestUpstream()
        defer { fn.stop() }
        let sluice = try OF.start(
            OF.route(id: "1", uri: "/ip", "function_uri: \"http://127.0.0.1:\(fn.port)/api\""),
            OF.route(id: "2", uri: "/name", "function_uri: \"http://LocalHost:\(fn.port)/api\""))
        defer { sluice.stopCheckingWorkers() }
        let ip = try Self.received(sluice, fn, "/ip", headers: [("Host", "client.example")])
        #expect(ip?.headerValues("host") == ["127.0.0.1"])
        let name = try Self.received(sluice, fn, method: "DELETE", "/name")
        #expect(name?.headerValues("host") == ["localhost"])
        #expect(name?.method == "DELETE")
        let patch = try Self.received(sluice, fn, method: "PATCH", "/ip", body: Array("x".utf8))
        #expect(patch?.method == "PATCH")
        #expect(patch?.bodyText == "x")
    }

    /// The service token replaces the client's Authorization (one header); without a token the
    /// client's is forwarded unchanged.
    @Test func authorizationHeader() throws {
        let fn = try TestUpstream()
        defer { fn.stop() }
        let base = "http://127.0.0.1:\(fn.port)"
        let sluice = try OF.start(
            OF.route(id: "1", uri: "/token", "function_uri: \"\(base)/\", authorization: {service_token: \"test:test\"}"),
            OF.route(id: "2", uri: "/none", "function_uri: \"\(base)/\""),
            OF.route(id: "3", uri: "/empty", "function_uri: \"\(base)/\", authorization: {}"))
        defer { sluice.stopCheckingWorkers() }
        let overridden = try Self.received(sluice, fn, "/token", headers: [("Authorization", "Bearer client")])
        #expect(overridden?.headerValues("authorization") == ["Basic dGVzdDp0ZXN0"])
        let added = try Self.received(sluice, fn, "/token")
        #expect(added?.headerValues("authorization") == ["Basic dGVzdDp0ZXN0"])
        let passed = try Self.received(sluice, fn, "/none", headers: [("authorization", "user-token-xxx")])
        #expect(passed?.headerValues("authorization") == ["user-token-xxx"])
        let absent = try Self.received(sluice, fn, "/none")
        #expect(absent?.headerValues("authorization") == [])
        let emptyAuth = try Self.received(sluice, fn, "/empty", headers: [("Authorization", "Bearer client")])
        #expect(emptyAuth?.headerValues("authorization") == ["Bearer client"])
    }

    /// Hop-by-hop client headers (and those named in `Connection`) are not forwarded; every
    /// end-to-end header is, in order and verbatim.
    @Test func hopByHopClientHeaders() throws {
        let fn = try TestUpstream()
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/api\""))
        defer { sluice.stopCheckingWorkers() }
        let request = try Self.received(sluice, fn, "/hello", headers: [
            ("Connection", "close, X-Hop"), ("Keep-Alive", "timeout=5"), ("X-Hop", "1"), ("TE", "trailers"),
            ("Upgrade", "websocket"), ("Proxy-Connection", "keep-alive"), ("Trailer", "X-T"),
            ("X-Custom", "a  b"), ("Cookie", "k=v"), ("User-Agent", "test-agent/1"), ("X-Custom", "second"),
        ])
        let names = Set(request?.headers.map { $0.name.lowercased() } ?? [])
        for hop in ["connection", "keep-alive", "x-hop", "te", "upgrade", "proxy-connection", "trailer", "transfer-encoding"] {
            #expect(!names.contains(hop), "\(hop) forwarded: \(request?.headers ?? [])")
        }
        #expect(request?.headerValues("x-custom") == ["a  b", "second"])
        #expect(request?.headerValues("cookie") == ["k=v"])
        #expect(request?.headerValues("user-agent") == ["test-agent/1"])
    }

    /// Bodies are framed with Content-Length: a Content-Length body as sent, a chunked body
    /// (small, and large enough to be spooled) de-chunked, POST without body `Content-Length: 0`,
    /// GET without body no Content-Length.
    @Test func bodyFraming() throws {
        // A short answer: echoing a 3 MiB body as JSON is slower than the default timeout.
        let fn = try TestUpstream { _ in TestResponse.text("ok") }
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/api\""))
        defer { sluice.stopCheckingWorkers() }

        let plain = try Self.received(sluice, fn, method: "POST", "/hello", body: Array("hello".utf8))
        #expect(plain?.headerValues("content-length") == ["5"])
        #expect(plain?.bodyText == "hello")

        let chunkedBody = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        let chunked = try Self.received(sluice, fn, method: "POST", "/hello",
                                        headers: [("Transfer-Encoding", "chunked")], body: Array(chunkedBody.utf8))
        #expect(chunked?.wasChunked == false)
        #expect(chunked?.headerValues("transfer-encoding") == [])
        #expect(chunked?.headerValues("content-length") == ["11"])
        #expect(chunked?.bodyText == "hello world")

        // 3 MiB in 64 KiB chunks: past any in-memory threshold.
        let piece = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var big: [UInt8] = []
        for _ in 0..<48 { big += Array("10000\r\n".utf8) + piece + Array("\r\n".utf8) }
        big += Array("0\r\n\r\n".utf8)
        let large = try Self.received(sluice, fn, method: "PUT", "/hello",
                                      headers: [("Transfer-Encoding", "chunked")], body: big)
        #expect(large?.wasChunked == false)
        #expect(large?.headerValues("content-length") == [String(48 * 65536)])
        #expect(large?.body.count == 48 * 65536)
        #expect(large.map { $0.body == Array([[UInt8]](repeating: piece, count: 48).joined()) } == true)

        let emptyPost = try Self.received(sluice, fn, method: "POST", "/hello")
        #expect(emptyPost?.headerValues("content-length") == ["0"])
        let get = try Self.received(sluice, fn, "/hello")
        #expect(get?.headerValues("content-length") == [])
    }

    /// A body over `max_req_body_size` (by Content-Length or chunked) is 400 with nginx's page and
    /// the request-size line in error.log; the function is not called. At the limit it passes.
    @Test func bodyTooLarge() throws {
        let fn = try TestUpstream()
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/api\", max_req_body_size: 10"))
        defer { sluice.stopCheckingWorkers() }

        let atLimit = try Self.received(sluice, fn, method: "POST", "/hello", body: Array("0123456789".utf8))
        #expect(atLimit?.bodyText == "0123456789")
        let before = fn.requestCount

        let byLength = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/hello", body: "0123456789A")
        #expect(byLength.status == 400)
        #expect(byLength.bodyText.contains("<title>400 Bad Request</title>"))
        #expect(OF.waitForLog(sluice, "error while reading request body: request size 11 is greater than the maximum size 10 allowed"),
                "\(sluice.errorLog)")

        let chunkedBody = "6\r\n012345\r\n6\r\n6789AB\r\n0\r\n\r\n"
        let byChunks = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/hello",
                                              headers: [("Transfer-Encoding", "chunked")], body: Array(chunkedBody.utf8))
        #expect(byChunks.status == 400)
        #expect(byChunks.bodyText.contains("<title>400 Bad Request</title>"))
        #expect(OF.waitForLog(sluice, "error while reading request body: request size 12 is greater than the maximum size 10 allowed"),
                "\(sluice.errorLog)")
        #expect(fn.requestCount == before)
    }

    /// `Expect: 100-continue` is answered by the gateway and not forwarded; the body then reaches
    /// the function, and a pipelined request after a body is served on the same connection.
    @Test func expectContinueAndPipelining() throws {
        let fn = try OF.standIn("--mode", "body")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/\""))
        defer { sluice.stopCheckingWorkers() }
        let client = try HTTPClient(port: sluice.proxyPort, timeout: 10)
        try client.send("POST /hello HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        let interim = try client.readResponse(skipInformational: false)
        #expect(interim.status == 100)
        try client.send("test")
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(r.bodyText == "Hello, test!\n")
        try client.send("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\naPOST /hello HTTP/1.1\r\nHost: x\r\n"
                        + "Transfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try client.readResponse().bodyText == "Hello, a!\n")
        #expect(try client.readResponse().bodyText == "Hello, b!\n")
        #expect(try client.readResponse().bodyText == "Hello, !\n")
    }

    /// A client that goes away while the function is still answering does not disturb the worker:
    /// the next call succeeds.
    @Test func clientAbortDuringCall() throws {
        let fn = try OF.standIn("--mode", "hello", "--delay", "300")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/after\""))
        defer { sluice.stopCheckingWorkers() }
        for _ in 0..<3 {
            let client = try HTTPClient(port: sluice.proxyPort)
            try client.sendRequest(path: "/hello")
            #expect(TestSupport.waitUntil(timeout: 5) { ((try? fn.stats())?.open ?? 0) > 0 })
            client.reset()
        }
        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/hello", timeout: 10)
        #expect(r.status == 200)
        #expect(r.bodyText == "Hello, after!\n")
    }
}
