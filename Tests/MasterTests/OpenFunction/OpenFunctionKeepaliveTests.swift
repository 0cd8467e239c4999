import Foundation
import Testing
import TestSupport

/// Connections to the function, counted at the stand-in (`/_standin/stats`): reuse with
/// `keepalive`, one per call without, at most `keepalive_pool` idle, closed after `keepalive_timeout`.
@Suite(.serialized) struct OpenFunctionKeepaliveTests {
    /// Sends `count` sequential GETs of `path`, each on a new client connection; expects 200 `body`.
    static func call(_ sluice: SluiceProcess, _ path: String, count: Int, body: String,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        for i in 0..<count {
            let r = try HTTPClient.request(port: sluice.proxyPort, path: path)
            #expect(r.status == 200 && r.bodyText == body, "call \(i): \(r.status) \(r.bodyText)", sourceLocation: sourceLocation)
        }
    }

    /// 50 sequential calls through one worker reuse the pooled connection: at most 2 connections
    /// at the function for 50 requests.
    @Test func sequentialCallsReuseConnection() throws {
        let fn = try OF.standIn("--mode", "hello")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/ka\""), workers: 1)
        defer { sluice.stopCheckingWorkers() }
        try Self.call(sluice, "/hello", count: 50, body: "Hello, ka!\n")
        let stats = try fn.stats()
        #expect(stats.requests == 50)
        #expect(stats.connections <= 2, "\(stats)")
    }

    /// Two routes calling the same function with the same settings share the pool.
    @Test func routesShareThePool() throws {
        let fn = try OF.standIn("--mode", "body")
        defer { fn.stop() }
        let uri = "function_uri: \"http://127.0.0.1:\(fn.port)/\""
        let sluice = try OF.start(OF.route(id: "1", uri: "/a", uri), OF.route(id: "2", uri: "/b", uri), workers: 1)
        defer { sluice.stopCheckingWorkers() }
        for i in 0..<20 {
            let r = try HTTPClient.request(port: sluice.proxyPort, path: i % 2 == 0 ? "/a" : "/b")
            #expect(r.bodyText == "Hello, !\n")
        }
        let stats = try fn.stats()
        #expect(stats.requests == 20)
        #expect(stats.connections <= 2, "\(stats)")
    }

    /// `keepalive: false`: one connection per call, each closed after it.
    @Test func keepaliveOff() throws {
        let fn = try OF.standIn("--mode", "hello")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/off\", keepalive: false"), workers: 1)
        defer { sluice.stopCheckingWorkers() }
        try Self.call(sluice, "/hello", count: 20, body: "Hello, off!\n")
        var stats = try fn.stats()
        #expect(stats.requests == 20)
        #expect(stats.connections == 20, "\(stats)")
        TestSupport.waitUntil(timeout: 5) { ((try? fn.stats())?.open ?? 1) == 0 }
        stats = try fn.stats()
        #expect(stats.open == 0, "\(stats)")
    }

    /// `keepalive_pool: 1` with concurrent calls: several connections are opened, and after the
    /// calls at most one stays open (idle in the pool); the next call reuses it.
    @Test func poolKeepsAtMostOneIdle() throws {
        let fn = try OF.standIn("--mode", "hello", "--delay", "300")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/pool\", keepalive_pool: 1"), workers: 1)
        defer { sluice.stopCheckingWorkers() }
        let clients = try (0..<4).map { _ in try HTTPClient(port: sluice.proxyPort, timeout: 10) }
        for client in clients { try client.sendRequest(path: "/hello") }
        for client in clients {
            let r = try client.readResponse()
            #expect(r.status == 200 && r.bodyText == "Hello, pool!\n")
        }
        let during = try fn.stats()
        #expect(during.requests == 4)
        #expect(during.connections > 1, "calls did not overlap: \(during)")
        TestSupport.waitUntil(timeout: 5) { ((try? fn.stats())?.open ?? 2) <= 1 }
        let after = try fn.stats()
        #expect(after.open <= 1, "\(after)")
        for client in clients { client.close() }

        try Self.call(sluice, "/hello", count: 1, body: "Hello, pool!\n")
        let reused = try fn.stats()
        #expect(reused.requests == 5)
        if after.open == 1 { #expect(reused.connections == after.connections, "the idle connection was not reused: \(reused)") }
    }

    /// An idle pooled connection is closed after `keepalive_timeout`; the next call opens a new one.
    @Test func idleTimeoutClosesPooled() throws {
        let fn = try OF.standIn("--mode", "hello")
        defer { fn.stop() }
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(fn.port)/idle\", keepalive_timeout: 1000"), workers: 1)
        defer { sluice.stopCheckingWorkers() }
        try Self.call(sluice, "/hello", count: 1, body: "Hello, idle!\n")
        #expect(try fn.stats().open == 1)
        let closed = TestSupport.waitUntil(timeout: 10, interval: 0.1) { ((try? fn.stats())?.open ?? 1) == 0 }
        #expect(closed, "pooled connection still open: \(String(describing: try? fn.stats()))")
        try Self.call(sluice, "/hello", count: 1, body: "Hello, idle!\n")
        let stats = try fn.stats()
        #expect(stats.requests == 2)
        #expect(stats.connections == 2)
    }

    /// A pooled connection the function closed is never used stale: the function restarts on
    /// the same port between two calls and the second call still succeeds, on a new connection.
    @Test func staleConnectionNotUsed() throws {
        let first = try TestUpstream { _ in TestResponse.text("first") }
        let port = first.port
        let sluice = try OF.start(OF.route("function_uri: \"http://127.0.0.1:\(port)/\""), workers: 1)
        defer { sluice.stopCheckingWorkers() }
        let r1 = try HTTPClient.request(port: sluice.proxyPort, path: "/hello")
        #expect(r1.bodyText == "first")
        #expect(first.openConnections == 1)
        first.stop()
        let second = try TestUpstream(port: port) { _ in TestResponse.text("second") }
        defer { second.stop() }
        for i in 0..<3 {
            let r = try HTTPClient.request(port: sluice.proxyPort, path: "/hello")
            #expect(r.status == 200 && r.bodyText == "second", "call \(i): \(r.status) \(r.bodyText)\n\(sluice.errorLog)")
        }
        #expect(second.requestCount == 3)
        #expect(second.acceptedConnections == 1)
    }
}
