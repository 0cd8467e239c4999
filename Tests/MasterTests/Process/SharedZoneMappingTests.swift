#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import Shared
import TestSupport

/// The master's shared zones, seen in `/proc/PID/maps`: a `MAP_SHARED | MAP_ANONYMOUS` mapping
/// shows as `/dev/zero (deleted)` with an inode of its own, the same in every process mapping it.
@Suite(.serialized) struct SharedZoneMappingTests {
    /// `custom_lua_shared_dict` sizes no APISIX default has, so the zone's mapping is recognisable.
    static let size = 1236 * 1024
    static let resized = 2472 * 1024

    static func config(workers: Int, zoneKiB: Int) -> String {
        SluiceProcess.defaultConfigYAML(workers: workers)
            + "  http:\n    custom_lua_shared_dict:\n      test-zone: \(zoneKiB)k\n"
    }

    /// Inodes of the shared anonymous mappings of exactly `size` bytes in `pid`.
    static func zoneInodes(_ pid: Int32, size: Int) -> [UInt64] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "rw-s", line.contains("/dev/zero") else { return nil }
            let range = fields[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
            guard range.count == 2, range[1] - range[0] == UInt64(size) else { return nil }
            return UInt64(fields[4])
        }
    }

    /// Every worker and the control process map the master's zone; a respawned worker maps the
    /// same one; a reload that keeps the size keeps it, one that resizes it gives the new
    /// generation a new zone (and says so in error.log).
    @Test func zonesSurviveRespawnAndResizeOnReload() throws {
        let sluice = try SluiceProcess(configYAML: SharedZoneMappingTests.config(workers: 2, zoneKiB: 1236), workers: 2)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stop() }
        let master = try #require(sluice.pid)
        let zone = SharedZoneMappingTests.zoneInodes(master, size: SharedZoneMappingTests.size)
        #expect(zone.count == 1)
        let children = sluice.workerPids + [try #require(sluice.controlPid)]
        for child in children {
            #expect(SharedZoneMappingTests.zoneInodes(child, size: SharedZoneMappingTests.size) == zone, "pid \(child)")
        }

        // A worker killed with SIGKILL is respawned onto the same zone.
        let victim = try #require(sluice.workerPids.first)
        kill(victim, SIGKILL)
        #expect(sluice.waitUntil(timeout: 5) { sluice.workerPids.count == 2 && !sluice.workerPids.contains(victim) })
        let respawned = try #require(sluice.workerPids.first { !children.contains($0) })
        #expect(SharedZoneMappingTests.zoneInodes(respawned, size: SharedZoneMappingTests.size) == zone)

        // A reload that changes something else keeps the zone for the new generation.
        var before = Set(sluice.workerPids)
        try sluice.writeConfigYAML(SharedZoneMappingTests.config(workers: 3, zoneKiB: 1236))
        #expect(sluice.signal(SIGHUP))
        #expect(sluice.waitUntil(timeout: 8) { sluice.workerPids.count == 3 && before.isDisjoint(with: sluice.workerPids) })
        for worker in sluice.workerPids {
            #expect(SharedZoneMappingTests.zoneInodes(worker, size: SharedZoneMappingTests.size) == zone)
        }

        // A resize: a new zone for the new generation; the master lets go of the old one.
        before = Set(sluice.workerPids)
        try sluice.writeConfigYAML(SharedZoneMappingTests.config(workers: 3, zoneKiB: 2472))
        #expect(sluice.signal(SIGHUP))
        #expect(sluice.waitUntil(timeout: 8) { sluice.workerPids.count == 3 && before.isDisjoint(with: sluice.workerPids) })
        let resized = SharedZoneMappingTests.zoneInodes(master, size: SharedZoneMappingTests.resized)
        #expect(resized.count == 1 && resized != zone)
        #expect(SharedZoneMappingTests.zoneInodes(master, size: SharedZoneMappingTests.size).isEmpty)
        for worker in sluice.workerPids {
            #expect(SharedZoneMappingTests.zoneInodes(worker, size: SharedZoneMappingTests.resized) == resized)
            #expect(SharedZoneMappingTests.zoneInodes(worker, size: SharedZoneMappingTests.size).isEmpty)
        }
        #expect(sluice.waitUntil { sluice.controlPid.map { SharedZoneMappingTests.zoneInodes($0, size: SharedZoneMappingTests.resized) } == resized })
        #expect(sluice.errorLog.contains("shared zone \"test-zone\" resized from \(SharedZoneMappingTests.size) "
            + "to \(SharedZoneMappingTests.resized) bytes: the new worker processes start with an empty zone"))
    }

    /// A zone size nginx refuses stops the start with its message; nothing is left running.
    @Test func badSizeRefusesToStart() throws {
        let sluice = try SluiceProcess(configYAML: SluiceProcess.defaultConfigYAML(workers: 1)
            + "  http:\n    lua_shared_dict:\n      plugin-limit-count: 8k-ish\n", workers: 1)
        let result = sluice.run(["-t"])
        #expect(result.status != 0)
        #expect(result.output.contains("invalid lua shared dict size \"8k-ish\" for nginx_config.http.lua_shared_dict.plugin-limit-count"))
    }
}
