import Testing

@Suite struct SharedSmokeTests {
    /// The test target builds and runs.
    @Test func builds() { #expect(1 + 1 == 2) }
}
