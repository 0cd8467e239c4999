#if canImport(Glibc)
import Glibc
#endif
import Shared

/// The master's side of the shared zones (nginx's `ngx_init_zone_pool` in `ngx_init_cycle`):
/// mapped once before the first fork, kept across respawns, reconciled on a reload that
/// replaces the workers.
///
/// Zones are anonymous shared mappings, so "keeping" one is simply handing the same
/// ``SharedZone`` to the next child; a zone the new configuration resizes is a new mapping that
/// only the new generation inherits, while the old generation keeps writing to the one it has
/// until it exits. The master itself never reads or writes a zone.
enum ZoneMapping {
    /// The zones of `config`. One that cannot be mapped is an `[emerg]`: the master does not
    /// start without it.
    static func start(_ config: GatewayConfig, logger: Logger) -> SharedZones {
        do {
            return try SharedZones.map(config.sharedDicts)
        } catch {
            logger.log(.emerg, error.message)
            exit(1)
        }
    }

    /// The zones for the next generation. Logs each zone that is resized, new or dropped; nil
    /// after logging why when one cannot be mapped (the reload is then refused as a whole).
    static func reload(_ current: SharedZones, to next: GatewayConfig, logger: Logger) -> SharedZones? {
        let reconciled: SharedZones
        do {
            reconciled = try current.reconciled(with: next.sharedDicts)
        } catch {
            logger.log(.emerg, error.message)
            return nil
        }
        for name in reconciled.names {
            guard let zone = reconciled[name] else { continue }
            if let old = current[name] {
                if old !== zone {
                    logger.notice("shared zone \"\(name)\" resized from \(old.size) to \(zone.size) bytes: "
                        + "the new worker processes start with an empty zone")
                }
            } else {
                logger.notice("shared zone \"\(name)\" of \(zone.size) bytes added")
            }
        }
        for name in current.names where reconciled[name] == nil {
            logger.notice("shared zone \"\(name)\" removed")
        }
        return reconciled
    }
}
