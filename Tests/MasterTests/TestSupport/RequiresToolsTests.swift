import Testing

@Suite struct RequiresToolsTests {
    /// A missing tool makes `prepare` throw (the test fails, naming it); present tools pass.
    @Test func missingToolFails() async throws {
        let test = try #require(Test.current)
        await #expect(throws: (any Error).self) {
            try await RequiresTools(paths: ["/bin/sh", "/nonexistent/tool"]).prepare(for: test)
        }
        try await RequiresTools(paths: ["/bin/sh"]).prepare(for: test)
    }
}
