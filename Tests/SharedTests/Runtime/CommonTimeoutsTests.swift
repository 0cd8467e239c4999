#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Testing
@testable import Shared

private nonisolated(unsafe) var fired: [Int] = []

private func record(_ fd: Int32, _ what: Int16, _ ctx: UnsafeMutableRawPointer?) {
    fired.append(Int(bitPattern: ctx))
}

@Suite(.serialized) struct CommonTimeoutsTests {
    /// One common timeval per duration, made once; past the limit, none (the heap is used).
    @Test func oneEntryPerDuration() {
        let base = event_base_new()!
        defer { event_base_free(base) }
        let timeouts = CommonTimeouts(base: base, limit: 2)
        let a = timeouts.duration(60), b = timeouts.duration(60), c = timeouts.duration(0.5)
        #expect(a != nil && a == b && c != nil && a != c)
        #expect(timeouts.count == 2)
        #expect(timeouts.duration(7) == nil)
    }

    /// Events armed through common timeouts fire after their durations, in order, and re-arming
    /// resets the timer (a keep-alive connection that got a request is not timed out).
    @Test func timersFireAndReset() {
        fired = []
        let base = event_base_new()!
        let timeouts = CommonTimeouts(base: base)
        let short = EventHandle(base: base, callback: record, context: UnsafeMutableRawPointer(bitPattern: 1)!, timeouts: timeouts)
        let long = EventHandle(base: base, callback: record, context: UnsafeMutableRawPointer(bitPattern: 2)!, timeouts: timeouts)
        let rearmed = EventHandle(base: base, callback: record, context: UnsafeMutableRawPointer(bitPattern: 3)!, timeouts: timeouts)
        defer { short.free(); long.free(); rearmed.free(); event_base_free(base) }
        long.add(timeout: 0.2)
        short.add(timeout: 0.05)
        rearmed.add(timeout: 0.05)
        var started = timespec()
        clock_gettime(CLOCK_MONOTONIC, &started)
        // Re-arm `rearmed` after 30 ms: it now fires at ~80 ms, after `short`.
        usleep(30_000)
        rearmed.add(timeout: 0.05)
        while fired.count < 3 {
            event_base_loop(base, EVLOOP_ONCE)
        }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let elapsed = Double(now.tv_sec - started.tv_sec) + Double(now.tv_nsec - started.tv_nsec) / 1e9
        #expect(fired == [1, 3, 2])
        #expect(elapsed >= 0.19)
    }
}
