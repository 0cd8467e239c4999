import Synchronization

/// A number in a shared zone that every process adds to without the zone's lock.
///
/// It is the number word of a pinned table entry (``SharedZone/counter(_:kind:)``): the entry is
/// never evicted, expired, moved or deleted, so the address stays valid for the life of the
/// mapping and a worker looks the key up once and keeps the handle. Adds are single atomic
/// instructions (`lock xadd`; a compare-and-swap loop for doubles): a process killed at any
/// instant has either added or not, and never blocks another. Relaxed ordering: a counter orders
/// nothing else, and a reader only needs each add to land exactly once. Valid while this
/// process keeps its ``SharedZone`` (the object unmaps the zone when it goes).
// TODO(#19): prometheus' `expire` drops series nobody updated for a while; a counter that can be
// retired needs a generation word the handle checks, so a stale handle cannot add to a reused slot.
package struct ZoneCounter: @unchecked Sendable {
    package enum Kind: Sendable { case integer, double }

    let word: UnsafeMutablePointer<Atomic<UInt64>>
    package let kind: Kind

    /// Adds to an integer counter (wrapping, as a 64-bit counter does).
    @inline(__always)
    package func add(_ amount: Int64) {
        word.pointee.wrappingAdd(UInt64(bitPattern: amount), ordering: .relaxed)
    }

    /// Adds to a double counter (a latency sum). Disfavoured so that `add(1)` is the integer add.
    @_disfavoredOverload
    package func add(_ amount: Double) {
        var seen = word.pointee.load(ordering: .relaxed)
        while true {
            let next = (Double(bitPattern: seen) + amount).bitPattern
            let (exchanged, original) = word.pointee.compareExchange(
                expected: seen, desired: next, ordering: .relaxed)
            if exchanged { return }
            seen = original
        }
    }

    /// The current value.
    package var value: ZoneValue {
        let bits = word.pointee.load(ordering: .relaxed)
        switch kind {
        case .integer: return .integer(Int64(bitPattern: bits))
        case .double: return .double(Double(bitPattern: bits))
        }
    }
}
