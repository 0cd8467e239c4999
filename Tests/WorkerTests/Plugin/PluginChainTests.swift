import Shared
import Testing
@testable import Worker

private final class Alpha: Plugin {
    static var name: String { "alpha" }
    static var priority: Int { 3000 }
    static var schema: Schema { Schema(type: .object) }
    static var phases: PluginPhases { [.rewrite, .headerFilter] }
    init(config: JSONValue) throws(PluginBuildError) {}
}

private final class Beta: Plugin {
    static var name: String { "beta" }
    static var priority: Int { 1000 }
    static var schema: Schema { Schema(type: .object) }
    static var phases: PluginPhases { [.access, .log] }
    init(config: JSONValue) throws(PluginBuildError) {
        if config["fail"] == .bool(true) { throw PluginBuildError("refused") }
    }
}

private final class Gamma: Plugin {
    static var name: String { "gamma" }
    static var priority: Int { 1000 }
    static var schema: Schema { Schema(type: .object) }
    static var phases: PluginPhases { .bodyFilter }
    init(config: JSONValue) throws(PluginBuildError) {}
}

/// Building a route's chain: APISIX's order, `_meta` honoured, failures reported.
@Suite struct PluginChainTests {
    private let types: [String: any Plugin.Type] = ["alpha": Alpha.self, "beta": Beta.self, "gamma": Gamma.self]
    private func build(_ json: String) throws -> (chain: PluginChain, errors: [String]) {
        guard case .object(let plugins) = try JSONValue.parse(json) else { throw PluginBuildError("not an object") }
        return PluginChain.build(plugins, types: types)
    }

    /// Descending priority; equal priorities by name; the phases of the chain are the union.
    @Test func order() throws {
        let (chain, errors) = try build(#"{"gamma": {}, "beta": {}, "alpha": {}}"#)
        #expect(errors.isEmpty)
        #expect(chain.entries.map(\.name) == ["alpha", "beta", "gamma"])
        #expect(chain.phases == [.rewrite, .headerFilter, .access, .log, .bodyFilter])
    }

    /// `_meta.priority` overrides the plugin's own for that conf (`custom_sort_plugin`).
    @Test func metaPriority() throws {
        let (chain, _) = try build(#"{"alpha": {"_meta": {"priority": 10}}, "beta": {}, "gamma": {"_meta": {"priority": 5000}}}"#)
        #expect(chain.entries.map(\.name) == ["gamma", "beta", "alpha"])
        #expect(chain.entries.map(\.priority) == [5000, 1000, 10])
    }

    /// `_meta.disable` leaves a plugin out, even one whose build would fail.
    @Test func disable() throws {
        let (chain, errors) = try build(#"{"alpha": {"_meta": {"disable": true}}, "beta": {"fail": true, "_meta": {"disable": true}}}"#)
        #expect(chain.entries.isEmpty && errors.isEmpty)
        #expect(chain.phases.isEmpty)
    }

    /// `_meta.error_response` as bytes (string as is, object as JSON + newline); `_meta.filter`
    /// compiled; failures named.
    @Test func metaFields() throws {
        let (chain, errors) = try build(#"{"alpha": {"_meta": {"error_response": "no", "filter": [["arg_a", "==", "1"]]}}, "beta": {"_meta": {"error_response": {"m": 1}}}, "gamma": {"_meta": {"filter": [["a", "=", "b"]]}}}"#)
        #expect(chain.entries.map(\.name) == ["alpha", "beta"])
        #expect(chain.entries[0].errorResponse == Array("no".utf8))
        #expect(chain.entries[0].filter != nil)
        #expect(chain.entries[1].errorResponse == Array("{\"m\":1}\n".utf8))
        #expect(errors == ["failed to validate the 'vars' expression: invalid operator '='"])
        let (_, more) = try build(#"{"beta": {"fail": true}, "zeta": {}}"#)
        #expect(Set(more) == ["failed to build plugin beta: refused", "unknown plugin [zeta]"])
    }
}

/// Header edits as proxy-rewrite and response-rewrite apply them.
@Suite struct HeaderEditsTests {
    private func lines(_ edits: HeaderEdits) -> [String] {
        var out: [String] = []
        edits.forEachLine { out.append(String(decoding: $0, as: UTF8.self) + ": " + String(decoding: $1, as: UTF8.self)) }
        return out
    }
    private func record(_ edits: inout HeaderEdits, _ kind: HeaderEdits.Kind, _ name: String, _ value: String = "") {
        var n = name, v = value
        n.withUTF8 { nb in v.withUTF8 { vb in _ = edits.record(kind, name: UnsafeRawBufferPointer(nb), value: UnsafeRawBufferPointer(vb)) } }
    }
    private func replaces(_ edits: HeaderEdits, _ name: String) -> Bool {
        var n = name
        return n.withUTF8 { edits.replaces(UnsafeRawBufferPointer($0)) }
    }

    @Test func semantics() {
        var e = HeaderEdits()
        defer { e.deallocate() }
        record(&e, .add, "X-A", "1")
        record(&e, .add, "X-A", "2")
        record(&e, .set, "X-B", "b1")
        record(&e, .set, "x-b", "b2")
        record(&e, .add, "X-C", "c")
        record(&e, .remove, "x-c")
        record(&e, .set, "X-D", "")
        record(&e, .set, "X-E", "e")
        record(&e, .add, "X-E", "e2")
        #expect(lines(e) == ["X-A: 1", "X-A: 2", "x-b: b2", "X-E: e", "X-E: e2"])
        #expect(!replaces(e, "x-a"), "add keeps the client's lines")
        #expect(replaces(e, "X-B") && replaces(e, "x-c") && replaces(e, "X-D"))
        #expect(!replaces(e, "X-F"))
        e.reset()
        #expect(e.isEmpty && lines(e).isEmpty)
    }
}

/// `$arg_*` and `$cookie_*` read in place.
@Suite struct ConnectionVariablesTests {
    private func arg(_ name: String, _ query: String) -> String? {
        var q = query
        return q.withUTF8 { ConnectionVariables.argument(Array(name.utf8), in: UnsafeRawBufferPointer($0)).map { String(decoding: $0, as: UTF8.self) } }
    }
    private func cookie(_ name: String, _ header: String) -> String? {
        var h = header
        return h.withUTF8 { ConnectionVariables.cookie(Array(name.utf8), in: UnsafeRawBufferPointer($0)).map { String(decoding: $0, as: UTF8.self) } }
    }

    @Test func arguments() {
        #expect(arg("name", "name=json&age=20") == "json")
        #expect(arg("age", "name=json&age=20") == "20")
        #expect(arg("NAME", "name=json") == "json")
        #expect(arg("flag", "a=1&flag&b=2") == "")
        #expect(arg("a", "a=1&a=2") == "1")
        #expect(arg("x", "a=1") == nil)
        #expect(arg("a", "") == nil)
        #expect(arg("q", "q=%20x") == "%20x", "raw, as nginx's $arg_")
    }

    @Test func cookies() {
        #expect(cookie("sid", "a=1; sid=abc; b=2") == "abc")
        #expect(cookie("a", "a=1;b=2") == "1")
        #expect(cookie("b", "a=1;b=2 ") == "2")
        #expect(cookie("c", "a=1; b=2") == nil)
        #expect(cookie("e", "e=") == "")
    }

    /// One snapshot's chains share the instance of an equal configuration; a different one, or a
    /// failing one, is built apart.
    @Test func entryCacheSharesEqualConfigurations() throws {
        let types: [String: any Plugin.Type] = ["alpha": Alpha.self, "beta": Beta.self]
        var cache = PluginChain.EntryCache()
        let a = PluginChain.build(["alpha": .object(["k": 1]), "beta": .object([:])], types: types, cache: &cache).chain
        let b = PluginChain.build(["alpha": .object(["k": 1])], types: types, cache: &cache).chain
        let c = PluginChain.build(["alpha": .object(["k": 2])], types: types, cache: &cache).chain
        #expect(a.entries[0].plugin === b.entries[0].plugin)
        #expect(a.entries[0].plugin !== c.entries[0].plugin)
        let failed = PluginChain.build(["beta": .object(["fail": true])], types: types, cache: &cache)
        #expect(failed.chain.entries.isEmpty && failed.errors.count == 1)
        #expect(PluginChain.build(["beta": .object(["fail": true])], types: types, cache: &cache).errors.count == 1)
    }
}
