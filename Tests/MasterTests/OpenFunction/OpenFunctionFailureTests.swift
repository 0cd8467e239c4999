import Foundation
import Testing
import TestSupport

/// A function that cannot be called: 503 with nginx's page, no upstream status header, and
/// `failed to process openfunction, err: <reason>` in error.log.
@Suite(.serialized) struct OpenFunctionFailureTests {
    /// Checks `r` is the 503 page of a failed call.
    static func expect503(_ r: TestHTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 503, sourceLocation: sourceLocation)
        #expect(r.bodyText.contains("<title>503 Service Temporarily Unavailable</title>"), sourceLocation: sourceLocation)
        #expect(r.header("X-APISIX-Upstream-Status") == nil, sourceLocation: sourceLocation)
    }

    /// Nothing listens on the function's port: 503, `err: connection refused`.
    @Test func connectionRefused() throws {
        let port = try OF.closedPort()
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(port)/x\""))
        defer { sluice.stopCheckingWorkers() }
        Self.expect503(try HTTPClient.request(port: sluice.proxyPort, path: "/hello"))
        #expect(OF.waitForLog(sluice, "failed to process openfunction, err: connection refused"), "\(sluice.errorLog)")
    }

    /// A function slower than `timeout`: 503, `err: timeout`, well before the route's default 60 s.
    @Test func timeout() throws {
        let fn = try OF.standIn("--mode", "hello", "--delay", "1500")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/slow\", timeout: 500"))
        defer { sluice.stopCheckingWorkers() }
        Self.expect503(try HTTPClient.request(port: sluice.proxyPort, path: "/hello", timeout: 10))
        #expect(OF.waitForLog(sluice, "failed to process openfunction, err: timeout"), "\(sluice.errorLog)")
    }

    /// A host that does not resolve: 503 and a resolve failure naming the host.
    @Test func unresolvableHost() throws {
        let sluice = try OF.start(OF.route("function_uri: \"http://nonexistent.invalid/x\", timeout: 2000"))
        defer { sluice.stopCheckingWorkers() }
        Self.expect503(try HTTPClient.request(port: sluice.proxyPort, path: "/hello", timeout: 30))
        #expect(OF.waitForLog(sluice, "failed to process openfunction, err: failed to resolve nonexistent.invalid"),
                "\(sluice.errorLog)")
    }

    /// A function_uri that is not http(s) (or has no host, or a bad port): 503, `err: bad uri: <uri>`.
    @Test func badURI() throws {
        let sluice = try OF.start(
            OF.route(id: "1", uri: "/ftp", "function_uri: \"ftp://x\""),
            OF.route(id: "2", uri: "/nohost", "function_uri: \"http:///x\""),
            OF.route(id: "3", uri: "/port", "function_uri: \"http://127.0.0.1:99999/x\""))
        defer { sluice.stopCheckingWorkers() }
        Self.expect503(try HTTPClient.request(port: sluice.proxyPort, path: "/ftp"))
        #expect(OF.waitForLog(sluice, "failed to process openfunction, err: bad uri: ftp://x"), "\(sluice.errorLog)")
        Self.expect503(try HTTPClient.request(port: sluice.proxyPort, path: "/nohost"))
        #expect(OF.waitForLog(sluice, "failed to process openfunction, err: bad uri: http:///x"), "\(sluice.errorLog)")
        Self.expect503(try HTTPClient.request(port: sluice.proxyPort, path: "/port"))
        #expect(OF.waitForLog(sluice, "failed to process openfunction, err: bad uri: http://127.0.0.1:99999/x"), "\(sluice.errorLog)")
    }

    /// After a failed call the client connection stays usable (keep-alive) for the next request.
    @Test func failureKeepsClientConnection() throws {
        let port = try OF.closedPort()
        let fn = try OF.standIn("--mode", "hello")
        defer { fn.stop() }
        let sluice = try OF.start(
            OF.route(id: "1", uri: "/dead", "function_uri: \"http://127.0.0.1:\(port)/x\""),
            OF.route(id: "2", uri: "/live", "function_uri: \"http://127.0.0.1:\(fn.port)/live\""))
        defer { sluice.stopCheckingWorkers() }
        let client = try HTTPClient(port: sluice.proxyPort)
        try client.sendRequest(path: "/dead")
        Self.expect503(try client.readResponse())
        try client.sendRequest(path: "/live")
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(r.bodyText == "Hello, live!\n")
    }
}
