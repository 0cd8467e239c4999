import Foundation
import Testing
import TestSupport

/// The function's response as the client gets it: streamed whole, end-to-end headers only,
/// errors passed through as sent.
@Suite(.serialized) struct OpenFunctionResponseTests {
    /// A 64 MiB function response (Content-Length, then chunked) reaches the client complete and
    /// byte-exact.
    @Test func largeResponseStreamed() throws {
        let chunk = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
        let count = 1024
        let fn = try TestUpstream(recording: false) { request in
            TestResponse(headers: [("Content-Type", "application/octet-stream")],
                         bodyRepeat: (chunk, count), chunked: request.target.hasSuffix("chunked"), chunkSize: 65536)
        }
        defer { fn.stop() }
        let sluice = try OF.start(OF.route(uri: "/big/*", "function_uri: \"http://127.0.0.1:\(fn.port)/\", timeout: 30000"))
        defer { sluice.stopCheckingWorkers() }
        for path in ["/big/length", "/big/chunked"] {
            let r = try HTTPClient.request(port: sluice.proxyPort, path: path, timeout: 30)
            #expect(r.status == 200, "\(path)")
            #expect(r.body.count == chunk.count * count, "\(path)")
            var intact = r.body.count == chunk.count * count
            if intact {
                r.body.withUnsafeBufferPointer { all in
                    chunk.withUnsafeBufferPointer { one in
                        for i in 0..<count where memcmp(all.baseAddress! + i * one.count, one.baseAddress!, one.count) != 0 {
                            intact = false
                            break
                        }
                    }
                }
            }
            #expect(intact, "\(path): body differs")
            #expect(r.headerValues("Transfer-Encoding").count <= 1)
            #expect(r.headerValues("Content-Length").count <= 1)
        }
    }

    /// Hop-by-hop response headers (and those the function's `Connection` names) are stripped;
    /// end-to-end ones pass (repeated ones stay repeated); no `X-APISIX-Upstream-Status`.
    @Test func hopByHopResponseHeadersStripped() throws {
        let fn = try TestUpstream { _ in
            TestResponse(status: 201, headers: [
                ("Connection", "keep-alive, X-Hop"), ("Keep-Alive", "timeout=5"), ("X-Hop", "1"),
                ("Upgrade", "h2c"), ("Proxy-Connection", "keep-alive"), ("Trailer", "X-T"),
                ("X-End", "kept"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Type", "text/plain"),
            ], body: Array("created".utf8))
        }
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/\""))
        defer { sluice.stopCheckingWorkers() }
        let client = try HTTPClient(port: sluice.proxyPort)
        try client.sendRequest(path: "/hello")
        let r = try client.readResponse()
        #expect(r.status == 201)
        #expect(r.bodyText == "created")
        for hop in ["Keep-Alive", "X-Hop", "Upgrade", "Proxy-Connection", "Trailer", "X-APISIX-Upstream-Status"] {
            #expect(r.headerValues(hop).isEmpty, "\(hop): \(r.headers)")
        }
        #expect(r.headerValues("Connection").count <= 1, "\(r.headers)")
        #expect(r.header("Connection").map { !$0.lowercased().contains("x-hop") } ?? true)
        #expect(r.headerValues("X-End") == ["kept"])
        #expect(r.headerValues("Set-Cookie") == ["a=1", "b=2"])
        #expect(r.header("Content-Type") == "text/plain")
        #expect(r.header("Server")?.hasPrefix("sluice") == true, "\(r.headers)")
        // The client connection stays usable.
        try client.sendRequest(path: "/hello")
        #expect(try client.readResponse().status == 201)
    }

    /// A function error with an empty body passes through as sent (no HTML page), with the warn line.
    @Test func emptyErrorBodyPassedThrough() throws {
        let fn = try TestUpstream { request in
            request.target.hasSuffix("404") ? TestResponse(status: 404) : TestResponse(status: 500, headers: [("X-Why", "boom")])
        }
        defer { fn.stop() }
        let sluice = try OF.start(OF.route(uri: "/e/*", "function_uri: \"http://127.0.0.1:\(fn.port)\""))
        defer { sluice.stopCheckingWorkers() }
        let r500 = try HTTPClient.request(port: sluice.proxyPort, path: "/e/500")
        #expect(r500.status == 500)
        #expect(r500.body.isEmpty, "\(r500.bodyText)")
        #expect(r500.header("X-Why") == "boom")
        #expect(r500.header("X-APISIX-Upstream-Status") == nil)
        let r404 = try HTTPClient.request(port: sluice.proxyPort, path: "/e/404")
        #expect(r404.status == 404)
        #expect(r404.body.isEmpty, "\(r404.bodyText)")
        #expect(OF.waitForLog(sluice, "openfunction exits with http status code 500"), "\(sluice.errorLog)")
        #expect(OF.waitForLog(sluice, "openfunction exits with http status code 404"), "\(sluice.errorLog)")
    }

    /// HEAD is forwarded as HEAD; the response has the function's headers and no body.
    @Test func headRequest() throws {
        let fn = try OF.standIn("--mode", "hello")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/head\""))
        defer { sluice.stopCheckingWorkers() }
        let client = try HTTPClient(port: sluice.proxyPort)
        try client.sendRequest(method: "HEAD", path: "/hello")
        let head = try client.readResponse(forHEAD: true)
        #expect(head.status == 200)
        #expect(head.header("Content-Length") == String("Hello, head!\n".utf8.count))
        try client.sendRequest(path: "/hello")
        let get = try client.readResponse()
        #expect(get.bodyText == "Hello, head!\n")
    }
}
