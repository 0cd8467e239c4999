/// Says in error.log that a zone is full, at most once a second per zone and process: a zone that
/// is full stays full for a while, and one line per request would bury everything else.
struct ZonePressureLog {
    enum Event { case evicted(Int), refused }

    static let intervalMs: Int64 = 1000
    private var lastLoggedMs: Int64?
    private var evictedSince = 0
    private var refusedSince = 0

    mutating func note(_ event: Event, zone: String, key: String, bytes: Int, logger: Logger?) {
        switch event {
        case .evicted(let count): evictedSince += count
        case .refused: refusedSince += 1
        }
        let now = SharedZone.monotonicMilliseconds()
        guard let logger, lastLoggedMs.map({ now - $0 >= ZonePressureLog.intervalMs }) ?? true else { return }
        lastLoggedMs = now
        let shown = key.count > 64 ? String(key.prefix(64)) + "..." : key
        switch event {
        case .evicted:
            logger.error("shared zone \"\(zone)\" is full: evicted \(evictedSince) unexpired entries "
                + "to store key \"\(shown)\" (\(bytes) bytes)")
        case .refused:
            logger.error("shared zone \"\(zone)\" has no memory for key \"\(shown)\" (\(bytes) bytes), "
                + "not stored (\(refusedSince) refused, \(evictedSince) evicted since the last report)")
        }
        evictedSince = 0
        refusedSince = 0
    }
}
