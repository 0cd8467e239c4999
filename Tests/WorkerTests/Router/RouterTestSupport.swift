import Shared
import Worker

/// Builds a route for router tests.
func route(_ id: String, _ uris: String..., methods: [String] = [], hosts: [String] = [],
           remoteAddrs: [String] = [], priority: Int = 0, enabled: Bool = true) -> Route {
    var route = Route(id: id, uris: uris)
    route.methods = methods
    route.hosts = hosts
    route.remoteAddrs = remoteAddrs
    route.priority = priority
    route.enabled = enabled
    return route
}

/// What a test expects back: the matched route's id and the `:ext` text.
struct Resolved: Equatable, CustomStringConvertible {
    var id: String
    var ext: String?
    var description: String { ext.map { "\(id) ext=\"\($0)\"" } ?? id }
}

extension Router {
    /// `match` over Swift strings; the result names the route by id.
    func resolve(_ routes: [Route], _ path: String, method: String = "GET", host: String = "example.com",
                 remote: String? = nil) -> Resolved? {
        let address = remote.map { IPAddress($0)! }
        var path = path, method = method, host = host
        let found = path.withUTF8 { pathBytes in
            method.withUTF8 { methodBytes in
                host.withUTF8 { hostBytes in
                    match(method: UnsafeRawBufferPointer(methodBytes), host: UnsafeRawBufferPointer(hostBytes),
                          path: UnsafeRawBufferPointer(pathBytes), remote: address)
                }
            }
        }
        guard let found else { return nil }
        let utf8 = Array(path.utf8)
        return Resolved(id: routes[found.routeIndex].id,
                        ext: found.ext.map { String(decoding: utf8[$0], as: UTF8.self) })
    }
}

/// Deterministic generator for the randomized tests (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
