#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Shared

/// A node's zones across respawns and reloads: kept when unchanged, new when resized.
@Suite(.serialized) struct SharedZonesTests {
    static let k = 1024

    /// One zone per configured name at its size; APISIX's defaults map without touching more than
    /// their headers.
    @Test func mapsEveryConfiguredZone() throws {
        let zones = try SharedZones.map(GatewayConfig.apisixSharedDicts)
        #expect(zones.names.count == GatewayConfig.apisixSharedDicts.count)
        #expect(zones["prometheus-metrics"]?.size == 128 * 1024 * 1024)
        #expect(zones["plugin-limit-count"]?.freeSpace ?? 0 > 10 * 1024 * 1024 * 9 / 10)
    }

    /// A process forked before a reload (old generation) and one forked after it (new generation)
    /// share an unchanged zone, so its counts carry on; a resized zone is a new, empty one for
    /// the new generation while the old generation keeps its own.
    @Test func reloadKeepsUnchangedAndRemapsResized() throws {
        let first = try SharedZones.map(["kept": 64 * SharedZonesTests.k, "resized": 64 * SharedZonesTests.k,
                                         "dropped": 16 * SharedZonesTests.k])
        let keptCounter = try first["kept"]!.counter("requests")
        try first["resized"]!.set("old", .integer(1))
        keptCounter.add(1)
        try first["resized"]!.incr("old", by: 0)

        // An old-generation worker, still running across the reload.
        let go = try first["kept"]!.counter("go")
        go.add(0)
        let oldWorker = ForkedChild.start {
            while go.value == .integer(0) { usleep(500) }
            keptCounter.add(10)
            return (try? first["resized"]!.incr("old", by: 1)) == 2 ? 0 : 3
        }

        let second = try first.reconciled(with: ["kept": 64 * SharedZonesTests.k, "resized": 128 * SharedZonesTests.k,
                                                 "added": 16 * SharedZonesTests.k])
        #expect(second["kept"] === first["kept"])
        #expect(second["resized"] !== first["resized"] && second["resized"]?.size == 128 * SharedZonesTests.k)
        #expect(second["resized"]?.get("old") == nil)
        #expect(second["dropped"] == nil && second["added"] != nil)

        let newWorker = ForkedChild.start {
            guard let counter = try? second["kept"]!.counter("requests") else { return 3 }
            counter.add(100)
            return (try? second["resized"]!.set("new", .integer(5))) != nil ? 0 : 4
        }
        #expect(newWorker.wait() == .exited(0))
        go.add(1)
        #expect(oldWorker.wait() == .exited(0))
        #expect(keptCounter.value == .integer(111))
        #expect(first["resized"]?.get("old") == .integer(2))
        #expect(first["resized"]?.get("new") == nil)
        #expect(second["resized"]?.get("new") == .integer(5))
    }

    /// The control process's sweep frees expired entries of every zone, and only those.
    @Test func flushExpiredSweepsEveryZone() throws {
        let zones = try SharedZones.map(["a": 16 * SharedZonesTests.k, "b": 16 * SharedZonesTests.k])
        let t0: Int64 = 5_000
        try zones["a"]!.set("gone", .integer(1), ttl: 1, now: t0)
        try zones["a"]!.set("stays", .integer(1), now: t0)
        try zones["b"]!.set("gone", .integer(1), ttl: 2, now: t0)
        let free = zones["b"]!.freeSpace
        #expect(zones.flushExpired(now: t0 + 1500) == 1)
        #expect(zones.flushExpired(now: t0 + 2000) == 1)
        #expect(zones["a"]!.entryCount == 1 && zones["b"]!.entryCount == 0)
        #expect(zones["b"]!.freeSpace == free + ZoneLayout.slotSize)
    }

    /// A size that cannot be mapped fails the whole set, naming the zone; the current set is kept.
    @Test func failedMappingKeepsTheCurrentSet() throws {
        let current = try SharedZones.map(["a": 16 * SharedZonesTests.k])
        #expect(throws: SharedZone.MapError.self) {
            try current.reconciled(with: ["a": 32 * SharedZonesTests.k, "huge": Int.max / 2])
        }
        #expect(current["a"]?.size == 16 * SharedZonesTests.k)
        // More than the machine has: the kernel refuses the mapping (overcommit's heuristic
        // refuses one larger than RAM and swap together).
        let tooMuch = 400 << 30
        do {
            _ = try SharedZones.map(["huge": tooMuch])
            Issue.record("mapped \(tooMuch) bytes")
        } catch {
            #expect(error.message == "mmap(MAP_ANON|MAP_SHARED, \(tooMuch)) failed (12: Cannot allocate memory) "
                + "for shared zone \"huge\"")
        }
        // More than 32-bit slot numbers reach.
        #expect(throws: SharedZone.MapError(message: "invalid lua shared dict size \"\(Int.max / 2)\" for shared zone \"x\"")) {
            try SharedZones.map(["x": Int.max / 2])
        }
    }
}
