package import CLibevent
#if canImport(Glibc)
package import Glibc
#endif

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
        var tv = timevalOf(seconds: duration)
        guard let common = event_base_init_common_timeout(base, &tv) else { return nil }
        seconds.append(duration)
        magic.append(common)
        return common
    }
}
