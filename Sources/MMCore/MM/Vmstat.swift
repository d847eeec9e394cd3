// Per-cpu vmstat thresholds: how far a CPU's counter may drift before it folds into the zone's.
//
// Linux: mm/vmstat.c — calculate_normal_threshold(), refresh_zone_stat_thresholds().
// Exact: the "vm stats threshold" /proc/zoneinfo prints; it grows with the CPU count and the
//        zone's size (in 128 MiB units), capped at 125.

extension Kernel {
    /// Linux: calculate_normal_threshold().
    static func normalThreshold(managed: UInt64, onlineCPUs: Int) -> UInt64 {
        let mem = managed >> (27 - pageShift)
        return Swift.min(125, 2 * fls(UInt64(onlineCPUs)) * (1 + fls(mem)))
    }

    /// Linux: refresh_zone_stat_thresholds(): populated zones only.
    mutating func refreshZoneStatThresholds() {
        let cpus = onlineCPUs
        forEachZone { z in
            if z.isPopulated { z.statThreshold = Kernel.normalThreshold(managed: z.managedPages, onlineCPUs: cpus) }
        }
    }
}
