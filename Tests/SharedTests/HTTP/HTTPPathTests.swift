import Shared
import Testing

@Suite struct HTTPPathTests {
    /// nginx `$uri` normalization: (raw path, normalized path or nil when nginx answers 400).
    @Test(arguments: [
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a//b/./c/../d", "/a/b/d"),
        ("//a///b//", "/a/b/"),
        ("/%41", "/A"),
        ("/%7e%7E", "/~~"),
        ("/a%2Fb", "/a/b"),
        ("/a%2f..%2fb", "/b"),
        ("/a/%2e%2E/b", "/b"),
        ("/a/%2e/b", "/a/b"),
        ("/a%20b", "/a b"),
        ("/caf%C3%A9", "/café"),
        ("/a/.", "/a/"),
        ("/a/..", "/"),
        ("/a/b/..", "/a/"),
        ("/a/b/../", "/a/"),
        ("/.", "/"),
        ("/./", "/"),
        ("/a/.../b", "/a/.../b"),
        ("/a/..b/.c", "/a/..b/.c"),
        ("/hello/", "/hello/"),
        ("/+%2B", "/++"),
        // already normal: copied as is
        ("/proxy", "/proxy"),
        ("/a.b/c./d..", "/a.b/c./d.."),
        ("/a/b/", "/a/b/"),
        ("/\u{80}x", "/\u{80}x"),
        // one thing to do, at the start, middle or end
        ("/./a", "/a"),
        ("/a/.", "/a/"),
        ("/a//", "/a/"),
        ("/a/%62", "/a/b"),
        ("/..", nil),
        ("/../a", nil),
        ("/a/../..", nil),
        ("/a/../../b", nil),
        ("/%2e%2e", nil),
        ("/%zz", nil),
        ("/%4", nil),
        ("/a%", nil),
        ("/%00", nil),
        ("a/b", nil),
        ("", nil),
        ("*", nil),
    ] as [(String, String?)])
    func normalize(raw: String, expected: String?) {
        var out: [UInt8] = []
        let bytes = Array(raw.utf8)
        let valid = bytes.withUnsafeBytes { HTTPPath.normalize($0, into: &out) }
        if let expected {
            #expect(valid)
            #expect(String(decoding: out, as: UTF8.self) == expected)
        } else {
            #expect(!valid)
        }
    }

    /// The output buffer is cleared first and keeps its capacity.
    @Test func outputReuse() {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out += Array("leftover".utf8)
        let capacity = out.capacity
        let bytes = Array("/x/./y".utf8)
        #expect(bytes.withUnsafeBytes { HTTPPath.normalize($0, into: &out) })
        #expect(String(decoding: out, as: UTF8.self) == "/x/y")
        #expect(out.capacity == capacity)
        // The same for a path that is already normal (copied in one step).
        out += Array("leftover".utf8)
        let normal = Array("/x/y.z".utf8)
        #expect(normal.withUnsafeBytes { HTTPPath.normalize($0, into: &out) })
        #expect(String(decoding: out, as: UTF8.self) == "/x/y.z")
        #expect(out.capacity == capacity)
    }
}
