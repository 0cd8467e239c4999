import Testing
@testable import Shared

@Suite struct YAMLSupportTests {
    /// nginx time syntax in seconds.
    @Test(arguments: [
        ("60", 60.0), ("60s", 60), ("10m", 600), ("1h", 3600), ("500ms", 0.5), ("1h30m", 5400), ("2d", 172_800),
        ("1w", 604_800), ("0", 0), ("1.5", 1.5),
    ] as [(String, Double)])
    func times(text: String, seconds: Double) {
        #expect(YAMLSupport.seconds(text) == seconds)
    }

    /// Malformed times are refused.
    @Test(arguments: ["", "abc", "10x", "-5", "s", "1.5s"])
    func badTimes(text: String) {
        #expect(YAMLSupport.seconds(text) == nil)
    }

    /// nginx size syntax in bytes.
    @Test(arguments: [("0", Int64(0)), ("1024", 1024), ("8k", 8192), ("8K", 8192), ("1m", 1_048_576), ("2G", 2_147_483_648)])
    func sizes(text: String, bytes: Int64) {
        #expect(YAMLSupport.bytes(text) == bytes)
    }

    /// Malformed sizes are refused.
    @Test(arguments: ["", "k", "1t", "-1", "1.5m", "99999999999999999999"])
    func badSizes(text: String) {
        #expect(YAMLSupport.bytes(text) == nil)
    }

    /// YAML scalars become typed JSON; quoted numbers stay strings.
    @Test func jsonConversion() throws {
        let node = try #require(try YAMLSupport.compose("a: 1\nb: 1.5\nc: true\nd: ~\ne: \"2\"\nf: [x]\n127.0.0.1:80: 1\n", path: "p"))
        #expect(YAMLSupport.json(node) == .object(["a": 1, "b": .number(1.5), "c": true, "d": .null, "e": "2",
                                                   "f": .array(["x"]), "127.0.0.1:80": 1]))
    }

    /// Anchors and aliases resolve to the anchored value.
    @Test func aliases() throws {
        let node = try #require(try YAMLSupport.compose("base: &n {a: 1}\ncopy: *n\n", path: "p"))
        #expect(YAMLSupport.json(node)["copy"] == .object(["a": 1]))
    }
}
