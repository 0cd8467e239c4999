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

    /// Changing any one byte of a method name to any other value gives `.other`.
    @Test(arguments: HTTPMethod.allCases.filter { $0 != .other })
    func everySingleByteChange(_ method: HTTPMethod) {
        let name = Array(method.name.description.utf8)
        for index in name.indices {
            for value in UInt8.min...UInt8.max where value != name[index] {
                var changed = name
                changed[index] = value
                #expect(changed.withUnsafeBytes { HTTPMethod(bytes: $0) } == .other, "\(method) byte \(index) = \(value)")
            }
        }
    }

    /// Methods are case-sensitive and unknown tokens are `.other`.
    @Test(arguments: ["get", "Post", "PROPFIND", "", "GETS", "GE"])
    func other(_ name: String) {
        #expect(HTTPMethod(name: name) == .other)
    }
}
