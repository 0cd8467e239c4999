// The peers one request has already tried, like the `tried` bitmap of nginx's
// ngx_http_upstream_rr_peer_data_t: a retry never goes back to a peer that failed it.

/// A set of peer (node) indices. The first 64 live inline, so the common case never allocates;
/// larger indices spill into a heap array and stay correct.
package struct PeerSet: Sendable, Equatable {
    private var inline: UInt64 = 0
    /// Bits for indices 64 and up: word `n` holds indices `64 * (n + 1) ..< 64 * (n + 2)`.
    private var overflow: [UInt64] = []

    /// The empty set.
    package init() {}

    /// Adds a peer index (>= 0).
    package mutating func insert(_ index: Int) {
        precondition(index >= 0, "peer index must not be negative")
        if index < 64 {
            inline |= 1 << UInt64(index)
            return
        }
        let word = index / 64 - 1
        if word >= overflow.count { overflow.append(contentsOf: repeatElement(0, count: word - overflow.count + 1)) }
        overflow[word] |= 1 << UInt64(index % 64)
    }

    /// Whether the peer index was inserted.
    @inline(__always)
    package func contains(_ index: Int) -> Bool {
        if index < 64 { return index >= 0 && inline & (1 << UInt64(index)) != 0 }
        let word = index / 64 - 1
        return word < overflow.count && overflow[word] & (1 << UInt64(index % 64)) != 0
    }

    /// Number of peers in the set.
    package var count: Int {
        overflow.reduce(inline.nonzeroBitCount) { $0 + $1.nonzeroBitCount }
    }

    /// True when no peer was inserted.
    package var isEmpty: Bool { count == 0 }

    /// Same members, whatever spare overflow capacity either side carries.
    package static func == (lhs: PeerSet, rhs: PeerSet) -> Bool {
        guard lhs.inline == rhs.inline else { return false }
        // Words past the shorter array must be zero: the same set can have different capacities.
        for word in 0 ..< max(lhs.overflow.count, rhs.overflow.count) {
            let left = word < lhs.overflow.count ? lhs.overflow[word] : 0
            let right = word < rhs.overflow.count ? rhs.overflow[word] : 0
            if left != right { return false }
        }
        return true
    }
}
