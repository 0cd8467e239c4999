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
package struct EventHandle {
    package let raw: OpaquePointer

    package init(base: OpaquePointer, callback: EventCallback, context: UnsafeMutableRawPointer) {
        raw = event_new(base, -1, 0, callback, context)!
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
