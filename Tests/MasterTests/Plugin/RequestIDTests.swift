import Foundation
import Testing
import TestSupport

/// `request-id` end to end (plugins.md section 13): the rewrite phase sets a request header the
/// upstream receives, the header_filter phase sets a response header from per-request state, on
/// the upstream's responses and on the worker's own.
@Suite(.serialized) struct RequestIDTests {
    private static func start(_ conf: String, upstream: TestUpstream?, extraRoutes: String = "") throws -> SluiceProcess {
        let target = upstream.map { "upstream: {type: roundrobin, nodes: {\"\($0.address)\": 1}}" } ?? "upstream_id: \"missing\""
        let sluice = try SluiceProcess(
            configYAML: SluiceProcess.defaultConfigYAML(workers: 1),
            apisixYAML: "routes:\n  - {id: \"1\", uri: \"/r\", plugins: {\"request-id\": {\(conf)}}, \(target)}\n" + extraRoutes + "#END\n",
            workers: 1)
        try sluice.start()
        return sluice
    }

    private static func matches(_ text: String?, _ pattern: String) -> Bool {
        guard let text else { return false }
        return text.range(of: pattern, options: .regularExpression) != nil
    }

    static let uuidV4 = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"

    /// A new uuid v4 per request, sent upstream and echoed to the client.
    @Test func generatesSendsAndEchoes() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.start("", upstream: upstream)
        defer { sluice.stopCheckingWorkers() }
        var seen: Set<String> = []
        for _ in 0..<3 {
            let r = try HTTPClient.request(port: sluice.proxyPort, path: "/r")
            let id = r.header("X-Request-Id")
            #expect(Self.matches(id, Self.uuidV4), "\(id ?? "none")")
            #expect(upstream.lastRequest?.header("X-Request-Id") == id)
            #expect(upstream.lastRequest?.headerValues("X-Request-Id").count == 1)
            seen.insert(id ?? "")
        }
        #expect(seen.count == 3)
    }

    /// The client's id is kept (and echoed); an empty one is replaced; an upstream's own
    /// response header wins in the response.
    @Test func clientAndUpstreamIDs() throws {
        let upstream = try TestUpstream { request in
            request.target == "/r?own" ? TestResponse.text("ok", headers: [("X-Request-Id", "from-upstream")]) : TestResponse.text("ok")
        }
        defer { upstream.stop() }
        let sluice = try Self.start("", upstream: upstream)
        defer { sluice.stopCheckingWorkers() }
        let kept = try HTTPClient.request(port: sluice.proxyPort, path: "/r", headers: [("X-Request-Id", "abc-123")])
        #expect(kept.header("X-Request-Id") == "abc-123")
        #expect(upstream.lastRequest?.headerValues("X-Request-Id") == ["abc-123"])
        let empty = try HTTPClient.request(port: sluice.proxyPort, path: "/r", headers: [("X-Request-Id", "")])
        #expect(Self.matches(empty.header("X-Request-Id"), Self.uuidV4))
        #expect(upstream.lastRequest?.headerValues("X-Request-Id") == [empty.header("X-Request-Id") ?? "?"])
        let own = try HTTPClient.request(port: sluice.proxyPort, path: "/r?own")
        #expect(own.headerValues("X-Request-Id") == ["from-upstream"])
    }

    /// The other algorithms, a custom header name, and `include_in_response: false`.
    @Test(arguments: [
        ("algorithm: nanoid", "X-Request-Id", "^[-_0-9a-zA-Z]{21}$"),
        ("algorithm: range_id, range_id: {length: 8, char_set: \"abcdef\"}", "X-Request-Id", "^[a-f]{8}$"),
        ("algorithm: range_id", "X-Request-Id", "^[a-zA-Z0-9]{16}$"),
        ("algorithm: uuidv7", "X-Request-Id", "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"),
        ("header_name: X-Trace", "X-Trace", RequestIDTests.uuidV4),
    ])
    func algorithms(_ conf: String, _ header: String, _ pattern: String) throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.start(conf, upstream: upstream)
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/r")
        #expect(Self.matches(r.header(header), pattern), "\(conf): \(r.header(header) ?? "none")")
        #expect(upstream.lastRequest?.header(header) == r.header(header))
    }

    @Test func notInResponse() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let sluice = try Self.start("include_in_response: false", upstream: upstream)
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/r")
        #expect(r.header("X-Request-Id") == nil)
        #expect(Self.matches(upstream.lastRequest?.header("X-Request-Id"), Self.uuidV4))
    }

    /// The worker's own answer (here a 502: the upstream id does not exist) carries the id too:
    /// header_filter runs for every response of the route.
    @Test func localAnswerCarriesTheID() throws {
        let sluice = try Self.start("", upstream: nil)
        defer { sluice.stopCheckingWorkers() }
        let r = try HTTPClient.request(port: sluice.proxyPort, path: "/r")
        #expect(r.status == 502)
        #expect(Self.matches(r.header("X-Request-Id"), Self.uuidV4), "\(r.headers)")
    }

    /// `ksuid` is refused with the detail plugins.md gives (and nothing is stored).
    @Test func ksuidIsRefused() throws {
        let admin = try AdminFixture()
        defer { admin.sluice.stopCheckingWorkers() }
        let r = try admin.call("PUT", "/apisix/admin/routes/1",
                               #"{"uri": "/k", "plugins": {"request-id": {"algorithm": "ksuid"}}, "upstream": {"type": "roundrobin", "nodes": {"127.0.0.1:1": 1}}}"#)
        #expect(r.status == 400)
        #expect(r.bodyText == errorBody("failed to check the configuration of plugin request-id err: algorithm \"ksuid\" is not supported"), "\(r.bodyText)")
    }
}
