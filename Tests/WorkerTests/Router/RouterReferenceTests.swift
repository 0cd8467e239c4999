import Shared
import Testing
import Worker

/// The router against a deliberately naive reading of spec section 4 (no hashing, no tables),
/// on random route sets and requests.
@Suite struct RouterReferenceTests {
    /// Random routes over a small vocabulary (so that keys, hosts and priorities collide) agree
    /// with the reference on every request.
    @Test(arguments: 0 ..< 12)
    func agreesWithReference(seed: Int) {
        var rng = SeededGenerator(state: UInt64(seed) &* 7919 &+ 1)
        let segments = ["a", "b", "ab", ":id", ""]
        let hostPool = ["a.com", "*.a.com", "b.a.com", "*.b.a.com", "*", "*a.com", "c.org"]
        let methodPool = ["GET", "POST", "PUT"]
        let remotePool = ["10.0.0.0/8", "10.1.0.0/16", "::1", "fe80::/10", "192.168.0.1"]

        func randomPath(allowStar: Bool) -> String {
            var path = ""
            for _ in 0 ..< Int.random(in: 1 ... 3, using: &rng) { path += "/" + segments.randomElement(using: &rng)! }
            if allowStar {
                switch Int.random(in: 0 ..< 6, using: &rng) {
                case 0: path += "/*"
                case 1: path += "*"
                case 2: path += "/*/b"
                case 3: path += "/*name"
                default: break
                }
            }
            return path
        }

        var routes: [Route] = []
        for index in 0 ..< Int.random(in: 1 ... 40, using: &rng) {
            var uris: [String] = []
            for _ in 0 ..< Int.random(in: 1 ... 2, using: &rng) { uris.append(randomPath(allowStar: true)) }
            var route = Route(id: "r\(index)", uris: uris)
            if Bool.random(using: &rng) {
                route.hosts = (0 ..< Int.random(in: 1 ... 2, using: &rng)).map { _ in hostPool.randomElement(using: &rng)! }
            }
            if Int.random(in: 0 ..< 3, using: &rng) == 0 {
                route.methods = [methodPool.randomElement(using: &rng)!]
            }
            if Int.random(in: 0 ..< 4, using: &rng) == 0 {
                route.remoteAddrs = [remotePool.randomElement(using: &rng)!]
            }
            route.priority = Int.random(in: -1 ... 1, using: &rng)
            route.enabled = Int.random(in: 0 ..< 10, using: &rng) != 0
            routes.append(route)
        }
        let router = Router(routes: routes)
        let requestHosts = ["a.com", "x.a.com", "b.a.com", "x.b.a.com", "A.COM:80", "c.org", "ba.com", ""]
        let remotes: [String?] = [nil, "10.1.2.3", "10.2.0.1", "::1", "fe80::1", "192.168.0.1"]
        var matched = 0
        for _ in 0 ..< 300 {
            let path = randomPath(allowStar: false) + (Bool.random(using: &rng) ? "/x/b" : "")
            let method = (methodPool + ["DELETE"]).randomElement(using: &rng)!
            let host = requestHosts.randomElement(using: &rng)!
            let remote = remotes.randomElement(using: &rng)!
            let expected = ReferenceRouter.match(routes, method: method, host: host, path: path, remote: remote)
            let actual = router.resolve(routes, path, method: method, host: host, remote: remote)
            #expect(actual == expected, "\(method) \(host) \(path) from \(remote ?? "-")")
            if expected != nil { matched += 1 }
        }
        // Keeps the comparison meaningful: a generator drifting to all-404 would prove nothing.
        #expect(matched >= 15, "only \(matched) of 300 requests matched")
    }
}

/// Spec section 4, read literally and slowly.
enum ReferenceRouter {
    static func match(_ routes: [Route], method: String, host: String, path: String, remote: String?) -> Resolved? {
        var host = host.lowercased()
        if let colon = host.firstIndex(of: ":") { host = String(host[..<colon]) }
        if host.hasSuffix(".") { host.removeLast() }

        // Host groups: exact host first, then wildcard suffixes, longest first.
        let routeHosts = Set(routes.filter(\.enabled).flatMap { $0.hosts.map { $0.lowercased() } })
        var order: [String] = routeHosts.contains(host) ? [host] : []
        order += routeHosts.filter { $0.hasPrefix("*") && host.hasSuffix($0.dropFirst()) }
            .sorted { $0.count > $1.count }
        for key in order {
            let members = routes.indices.filter { routes[$0].enabled && routes[$0].hosts.map { $0.lowercased() }.contains(key) }
            if let found = matchPaths(routes, members, method: method, path: path, remote: remote) { return found }
        }
        let hostless = routes.indices.filter { routes[$0].enabled && routes[$0].hosts.isEmpty }
        return matchPaths(routes, hostless, method: method, path: path, remote: remote)
    }

    private struct Entry {
        var route: Int
        var uri: String
        var sequence: Int
    }

    private static func matchPaths(_ routes: [Route], _ members: [Int], method: String, path: String,
                                   remote: String?) -> Resolved? {
        var entries: [Entry] = []
        for route in members { for uri in routes[route].uris { entries.append(Entry(route: route, uri: uri, sequence: entries.count)) } }
        func ordered(_ list: [Entry]) -> [Entry] {
            list.sorted {
                let (a, b) = (routes[$0.route], routes[$1.route])
                if a.priority != b.priority { return a.priority > b.priority }
                if $0.uri.utf8.count != $1.uri.utf8.count { return $0.uri.utf8.count > $1.uri.utf8.count }
                return $0.sequence < $1.sequence
            }
        }
        func passes(_ entry: Entry) -> Bool {
            let route = routes[entry.route]
            if !route.methods.isEmpty && !route.methods.contains(method) { return false }
            if !route.remoteAddrs.isEmpty {
                guard let remote, let address = IPAddress(remote) else { return false }
                if !route.remoteAddrs.contains(where: { CIDR($0)?.contains(address) ?? false }) { return false }
            }
            return true
        }
        for entry in ordered(entries.filter { !$0.uri.contains("*") && $0.uri == path }) where passes(entry) {
            return Resolved(id: routes[entry.route].id, ext: nil)
        }
        let prefixed = entries.filter { $0.uri.contains("*") && path.hasPrefix(prefix($0.uri)) }
        for length in Set(prefixed.map { prefix($0.uri).utf8.count }).sorted(by: >) {
            for entry in ordered(prefixed.filter { prefix($0.uri).utf8.count == length }) where passes(entry) {
                guard let ext = glob(entry.uri, path) else { continue }
                return Resolved(id: routes[entry.route].id, ext: ext)
            }
        }
        return nil
    }

    private static func prefix(_ uri: String) -> String { String(uri[..<uri.firstIndex(of: "*")!]) }

    /// nil: no match; .some(nil): match without `:ext`; .some(text): match capturing text.
    private static func glob(_ uri: String, _ path: String) -> String?? {
        let segments = uri.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.contains(where: { $0.hasPrefix("*") }) else { return .some(nil) }
        // Rebuild as pieces between wildcards (whole-segment stars drop their name).
        var pieces = [""]
        var anonymousStars = 0
        var stars = 0
        for (index, segment) in segments.enumerated() {
            if index > 0 { pieces[pieces.count - 1] += "/" }
            if segment.hasPrefix("*") {
                stars += 1
                if segment == "*" { anonymousStars += 1 }
                pieces.append("")
            } else {
                for character in segment {
                    if character == "*" { stars += 1; pieces.append("") } else { pieces[pieces.count - 1].append(character) }
                }
            }
        }
        func matches(_ pieceIndex: Int, _ rest: Substring) -> Bool {
            if pieceIndex == pieces.count - 1 { return rest.hasSuffix(pieces[pieceIndex]) }
            var candidate = rest
            while true {
                if candidate.hasPrefix(pieces[pieceIndex])
                    && matches(pieceIndex + 1, candidate.dropFirst(pieces[pieceIndex].count)) { return true }
                if candidate.isEmpty || pieceIndex == 0 { return false }
                candidate = candidate.dropFirst()
            }
        }
        let whole = Substring(path)
        guard whole.hasPrefix(pieces[0]), matches(0, whole),
              path.count >= pieces[0].count + pieces[pieces.count - 1].count else { return nil }
        if stars == 1 && anonymousStars == 1 {
            return .some(String(path.dropFirst(pieces[0].count).dropLast(pieces[1].count)))
        }
        return .some(nil)
    }
}
