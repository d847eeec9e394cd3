// /proc files rendered from a booted model, in the kernel's formats.
//
// Linux: mm/vmstat.c — zoneinfo_show_print() (/proc/zoneinfo), frag_show_print()
// (/proc/buddyinfo), pagetypeinfo_show() (/proc/pagetypeinfo); mm/page_owner.c —
// pagetypeinfo_showmixedcount_print(); fs/proc/meminfo.c.
// Counters the model does not keep print 0.

import MMCore

public enum ProcFiles {
    /// The files `--show` and the shell's `show` know, by name.
    public static let names = ["zoneinfo", "buddyinfo", "pagetypeinfo", "slabinfo", "vmallocinfo", "meminfo", "sysctl", "memblock",
                                       "unusable_index", "extfrag_index", "fragmentation", "efi_memmap"]

    /// One file by name (one of `names`), or nil.
    public static func render(_ name: String, _ k: Kernel) -> [String]? {
        switch name {
        case "zoneinfo": return zoneinfo(k)
        case "buddyinfo": return buddyinfo(k)
        case "pagetypeinfo": return pagetypeinfo(k)
        case "meminfo": return meminfo(k)
        case "sysctl": return sysctl(k)
        case "memblock": return memblock(k)
        case "slabinfo": return SlabFiles.slabinfo(k)
        case "vmallocinfo": return vmallocinfo(k)
        case "unusable_index": return FragmentationText.unusableIndex(k)
        case "extfrag_index": return FragmentationText.extfragIndex(k)
        case "fragmentation": return FragmentationText.summary(k)
        case "efi_memmap": return efiMemmap(k)
        default: return nil
        }
    }

    /// The EFI memory map as the kernel holds it at the end of boot, in efi=debug's format: a
    /// boot-services region tagged RUN is one it kept (already reserved, not its own, or split
    /// off for the BGRT logo); the others it freed. Then what efi_free_boot_services() freed.
    public static func efiMemmap(_ k: Kernel) -> [String] {
        guard let f = k.machine.efi else { return ["(not a UEFI boot: no EFI memory map)"] }
        var out = ["EFI v\(f.revisionText) by \(f.vendor): \(k.efi.nrMap) descriptors"]
        if f.mapUnknown {
            out.append("(the log shows no descriptor: boot it with efi=debug or memblock=debug)")
        } else if !f.mapComplete {
            out.append("(the log shows only the \(f.memoryMap.count) boot-services regions the kernel reserved itself)")
        }
        for (i, d) in k.efi.memmap.enumerated() { out.append(d.debugLine(index: i)) }
        let kept = k.efi.memmap.filter { $0.type?.isBootServices == true && $0.attribute.contains(.runtime) }
        out.append("boot services: \(k.efi.bootServicesFreed >> 10)K freed, \(kept.reduce(0) { $0 &+ $1.size } >> 10)K kept"
                   + (k.efi.debug ? " (efi=debug keeps them all)" : ""))
        return out
    }

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

    /// /proc/zoneinfo (mm/vmstat.c: zoneinfo_show_print()). Counters the model does not keep
    /// (page cache, slab, NUMA hits …) print 0.
    public static func zoneinfo(_ k: Kernel) -> [String] {
        var out: [String] = []
        let cpus = k.onlineCPUs
        for node in k.nodes where k.numa.nodeOnline.contains(UInt64(node.nodeId.raw)) {
            let firstPopulated = node.zones.firstIndex(where: { $0.isPopulated })
            for (i, z) in node.zones.enumerated() where z.type != .device || k.machine.kernel.zoneDevice {
                out.append("Node \(node.nodeId), zone \(padLeft(z.type.name, 8))")
                if i == firstPopulated {
                    out.append("  per-node stats")
                    for name in nodeStatNames { out.append("      \(padRight(name, 12)) 0") }
                }
                out.append("  pages free     \(z.freePages)")
                out.append("        boost    \(z.watermarkBoost)")
                out.append("        min      \(z.minWmark)")
                out.append("        low      \(z.lowWmark)")
                out.append("        high     \(z.highWmark)")
                out.append("        spanned  \(z.spannedPages)")
                out.append("        present  \(z.presentPages)")
                out.append("        managed  \(z.managedPages)")
                out.append("        cma      0")
                let reserve = (k.machine.kernel.zoneDevice ? z.lowmemReserve : Array(z.lowmemReserve.prefix(maxNrZones - 1)))
                out.append("        protection: (\(reserve.map { String($0) }.joined(separator: ", ")))")
                guard z.isPopulated else { continue }
                out.append("      \(padRight("nr_free_pages", 12)) \(z.freePages)")
                for name in zoneStatNames { out.append("      \(padRight(name, 12)) 0") }
                out.append("  pagesets")
                for cpu in 0..<cpus {
                    out.append("    cpu: \(cpu)")
                    out.append("              count: \(cpu < z.pcp.count ? z.pcp[cpu].count : 0)")
                    out.append("              high:  \(z.pagesetHigh)")
                    out.append("              batch: \(z.pagesetBatch)")
                    out.append("  vm stats threshold: \(z.statThreshold)")
                }
                out.append("  node_unreclaimable:  0")
                out.append("  start_pfn:           \(z.zoneStartPfn)")
            }
        }
        return out
    }

    /// /proc/buddyinfo: free blocks per order, per populated zone of each online node.
    public static func buddyinfo(_ k: Kernel) -> [String] {
        var out: [String] = []
        for node in k.nodes where k.numa.nodeOnline.contains(UInt64(node.nodeId.raw)) {
            for z in node.zones where z.isPopulated {
                var line = "Node \(node.nodeId), zone \(padLeft(z.type.name, 8)) "
                for o in 0..<maxOrder { line += padLeft(String(z.nrFree[o]), 6) + " " }
                out.append(line)
            }
        }
        return out
    }

    /// /proc/pagetypeinfo: per node with memory, the free blocks per order of every list
    /// (counted up to 100000, as Linux caps its walk), the pageblocks per migratetype, and —
    /// when the command line turns page_owner on — the pageblocks holding pages of another type.
    public static func pagetypeinfo(_ k: Kernel) -> [String] {
        var out: [String] = []
        for node in k.nodes where k.numa.nodeOnline.contains(UInt64(node.nodeId.raw)) && node.nodePresentPages > 0 {
            out.append("Page block order: \(pageblockOrder)")
            out.append("Pages per block:  \(pageblockNrPages)")
            out.append("")
            var head = padRight("Free pages count per migrate type at order", 43) + " "
            for o in 0..<maxOrder { head += padLeft(String(o), 6) + " " }
            out.append(head)
            for z in node.zones where z.isPopulated {
                for mt in MigrateType.allCases {
                    var line = "Node \(padLeft(node.nodeId.description, 4)), zone \(padLeft(z.type.name, 8)), type \(padLeft(mt.name, 12)) "
                    for o in 0..<maxOrder {
                        let n = z.freeLists[o * migrateTypes + Int(mt.rawValue)].count
                        line += (n >= 100000 ? ">" + padLeft("100000", 6) : padLeft(String(n), 6)) + " "
                    }
                    out.append(line)
                }
            }
            /// A table of pageblock counts per migratetype, one row per populated zone.
            func blockTable(_ title: String, _ counts: (Zone) -> [UInt64]) {
                out.append("")
                var head = padRight(title, 23)
                for mt in MigrateType.allCases { head += padLeft(mt.name, 12) + " " }
                out.append(head)
                for z in node.zones where z.isPopulated {
                    var line = "Node \(node.nodeId), zone \(padLeft(z.type.name, 8)) "
                    for c in counts(z) { line += padLeft(String(c), 12) + " " }
                    out.append(line)
                }
            }
            blockTable("Number of blocks type ", k.pageblockCounts)
            if k.pageOwnerEnabled { blockTable("Number of mixed blocks ", k.mixedPageblockCounts) }
        }
        return out
    }

    /// /proc/meminfo (fs/proc/meminfo.c: show_val_kb()), the lines the model knows so far.
    public static func meminfo(_ k: Kernel) -> [String] {
        var free: UInt64 = 0
        for node in k.nodes { for z in node.zones { free += z.freePages } }
        func line(_ name: String, _ pages: UInt64) -> String {
            padRight(name + ":", 16) + padLeft(String(pages << 2), 8) + " kB"
        }
        // NR_SLAB_RECLAIMABLE_B / NR_SLAB_UNRECLAIMABLE_B: the caches' slab pages (large
        // kmallocs count as unreclaimable).
        var reclaimable: UInt64 = 0, unreclaimable = UInt64(k.largeKmallocPages)
        for id in k.slub.list {
            let c = k.slub.caches[id]
            if c.flags.contains(.reclaimAccount) { reclaimable += UInt64(c.pages) } else { unreclaimable += UInt64(c.pages) }
        }
        var lines = [line("MemTotal", k.totalramPages), line("MemFree", free), line("KReclaimable", reclaimable),
                     line("Slab", reclaimable + unreclaimable), line("SReclaimable", reclaimable), line("SUnreclaim", unreclaimable)]
        // arch_report_meminfo(): the direct map's pages by size (DirectMap1G only with GB pages).
        lines.append(line("DirectMap4k", k.directPagesCount[0]))
        lines.append(line("DirectMap2M", k.directPagesCount[1] << 9))
        if k.pageSizeMask.contains(.size1G) { lines.append(line("DirectMap1G", k.directPagesCount[2] << 18)) }
        return lines
    }

    /// /proc/vmallocinfo (mm/vmalloc.c: s_show()), as root reads it (no pointer hashing).
    public static func vmallocinfo(_ k: Kernel) -> [String] {
        k.vmalloc.areas.map { a in
            var line = "\(pa(a.start))-\(pa(a.end)) \(padLeft(String(a.end - a.start), 7)) \(a.caller)"
            if let phys = a.ioremapPhys { return line + " phys=\(pa(phys)) ioremap" }
            line += " pages=\(a.nrPages) vmalloc"
            if a.vpages { line += " vpages" }
            for (nid, n) in a.perNode.enumerated() where n > 0 { line += " N\(nid)=\(n)" }
            return line
        }
    }

    /// The vm.* sysctls the model keeps, in `sysctl` format (vm-sysctl.txt's first lines).
    public static func sysctl(_ k: Kernel) -> [String] {
        [
            "vm.min_free_kbytes = \(k.vm.minFreeKbytes)",
            "vm.watermark_scale_factor = \(k.vm.watermarkScaleFactor)",
            "vm.watermark_boost_factor = \(k.vm.watermarkBoostFactor)",
            "vm.lowmem_reserve_ratio = " + k.vm.lowmemReserveRatio.map { String($0) }.joined(separator: "\t"),
            "vm.percpu_pagelist_high_fraction = \(k.vm.percpuPagelistHighFraction)",
        ]
    }

    public static let sysctlNames = ["vm.min_free_kbytes", "vm.watermark_scale_factor", "vm.watermark_boost_factor",
                                     "vm.lowmem_reserve_ratio", "vm.percpu_pagelist_high_fraction"]

    /// A `vm.NAME=VALUE` assignment (`--sysctl`, a what-if request) with its form and name
    /// checked; the value is the kernel's to judge when it is written (`writeSysctl`).
    public static func sysctlAssignment(_ assignment: String, file: String, field: String) throws(InputError)
        -> (name: String, value: String)
    {
        guard let eq = assignment.firstIndex(of: "=") else {
            throw InputError(file: file, field: field, "\"\(assignment)\": expected vm.NAME=VALUE")
        }
        let name = String(assignment[..<eq]), value = String(assignment[assignment.index(after: eq)...])
        guard sysctlNames.contains(name) else { throw unknownSysctl(name, file: file, field: field) }
        return (name, value)
    }

    /// Writes a checked assignment as its proc handler would: an invalid value is the kernel's
    /// EINVAL, as an input error.
    public static func writeSysctl(_ k: inout Kernel, _ a: (name: String, value: String), file: String, field: String) throws(InputError) {
        do { try k.writeSysctl(a.name, a.value) } catch {
            switch error {
            case .unknown: throw unknownSysctl(a.name, file: file, field: field)
            case .invalid: throw InputError(file: file, field: field, "\"\(a.name)=\(a.value)\": invalid value (the kernel would answer EINVAL)")
            }
        }
    }

    static func unknownSysctl(_ name: String, file: String, field: String) -> InputError {
        InputError(file: file, field: field, "\"\(name)\": not a sysctl kmemlab models (known: \(sysctlNames.joined(separator: ", ")))")
    }

    /// Linux: node_stat_name() for 6.1's enum node_stat_item (the "per-node stats" block).
    static let nodeStatNames = [
        "nr_inactive_anon", "nr_active_anon", "nr_inactive_file", "nr_active_file", "nr_unevictable",
        "nr_slab_reclaimable", "nr_slab_unreclaimable", "nr_isolated_anon", "nr_isolated_file",
        "workingset_nodes", "workingset_refault_anon", "workingset_refault_file", "workingset_activate_anon",
        "workingset_activate_file", "workingset_restore_anon", "workingset_restore_file",
        "workingset_nodereclaim", "nr_anon_pages", "nr_mapped", "nr_file_pages", "nr_dirty", "nr_writeback",
        "nr_writeback_temp", "nr_shmem", "nr_shmem_hugepages", "nr_shmem_pmdmapped", "nr_file_hugepages",
        "nr_file_pmdmapped", "nr_anon_transparent_hugepages", "nr_vmscan_write", "nr_vmscan_immediate_reclaim",
        "nr_dirtied", "nr_written", "nr_throttled_written", "nr_kernel_misc_reclaimable", "nr_foll_pin_acquired",
        "nr_foll_pin_released", "nr_kernel_stack", "nr_page_table_pages", "nr_sec_page_table_pages",
        "nr_swapcached", "pgpromote_success", "pgpromote_candidate",
    ]

    /// Linux: zone_stat_name() after nr_free_pages, then the NUMA events.
    static let zoneStatNames = [
        "nr_zone_inactive_anon", "nr_zone_active_anon", "nr_zone_inactive_file", "nr_zone_active_file",
        "nr_zone_unevictable", "nr_zone_write_pending", "nr_mlock", "nr_bounce", "nr_zspages", "nr_free_cma",
        "numa_hit", "numa_miss", "numa_foreign", "numa_interleave", "numa_local", "numa_other",
    ]
}
