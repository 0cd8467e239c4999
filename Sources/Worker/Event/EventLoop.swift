// The worker's one libevent loop (nginx's ngx_process_events_and_timers). Everything the worker does
// runs on this loop's thread; no object here is Sendable and none needs to be.
package import CLibevent
#if canImport(Glibc)
package import Glibc
#endif

/// The C callback type libevent calls: fd, what happened (EV_READ/EV_WRITE/EV_TIMEOUT), context.
package typealias EventCallback = @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void

/// One libevent event bound to a fixed context pointer. The struct is allocated once
/// (`event_new`) and re-targeted with `event_assign` when its owner is reused for another
/// descriptor, so a pooled connection costs no allocation per accept or connect.
///
/// With `timeouts` (connections' events), a timeout is armed through the base's common-timeout
/// queue for that duration: O(1) instead of a min-heap insert and removal per re-arm, which is
/// what libevent recommends for many events sharing a few durations (every keep-alive
/// connection has the same keepalive_timeout, every request the same read timeout).
package struct EventHandle {
    package let raw: OpaquePointer
    /// Unmanaged, not `unowned(unsafe) let timeouts: CommonTimeouts?`: at -Onone, Swift 6.3
    /// reads `Optional.none` of a struct holding such a field as a value (iterating an array of
    /// them never ended: `for listener in listeners` looped forever on the last element).
    private let timeouts: Unmanaged<CommonTimeouts>?

    package init(base: OpaquePointer, callback: EventCallback, context: UnsafeMutableRawPointer,
                 timeouts: CommonTimeouts? = nil) {
        raw = event_new(base, -1, 0, callback, context)!
        self.timeouts = timeouts.map { Unmanaged.passUnretained($0) }
    }

    /// Points the (not pending) event at `fd` for `events` (`EV_READ`, `EV_WRITE`, `EV_PERSIST`).
    package func assign(base: OpaquePointer, fd: Int32, events: Int32, callback: EventCallback,
                        context: UnsafeMutableRawPointer) {
        event_del(raw)
        event_assign(raw, base, fd, Int16(events), callback, context)
    }

    /// Arms the event; `timeout` in seconds (nil = none). Re-arming a pending event resets its timer.
    @inline(__always)
    package func add(timeout: Double? = nil) {
        if let timeout {
            if let timeouts, let common = timeouts._withUnsafeGuaranteedRef({ $0.duration(timeout) }) {
                event_add(raw, common)
                return
            }
            var tv = timeval(seconds: timeout)
            event_add(raw, &tv)
        } else {
            event_add(raw, nil)
        }
    }

    @inline(__always)
    package func delete() { event_del(raw) }

    @inline(__always)
    package var isPending: Bool { event_pending(raw, Int16(EV_READ | EV_WRITE | EV_TIMEOUT), nil) != 0 }

    package func free() { event_free(raw) }
}

/// An event base's common-timeout durations (`event_base_init_common_timeout`), made on first
/// use: a handful per worker (keepalive, header, body, send, each upstream's connect/send/read).
/// Past `limit` distinct durations, timeouts fall back to the ordinary heap.
package final class CommonTimeouts {
    private let base: OpaquePointer
    private var seconds: [Double] = []
    private var magic: [UnsafePointer<timeval>] = []
    package let limit: Int

    package init(base: OpaquePointer, limit: Int = 64) {
        self.base = base
        self.limit = limit
    }

    package var count: Int { seconds.count }

    /// The base's common timeval for `duration` seconds, or nil when the table is full.
    @inline(__always)
    package func duration(_ duration: Double) -> UnsafePointer<timeval>? {
        var i = 0
        while i < seconds.count {
            if seconds[i] == duration { return magic[i] }
            i += 1
        }
        return make(duration)
    }

    private func make(_ duration: Double) -> UnsafePointer<timeval>? {
        guard seconds.count < limit, duration >= 0 else { return nil }
        var tv = timeval(seconds: duration)
        guard let common = event_base_init_common_timeout(base, &tv) else { return nil }
        seconds.append(duration)
        magic.append(common)
        return common
    }
}

extension timeval {
    /// A libevent timeout from seconds.
    package init(seconds: Double) {
        let whole = seconds.rounded(.down)
        self.init(tv_sec: Int(whole), tv_usec: Int((seconds - whole) * 1_000_000))
    }
}

/// Milliseconds of the monotonic clock (request times, back-off).
@inline(__always)
package func monotonicMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
