/// The zones of one node by name: what the master maps before forking and hands every child.
///
/// A reload builds the next set with ``reconciled(with:)``: a zone whose size is unchanged is the
/// same zone (the same pages: counts and limits carry on), a resized or new one is mapped afresh
/// for the new generation, and one no longer configured is dropped from the master's view (the
/// old generation keeps its own mapping until it exits, and the kernel frees the pages with the
/// last process that maps them).
package final class SharedZones: @unchecked Sendable {
    /// Zones by `lua_shared_dict` name.
    package let byName: [String: SharedZone]

    package init(_ zones: [SharedZone] = []) {
        var byName: [String: SharedZone] = [:]
        for zone in zones { byName[zone.name] = zone }
        self.byName = byName
    }

    package subscript(name: String) -> SharedZone? { byName[name] }

    /// Names in order, for rendering (`apisix_shared_dict_capacity_bytes{name=...}`).
    package var names: [String] { byName.keys.sorted() }

    /// Maps one zone per `sizes` entry (name → bytes). All or nothing: when one cannot be mapped,
    /// those already mapped are dropped and the error names the one that failed.
    package static func map(_ sizes: [String: Int]) throws(SharedZone.MapError) -> SharedZones {
        try SharedZones().reconciled(with: sizes)
    }

    /// The set for a new configuration: unchanged zones kept, resized and new ones mapped; this
    /// set is left as it is. All or nothing, like ``map(_:)``.
    package func reconciled(with sizes: [String: Int]) throws(SharedZone.MapError) -> SharedZones {
        var zones: [SharedZone] = []
        for name in sizes.keys.sorted() {
            let size = sizes[name]!
            if let current = byName[name], current.size == size {
                zones.append(current)
            } else {
                zones.append(try SharedZone.map(name: name, size: size))
            }
        }
        return SharedZones(zones)
    }

    /// Frees every zone's expired entries; returns how many. For the control process's timer:
    /// workers only ever reclaim expired room on the way, when they need it, as nginx does; the
    /// sweep makes free space (`apisix_shared_dict_free_space_bytes`) true between two writes.
    @discardableResult
    package func flushExpired(now: Int64 = SharedZone.monotonicMilliseconds()) -> Int {
        byName.values.reduce(0) { $0 + $1.flushExpired(now: now) }
    }

    /// Sets the error log each zone reports a full zone to; each process after fork.
    package func attach(logger: Logger) {
        for zone in byName.values { zone.logger = logger }
    }
}
