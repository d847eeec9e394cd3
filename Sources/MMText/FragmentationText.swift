// Fragmentation in the kernel's formats and in kmemlab's one-table summary.
//
// Linux: mm/vmstat.c — unusable_show_print() and extfrag_show_print() (debugfs
// extfrag/unusable_index and extfrag/extfrag_index: per populated zone, one index per order,
// thousandths printed as "%d.%03d " and "%2d.%03d "); mm/compaction.c — the proactive
// compaction score and its marks.

import MMCore

public enum FragmentationText {
    /// /sys/kernel/debug/extfrag/unusable_index.
    public static func unusableIndex(_ k: Kernel) -> [String] {
        zoneRows(k).map { unusableIndexLine(node: $0.node, zone: $0.zone, nrFree: $0.nrFree) }
    }

    /// /sys/kernel/debug/extfrag/extfrag_index.
    public static func extfragIndex(_ k: Kernel) -> [String] {
        zoneRows(k).map { extfragIndexLine(node: $0.node, zone: $0.zone, nrFree: $0.nrFree) }
    }

    /// Linux: unusable_show_print(): one zone's line from its free-block counts.
    public static func unusableIndexLine(node: NodeID, zone: String, nrFree: [UInt64]) -> String {
        line(node, zone, nrFree) { info, order in
            let i = info.unusableFreeIndex(order: Order(order))
            return "\(i / 1000).\(padLeftZero(String(i % 1000), 3)) "
        }
    }

    /// Linux: extfrag_show_print(): one zone's line from its free-block counts.
    public static func extfragIndexLine(node: NodeID, zone: String, nrFree: [UInt64]) -> String {
        line(node, zone, nrFree) { info, order in
            let i = info.fragmentationIndex(order: Order(order))
            return padLeft(String(i / 1000), 2) + "." + FragmentationText.cZero3(i % 1000) + " "
        }
    }

    /// C's "%03d": zero-padded to three places, a minus sign taking one of them. The kernel
    /// prints a fragmentation index between −1000 and 0 (a request the free blocks could serve
    /// only by merging) as " 0.-500", and so does kmemlab.
    static func cZero3(_ v: Int) -> String {
        v < 0 ? "-" + padLeftZero(String(-v), 2) : padLeftZero(String(v), 3)
    }

    static func line(_ node: NodeID, _ zone: String, _ nrFree: [UInt64], _ field: (ContigPageInfo, Int) -> String) -> String {
        var s = "Node \(node), zone \(padLeft(zone, 8)) "
        for o in 0..<nrFree.count { s += field(ContigPageInfo(nrFree: nrFree, suitableOrder: o), o) }
        return s
    }

    /// Linux: walk_zones_in_node(…, assert_populated): each populated zone of each online node.
    static func populatedZones(_ k: Kernel) -> [(node: NodeID, zone: Zone)] {
        var out: [(node: NodeID, zone: Zone)] = []
        for node in k.nodes where k.numa.nodeOnline.contains(UInt64(node.nodeId.raw)) {
            for z in node.zones where z.isPopulated { out.append((node.nodeId, z)) }
        }
        return out
    }

    static func zoneRows(_ k: Kernel) -> [(node: NodeID, zone: String, nrFree: [UInt64])] {
        populatedZones(k).map { ($0.node, $0.zone.type.name, $0.zone.nrFree) }
    }

    /// kmemlab's summary: per zone the free pages, the largest free block, the share of free
    /// memory in blocks of at least a pageblock (what a huge page needs), the compaction score
    /// and the mixed pageblocks; per node the score kcompactd compares with its marks.
    public static func summary(_ k: Kernel, extfrag: ExtfragCounters? = nil) -> [String] {
        var out = ["Node, zone            free pages  largest order  free in ≥2 MiB blocks  score  mixed pageblocks"]
        let marks = PGData.fragmentationScoreWmarks(proactiveness: 20)
        for node in k.nodes where k.numa.nodeOnline.contains(UInt64(node.nodeId.raw)) && node.nodePresentPages > 0 {
            for z in node.zones where z.isPopulated {
                let f = ZoneFragmentation(z)
                let mixed = k.mixedPageblockCounts(z).reduce(0, +)
                out.append(padRight("Node \(node.nodeId), zone \(padLeft(z.type.name, 8))", 21)
                           + padLeft(String(f.freePages), 11)
                           + padLeft(f.largestOrder.map { String($0) } ?? "-", 15)
                           + padLeft(percent(f.freeInPageblocks, of: f.freePages), 23)
                           + padLeft(String(f.score), 7)
                           + padLeft(String(mixed), 18))
            }
            out.append("Node \(node.nodeId): fragmentation score \(node.fragmentationScore) (kcompactd compacts proactively above \(marks.high) until below \(marks.low), vm.compaction_proactiveness = 20)")
        }
        if let e = extfrag {
            out.append("fallbacks (mm_page_alloc_extfrag): \(e.events), fragmenting \(e.fragmenting) (unmovable \(e.fragmentingUnmovable)), pageblocks changing owner \(e.changeOwnership)")
        }
        return out
    }

    /// "12.3 %" with one decimal, truncated; "-" when the whole is 0.
    static func percent(_ part: UInt64, of whole: UInt64) -> String {
        guard whole != 0 else { return "-" }
        let tenths = part &* 1000 / whole
        return "\(tenths / 10).\(tenths % 10) %"
    }
}
