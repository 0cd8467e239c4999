import Foundation
import Testing
@testable import Shared

/// `ngx.shared.DICT` semantics of one zone, in one process.
@Suite struct SharedZoneTests {
    static let t0: Int64 = 1_000_000

    /// Each kind of value round-trips; an overwrite replaces; the table stays consistent.
    @Test func setAndGet() throws {
        let zone = try SharedZone.map(name: "test", size: 64 * 1024)
        try zone.set("i", .integer(-42))
        try zone.set("d", .double(1.5))
        try zone.set("b", .bool(true))
        try zone.set("s", .string("hello"))
        #expect(zone.get("i") == .integer(-42))
        #expect(zone.get("d") == .double(1.5))
        #expect(zone.get("b") == .bool(true))
        #expect(zone.get("s") == .string("hello"))
        #expect(zone.get("missing") == nil)
        try zone.set("s", .string("bye"))
        #expect(zone.get("s") == .string("bye"))
        #expect(zone.entryCount == 4)
        #expect(zone.verify() == nil)
    }

    /// Keys and values longer than a slot span chunk chains, and read back byte for byte; freeing
    /// them returns every chunk.
    @Test func longEntriesSpanChunks() throws {
        let zone = try SharedZone.map(name: "test", size: 256 * 1024)
        let free = zone.freeSpace
        let key = String(repeating: "k", count: 300) + "/end"
        let value = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try zone.set(key, .bytes(value))
        #expect(zone.get(key) == .bytes(value))
        #expect(free - zone.freeSpace == ZoneLayout.slotsNeeded(dataLength: 304 + 5000) * ZoneLayout.slotSize)
        #expect(zone.get(String(repeating: "k", count: 300) + "/enD") == nil)
        try zone.set(key, .bytes(Array(value.prefix(100))))
        #expect(zone.get(key) == .bytes(Array(value.prefix(100))))
        try zone.delete(key)
        #expect(zone.get(key) == nil)
        #expect(zone.freeSpace == free)
        #expect(zone.verify() == nil)
    }

    /// add, replace, incr and delete answer as lua-nginx-module does.
    @Test func conditionalWrites() throws {
        let zone = try SharedZone.map(name: "test", size: 64 * 1024)
        try zone.add("a", .integer(1))
        #expect(throws: ZoneError.exists) { try zone.add("a", .integer(2)) }
        #expect(throws: ZoneError.notFound) { try zone.replace("b", .integer(2)) }
        try zone.replace("a", .integer(5))
        #expect(zone.get("a") == .integer(5))
        #expect(try zone.incr("a", by: 3) == 8)
        #expect(throws: ZoneError.notFound) { try zone.incr("c", by: 1) }
        #expect(try zone.incr("c", by: 2, initial: 10) == 12)
        try zone.set("s", .string("x"))
        #expect(throws: ZoneError.notANumber) { try zone.incr("s", by: 1) }
        try zone.delete("a")
        try zone.delete("never-there")
        #expect(zone.get("a") == nil)
        #expect(throws: ZoneError.emptyKey) { try zone.set("", .integer(1)) }
        #expect(throws: ZoneError.keyTooLong) { try zone.set(String(repeating: "x", count: 65536), .integer(1)) }
        #expect(ZoneError.noMemory.message == "no memory" && ZoneError.notANumber.message == "not a number")
        #expect(zone.verify() == nil)
    }

    /// Entries expire at their time to live: get misses, add may take the key, incr with an
    /// initial value restarts it, ttl and expire read and move the deadline, flushExpired frees.
    @Test func expiry() throws {
        let zone = try SharedZone.map(name: "test", size: 64 * 1024)
        let t0 = SharedZoneTests.t0
        try zone.set("short", .integer(1), ttl: 0.5, now: t0)
        try zone.set("long", .integer(2), ttl: 10, now: t0)
        try zone.set("forever", .integer(3), now: t0)
        #expect(zone.get("short", now: t0 + 499) == .integer(1))
        #expect(zone.get("short", now: t0 + 500) == nil)
        #expect(try zone.ttl("long", now: t0 + 2000) == 8)
        #expect(try zone.ttl("forever", now: t0) == 0)
        #expect(throws: ZoneError.notFound) { try zone.ttl("short", now: t0 + 600) }
        try zone.add("short", .integer(9), now: t0 + 600)
        #expect(zone.get("short", now: t0 + 600) == .integer(9))
        try zone.expire("forever", ttl: 1, now: t0)
        #expect(zone.get("forever", now: t0 + 1000) == nil)
        // Times no clock reaches mean "never", not an overflow.
        try zone.set("huge", .integer(1), ttl: 1e300, now: t0)
        try zone.set("infinite", .integer(1), ttl: .infinity, now: t0)
        try zone.set("nan", .integer(1), ttl: .nan, now: t0)
        #expect(try zone.ttl("huge", now: t0) == 0 && zone.get("nan", now: .max) == .integer(1))
        for key in ["huge", "infinite", "nan"] { try zone.delete(key) }
        #expect(throws: ZoneError.notFound) { try zone.incr("long", by: 1, now: t0 + 20_000) }
        #expect(try zone.incr("long", by: 1, initial: 100, initialTTL: 1, now: t0 + 20_000) == 101)
        #expect(zone.get("long", now: t0 + 20_999) == .integer(101))
        #expect(zone.entryCount == 3)
        #expect(zone.flushExpired(now: t0 + 30_000) == 2)
        #expect(zone.entryCount == 1)
        #expect(zone.verify() == nil)
    }

    /// A full zone evicts the least recently used entries to take a new one (and says how many);
    /// the entries just used survive; safe writes and counters refuse instead.
    @Test func fullZoneEvicts() throws {
        let zone = try SharedZone.map(name: "tiny", size: 8192)
        let capacity = zone.freeSpace / ZoneLayout.slotSize
        #expect(capacity > 40)
        var evicted = 0
        for number in 0..<capacity { evicted += try zone.set("key\(number)", .integer(Int64(number))) }
        #expect(evicted == 0 && zone.freeSpace == 0)
        // Every entry was used once: the sweep clears their marks, then takes the oldest.
        #expect(try zone.set("new", .integer(1)) == 1)
        #expect(zone.get("key0") == nil && zone.get("new") == .integer(1))
        // key1 is read again, key2 is not: key2 goes.
        _ = zone.get("key1")
        #expect(try zone.set("newer", .integer(1)) == 1)
        #expect(zone.get("key1") == .integer(1) && zone.get("key2") == nil)
        #expect(zone.evictions == 2)
        #expect(throws: ZoneError.noMemory) { try zone.safeSet("another", .integer(1)) }
        #expect(zone.refusals == 1)
        #expect(zone.verify() == nil)
        // An entry bigger than the whole zone is refused, never a crash.
        #expect(throws: ZoneError.noMemory) { try zone.set("huge", .bytes([UInt8](repeating: 1, count: 20_000))) }
        #expect(zone.verify() == nil)
    }

    /// safeSet takes the room of expired entries, never of live ones.
    @Test func safeSetUsesExpiredRoom() throws {
        let zone = try SharedZone.map(name: "tiny", size: 8192)
        let t0 = SharedZoneTests.t0
        let capacity = zone.freeSpace / ZoneLayout.slotSize
        for number in 0..<capacity { try zone.set("key\(number)", .integer(1), ttl: number == 7 ? 1 : 0, now: t0) }
        #expect(throws: ZoneError.noMemory) { try zone.safeSet("x", .integer(1), now: t0) }
        try zone.safeSet("x", .integer(1), now: t0 + 1000)
        #expect(zone.get("x", now: t0 + 1000) == .integer(1))
        #expect(zone.get("key7", now: t0 + 1000) == nil)
        #expect(zone.get("key8", now: t0 + 1000) == .integer(1))
        #expect(zone.evictions == 0)
    }

    /// Counters: one handle per key, lock-free adds visible to get; the key cannot be overwritten,
    /// deleted, expired or evicted; a zone full of counters refuses new entries.
    @Test func counters() throws {
        let zone = try SharedZone.map(name: "tiny", size: 8192)
        let hits = try zone.counter("hits")
        hits.add(2)
        try zone.counter("hits").add(3)
        #expect(zone.get("hits") == .integer(5))
        #expect(try zone.incr("hits", by: 1) == 6)
        #expect(hits.value == .integer(6))
        let sum = try zone.counter("latency_sum", kind: .double)
        sum.add(0.25)
        sum.add(1.5)
        #expect(zone.get("latency_sum") == .double(1.75))
        #expect(throws: ZoneError.notANumber) { try zone.counter("hits", kind: .double) }
        #expect(throws: ZoneError.counter) { try zone.set("hits", .integer(0)) }
        #expect(throws: ZoneError.counter) { try zone.delete("hits") }
        #expect(throws: ZoneError.counter) { try zone.expire("hits", ttl: 1) }
        try zone.set("plain", .integer(1))
        #expect(throws: ZoneError.exists) { try zone.counter("plain") }
        zone.flushAll()
        #expect(zone.get("plain") == nil)
        #expect(zone.get("hits") == .integer(6))
        var made = 2
        while true {
            do { _ = try zone.counter("c\(made)") } catch { #expect(error == .noMemory); break }
            made += 1
        }
        #expect(made == zone.slotCount)
        #expect(throws: ZoneError.noMemory) { try zone.set("one-more", .integer(1)) }
        #expect(hits.value == .integer(6))
        #expect(zone.verify() == nil)
    }

    /// A full zone says so in error.log, once a second at most, with what it did.
    @Test func fullZoneIsLogged() throws {
        let path = NSTemporaryDirectory() + "sluice-zone-log-" + UUID().uuidString
        defer { unlink(path) }
        let zone = try SharedZone.map(name: "plugin-limit-count", size: 8192)
        zone.logger = Logger(path: path, level: .warn)
        for number in 0..<zone.slotCount { _ = try zone.counter("c\(number)") }
        for _ in 0..<5 { #expect(throws: ZoneError.noMemory) { try zone.set("k", .integer(1)) } }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("[error]") == true)
        #expect(lines.first?.hasSuffix("shared zone \"plugin-limit-count\" has no memory for key \"k\" (1 bytes), "
            + "not stored (1 refused, 0 evicted since the last report)") == true)
        #expect(zone.refusals == 5)
    }

    /// forEachEntry sees every unexpired entry once, counters included, and may write to the zone.
    @Test func walkSeesEveryEntry() throws {
        let zone = try SharedZone.map(name: "test", size: 1024 * 1024)
        let t0 = SharedZoneTests.t0
        for number in 0..<3000 { try zone.set("k\(number)", .integer(Int64(number)), ttl: number % 3 == 0 ? 1 : 0, now: t0) }
        try zone.counter("total", now: t0).add(7)
        var seen: [String: ZoneValue] = [:]
        zone.forEachEntry(now: t0 + 5000) { key, value in
            seen[key] = value
            _ = zone.get(key, now: t0 + 5000)
        }
        #expect(seen.count == 2001)
        #expect(seen["k1"] == .integer(1) && seen["k0"] == nil && seen["total"] == .integer(7))
    }
}
