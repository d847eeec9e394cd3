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

extension Kernel {
    /// Linux: pfn_to_online_page() != NULL: an online section, and a subsection that overlaps
    /// memory.
    public func isOnlinePage(_ pfn: Pfn) -> Bool {
        sections.nid(ofSection: UInt64(pfn.section)) != nil && memmap.isSubsectionValid(pfn)
    }

    /// Linux: pagetypeinfo_showblockcount_print(): pageblocks per migratetype, stepping by a
    /// pageblock from the zone's (possibly unaligned) start over every online pfn — a hole
    /// smaller than a subsection counts with the type it was left (UNMOVABLE).
    public func pageblockCounts(_ z: Zone) -> [UInt64] {
        var count = [UInt64](repeating: 0, count: migrateTypes)
        var pfn = z.zoneStartPfn
        while pfn < z.zoneEndPfn {
            if isOnlinePage(pfn), memmap.zoneSlot(pfn) == z.slot {
                count[memmap.pageblockMigratetype(pfn).index] += 1
            }
            pfn += pageblockNrPages
        }
        return count
    }

    /// Linux: page_owner=on (CONFIG_PAGE_OWNER; Debian's kernel lacks it, kmemlab has it).
    public var pageOwnerEnabled: Bool { commandLine.last("page_owner") == "on" }

    /// Linux: pagetypeinfo_showmixedcount_print(): pageblocks holding at least one allocated
    /// page whose allocation asked for another migratetype, by the pageblock's type.
    public func mixedPageblockCounts(_ z: Zone) -> [UInt64] {
        var count = [UInt64](repeating: 0, count: migrateTypes)
        var pfn = z.zoneStartPfn
        let end = z.zoneEndPfn
        while pfn < end {
            guard isOnlinePage(pfn) else {
                pfn = (pfn + 1).roundedUp(maxOrderNrPages)
                continue
            }
            let blockEnd = Swift.min(pfn.alignedDown(.pageblock) + pageblockNrPages, end)
            if !memmap.isMaterialised(pfn) { pfn = blockEnd; continue }
            let blockMT = memmap.pageblockMigratetype(pfn)
            while pfn < blockEnd {
                if memmap.zoneSlot(pfn) != z.slot { pfn += 1; continue }
                if let o = memmap.buddyOrder(pfn) { pfn += o.pages; continue }
                let d = memmap.page(pfn)
                if d.flags.contains(.reserved) || d.refcount <= 0 || d.flags.contains(.tail) { pfn += 1; continue }
                if d.migratetype != blockMT.rawValue {
                    count[blockMT.index] += 1
                    pfn = blockEnd
                    break
                }
                pfn += 1 << UInt64(d.order)
            }
        }
        return count
    }
}
