// Transparent huge pages at boot: whether they are on, and the min_free_kbytes they ask for.
//
// Linux: mm/huge_memory.c — setup_transparent_hugepage(), hugepage_init();
//        mm/khugepaged.c — start_stop_khugepaged(), set_recommended_min_free_kbytes().
// Exact: the last watermark computation of a Debian boot happens here (subsys_initcall), with the
//        managed pages of that moment.

/// Linux: transparent_hugepage_flags' enabled bits (Debian: CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS).
public enum THPMode: Sendable, Equatable {
    case always, madvise, never
}

extension Kernel {
    /// Linux: the `transparent_hugepage=` setup handler: an unknown word is ignored with a warning.
    var thpMode: THPMode {
        switch commandLine.last("transparent_hugepage") {
        case "madvise": return .madvise
        case "never": return .never
        default: return .always
        }
    }

    /// Linux: hugepage_init(). Below 512 MiB of RAM THP stays off and khugepaged never starts,
    /// so min_free_kbytes keeps its plain value.
    mutating func hugepageInit() {
        if totalramPages < (512 << (20 - pageShift)) {
            thpEnabled = false
            return
        }
        thpEnabled = thpMode != .never
        setRecommendedMinFreeKbytes()
    }

    /// Linux: set_recommended_min_free_kbytes(): enough free memory that two pageblocks per
    /// zone stay free, plus room for each of the three mobility types to fall back to another —
    /// so huge pages can still be assembled — but never more than 5% of lowmem.
    mutating func setRecommendedMinFreeKbytes() {
        if !thpEnabled {
            calculateMinFreeKbytes()
            setupPerZoneWmarks()
            return
        }
        var nrZones: UInt64 = 0
        forEachZone { z in if z.isPopulated && z.type <= .normal { nrZones += 1 } }
        var recommended = pageblockNrPages * nrZones * 2
        recommended += pageblockNrPages * nrZones * UInt64(migratePCPTypes * migratePCPTypes)
        recommended = Swift.min(recommended, nrFreeBufferPages() / 20)
        recommended <<= (pageShift - 10)
        if Int64(recommended) > vm.minFreeKbytes {
            if vm.userMinFreeKbytes >= 0 {
                log.info("raising min_free_kbytes from \(vm.minFreeKbytes) to \(recommended) to help transparent hugepage allocations")
            }
            vm.minFreeKbytes = Int64(recommended)
        }
        setupPerZoneWmarks()
    }
}
