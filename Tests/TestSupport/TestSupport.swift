#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Helpers shared by the test targets: a real upstream server (``TestUpstream``), a harness that
/// runs the real `sluice` binary (``SluiceProcess``), a raw HTTP client (``HTTPClient``) and a
/// second real server (``NginxProcess``). Everything binds 127.0.0.1 only and every wait is bounded.
package enum TestSupport {
    /// Polls `condition` every `interval` seconds until it returns true or `timeout` seconds have
    /// passed. Returns whether the condition became true. Blocks the calling thread.
    @discardableResult
    package static func waitUntil(
        timeout: Double, interval: Double = 0.02, _ condition: () throws -> Bool
    ) rethrows -> Bool {
        let deadline = Deadline(seconds: timeout)
        while true {
            if try condition() { return true }
            if deadline.expired { return false }
            sleepSeconds(min(interval, max(deadline.remaining, 0.001)))
        }
    }

    /// Blocks the calling thread for `seconds` (fractions allowed).
    package static func sleepSeconds(_ seconds: Double) {
        guard seconds > 0 else { return }
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var rest = timespec()
        while nanosleep(&ts, &rest) == -1 && errno == EINTR { ts = rest }
    }
}

/// An error from a TestSupport helper. The description says what failed, so a test failure report
/// is readable without a debugger.
package enum TestSupportError: Error, CustomStringConvertible {
    /// A system call failed: the call's name and `errno`.
    case system(String, Int32)
    /// A deadline passed while waiting for the named thing.
    case timeout(String)
    /// The peer closed the connection before the named thing was complete.
    case closed(String)
    /// Bytes that are not valid HTTP for the helper that read them.
    case malformed(String)
    /// A process failed to start, or exited early; the message includes its logs.
    case process(String)

    /// A human-readable explanation.
    package var description: String {
        switch self {
        case .system(let call, let err): "\(call) failed: \(String(cString: strerror(err))) (errno \(err))"
        case .timeout(let what): "timed out: \(what)"
        case .closed(let what): "connection closed by peer: \(what)"
        case .malformed(let what): "malformed HTTP: \(what)"
        case .process(let what): what
        }
    }
}

/// A point in time on the monotonic clock, used to bound every wait.
struct Deadline {
    /// The instant the deadline expires, in monotonic nanoseconds.
    let end: UInt64

    /// A deadline `seconds` from now.
    init(seconds: Double) {
        end = Deadline.now() &+ UInt64(max(0, seconds) * 1e9)
    }

    /// Monotonic clock, nanoseconds.
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Seconds left (negative once expired).
    var remaining: Double { (Double(end) - Double(Deadline.now())) / 1e9 }

    /// Whether the deadline has passed.
    var expired: Bool { Deadline.now() >= end }

    /// Milliseconds left, clamped to `0...Int32.max`, for `poll`.
    var remainingMillis: Int32 { Int32(clamping: max(0, Int(remaining * 1000))) }
}
