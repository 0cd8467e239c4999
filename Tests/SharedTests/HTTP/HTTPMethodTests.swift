import Shared
import Testing

@Suite struct HTTPMethodTests {
    /// Every named method round-trips through its canonical name, from bytes and from a String.
    @Test(arguments: HTTPMethod.allCases.filter { $0 != .other })
    func roundTrip(_ method: HTTPMethod) {
        let name = method.name.description
        #expect(Array(name.utf8).withUnsafeBytes { HTTPMethod(bytes: $0) } == method)
        #expect(HTTPMethod(name: name) == method)
    }

    /// Methods are case-sensitive and unknown tokens are `.other`.
    @Test(arguments: ["get", "Post", "PROPFIND", "", "GETS", "GE"])
    func other(_ name: String) {
        #expect(HTTPMethod(name: name) == .other)
    }
}
