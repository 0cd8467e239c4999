package import Shared

// The data-plane router: APISIX's default `radixtree_host_uri` router
// (apisix/http/router/radixtree_host_uri.lua over lua-resty-radixtree with `no_param_match`),
// rebuilt per config snapshot and then only read. Spec: spec/apisix-compat.md section 4.
//
// Order of evaluation, as in APISIX:
//   1. routes with hosts, grouped per host: the request's exact host, then wildcard hosts from the
//      longest suffix to the shortest (`*` last); each group is a full path router of its own;
//   2. routes without hosts, only if no host group produced a match.
// Within a group: the exact path's candidates, then each stored prefix of the path from the longest
// to the shortest. Candidates of one path/prefix are ordered by priority (high first), then longer
// pattern text, then insertion order; the first whose method, remote address and `*` segments
// agree wins.

/// A successful route lookup.
package struct RouteMatch: Sendable, Equatable {
    /// Index of the matched route in the `routes` array given to `Router.init`.
    package var routeIndex: Int
    /// The `:ext` capture (what the trailing whole-segment `*` matched) as byte offsets into the
    /// request path; may be empty. nil when the matched uri has no such star.
    package var ext: Range<Int>?

    /// A match of route `routeIndex`, with its `:ext` capture if any.
    package init(routeIndex: Int, ext: Range<Int>?) {
        self.routeIndex = routeIndex; self.ext = ext
    }
}

/// Immutable route matcher for one config snapshot. Build with `init(routes:)` when a snapshot is
/// loaded, share it read-only with the event loop; `match` allocates nothing.
package struct Router: Sendable {
    /// One (route, uri) pair in one routing table: what `match` checks after a key hit.
    struct Candidate: Sendable {
        var routeIndex: Int32
        /// `HTTPMethodMask` bits; 0 = any method.
        var methods: UInt16
        /// When true, the route carries a `remote_addrs` entry that could not be parsed and never
        /// matches (fail closed: admin validation rejects such routes before they get here).
        var neverMatches: Bool
        /// `cidrs[remoteStart ..< remoteStart + remoteCount]`; count 0 = any client.
        var remoteStart: Int32
        var remoteCount: Int32
        /// `globPieces[globStart ..< globStart + globCount]`: the literal text between the `*`s of a
        /// prefix pattern that has a whole-segment star; count 0 = prefix test only.
        var globStart: Int32
        var globCount: Int32
        /// The uri ends in a whole-segment `*` and has no other star: report `:ext`.
        var capturesExt: Bool
        /// The route has `vars`: `match`'s `accept` decides, after every other test passed.
        var hasVars = false
    }

    /// Per routing table (0 = routes without hosts, then one per distinct route host).
    struct Table: Sendable {
        /// `prefixLengths[prefixStart ..< prefixStart + prefixCount]`, distinct, descending.
        var prefixStart: Int32
        var prefixCount: Int32
        var hasExactPaths: Bool
    }

    let keys: RouteKeyTable
    let candidates: [Candidate]
    let tables: [Table]
    let prefixLengths: [Int32]
    /// Distinct lengths of wildcard-host suffixes, descending (`*` has length 0).
    let hostSuffixLengths: [Int32]
    let hasHostTables: Bool
    let hasExactHosts: Bool
    let cidrs: [CIDR]
    /// (start, length) into `globBytes`.
    let globPieces: [(start: Int32, length: Int32)]
    let globBytes: [UInt8]
    let hashInverse: UInt64

    /// Finds the route for a request, or nil (APISIX answers 404 `Route Not Found`; a method
    /// mismatch is also nil: APISIX has no 405).
    ///
    /// - Parameters:
    ///   - method: request method bytes as received (`GET`); case-sensitive, as in radixtree.
    ///   - host: the request host as received (`Host` header or absolute-form authority);
    ///     compared case-insensitively, with a `:port` suffix and a trailing dot ignored, as nginx
    ///     derives `$host`. `[::1]:80` is compared as `[::1]`.
    ///   - path: the normalized path (percent-decoded, dot segments resolved, no query).
    ///   - remote: the client address, nil for a unix-socket peer.
    ///   - accept: called with the route index of a candidate that has `vars` and passed every
    ///     other test; false skips it and matching goes on with the next candidate, as radixtree
    ///     does for any failing condition.
    package func match(method: UnsafeRawBufferPointer, host: UnsafeRawBufferPointer,
                       path: UnsafeRawBufferPointer, remote: IPAddress?,
                       accept: (Int) -> Bool = { _ in true }) -> RouteMatch? {
        let methodBit = HTTPMethodMask.bit(for: method)
        var pathHash: UInt64 = 0
        for byte in path { pathHash = KeyHash.appending(pathHash, byte) }

        if hasHostTables {
            let (hostStart, hostEnd) = Self.hostBounds(host)
            let hostLength = hostEnd - hostStart
            // Hosts hash back to front: a wildcard suffix is then a prefix of the reversed host,
            // which is how radixtree_host_uri stores them (`host:reverse()`).
            var hostHash: UInt64 = 0
            var index = hostEnd
            while index > hostStart {
                index -= 1
                hostHash = KeyHash.appending(hostHash, KeyHash.lower(host[index]))
            }
            if hasExactHosts, let entry = keys.find(
                space: KeyKind.exactHost.rawValue, hash: hostHash, subject: host, start: hostStart,
                length: hostLength, foldCase: true),
               let found = match(table: Int(entry.valueStart), methodBit: methodBit, path: path,
                                 pathHash: pathHash, remote: remote, accept: accept) {
                return found
            }
            var suffixHash = hostHash
            var suffixLength = hostLength
            for length in hostSuffixLengths {
                let length = Int(length)
                if length > hostLength { continue }
                while suffixLength > length {
                    suffixHash = KeyHash.removingLast(suffixHash, KeyHash.lower(host[hostEnd - suffixLength]),
                                                      inverse: hashInverse)
                    suffixLength -= 1
                }
                if let entry = keys.find(
                    space: KeyKind.hostSuffix.rawValue, hash: suffixHash, subject: host,
                    start: hostEnd - length, length: length, foldCase: true),
                   let found = match(table: Int(entry.valueStart), methodBit: methodBit, path: path,
                                     pathHash: pathHash, remote: remote, accept: accept) {
                    return found
                }
            }
        }
        return match(table: 0, methodBit: methodBit, path: path, pathHash: pathHash, remote: remote, accept: accept)
    }

    /// One routing table: the exact path first, then prefixes longest first.
    @inline(__always)
    private func match(table tableIndex: Int, methodBit: UInt16, path: UnsafeRawBufferPointer,
                       pathHash: UInt64, remote: IPAddress?, accept: (Int) -> Bool) -> RouteMatch? {
        let table = tables[tableIndex]
        let space = Int32(tableIndex) << 2
        if table.hasExactPaths, let entry = keys.find(
            space: space | KeyKind.exactPath.rawValue, hash: pathHash, subject: path, start: 0,
            length: path.count, foldCase: false),
           let found = firstPassing(entry, methodBit: methodBit, path: path, remote: remote, accept: accept) {
            return found
        }
        var hash = pathHash
        var hashedLength = path.count
        let start = Int(table.prefixStart)
        for lengthIndex in start ..< start + Int(table.prefixCount) {
            let length = Int(prefixLengths[lengthIndex])
            if length > path.count { continue }
            while hashedLength > length {
                hashedLength -= 1
                hash = KeyHash.removingLast(hash, path[hashedLength], inverse: hashInverse)
            }
            if let entry = keys.find(
                space: space | KeyKind.prefixPath.rawValue, hash: hash, subject: path, start: 0,
                length: length, foldCase: false),
               let found = firstPassing(entry, methodBit: methodBit, path: path, remote: remote, accept: accept) {
                return found
            }
        }
        return nil
    }

    /// radixtree's `match_route_opts` + `compare_param` over one key's candidates, in order.
    @inline(__always)
    private func firstPassing(_ entry: RouteKeyTable.Entry, methodBit: UInt16, path: UnsafeRawBufferPointer,
                              remote: IPAddress?, accept: (Int) -> Bool) -> RouteMatch? {
        let start = Int(entry.valueStart)
        for index in start ..< start + Int(entry.valueCount) {
            let candidate = candidates[index]
            if candidate.neverMatches { continue }
            if candidate.methods != 0 && candidate.methods & methodBit == 0 { continue }
            if candidate.remoteCount != 0 && !remoteMatches(candidate, remote) { continue }
            if candidate.globCount == 0 {
                if candidate.hasVars && !accept(Int(candidate.routeIndex)) { continue }
                return RouteMatch(routeIndex: Int(candidate.routeIndex), ext: nil)
            }
            guard globMatches(candidate, path) else { continue }
            if candidate.hasVars && !accept(Int(candidate.routeIndex)) { continue }
            var ext: Range<Int>? = nil
            if candidate.capturesExt {
                let first = Int(globPieces[Int(candidate.globStart)].length)
                let last = Int(globPieces[Int(candidate.globStart + candidate.globCount) - 1].length)
                ext = first ..< path.count - last
            }
            return RouteMatch(routeIndex: Int(candidate.routeIndex), ext: ext)
        }
        return nil
    }

    @inline(__always)
    private func remoteMatches(_ candidate: Candidate, _ remote: IPAddress?) -> Bool {
        // ipmatcher:match(nil) is an error, which radixtree treats as "no match".
        guard let remote else { return false }
        let start = Int(candidate.remoteStart)
        for index in start ..< start + Int(candidate.remoteCount) where cidrs[index].contains(remote) {
            return true
        }
        return false
    }

    /// radixtree turns a pattern with whole-segment stars into a regex in which every such segment
    /// is `(.*)` and requires it to match the whole path. Pieces p0 * p1 * ... * pn: the path must
    /// start with p0 and end with pn, and the middle pieces must occur in order in between; taking
    /// the leftmost occurrence of each middle piece is optimal for `*`-only patterns.
    private func globMatches(_ candidate: Candidate, _ path: UnsafeRawBufferPointer) -> Bool {
        let first = Int(candidate.globStart)
        let last = first + Int(candidate.globCount) - 1
        let head = globPieces[first]
        let tail = globPieces[last]
        var position = Int(head.length)
        let end = path.count - Int(tail.length)
        guard end >= position,
              bytesEqual(path, at: 0, head),
              bytesEqual(path, at: end, tail) else { return false }
        if last == first + 1 { return true }
        for pieceIndex in (first + 1) ..< last {
            let piece = globPieces[pieceIndex]
            let length = Int(piece.length)
            var found = false
            while position + length <= end {
                if bytesEqual(path, at: position, piece) { found = true; break }
                position += 1
            }
            guard found else { return false }
            position += length
        }
        return true
    }

    @inline(__always)
    private func bytesEqual(_ path: UnsafeRawBufferPointer, at offset: Int,
                            _ piece: (start: Int32, length: Int32)) -> Bool {
        let start = Int(piece.start)
        for index in 0 ..< Int(piece.length) where path[offset + index] != globBytes[start + index] {
            return false
        }
        return true
    }

    /// nginx's `$host` from what the client sent (ngx_http_validate_host): drop `:port`, keep an IPv6
    /// literal's brackets, drop one trailing dot. Lower-casing happens while hashing/comparing.
    static func hostBounds(_ host: UnsafeRawBufferPointer) -> (Int, Int) {
        var end = host.count
        if host.count > 0 && host[0] == UInt8(ascii: "[") {
            if let close = host.firstIndex(of: UInt8(ascii: "]")) { end = close + 1 }
        } else if let colon = host.firstIndex(of: UInt8(ascii: ":")) {
            end = colon
        }
        if end > 0 && host[end - 1] == UInt8(ascii: ".") { end -= 1 }
        return (0, end)
    }
}

/// radixtree's method bits (`METHODS` in lib/resty/radixtree.lua): route `methods` become a mask,
/// the request method one bit; a method outside the list matches no route that lists methods.
enum HTTPMethodMask {
    static let names: [String] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
                                  "CONNECT", "TRACE", "PURGE"]
    /// Given to route method names outside `names`, which requests never carry, so such a route is
    /// not mistaken for "any method".
    static let unknownRouteMethod: UInt16 = 1 << 15

    /// The bit of a route method name.
    static func bit(forName name: String) -> UInt16 {
        guard let index = names.firstIndex(of: name) else { return unknownRouteMethod }
        return 1 << UInt16(index)
    }

    /// The bit of a request method; 0 if it is not one of `names` (case-sensitive, RFC 9110 9.1).
    @inline(__always)
    static func bit(for method: UnsafeRawBufferPointer) -> UInt16 {
        // Dispatch on length and first byte, then confirm every byte: no table, no String.
        @inline(__always) func equals(_ literal: StaticString) -> Bool {
            guard literal.utf8CodeUnitCount == method.count else { return false }
            let bytes = literal.utf8Start
            for index in 0 ..< method.count where bytes[index] != method[index] { return false }
            return true
        }
        switch (method.count, method.first ?? 0) {
        case (3, UInt8(ascii: "G")): return equals("GET") ? 1 << 0 : 0
        case (4, UInt8(ascii: "P")): return equals("POST") ? 1 << 1 : 0
        case (3, UInt8(ascii: "P")): return equals("PUT") ? 1 << 2 : 0
        case (6, UInt8(ascii: "D")): return equals("DELETE") ? 1 << 3 : 0
        case (5, UInt8(ascii: "P")): return equals("PATCH") ? 1 << 4 : (equals("PURGE") ? 1 << 9 : 0)
        case (4, UInt8(ascii: "H")): return equals("HEAD") ? 1 << 5 : 0
        case (7, UInt8(ascii: "O")): return equals("OPTIONS") ? 1 << 6 : 0
        case (7, UInt8(ascii: "C")): return equals("CONNECT") ? 1 << 7 : 0
        case (5, UInt8(ascii: "T")): return equals("TRACE") ? 1 << 8 : 0
        default: return 0
        }
    }
}
