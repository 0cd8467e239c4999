#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Shared

/// Zones shared by forked processes: exact totals under contention, and processes killed with
/// SIGKILL at any instant, holding the lock or not, neither corrupt a zone nor block the others.
@Suite(.serialized) struct SharedZoneProcessTests {
    static let workers = 4
    static let iterations = 20_000

    /// Keys made before forking, so children do not build strings.
    static func churnKeys(_ child: Int) -> [String] { (0..<40).map { "churn-\(child)-\($0)" } }
    static let churnValue = ZoneValue.bytes([UInt8](repeating: 0x5a, count: 500))
    /// Long enough that copying it is most of a writer's time under the lock.
    static let bigValue = ZoneValue.bytes([UInt8](repeating: 0xa5, count: 6000))

    /// Four processes add to one lock-free counter and incr one locked key 20000 times each,
    /// while churning long entries through a small zone that must evict: both totals are exact,
    /// and both zones are consistent afterwards.
    @Test func hammeredTotalsAreExact() throws {
        let totals = try SharedZone.map(name: "totals", size: 1 << 20)
        let churn = try SharedZone.map(name: "churn", size: 64 * 1024)
        let counter = try totals.counter("lockfree")
        try totals.set("locked", .integer(0))
        let keys = (0..<SharedZoneProcessTests.workers).map(SharedZoneProcessTests.churnKeys)
        // The children's code paths, once in the parent.
        counter.add(0)
        try totals.incr("locked", by: 0)
        try churn.set(keys[0][0], SharedZoneProcessTests.churnValue)
        try churn.delete(keys[0][0])

        let children = (0..<SharedZoneProcessTests.workers).map { child in
            ForkedChild.start {
                let mine = keys[child]
                for n in 0..<SharedZoneProcessTests.iterations {
                    counter.add(1)
                    guard (try? totals.incr("locked", by: 1)) != nil else { return 3 }
                    if n % 10 == 0 {
                        _ = try? churn.set(mine[n / 10 % 40], SharedZoneProcessTests.churnValue)
                        _ = try? churn.delete(mine[(n / 10 + 5) % 40])
                    }
                }
                return 0
            }
        }
        for child in children { #expect(child.wait() == .exited(0)) }
        let expected = Int64(SharedZoneProcessTests.workers * SharedZoneProcessTests.iterations)
        #expect(counter.value == .integer(expected))
        #expect(totals.get("locked") == .integer(expected))
        #expect(churn.evictions > 0)
        #expect(totals.verify() == nil)
        #expect(churn.verify() == nil)
        #expect(totals.recoveries == 0 && churn.recoveries == 0)
    }

    /// A process SIGKILLed while it holds the lock, in the middle of three others incrementing:
    /// the others finish with exact totals, the next owner rebuilds the table once.
    @Test func killedHoldingTheLockBlocksNobody() throws {
        let zone = try SharedZone.map(name: "plugin-limit-count", size: 1 << 20)
        try zone.set("n", .integer(0))
        try zone.incr("n", by: 0)
        let started = try zone.counter("started")
        started.add(0)
        let iterations = 5000
        let incrementers = (0..<3).map { _ in
            ForkedChild.start {
                started.add(1)
                for _ in 0..<iterations { guard (try? zone.incr("n", by: 1)) != nil else { return 3 } }
                return 0
            }
        }
        let victim = ForkedChild.start {
            // Die once the others are inside their loops, so the lock is contended.
            while case .integer(let value) = zone.get("n"), value < Int64(iterations) { usleep(100) }
            zone.crashPoint = .holdingLock
            _ = zone.get("n")
            return 1
        }
        #expect(victim.wait() == .killed(SIGKILL))
        for child in incrementers { #expect(child.wait() == .exited(0)) }
        #expect(zone.get("n") == .integer(Int64(3 * iterations)))
        #expect(zone.recoveries == 1)
        #expect(zone.verify() == nil)
    }

    /// A writer killed at each step of a change leaves a consistent table holding the old value or
    /// the new one in full, never a mix, and every slot accounted for.
    @Test(arguments: [
        (SharedZone.CrashPoint.beforeCommit, "old"),
        (.beforeRemovingOld, "new"),
        (.beforeFreeingChunks, "absent"),
    ])
    func killedMidChange(point: SharedZone.CrashPoint, survivor: String) throws {
        let zone = try SharedZone.map(name: "test", size: 256 * 1024)
        let old = ZoneValue.bytes([UInt8](repeating: 1, count: 700))
        let new = ZoneValue.bytes([UInt8](repeating: 2, count: 900))
        for number in 0..<50 { try zone.set("other\(number)", .integer(Int64(number))) }
        try zone.set("k", old)
        let free = zone.freeSpace
        let writer = ForkedChild.start {
            zone.crashPoint = point
            if point == .beforeFreeingChunks { try? zone.delete("k") } else { _ = try? zone.set("k", new) }
            return 1
        }
        #expect(writer.wait() == .killed(SIGKILL))
        // The next owner must not block: ask from a child that the test can time out.
        let probe = ForkedChild.start { zone.get("other7") == .integer(7) ? 0 : 3 }
        #expect(probe.wait(timeout: 10) == .exited(0))
        let expected: ZoneValue? = survivor == "old" ? old : survivor == "new" ? new : nil
        #expect(zone.get("k") == expected)
        #expect(zone.recoveries == 1)
        #expect(zone.verify() == nil)
        let slotsOf = { (value: ZoneValue?) in value.map { ZoneLayout.slotsNeeded(dataLength: 1 + $0.byteCount) } ?? 0 }
        #expect(zone.freeSpace == free + (slotsOf(old) - slotsOf(expected)) * ZoneLayout.slotSize)
        #expect(zone.entryCount == 50 + (expected == nil ? 0 : 1))
    }

    /// Rounds of three processes incrementing and churning while one of them is SIGKILLed at a
    /// random moment (about a third of the kills land inside the lock): the total is each
    /// survivor's exact count plus what the victim finished (one increment may land between its
    /// add and its own tally), nobody hangs, and the zone stays consistent.
    @Test func randomKillsKeepTotals() throws {
        for round in 0..<10 {
            let zone = try SharedZone.map(name: "hammer", size: 4 << 20)
            let tallies = try SharedZone.map(name: "tallies", size: 64 * 1024)
            try zone.set("n", .integer(0))
            try zone.incr("n", by: 0)
            let done = try (0..<3).map { try tallies.counter("done-\($0)") }
            done[0].add(0)
            let keys = (0..<3).map(SharedZoneProcessTests.churnKeys)
            try zone.set(keys[0][0], SharedZoneProcessTests.bigValue)
            try zone.delete(keys[0][0])
            let iterations = 8000
            let children = (0..<3).map { child in
                ForkedChild.start {
                    for n in 0..<iterations {
                        guard (try? zone.incr("n", by: 1)) != nil else { return 3 }
                        done[child].add(1)
                        if n % 4 == 0 { _ = try? zone.set(keys[child][n / 4 % 40], SharedZoneProcessTests.bigValue) }
                        if n % 4 == 2 { _ = try? zone.delete(keys[child][(n / 4 + 20) % 40]) }
                    }
                    return 0
                }
            }
            usleep(UInt32(1000 + round * 2000 + Int.random(in: 0..<2000)))
            children[0].kill(SIGKILL)
            let ends = children.map { $0.wait(timeout: 10) }
            #expect(ends[1] == .exited(0) && ends[2] == .exited(0))
            guard case .integer(let total) = zone.get("n"), case .integer(let victimDone) = done[0].value else {
                Issue.record("counts missing")
                return
            }
            let survivors = Int64(2 * iterations)
            if ends[0] == .exited(0) {
                #expect(total == survivors + Int64(iterations))
            } else {
                #expect(ends[0] == .killed(SIGKILL))
                #expect(total == survivors + victimDone || total == survivors + victimDone + 1)
            }
            #expect(zone.verify() == nil)
        }
    }
}
