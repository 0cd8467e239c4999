#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport

/// `sluice-function`, the stand-in OpenFunction function (openfunction.md; apisix-compat.md section 2
/// FN-HEADER, FN-URI, FN-BODY), through the built binary.
@Suite struct FunctionStandInTests {
    static let text = "text/plain; charset=utf-8"

    /// Checks `response` is Go's `http.NotFound`, byte for byte.
    static func expectGoNotFound(_ response: TestHTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == 404, sourceLocation: sourceLocation)
        #expect(response.header("Content-Type") == text, sourceLocation: sourceLocation)
        #expect(response.header("X-Content-Type-Options") == "nosniff", sourceLocation: sourceLocation)
        #expect(response.bodyText == "404 page not found\n", sourceLocation: sourceLocation)
    }

    /// Checks `response` is a Go handler's `200` with text `body`.
    static func expectHello(_ response: TestHTTPResponse, _ body: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == 200, sourceLocation: sourceLocation)
        #expect(response.header("Content-Type") == text, sourceLocation: sourceLocation)
        #expect(response.header("X-Content-Type-Options") == nil, sourceLocation: sourceLocation)
        #expect(response.body == Array(body.utf8), sourceLocation: sourceLocation)
        #expect(response.header("Content-Length") == String(body.utf8.count), sourceLocation: sourceLocation)
    }

    /// FN-URI: one segment (percent-decoded, any method, query ignored) is greeted; anything else is Go's 404.
    @Test func helloMode() throws {
        let server = try StandInServer(["--mode", "hello"])
        defer { server.stop() }
        Self.expectHello(try server.request("/function-sample"), "Hello, function-sample!\n")
        Self.expectHello(try server.request(method: "POST", "/openfunction", body: "ignored"), "Hello, openfunction!\n")
        Self.expectHello(try server.request("/a%20b?x=1"), "Hello, a b!\n")
        Self.expectHello(try server.request(method: "PATCH", "/a+b"), "Hello, a+b!\n")
        // Only paths under /_standin/ belong to the stand-in itself.
        Self.expectHello(try server.request("/_standin"), "Hello, _standin!\n")
        for path in ["/", "/default/non-existent", "/a/", "/a%2Fb"] {
            Self.expectGoNotFound(try server.request(method: "POST", path, body: "test"))
        }
        #expect(server.stop() == 0)
    }

    /// HEAD gets the headers (Content-Length of the body it would get) and no body, so the
    /// connection stays usable; HTTP/1.0 gets a Content-Length and a Date too, as from Go.
    @Test func headAndHTTP10() throws {
        let server = try StandInServer(["--mode", "hello"])
        defer { server.stop() }
        let client = try HTTPClient(port: server.port)
        try client.sendRequest(method: "HEAD", path: "/h")
        let head = try client.readResponse(forHEAD: true)
        #expect(head.status == 200)
        #expect(head.header("Content-Length") == "10")
        try client.sendRequest(path: "/after")
        Self.expectHello(try client.readResponse(), "Hello, after!\n")
        let old = try HTTPClient(port: server.port)
        try old.send("GET /old HTTP/1.0\r\n\r\n")
        let response = try old.readResponse()
        Self.expectHello(response, "Hello, old!\n")
        #expect(response.header("Date") != nil)
        #expect(old.isClosedByPeer(timeout: 5))
        #expect(server.stop() == 0)
    }

    /// Go's net/http refuses a path with a bad `%` escape before any handler runs: 400, closed.
    @Test func badEscapeIsGoBadRequest() throws {
        let server = try StandInServer(["--mode", "hello"])
        defer { server.stop() }
        let client = try HTTPClient(port: server.port)
        try client.sendRequest(path: "/a%zz")
        let response = try client.readResponse()
        #expect(response.status == 400)
        #expect(response.bodyText == "400 Bad Request")
        #expect(response.closesConnection)
        #expect(client.isClosedByPeer(timeout: 5))
    }

    /// FN-BODY: any path, `Hello, <body>!\n`, with Content-Length and chunked request bodies.
    @Test func bodyMode() throws {
        let server = try StandInServer(["--mode", "body"])
        defer { server.stop() }
        Self.expectHello(try server.request(method: "POST", "/default/test-body", body: "test"), "Hello, test!\n")
        Self.expectHello(try server.request("/"), "Hello, !\n")
        let client = try HTTPClient(port: server.port)
        try client.send("POST /x HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        Self.expectHello(try client.readResponse(), "Hello, abcde!\n")
        // Go sniffs the Content-Type: a control byte in the body makes it binary.
        let binary = try HTTPClient.request(port: server.port, method: "POST", path: "/", body: [0x01])
        #expect(binary.header("Content-Type") == "application/octet-stream")
        #expect(binary.body == Array("Hello, ".utf8) + [0x01] + Array("!\n".utf8))
        #expect(server.stop() == 0)
    }

    /// FN-HEADER: the Authorization values as Go's `%s` prints a `[]string`, no newline.
    @Test func headerMode() throws {
        let server = try StandInServer(["--mode", "header"])
        defer { server.stop() }
        Self.expectHello(try server.request(method: "POST", "/"), "[]")
        Self.expectHello(try server.request(method: "POST", "/", headers: [("Authorization", "Basic dGVzdDp0ZXN0")]), "[Basic dGVzdDp0ZXN0]")
        Self.expectHello(try server.request("/any/path", headers: [("authorization", "user-token-xxx")]), "[user-token-xxx]")
        Self.expectHello(try server.request("/", headers: [("Authorization", "a"), ("AUTHORIZATION", "b c")]), "[a b c]")
        #expect(server.stop() == 0)
    }

    /// The 0.5-0.6 gateway: `/<namespace>/<function>[/<rest>]`, prefix stripped; unknown functions 404.
    @Test func gatewayMode() throws {
        let server = try StandInServer(["--mode", "gateway", "--functions", "greet=body,test-body=hello"])
        defer { server.stop() }
        Self.expectHello(try server.request(method: "POST", "/default/function-sample/test", body: "test"), "Hello, test!\n")
        Self.expectHello(try server.request("/other-ns/function-sample/123?q=1"), "Hello, 123!\n")
        Self.expectGoNotFound(try server.request("/default/function-sample"))
        Self.expectGoNotFound(try server.request("/default/function-sample/"))
        Self.expectGoNotFound(try server.request("/default/function-sample/a/b"))
        Self.expectHello(try server.request(method: "POST", "/default/test-header", headers: [("Authorization", "x")]), "[x]")
        // --functions extends (greet) and overrides (test-body) the default table.
        Self.expectHello(try server.request(method: "POST", "/default/greet/anything", body: "hi"), "Hello, hi!\n")
        Self.expectHello(try server.request("/default/test-body/seg"), "Hello, seg!\n")
        for path in ["/", "/default", "/default/", "/default/non-existent", "/default/non-existent/x"] {
            Self.expectGoNotFound(try server.request(path))
        }
        #expect(server.stop(signal: SIGINT) == 0)
    }

    /// `--basic`: exactly `Basic base64(user:pass)`, else 401 with the gateway's challenge; stats stay open.
    @Test func basicAuth() throws {
        let server = try StandInServer(["--mode", "gateway", "--basic", "test:test"])
        defer { server.stop() }
        let wrong: [[(String, String)]] = [
            [], [("Authorization", "Basic dGVzdDp0ZXN1")], [("Authorization", "basic dGVzdDp0ZXN0")],
            [("Authorization", "Basic dGVzdDp0ZXN0"), ("Authorization", "Basic dGVzdDp0ZXN0")],
        ]
        for headers in wrong {
            let response = try server.request("/default/function-sample/test", headers: headers)
            #expect(response.status == 401)
            #expect(response.header("WWW-Authenticate") == "Basic realm=\"openfunction\"")
            #expect(response.bodyText == "Unauthorized\n")
        }
        let ok = try server.request(method: "POST", "/default/function-sample/test", headers: [("Authorization", "Basic dGVzdDp0ZXN0")])
        Self.expectHello(ok, "Hello, test!\n")
        #expect(try server.stats().requests == wrong.count + 1)
    }

    /// `--delay`: the answer still comes (later), and other connections are served meanwhile.
    @Test func delay() throws {
        let server = try StandInServer(["--mode", "body", "--delay", "1500"])
        defer { server.stop() }
        let slow = try HTTPClient(port: server.port, timeout: 20)
        try slow.sendRequest(method: "POST", path: "/", body: Array("cold".utf8))
        // Stats are never delayed; they show the pending request once it has been read.
        #expect(TestSupport.waitUntil(timeout: 10) { (try? server.stats().requests) == 1 })
        Self.expectHello(try slow.readResponse(), "Hello, cold!\n")
        // A client that gives up while the function warms up does not hurt the server.
        let quitter = try HTTPClient(port: server.port)
        try quitter.sendRequest(path: "/")
        quitter.close()
        Self.expectHello(try HTTPClient.request(port: server.port, method: "POST", path: "/", body: Array("x".utf8), timeout: 20), "Hello, x!\n")
        #expect(server.stop() == 0)
    }

    /// Keep-alive reuse is visible in `/_standin/stats`: one connection, several requests.
    @Test func statsCountKeepAliveReuse() throws {
        let server = try StandInServer(["--mode", "hello"])
        defer { server.stop() }
        #expect(try server.stats() == StandInStats(connections: 0, requests: 0, open: 0, accepted: 1))
        let client = try HTTPClient(port: server.port)
        for name in ["a", "b", "c"] {
            try client.sendRequest(path: "/" + name)
            let response = try client.readResponse()
            Self.expectHello(response, "Hello, \(name)!\n")
            #expect(!response.closesConnection)
        }
        // Pipelined requests are answered in order on the same connection too.
        try client.send("GET /d HTTP/1.1\r\nHost: f\r\n\r\nGET /e HTTP/1.1\r\nHost: f\r\n\r\n")
        Self.expectHello(try client.readResponse(), "Hello, d!\n")
        Self.expectHello(try client.readResponse(), "Hello, e!\n")
        #expect(try server.stats() == StandInStats(connections: 1, requests: 5, open: 1, accepted: 3))
        client.close()
        #expect(TestSupport.waitUntil(timeout: 10) { (try? server.stats().open) == 0 })
        Self.expectHello(try server.request("/f"), "Hello, f!\n")
        let stats = try server.stats()
        #expect(stats.connections == 2)
        #expect(stats.requests == 6)
        #expect(try server.request("/_standin/nothing").status == 404)
        #expect(server.stop() == 0)
    }

    /// `--https` with a self-signed certificate for localhost/127.0.0.1 made by the openssl CLI.
    @Test(.requires("/usr/bin/openssl", "/usr/bin/curl"))
    func https() throws {
        var template = Array("/tmp/sluice-function-cert-XXXXXX".utf8CString)
        let directory = String(cString: template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }!)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let made = try StandInChild.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        #expect(made.code == 0, "\(made.output)")
        let server = try StandInServer([
            "--mode", "gateway", "--basic", "test:test", "--https",
            "--cert", directory + "/cert.pem", "--key", directory + "/key.pem",
        ])
        defer { server.stop() }
        let url = "https://localhost:\(server.port)/default/function-sample/tls"
        let insecure = try StandInChild.run("/usr/bin/curl", ["-sk", "--max-time", "10", "-u", "test:test", url])
        #expect(insecure.code == 0)
        #expect(insecure.output == "Hello, tls!\n")
        let trusted = try StandInChild.run("/usr/bin/curl", [
            "-s", "--max-time", "10", "--cacert", directory + "/cert.pem", "-u", "test:test", "-d", "x",
            url, "https://127.0.0.1:\(server.port)/default/test-body/",
        ])
        #expect(trusted.code == 0)
        #expect(trusted.output == "Hello, tls!\nHello, x!\n")
        // Verification against the system CAs fails: what ssl_verify=true must see.
        let verified = try StandInChild.run("/usr/bin/curl", ["-s", "--max-time", "10", url])
        #expect(verified.code == 60)
        let stats = try StandInChild.run("/usr/bin/curl", ["-sk", "--max-time", "10", "https://127.0.0.1:\(server.port)/_standin/stats"])
        // One connection per curl host name: localhost, then localhost and 127.0.0.1.
        #expect(stats.output.hasPrefix("{\"connections\":3,\"requests\":3,"))
        #expect(server.stop() == 0)
    }

    /// Command-line mistakes exit 2 with the usage; an unusable certificate exits 1; --help exits 0.
    @Test func commandLine() throws {
        let bin = StandInServer.binaryPath
        let unknown = try StandInChild.run(bin, ["--mode", "nope"])
        #expect(unknown.code == 2)
        #expect(unknown.output.contains("unknown mode nope"))
        let https = try StandInChild.run(bin, ["--https"])
        #expect(https.code == 2)
        let cert = try StandInChild.run(bin, ["--https", "--cert", "/nonexistent.pem", "--key", "/nonexistent.pem", "--port", "0"])
        #expect(cert.code == 1)
        #expect(cert.output.contains("cannot load certificate /nonexistent.pem"))
        let help = try StandInChild.run(bin, ["--help"])
        #expect(help.code == 0)
        #expect(help.output.contains("/_standin/stats"))
    }
}
