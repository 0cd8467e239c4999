import Testing

@Suite struct WorkerSmokeTests {
    /// The test target builds and runs.
    @Test func builds() { #expect(1 + 1 == 2) }
}
