#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock strings that appear in responses and logs, rebuilt at most once a second
/// (nginx's ngx_time_update): `Date:` values and the access log's `$time_local`.
package struct CachedClock {
    private var second: Int = -1
    /// `Sun, 29 Nov 2026 05:27:15 GMT`
    package private(set) var httpDate: [UInt8] = []
    /// `29/Nov/2026:05:27:15 +0000`
    package private(set) var logTime: [UInt8] = []

    package init() { refresh() }

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Rebuilds the strings when the second changed. Cheap otherwise (`time(2)` is a vDSO call).
    @inline(__always)
    package mutating func refresh() {
        let now = time(nil)
        guard now != second else { return }
        second = now
        var t = now
        var g = tm()
        gmtime_r(&t, &g)
        httpDate = Array("\(Self.days[Int(g.tm_wday)]), \(pad(g.tm_mday)) \(Self.months[Int(g.tm_mon)]) \(g.tm_year + 1900) \(pad(g.tm_hour)):\(pad(g.tm_min)):\(pad(g.tm_sec)) GMT".utf8)
        var l = tm()
        localtime_r(&t, &l)
        let off = l.tm_gmtoff / 60
        let sign = off < 0 ? "-" : "+"
        let abs = off < 0 ? -off : off
        logTime = Array("\(pad(l.tm_mday))/\(Self.months[Int(l.tm_mon)])/\(l.tm_year + 1900):\(pad(l.tm_hour)):\(pad(l.tm_min)):\(pad(l.tm_sec)) \(sign)\(pad(Int32(abs / 60)))\(pad(Int32(abs % 60)))".utf8)
    }

    private func pad(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
}
