#if canImport(Glibc)
package import Glibc
#endif

/// A libevent timeout from seconds. (A free function: an initializer added to the imported C struct
/// in this module is not found from the modules that import it.)
package func timevalOf(seconds: Double) -> timeval {
    let whole = seconds.rounded(.down)
    return timeval(tv_sec: Int(whole), tv_usec: Int((seconds - whole) * 1_000_000))
}

/// Milliseconds of the monotonic clock (request times, back-off).
@inline(__always)
package func monotonicMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
