import Foundation
import Testing
import TestSupport

/// HTTPS functions: `ssl_verify` off and on against a self-signed stand-in, trust through
/// `SSL_CERT_FILE`, and host name / IP checks.
@Suite(.serialized, .requires("/usr/bin/openssl", "/usr/bin/curl"))
struct OpenFunctionTLSTests {
    /// The stand-in in hello mode serving TLS with `cert`.
    static func tlsStandIn(_ cert: OF.Cert) throws -> StandInServer {
        try StandInServer(["--mode", "hello", "--https", "--cert", cert.cert, "--key", cert.key])
    }

    /// `ssl_verify: false` calls a self-signed function: 200.
    @Test func verifyOffAcceptsSelfSigned() throws {
        let cert = try OF.Cert(san: "DNS:localhost,IP:127.0.0.1")
        let fn = try Self.tlsStandIn(cert)
        defer { fn.stop() }
        let sluice = try OF.start(
            OF.route(id: "1", uri: "/ip", "function_uri: \"https://127.0.0.1:\(fn.port)/tls\", ssl_verify: false"),
            OF.route(id: "2", uri: "/name", "function_uri: \"https://localhost:\(fn.port)/named\", ssl_verify: false"))
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/ip")
        #expect(r.status == 200)
        #expect(r.bodyText == "Hello, tls!\n")
        let named = try HTTPClient.request(port: sluice.proxyPort, path: "/name")
        #expect(named.status == 200)
        #expect(named.bodyText == "Hello, named!\n")
    }

    /// The default `ssl_verify: true` refuses a self-signed certificate: 503 and OpenSSL's reason.
    @Test func verifyOnRefusesSelfSigned() throws {
        let cert = try OF.Cert(san: "DNS:localhost,IP:127.0.0.1")
        let fn = try Self.tlsStandIn(cert)
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"https://127.0.0.1:\(fn.port)/tls\""))
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/hello")
        #expect(r.status == 503)
        #expect(r.bodyText.contains("<title>503 Service Temporarily Unavailable</title>"))
        #expect(OF.waitForLog(sluice, "failed to process openfunction, err: certificate verify failed: self-signed certificate"),
                "\(sluice.errorLog)")
        // The stand-in speaks TLS only: its stats through curl -k. No function request was sent.
        let stats = try StandInChild.run("/usr/bin/curl", ["-sk", "--max-time", "5", "https://127.0.0.1:\(fn.port)/_standin/stats"])
        #expect(stats.output.contains("\"requests\":0"), "\(stats.output)")
    }

    /// With the certificate trusted through `SSL_CERT_FILE`, the chain and the name (DNS and IP
    /// SAN) verify: 200.
    @Test func trustedThroughSSLCertFile() throws {
        let cert = try OF.Cert(san: "DNS:localhost,IP:127.0.0.1")
        let fn = try Self.tlsStandIn(cert)
        defer { fn.stop() }
        let sluice = try OF.start(
            OF.route(id: "1", uri: "/ip", "function_uri: \"https://127.0.0.1:\(fn.port)/ip\""),
            OF.route(id: "2", uri: "/name", "function_uri: \"https://localhost:\(fn.port)/name\""),
            environment: ["SSL_CERT_FILE": cert.cert])
        defer { sluice.stopCheckingWorkers() }
        let ip = try HTTPClient.request(port: sluice.proxyPort, path: "/ip")
        #expect(ip.status == 200, "\(sluice.errorLog)")
        #expect(ip.bodyText == "Hello, ip!\n")
        let name = try HTTPClient.request(port: sluice.proxyPort, path: "/name")
        #expect(name.status == 200, "\(sluice.errorLog)")
        #expect(name.bodyText == "Hello, name!\n")
    }

    /// A trusted certificate for another name, or without the IP called, is refused: 503 with a
    /// host (or IP) mismatch reason.
    @Test func hostMismatchRefused() throws {
        let cert = try OF.Cert(san: "DNS:other.test")
        let fn = try Self.tlsStandIn(cert)
        defer { fn.stop() }
        let sluice = try OF.start(
            OF.route(id: "1", uri: "/ip", "function_uri: \"https://127.0.0.1:\(fn.port)/ip\""),
            OF.route(id: "2", uri: "/name", "function_uri: \"https://localhost:\(fn.port)/name\""),
            OF.route(id: "3", uri: "/off", "function_uri: \"https://localhost:\(fn.port)/off\", ssl_verify: false"),
            environment: ["SSL_CERT_FILE": cert.cert])
        defer { sluice.stopCheckingWorkers() }
        let ip = try HTTPClient.request(port: sluice.proxyPort, path: "/ip")
        #expect(ip.status == 503)
        #expect(OF.waitForLog(sluice, "failed to process openfunction, err: certificate verify failed: IP address mismatch"),
                "\(sluice.errorLog)")
        let name = try HTTPClient.request(port: sluice.proxyPort, path: "/name")
        #expect(name.status == 503)
        #expect(OF.waitForLog(sluice, "failed to process openfunction, err: certificate verify failed: hostname mismatch"),
                "\(sluice.errorLog)")
        let off = try HTTPClient.request(port: sluice.proxyPort, path: "/off")
        #expect(off.status == 200)
        #expect(off.bodyText == "Hello, off!\n")
    }
}

/// Bodies and connection reuse over TLS.
@Suite(.serialized, .requires("/usr/bin/openssl", "/usr/bin/curl"))
struct OpenFunctionTLSTrafficTests {
    /// Large request bodies (Content-Length and chunked, spooled) and the large echoed response
    /// cross TLS intact; sequential calls reuse one TLS connection.
    @Test func largeBodiesAndReuse() throws {
        let cert = try OF.Cert(san: "DNS:localhost,IP:127.0.0.1")
        let fn = try StandInServer(["--mode", "body", "--https", "--cert", cert.cert, "--key", cert.key])
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"https://localhost:\(fn.port)/\", timeout: 20000"),
                                  environment: ["SSL_CERT_FILE": cert.cert])
        defer { sluice.stopCheckingWorkers() }
        let piece = Array("0123456789abcdef".utf8)
        let body = Array([[UInt8]](repeating: piece, count: 65536).joined())  // 1 MiB
        let expected = Array("Hello, ".utf8) + body + Array("!\n".utf8)

        let byLength = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/hello", body: body, timeout: 20)
        #expect(byLength.status == 200, "\(sluice.errorLog)")
        #expect(byLength.body.count == expected.count)
        #expect(byLength.body == expected)

        var chunked: [UInt8] = []
        for start in stride(from: 0, to: body.count, by: 100_000) {
            let part = body[start..<min(start + 100_000, body.count)]
            chunked += Array(String(part.count, radix: 16).utf8) + [13, 10] + part + [13, 10]
        }
        chunked += Array("0\r\n\r\n".utf8)
        let bySpool = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/hello",
                                             headers: [("Transfer-Encoding", "chunked")], body: chunked, timeout: 20)
        #expect(bySpool.status == 200, "\(sluice.errorLog)")
        #expect(bySpool.body == expected)

        for _ in 0..<10 {
            let r = try HTTPClient.request(port: sluice.proxyPort, method: "POST", path: "/hello", body: "x")
            #expect(r.bodyText == "Hello, x!\n")
        }
        let stats = try StandInChild.run("/usr/bin/curl", ["-sk", "--max-time", "5", "https://127.0.0.1:\(fn.port)/_standin/stats"])
        #expect(stats.output.hasPrefix("{\"connections\":1,\"requests\":12,"), "\(stats.output)")
    }
}
