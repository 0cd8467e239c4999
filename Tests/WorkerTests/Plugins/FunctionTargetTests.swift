import Shared
import Testing
@testable import Worker

@Suite struct FunctionTargetTests {
    static func target(_ uri: String) throws -> FunctionTarget {
        let plugin = try OpenFunctionPlugin(config: OpenFunctionPlugin.schema.applyingDefaults(to: .object(["function_uri": .string(uri)])))
        guard case .callFunction(let target) = plugin.access(RequestContext(connection: nil)) else { throw PluginBuildError("no target for \(uri)") }
        return target
    }

    static func requestTarget(_ uri: String, ext: String?, query: String?) throws -> String {
        let t = try target(uri)
        var out = ByteBuffer(capacity: 256, limit: 4096)
        defer { out.deallocate() }
        let extBytes = Array((ext ?? "").utf8)
        let queryBytes = Array((query ?? "").utf8)
        extBytes.withUnsafeBytes { e in
            queryBytes.withUnsafeBytes { q in
                t.appendTarget(ext: ext == nil ? nil : e, clientQuery: query == nil ? nil : q, to: &out)
            }
        }
        return String(decoding: out.readable, as: UTF8.self)
    }

    /// Path joining (apisix-compat.md 1.4 and the differences table): one `/` between the function
    /// path and the capture, an empty capture keeps the trailing `/`, no path at all is `/`.
    @Test(arguments: [
        ("http://h/api", "a/b", "/api/a/b"),
        ("http://h/api/", "a/b", "/api/a/b"),
        ("http://h/api", "", "/api/"),
        ("http://h/api/", "", "/api/"),
        ("http://h", "x", "/x"),
        ("http://h", "", "/"),
        ("http://h/api", "/lead", "/api/lead"),
    ])
    func pathJoining(uri: String, ext: String, expected: String) throws {
        #expect(try Self.requestTarget(uri, ext: ext, query: nil) == expected)
    }

    /// Without a capture the function path is used as it is, `/` when there is none.
    @Test func noCapture() throws {
        #expect(try Self.requestTarget("http://h/default/f", ext: nil, query: nil) == "/default/f")
        #expect(try Self.requestTarget("http://h", ext: nil, query: nil) == "/")
    }

    /// The capture is re-encoded per RFC 3986: pchar and `/` stay, everything else is `%XX`.
    @Test func captureReencoded() throws {
        #expect(try Self.requestTarget("http://h/f", ext: "a b/ü?#%", query: nil) == "/f/a%20b/%C3%BC%3F%23%25")
        #expect(try Self.requestTarget("http://h/f", ext: "a-._~!$&'()*+,;=:@z", query: nil) == "/f/a-._~!$&'()*+,;=:@z")
    }

    /// The function URI's query stays in front of the client's raw query; no `?` when both are empty.
    @Test func queries() throws {
        #expect(try Self.requestTarget("http://h/f?fixed=1", ext: nil, query: "a=2") == "/f?fixed=1&a=2")
        #expect(try Self.requestTarget("http://h/f?fixed=1", ext: nil, query: nil) == "/f?fixed=1")
        #expect(try Self.requestTarget("http://h/f", ext: nil, query: "a=%20&b") == "/f?a=%20&b")
        #expect(try Self.requestTarget("http://h/f", ext: nil, query: "") == "/f")
    }

    /// Host header, ports and schemes from the function URI; a URI that is not http(s) cannot be
    /// called (503 `bad uri`).
    @Test func uriParts() throws {
        let plain = try Self.target("http://Example.COM:8080/x")
        #expect(String(decoding: plain.hostHeader, as: UTF8.self) == "example.com")
        #expect(plain.upstreamConfig.nodes.first?.port == 8080)
        let tls = try Self.target("https://[::1]/x")
        #expect(String(decoding: tls.hostHeader, as: UTF8.self) == "[::1]")
        #expect(tls.upstreamConfig.nodes.first?.port == 443 && tls.upstreamConfig.scheme == "https")
        let bad = try OpenFunctionPlugin(config: OpenFunctionPlugin.schema.applyingDefaults(to: .object(["function_uri": .string("ftp://x")])))
        guard case .respond(let status, _, let log, _) = bad.access(RequestContext(connection: nil)) else { Issue.record("ftp:// was accepted"); return }
        #expect(status == 503 && log == "failed to process openfunction, err: bad uri: ftp://x")
    }

    /// `service_token` becomes `Basic base64(token)`; defaults fill the rest of the call.
    @Test func authorizationAndDefaults() throws {
        let conf = OpenFunctionPlugin.schema.applyingDefaults(to: .object([
            "function_uri": .string("http://h/f"), "authorization": .object(["service_token": .string("test:test")]),
        ]))
        let plugin = try OpenFunctionPlugin(config: conf)
        guard case .callFunction(let t) = plugin.access(RequestContext(connection: nil)) else { Issue.record("no call"); return }
        #expect(t.authorization.map { String(decoding: $0, as: UTF8.self) } == "Basic dGVzdDp0ZXN0")
        #expect(t.upstreamConfig.timeout?.read == 3 && t.upstreamConfig.keepalivePool?.size == 5)
        #expect(t.maxBodySize == 67_108_864 && t.sslVerify)
        #expect(Base64.encode(Array("a".utf8)) == Array("YQ==".utf8))
        #expect(Base64.encode(Array("ab".utf8)) == Array("YWI=".utf8))
    }
}
