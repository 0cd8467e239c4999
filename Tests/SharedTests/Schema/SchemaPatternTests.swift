import Testing
@testable import Shared

@Suite struct SchemaPatternTests {
    /// APISIX's patterns accept and refuse what PCRE would.
    @Test(arguments: [
        ("^[a-zA-Z0-9-_.]+$", "route-1_a.b", true),
        ("^[a-zA-Z0-9-_.]+$", "*invalid", false),
        (CoreSchemas.hostPattern, "*.foo.com", true),
        (CoreSchemas.hostPattern, "*", true),
        (CoreSchemas.hostPattern, "[::1]:80", true),
        (CoreSchemas.hostPattern, "a.*.foo.com", false),
        (#"^\S+$"#, "v1", true),
        (#"^\S+$"#, "v 1", false),
        ("^function", "function(vars) end", true),
        ("^function", " function", false),
        ("function", "a function", true),
        ("^[a-zA-Z0-9-_]+$", "X-Header_1", true),
        ("^((uri|host)|arg_[0-9a-zA-z_-]+)$", "arg_id", true),
        ("^((uri|host)|arg_[0-9a-zA-z_-]+)$", "hostx", false),
        ("^a{2,3}$", "aaa", true),
        ("^a{2,3}$", "aaaa", false),
        ("^(ab)*c?$", "ababc", true),
        (".*", "", true),
        (#"^\d+\.\d+$"#, "1.25", true),
        ("^[^/]+$", "a/b", false),
    ])
    func matching(pattern: String, text: String, expected: Bool) throws {
        let compiled = try #require(SchemaPattern(pattern))
        #expect(compiled.matches(text) == expected)
    }

    /// Syntax outside the subset is refused at build time.
    @Test func unsupportedSyntax() {
        #expect(SchemaPattern("(ab") == nil)
        #expect(SchemaPattern("*a") == nil)
        #expect(SchemaPattern(#"\p{L}"#) == nil)
    }
}
