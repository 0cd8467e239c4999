// Weighted round robin: nginx's smooth algorithm (ngx_http_upstream_get_peer in
// src/http/ngx_http_upstream_round_robin.c). Each pick adds every eligible peer's weight to its
// current weight, takes the peer with the largest current weight (the first one on ties) and
// subtracts the round's total from it, so {a:5, b:1, c:1} gives a a b a c a a rather than five a's
// in a row. APISIX's node `priority` (apisix/balancer/priority.lua) is layered on top: only the
// highest-priority group with an untried node takes part.

package import Shared

/// Round-robin state for one upstream's nodes. Loop-confined: owned by one worker's event loop and
/// mutated on every pick; allocates only in `init`.
package struct RoundRobinBalancer: Sendable {
    /// Node weights, indexed like the `nodes` given to `init`. 0 = never picked (APISIX allows
    /// weight 0 to take a node out of rotation; nginx has no such weight).
    private let weights: [Int]
    /// nginx `current_weight`, per node.
    private var currentWeights: [Int]
    /// Node indices by priority, highest first; within a group, in node order (nginx's tie-break
    /// is "first in the list").
    private let order: [Int]
    /// End offset in `order` of each priority group, in order.
    private let groupEnds: [Int]

    /// Balancer over `nodes`; each node starts with current weight 0, as in nginx.
    package init(nodes: [Upstream.Node]) {
        weights = nodes.map { max($0.weight, 0) }
        currentWeights = [Int](repeating: 0, count: nodes.count)
        let sorted = nodes.indices.sorted {
            nodes[$0].priority != nodes[$1].priority ? nodes[$0].priority > nodes[$1].priority : $0 < $1
        }
        order = sorted
        var ends: [Int] = []
        for position in sorted.indices where position + 1 == sorted.count
            || nodes[sorted[position]].priority != nodes[sorted[position + 1]].priority {
            ends.append(position + 1)
        }
        groupEnds = ends
    }

    /// Number of nodes (picked indices are below it).
    package var count: Int { weights.count }

    /// Picks the next node, skipping `tried` and weight-0 nodes; nil when no node is left (the
    /// caller then answers 502, like nginx when every peer has been tried).
    package mutating func pick(excluding tried: PeerSet) -> Int? {
        var groupStart = 0
        for groupEnd in groupEnds {
            var best = -1
            var total = 0
            for position in groupStart ..< groupEnd {
                let node = order[position]
                let weight = weights[node]
                if weight == 0 || tried.contains(node) { continue }
                currentWeights[node] += weight
                total += weight
                if best < 0 || currentWeights[node] > currentWeights[best] { best = node }
            }
            if best >= 0 {
                currentWeights[best] -= total
                return best
            }
            groupStart = groupEnd
        }
        return nil
    }
}
