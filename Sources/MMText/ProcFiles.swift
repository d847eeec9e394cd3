// /proc files rendered from a booted model, in the kernel's formats.
//
// Linux: mm/vmstat.c — zoneinfo_show_print() (/proc/zoneinfo).
// Only fields the model computes are printed; the others (free pages, watermarks, protection,
// pagesets) arrive with the buddy allocator. Until memblock_free_all() is modelled, `managed` is
// free_area_init_core()'s estimate (what "Total pages" adds up), not the final count.

import MMCore

public enum ProcFiles {
    /// /sys/kernel/debug/memblock/memory and …/reserved (mm/memblock.c: memblock_debug_show()),
    /// each after a line naming it.
    public static func memblock(_ k: Kernel) -> [String] {
        var out: [String] = []
        for (name, type) in [("memory", k.memblock.memory), ("reserved", k.memblock.reserved)] {
            out.append("/sys/kernel/debug/memblock/\(name):")
            if type.isEmpty { continue }
            for (i, r) in type.regions.enumerated() {
                out.append("\(padLeft(String(i), 4)): \(pa(r.base))..\(pa(r.base &+ r.size &- 1))")
            }
        }
        return out
    }

    /// /proc/zoneinfo's node and zone headers with spanned, present, managed and start_pfn.
    public static func zoneinfo(_ k: Kernel) -> [String] {
        var out: [String] = []
        for node in k.nodes where k.numa.nodeOnline.contains(UInt64(node.nodeId)) {
            for z in node.zones where z.type != .device || k.machine.kernel.zoneDevice {
                out.append("Node \(node.nodeId), zone \(padLeft(z.type.name, 8))")
                out.append("        spanned  \(z.spannedPages)")
                out.append("        present  \(z.presentPages)")
                out.append("        managed  \(z.managedPages)")
                if z.isPopulated { out.append("  start_pfn:           \(z.zoneStartPfn)") }
            }
        }
        return out
    }
}
