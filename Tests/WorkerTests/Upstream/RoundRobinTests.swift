import Shared
import Testing
import Worker

@Suite struct RoundRobinTests {
    private func balancer(_ weights: [Int], priorities: [Int]? = nil) -> RoundRobinBalancer {
        RoundRobinBalancer(nodes: weights.enumerated().map { index, weight in
            Upstream.Node(host: "10.0.0.\(index + 1)", port: 80, weight: weight, priority: priorities?[index] ?? 0)
        })
    }

    private func picks(_ balancer: inout RoundRobinBalancer, _ count: Int, excluding tried: PeerSet = PeerSet()) -> [Int?] {
        (0 ..< count).map { _ in balancer.pick(excluding: tried) }
    }

    /// nginx's smooth sequence for {a:5, b:1, c:1}: a a b a c a a, then it repeats.
    @Test func nginxSmoothSequence() {
        var rr = balancer([5, 1, 1])
        #expect(picks(&rr, 14) == [0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0])
    }

    /// Equal weights alternate in node order.
    @Test func equalWeights() {
        var rr = balancer([1, 1, 1])
        #expect(picks(&rr, 6) == [0, 1, 2, 0, 1, 2])
    }

    /// A weight-0 node is never chosen; only weight-0 nodes means no node.
    @Test func zeroWeight() {
        var rr = balancer([0, 3, 0, 1])
        #expect(!picks(&rr, 100).contains(0))
        #expect(!picks(&rr, 100).contains(2))
        var none = balancer([0, 0])
        #expect(none.pick(excluding: PeerSet()) == nil)
        var empty = balancer([])
        #expect(empty.pick(excluding: PeerSet()) == nil)
    }

    /// Tried peers are skipped for the retry; once all are tried there is nothing left.
    @Test func excludesTried() {
        var rr = balancer([5, 1, 1])
        var tried = PeerSet()
        let first = rr.pick(excluding: tried)
        #expect(first == 0)
        tried.insert(0)
        let second = rr.pick(excluding: tried)
        #expect(second == 1 || second == 2)
        tried.insert(second!)
        let third = rr.pick(excluding: tried)
        #expect(third == 3 - second!)
        tried.insert(third!)
        #expect(rr.pick(excluding: tried) == nil)
    }

    /// Only the highest-priority group is used until all its nodes are tried; weight-0 nodes do
    /// not keep a group alive.
    @Test func priorityFallback() {
        var rr = balancer([1, 1, 1, 0], priorities: [0, 10, 10, 20])
        #expect(Set(picks(&rr, 10)) == [1, 2])
        var tried = PeerSet()
        tried.insert(1)
        #expect(picks(&rr, 5, excluding: tried) == [2, 2, 2, 2, 2])
        tried.insert(2)
        #expect(rr.pick(excluding: tried) == 0)
        tried.insert(0)
        #expect(rr.pick(excluding: tried) == nil)
    }

    /// Negative priorities sort below the default 0.
    @Test func negativePriority() {
        var rr = balancer([1, 1], priorities: [-1, 0])
        #expect(picks(&rr, 3) == [1, 1, 1])
    }

    /// Over many picks each node's share equals its weight's share, exactly per full cycle.
    @Test func distributionFollowsWeights() {
        let weights = [7, 3, 0, 10, 1]
        var rr = balancer(weights)
        let cycle = weights.reduce(0, +)
        var counts = [Int](repeating: 0, count: weights.count)
        for _ in 0 ..< cycle * 1000 { counts[rr.pick(excluding: PeerSet())!] += 1 }
        #expect(counts == weights.map { $0 * 1000 })
    }

    /// Smoothness: in any window of one cycle, no node is picked more than its weight + 1 times.
    @Test func smoothness() {
        var rr = balancer([5, 1, 1])
        let sequence = picks(&rr, 70).map { $0! }
        for start in 0 ... sequence.count - 7 {
            let window = sequence[start ..< start + 7]
            #expect(window.filter { $0 == 1 }.count <= 2)
            #expect(window.filter { $0 == 0 }.count <= 6)
        }
    }
}

@Suite struct PeerSetTests {
    /// Insert/contains inline and past 64 peers; equality ignores spare capacity.
    @Test func insertAndContains() {
        var set = PeerSet()
        #expect(set.isEmpty)
        for index in [0, 5, 63, 64, 127, 128, 1000] { set.insert(index) }
        for index in [0, 5, 63, 64, 127, 128, 1000] { #expect(set.contains(index)) }
        for index in [1, 62, 65, 129, 999, 1001, 5000, -1] { #expect(!set.contains(index)) }
        #expect(set.count == 7)
        set.insert(5)
        #expect(set.count == 7)

        var small = PeerSet()
        small.insert(3)
        var grown = PeerSet()
        grown.insert(3)
        grown.insert(200)
        #expect(small != grown)
        var other = PeerSet()
        other.insert(3)
        #expect(small == other)
    }

    /// The balancer honours exclusions above index 63.
    @Test func largeUpstream() {
        var rr = RoundRobinBalancer(nodes: (0 ..< 100).map { Upstream.Node(host: "h\($0)", port: 80, weight: 1) })
        var tried = PeerSet()
        for index in 0 ..< 99 { tried.insert(index) }
        #expect(rr.pick(excluding: tried) == 99)
        tried.insert(99)
        #expect(rr.pick(excluding: tried) == nil)
    }
}
