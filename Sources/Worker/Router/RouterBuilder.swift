// Snapshot routes -> the router's flat tables, the way radixtree_host_uri.lua's
// `create_radixtree_router` and radixtree.lua's `insert_route` lay them out: one routing table per
// distinct host (plus one for host-less routes), each (route, uri) pair filed under its exact path
// or under the text before its first `*`, candidates of one key kept in radixtree's
// `sort_route` order.

package import Shared

extension Router {
    /// Builds the router for a snapshot. Routes with `enabled == false` (`status: 0`) are left out,
    /// as are routes without uris; indices in `RouteMatch` still refer to `routes`.
    package init(routes: [Route]) {
        var builder = RouterBuilder()
        for (index, route) in routes.enumerated() where route.enabled && !route.uris.isEmpty {
            builder.add(route, index: index)
        }
        self = builder.build()
    }

    init(builder: consuming RouterBuilder, keys: RouteKeyTable, candidates: [Candidate], tables: [Table],
         prefixLengths: [Int32], hostSuffixLengths: [Int32], hasExactHosts: Bool) {
        self.keys = keys
        self.candidates = candidates
        self.tables = tables
        self.prefixLengths = prefixLengths
        self.hostSuffixLengths = hostSuffixLengths
        self.hasHostTables = tables.count > 1
        self.hasExactHosts = hasExactHosts
        self.cidrs = builder.cidrs
        self.globPieces = builder.globPieces
        self.globBytes = builder.globBytes
        self.hashInverse = KeyHash.inverse
    }
}

/// Accumulates routes, then freezes them into a `Router`. Build-time only: allocation is fine here.
struct RouterBuilder {
    /// A key of one routing table: an exact path or a prefix.
    struct PathKey: Hashable {
        var table: Int32
        var kind: KeyKind
        var bytes: [UInt8]
    }

    /// A route host: `*.foo.com` is (wildcard, ".foo.com"), `*` is (wildcard, "").
    struct HostKey: Hashable {
        var wildcard: Bool
        var bytes: [UInt8]
    }

    struct Pending {
        var candidate: Router.Candidate
        var priority: Int
        /// Byte length of the uri as written (radixtree's `#path_org`).
        var patternLength: Int
        var sequence: Int
    }

    /// A uri, classified once and filed under every table of its route.
    struct Pattern {
        var kind: KeyKind
        var key: [UInt8]
        var globStart: Int32 = 0
        var globCount: Int32 = 0
        var capturesExt = false
    }

    private var groupIndex: [PathKey: Int] = [:]
    private var groupKeys: [PathKey] = []
    private var groupMembers: [[Pending]] = []
    private var hostTables: [HostKey: Int32] = [:]
    private var hostKeys: [(key: HostKey, table: Int32)] = []
    /// Table 0 holds the routes without hosts.
    private var tableCount: Int32 = 1
    private var sequence = 0
    private(set) var cidrs: [CIDR] = []
    private(set) var globPieces: [(start: Int32, length: Int32)] = []
    private(set) var globBytes: [UInt8] = []

    mutating func add(_ route: Route, index: Int) {
        var methods: UInt16 = 0
        for name in route.methods { methods |= HTTPMethodMask.bit(forName: name) }

        let remoteStart = Int32(cidrs.count)
        var neverMatches = false
        for text in route.remoteAddrs {
            if let block = CIDR(text) { cidrs.append(block) } else { neverMatches = true }
        }
        let remoteCount = Int32(cidrs.count) - remoteStart

        var tables: [Int32] = []
        if route.hosts.isEmpty {
            tables = [0]
        } else {
            for host in route.hosts {
                let table = self.table(for: host)
                if !tables.contains(table) { tables.append(table) }
            }
        }

        for uri in route.uris {
            let pattern = classify(uri)
            let candidate = Router.Candidate(
                routeIndex: Int32(index), methods: methods, neverMatches: neverMatches,
                remoteStart: remoteStart, remoteCount: remoteCount,
                globStart: pattern.globStart, globCount: pattern.globCount,
                capturesExt: pattern.capturesExt, hasVars: route.vars.map { $0 != .array([]) } ?? false)
            let pending = Pending(candidate: candidate, priority: route.priority,
                                  patternLength: uri.utf8.count, sequence: sequence)
            sequence += 1
            for table in tables {
                let key = PathKey(table: table, kind: pattern.kind, bytes: pattern.key)
                if let group = groupIndex[key] {
                    groupMembers[group].append(pending)
                } else {
                    groupIndex[key] = groupKeys.count
                    groupKeys.append(key)
                    groupMembers.append([pending])
                }
            }
        }
    }

    /// The routing table of one route host, created on first use.
    private mutating func table(for host: String) -> Int32 {
        var bytes = host.utf8.map(KeyHash.lower)
        var wildcard = false
        if bytes.first == UInt8(ascii: "*") {
            wildcard = true
            bytes.removeFirst()
        }
        let key = HostKey(wildcard: wildcard, bytes: bytes)
        if let table = hostTables[key] { return table }
        let table = tableCount
        tableCount += 1
        hostTables[key] = table
        hostKeys.append((key, table))
        return table
    }

    /// radixtree `common_route_data` with `no_param_match`: no `*` is an exact path; otherwise the
    /// key is the text before the first `*`. If some `*` starts a segment, radixtree also matches
    /// the whole path against a regex built from the uri (`fetch_pat`), so we keep glob pieces.
    private mutating func classify(_ uri: String) -> Pattern {
        let bytes = Array(uri.utf8)
        let star = UInt8(ascii: "*")
        let slash = UInt8(ascii: "/")
        guard let firstStar = bytes.firstIndex(of: star) else {
            return Pattern(kind: .exactPath, key: bytes)
        }
        var pattern = Pattern(kind: .prefixPath, key: Array(bytes[..<firstStar]))
        let startsSegment = { (index: Int) in index == 0 || bytes[index - 1] == slash }
        guard bytes.indices.contains(where: { bytes[$0] == star && startsSegment($0) }) else {
            // `/hello*`: fetch_pat finds no capture and radixtree accepts on the prefix alone.
            return pattern
        }

        // `*` or `*name` as a whole segment is `(.*)` in radixtree's regex; the name is dropped
        // and only an anonymous star is called `:ext`.
        // FIXME: radixtree hands the rest of the uri to PCRE unescaped, so `.` or an in-segment
        // `*` act as regex operators there; here they are a literal byte and a wildcard.
        pattern.globStart = Int32(globPieces.count)
        var pieceStart = globBytes.count
        var wildcards = 0
        var anonymous = true
        var index = 0
        while index < bytes.count {
            guard bytes[index] == star else {
                globBytes.append(bytes[index])
                index += 1
                continue
            }
            globPieces.append((Int32(pieceStart), Int32(globBytes.count - pieceStart)))
            pieceStart = globBytes.count
            wildcards += 1
            if startsSegment(index) {
                var end = index + 1
                while end < bytes.count && bytes[end] != slash { end += 1 }
                if end != index + 1 { anonymous = false }
                index = end
            } else {
                anonymous = false
                index += 1
            }
        }
        globPieces.append((Int32(pieceStart), Int32(globBytes.count - pieceStart)))
        pattern.globCount = Int32(globPieces.count) - pattern.globStart
        // With two stars radixtree's `:ext` is a by-product of its regex groups (the last byte of
        // the first capture), not something to reproduce: only a single anonymous star captures.
        pattern.capturesExt = wildcards == 1 && anonymous
        return pattern
    }

    consuming func build() -> Router {
        var keys = RouteKeyTable()
        var candidates: [Router.Candidate] = []
        candidates.reserveCapacity(groupMembers.reduce(0) { $0 + $1.count })
        var prefixLengthsByTable = [[Int32]](repeating: [], count: Int(tableCount))
        var hasExactPaths = [Bool](repeating: false, count: Int(tableCount))

        for (group, key) in groupKeys.enumerated() {
            // radixtree `sort_route` + `insert_tab_in_order`: priority high first, then the longer
            // uri; equal ones keep insertion order.
            let members = groupMembers[group].sorted {
                if $0.priority != $1.priority { return $0.priority > $1.priority }
                if $0.patternLength != $1.patternLength { return $0.patternLength > $1.patternLength }
                return $0.sequence < $1.sequence
            }
            let start = Int32(candidates.count)
            candidates.append(contentsOf: members.lazy.map(\.candidate))
            var hash: UInt64 = 0
            for byte in key.bytes { hash = KeyHash.appending(hash, byte) }
            keys.append(space: key.table << 2 | key.kind.rawValue, key: key.bytes, hash: hash,
                        valueStart: start, valueCount: Int32(members.count))
            if key.kind == .prefixPath {
                prefixLengthsByTable[Int(key.table)].append(Int32(key.bytes.count))
            } else {
                hasExactPaths[Int(key.table)] = true
            }
        }

        var tables: [Router.Table] = []
        var prefixLengths: [Int32] = []
        for table in 0 ..< Int(tableCount) {
            let lengths = Set(prefixLengthsByTable[table]).sorted(by: >)
            tables.append(Router.Table(prefixStart: Int32(prefixLengths.count), prefixCount: Int32(lengths.count),
                                       hasExactPaths: hasExactPaths[table]))
            prefixLengths.append(contentsOf: lengths)
        }

        var suffixLengths = Set<Int32>()
        var hasExactHosts = false
        for (key, table) in hostKeys {
            // Hosts are hashed back to front (see Router.match).
            var hash: UInt64 = 0
            for byte in key.bytes.reversed() { hash = KeyHash.appending(hash, byte) }
            let kind: KeyKind = key.wildcard ? .hostSuffix : .exactHost
            keys.append(space: kind.rawValue, key: key.bytes, hash: hash,
                        valueStart: table, valueCount: 0)
            if key.wildcard { suffixLengths.insert(Int32(key.bytes.count)) } else { hasExactHosts = true }
        }
        keys.seal()

        return Router(builder: self, keys: keys, candidates: candidates, tables: tables,
                      prefixLengths: prefixLengths, hostSuffixLengths: suffixLengths.sorted(by: >),
                      hasExactHosts: hasExactHosts)
    }
}
