// The process runtime every process with an event loop shares (a worker, the control process):
// libevent events, timeouts, sockets, addresses, the resolver, the cached clock. An object here
// belongs to one loop and runs on that loop's thread; none is Sendable and none needs to be.
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
            var tv = timevalOf(seconds: timeout)
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
