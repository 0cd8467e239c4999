import Shared
import Testing
@testable import Worker

/// The per-snapshot consumer tables the auth plugins read (no sockets).
@Suite struct ConsumerIndexTests {
    @Test func bytesTable() {
        let pairs = (0..<1000).map { (Array("key-\($0)".utf8), $0) } + [(Array("key-7".utf8), 7000)]
        let table = BytesTable(pairs)
        #expect(table.count == 1000)
        for i in 0..<1000 where i != 7 {
            #expect(Array("key-\(i)".utf8).withUnsafeBytes { table.find($0) } == i)
        }
        #expect(Array("key-7".utf8).withUnsafeBytes { table.find($0) } == 7000, "a later pair replaces an earlier one")
        #expect(Array("key-1000".utf8).withUnsafeBytes { table.find($0) } == nil)
        #expect(Array("".utf8).withUnsafeBytes { table.find($0) } == nil)
        #expect(BytesTable<Int>([]).count == 0)
    }

    private func snapshot() throws -> ConfigSnapshot {
        var snapshot = ConfigSnapshot()
        func consumer(_ json: String) throws -> ConfigItem { .consumer(try Consumer(apisix: try JSONValue.parse(json))) }
        snapshot.add(.consumerGroup(try PluginSet(apisix: try JSONValue.parse(
            #"{"plugins":{"proxy-rewrite":{"uri":"/group"},"response-rewrite":{"body":"g"},"key-auth":{"header":"x"}}}"#), id: "gold")))
        snapshot.add(try consumer(#"{"username":"jack","group_id":"gold","plugins":{"key-auth":{"key":"k-jack"},"proxy-rewrite":{"uri":"/jack"}}}"#))
        snapshot.add(try consumer(#"{"username":"lost","group_id":"tin","plugins":{"key-auth":{"key":"k-lost"}}}"#))
        snapshot.add(try consumer(#"{"username":"off","plugins":{"key-auth":{"key":"k-off","_meta":{"disable":true}}}}"#))
        snapshot.add(.credential(try Credential(apisix: try JSONValue.parse(#"{"plugins":{"key-auth":{"key":"k-phone"}}}"#),
                                                key: "jack/credentials/phone")))
        snapshot.add(.credential(try Credential(apisix: try JSONValue.parse(#"{"plugins":{"key-auth":{"key":"k-wild"}}}"#),
                                                key: "ghost/credentials/x")))
        return snapshot
    }

    @Test func index() throws {
        let index = ConsumerIndex(snapshot: try snapshot(), types: PluginRegistry.types(enabled: nil))
        func find(_ key: String) -> ConsumerEntry? {
            Array(key.utf8).withUnsafeBytes { index.find(plugin: "key-auth", key: $0)?.entry }
        }
        let jack = try #require(find("k-jack"))
        #expect(jack.username == "jack")
        #expect(jack.credentialId == nil)
        #expect(jack.missingGroup == nil)
        // The group's plugins, the consumer's over them; auth plugins left out.
        #expect(jack.plugins.keys.sorted() == ["proxy-rewrite", "response-rewrite"])
        #expect(jack.plugins["proxy-rewrite"]?["uri"] == "/jack")
        let phone = try #require(find("k-phone"))
        #expect(phone.username == "jack")
        #expect(phone.credentialId == Array("phone".utf8))
        #expect(phone.serial != jack.serial)
        #expect(find("k-lost")?.missingGroup == "tin")
        #expect(find("k-off") == nil, "a disabled auth conf matches no one")
        #expect(find("k-wild") == nil, "a credential without its consumer matches no one")
        #expect(find("k-jac") == nil)
        #expect(Array("k-jack".utf8).withUnsafeBytes { index.find(plugin: "basic-auth", key: $0) } == nil)
        #expect(index.consumer(named: "jack") === jack)
        #expect(index.consumer(named: "ghost") == nil)
    }
}

/// basic-auth's parsing without sockets.
@Suite struct BasicAuthParsingTests {
    private func part(_ header: String) -> String? {
        Array(header.utf8).withUnsafeBytes { BasicAuthPlugin.encodedPart($0).map { String(decoding: $0, as: UTF8.self) } }
    }

    private func decode(_ text: String) -> String? {
        var out: [UInt8] = []
        let ok = Array(text.utf8).withUnsafeBytes { Base64.decodeStandard($0) { out.append($0) } }
        return ok ? String(decoding: out, as: UTF8.self) : nil
    }

    @Test func header() {
        #expect(part("Basic Zm9v") == "Zm9v")
        #expect(part("xbAsIc\tZm9v") == "Zm9v", "unanchored, any case, one whitespace")
        #expect(part("Basic ") == nil, "at least one byte after")
        #expect(part("Basicc Zm9v") == nil)
        #expect(part("Bearer x") == nil)
    }

    @Test func base64() {
        #expect(decode("Zm9vOmJhcg==") == "foo:bar")
        #expect(decode("Zm9vOmJhcg") == "foo:bar", "padding optional")
        #expect(decode("YmFy") == "bar")
        #expect(decode("aca_a") == nil, "url alphabet refused")
        #expect(decode("Zm9vO") == nil, "4n+1 bytes")
        #expect(decode("Zm=9") == nil)
        #expect(decode("") == "")
    }

    @Test func constantTimeEquality() {
        func eq(_ a: String, _ b: String) -> Bool {
            Array(a.utf8).withUnsafeBytes { x in Array(b.utf8).withUnsafeBytes { BasicAuthPlugin.equalInConstantTime(x, $0) } }
        }
        #expect(eq("bar", "bar"))
        #expect(!eq("bar", "baz"))
        #expect(!eq("bar", "ba"))
        #expect(eq("", ""))
    }
}
