// 32-bit x86: why highmem exists. The kernel shares each process's 4 GiB address space, keeps
// the top gigabyte for itself, and must fit into it a direct map of RAM, vmalloc, the persistent
// kmap window, the LDT and cpu_entry_area remaps and the fixmap. What remains for the direct map
// (MAXMEM) is lowmem; RAM above it is highmem, reachable only through temporary mappings.
//
// Linux: arch/x86/include/asm/page_32_types.h (PAGE_OFFSET, __VMALLOC_RESERVE),
//        pgtable_32_areas.h (VMALLOC_*, PKMAP_BASE, LDT_BASE_ADDR, CPU_ENTRY_AREA_BASE, MAXMEM),
//        fixmap.h (enum fixed_addresses), cpu_entry_area.h; arch/x86/mm/pgtable_32.c
//        (vmalloc=, reservetop=); arch/x86/mm/init_32.c — find_low_pfn_range(),
//        lowmem_pfn_init(), highmem_pfn_init(), initmem_init(), setup_bootmem_allocator();
//        arch/x86/mm/init.c — zone_sizes_init(); arch/x86/mm/highmem_32.c —
//        set_highmem_pages_init(); mm/page_alloc.c — free_area_init() for one node, FLATMEM.
// Exact: for Debian's two i386 kernels (686: HIGHMEM4G, 2-level tables; 686-pae: HIGHMEM64G,
//        PAE), NR_CPUS=32, VMSPLIT_3G, FLATMEM: every layout constant, the "HIGHMEM/LOWMEM
//        available" and "low ram" lines, the zone lines, present pages, the memmap estimate,
//        "Total pages", "Initializing HighMem".
// Simplified: the i386 boot stops after set_highmem_pages_init(); its memblock reservations are
//        the x86-64 model's; no page tables are built (docs/DIVERGENCES.md).

/// The kernel build a machine boots.
public enum Arch: String, Sendable, CaseIterable {
    case x86_64 = "x86_64"
    /// Debian's 686 flavour: HIGHMEM4G, two-level page tables with 4 MiB large pages, 4 GiB of
    /// physical address space.
    case i386 = "i386"
    /// Debian's 686-pae flavour: HIGHMEM64G with PAE, three-level tables with 2 MiB large pages,
    /// 64 GiB of physical address space.
    case i386PAE = "i386-pae"

    public var is32Bit: Bool { self != .x86_64 }
    /// The Debian kernel flavour this build names itself after.
    public var flavour: String {
        switch self {
        case .x86_64: return "amd64"
        case .i386: return "686"
        case .i386PAE: return "686-pae"
        }
    }
}

/// Linux: CONFIG_PAGE_OFFSET, chosen by the "Memory split" option.
public enum VMSplit: String, Sendable, CaseIterable {
    case split3G = "3G", split3GOpt = "3G_OPT", split2G = "2G", split2GOpt = "2G_OPT", split1G = "1G"

    public var pageOffset: UInt64 {
        switch self {
        case .split3G: return 0xC000_0000
        case .split3GOpt: return 0xB000_0000
        case .split2G: return 0x8000_0000
        case .split2GOpt: return 0x7800_0000
        case .split1G: return 0x4000_0000
        }
    }
}

/// The top gigabyte of a 32-bit kernel, from the top down: fixmap, cpu_entry_area, LDT remap,
/// persistent kmaps, vmalloc, and below them the direct map of lowmem.
public struct I386Layout: Equatable, Sendable {
    public let pae: Bool
    /// Linux: PAGE_OFFSET (Debian: VMSPLIT_3G).
    public var pageOffset: UInt64 = VMSplit.split3G.pageOffset
    /// Linux: CONFIG_NR_CPUS (Debian i386: 32). The fixmap and cpu_entry_area grow with it.
    public var nrCpus: UInt64 = 32
    /// Linux: __VMALLOC_RESERVE (128 MiB; `vmalloc=N` makes it N plus the 8 MiB guard).
    public var vmallocReserve: UInt64 = 128 << 20
    /// Linux: __FIXADDR_TOP (0xfffff000, lowered by `reservetop=`).
    public var fixaddrTop: UInt64 = 0xffff_f000
    /// Linux: high_memory, the end of the direct map (set by initmem_init()).
    public var highMemory: UInt64 = 0

    public init(pae: Bool) { self.pae = pae }

    public var pmdShift: UInt64 { pae ? 21 : 22 }
    public var pmdSize: UInt64 { 1 << pmdShift }
    var pmdMask: UInt64 { ~(pmdSize - 1) & 0xffff_ffff }
    public var ptrsPerPte: UInt64 { pae ? 512 : 1024 }
    /// Linux: LAST_PKMAP — one page table's worth of kmap slots.
    public var lastPkmap: UInt64 { pae ? 512 : 1024 }
    /// Linux: MAX_ARCH_PFN: 36 physical address bits with PAE, 32 without.
    public var maxArchPfn: UInt64 { pae ? 1 << 24 : 1 << 20 }
    /// Linux: VMALLOC_OFFSET, the guard between the direct map and vmalloc.
    public static let vmallocOffset: UInt64 = 8 << 20

    // The fixmap (enum fixed_addresses for Debian's i386 configuration).
    /// Linux: MAX_IO_APICS on 32-bit and KM_MAX_IDX (no DEBUG_KMAP_LOCAL).
    static let maxIOApics: UInt64 = 64
    public static let kmMaxIdx: UInt64 = 16
    /// FIX_HOLE, FIX_DBGP_BASE, FIX_EARLYCON_MEM_BASE, FIX_APIC_BASE, then the I/O APICs.
    public var fixKmapBegin: UInt64 { 4 + I386Layout.maxIOApics }
    public var fixKmapEnd: UInt64 { fixKmapBegin + I386Layout.kmMaxIdx * nrCpus - 1 }
    /// FIX_PCIE_MCFG, FIX_APEI_GHES_IRQ, FIX_APEI_GHES_NMI follow the kmap slots.
    public var endOfPermanentFixed: UInt64 { fixKmapEnd + 4 }
    /// Linux: FIX_BTMAP_END: the 512 early_ioremap slots move up to a page-table boundary when
    /// they would straddle one.
    public var fixBtmapEnd: UInt64 {
        let e = endOfPermanentFixed, total: UInt64 = 512
        return (e ^ (e + total - 1)) & ~(ptrsPerPte - 1) != 0 ? e + total - (e & (total - 1)) : e
    }
    public var fixBtmapBegin: UInt64 { fixBtmapEnd + 511 }
    /// FIX_WP_TEST, the last index: __end_of_fixed_addresses is one past it.
    public var endOfFixed: UInt64 { fixBtmapBegin + 2 }
    @inlinable public func fixToVirt(_ idx: UInt64) -> UInt64 { fixaddrTop &- (idx << 12) }
    public var fixaddrStart: UInt64 { fixaddrTop - (endOfPermanentFixed << 12) }
    public var fixaddrTotStart: UInt64 { fixaddrTop - (endOfFixed << 12) }

    /// sizeof(struct cpu_entry_area) on 32-bit, in pages: GDT, guard, entry stack, guard,
    /// double-fault stack, TSS with both I/O bitmaps (5), debug store (1) and its BTS and
    /// PEBS buffers (32).
    public static let cpuEntryAreaPagesPerCPU: UInt64 = 43
    public var cpuEntryAreaPages: UInt64 { nrCpus * I386Layout.cpuEntryAreaPagesPerCPU }
    /// Linux: CPU_ENTRY_AREA_BASE (the +1 is the read-only IDT page).
    public var cpuEntryAreaBase: UInt64 { (fixaddrTotStart - 4096 * (cpuEntryAreaPages + 1)) & pmdMask }
    public var ldtBase: UInt64 { (cpuEntryAreaBase - 4096) & pmdMask }
    public var ldtEnd: UInt64 { ldtBase + pmdSize }
    public var pkmapBase: UInt64 { (ldtBase - 4096) & pmdMask }
    /// Linux: VMALLOC_END with HIGHMEM: two guard pages below the kmap window.
    public var vmallocEnd: UInt64 { pkmapBase - 2 * 4096 }
    /// Linux: VMALLOC_START (meaningful once high_memory is set).
    public var vmallocStart: UInt64 { highMemory + I386Layout.vmallocOffset }
    /// Linux: MAXMEM — the most RAM the direct map can hold. Negative (a `vmalloc=` larger than
    /// the space) is returned as nil; Linux would wrap and map past its own areas.
    public var maxmem: UInt64? {
        let room = vmallocEnd - pageOffset
        return room > vmallocReserve ? room - vmallocReserve : nil
    }
    @inlinable public func pkmapAddr(_ nr: UInt64) -> UInt64 { pkmapBase + (nr << 12) }
}

/// Linux's zones on i386, in index order.
public enum I386ZoneType: Int, Sendable, CaseIterable {
    case dma = 0, normal, highmem, movable
    public var name: String {
        switch self {
        case .dma: return "DMA"
        case .normal: return "Normal"
        case .highmem: return "HighMem"
        case .movable: return "Movable"
        }
    }
}

/// One i386 zone's sizes, as free_area_init() leaves them.
public struct I386Zone: Equatable, Sendable {
    public let type: I386ZoneType
    public var startPfn: UInt64 = 0
    public var spannedPages: UInt64 = 0
    public var presentPages: UInt64 = 0
    /// The estimate free_area_init_core() makes: present minus the memmap, except in highmem,
    /// whose struct pages live in lowmem.
    public var managedPages: UInt64 = 0
    public var endPfn: UInt64 { startPfn + spannedPages }
}

/// What the i386 boot computed.
public struct I386State: Equatable, Sendable {
    public var layout: I386Layout
    /// Linux: highstart_pfn, highend_pfn.
    public var highstartPfn: UInt64 = 0
    public var highendPfn: UInt64 = 0
    public var zones: [I386Zone] = I386ZoneType.allCases.map { I386Zone(type: $0) }
    /// Linux: arch_zone_lowest/highest_possible_pfn for DMA, Normal, HighMem.
    public var zoneLowest: [UInt64] = [0, 0, 0]
    public var zoneHighest: [UInt64] = [0, 0, 0]
    /// Linux: totalhigh_pages after set_highmem_pages_init().
    public var totalhighPages: UInt64 = 0
    /// "Total pages" of build_all_zonelists().
    public var totalPages: UInt64 = 0
    /// Persistent and local kmaps.
    public var highmem: Highmem

    public init(layout: I386Layout, nrCpus: Int) {
        self.layout = layout
        self.highmem = Highmem(layout: layout, cpus: nrCpus)
    }

    public func zone(_ t: I386ZoneType) -> I386Zone { zones[t.rawValue] }
    /// Linux: PageHighMem() for a page of this machine.
    public func isHighmem(pfn: UInt64) -> Bool { pfn >= highstartPfn && pfn < highendPfn }
}

extension Kernel {
    /// sizeof(struct page) on Debian's i386 builds: flags, five words of union, _mapcount,
    /// _refcount, memcg_data = 36 bytes, aligned to two words (HAVE_ALIGNED_STRUCT_PAGE).
    public static let i386StructPageSize: UInt64 = 40

    /// setup_arch() and start_kernel() of a 32-bit kernel, as far as zones and highmem.
    mutating func bootI386() throws(BootPanic) {
        var st = I386State(layout: I386Layout(pae: arch == .i386PAE), nrCpus: machine.cpus.possible)
        log.info(Kernel.banner(flavour: arch.flavour))
        earlyReserveMemory()
        e820MemorySetup()
        parseSetupDataExtended()
        parseEarlyParams()
        var highmemPages = UInt64(UInt32.max)   // "-1": no highmem= given
        for p in commandLine.params {
            let value = Array((p.value ?? "").utf8)[...]
            switch p.name {
            case "highmem" where p.value != nil:
                highmemPages = (memparse(value).value >> pageShift) & 0xffff_ffff
            case "vmalloc" where p.value != nil:
                st.layout.vmallocReserve = (memparse(value).value + I386Layout.vmallocOffset) & 0xffff_ffff
            case "reservetop" where p.value != nil:
                // reserve_top_address(): the fixmap moves down below the reserved hole.
                let reserve = memparse(value).value & 0xffff_ffff
                let top = (0x1_0000_0000 - reserve) & 0xffff_ffff
                st.layout.fixaddrTop = ((top & st.layout.pmdMask) &- pageSize) & 0xffff_ffff
                log.info("Reserving virtual address space above 0x\(hex08(top)) (rounded to 0x\(hex08((st.layout.fixaddrTop + pageSize) & 0xffff_ffff)))")
            default:
                break
            }
        }
        reserveSetupData()
        try finishEarlyParams()
        addKernelRange()
        trimBIOSRange()
        let maxArch = Pfn(st.layout.maxArchPfn)
        maxPfn = e820.endPfn(limit: maxArch, type: .ram, maxArchPfn: maxArch, log: &log)
        if mtrrTrim() { maxPfn = e820.endPfn(limit: maxArch, type: .ram, maxArchPfn: maxArch, log: &log) }
        physMem.mapHostRAM(below: maxPfn.physAddr)
        guard let maxmem = st.layout.maxmem else {
            throw .panic("vmalloc=\(commandLine.last("vmalloc") ?? "") leaves no room for the direct map")
        }
        findLowPfnRange(maxmemPfn: maxmem >> pageShift, highmemPages: highmemPages)
        maxPossiblePfn = maxPfn
        memblock.currentLimit = 0x10_0000
        e820MemblockSetup(physAddrBits: arch == .i386PAE ? 64 : 32)
        // init_mem_mapping() maps [0, max_low_pfn); the tables are not modelled on i386.
        maxPfnMapped = maxLowPfn
        memblock.currentLimit = maxPfnMapped.physAddr
        reserveInitrd()
        if let p = scratch.pendingPanic { throw .panic(p) }
        acpiReserveInitialTables()
        initmemInit32(&st)
        reserveCrashkernel()
        zoneSizesInit32(&st)
        buildAllZonelists32(&st)
        try memInit32(&st)
        i386 = st
    }

    /// Linux: find_low_pfn_range() with lowmem_pfn_init() / highmem_pfn_init() (HIGHMEM kernels).
    mutating func findLowPfnRange(maxmemPfn: UInt64, highmemPages requested: UInt64) {
        var highmemPages = requested
        func mb(_ pages: UInt64) -> UInt64 { pages >> (20 - pageShift) }
        let unset = UInt64(UInt32.max)
        if maxPfn.raw <= maxmemPfn {
            maxLowPfn = maxPfn
            if highmemPages == unset { highmemPages = 0 }
            if highmemPages >= maxPfn.raw {
                log.info("highmem size (\(mb(highmemPages))MB) is bigger than pages available (\(mb(maxPfn.raw))MB)!")
                highmemPages = 0
            }
            if highmemPages != 0 {
                if maxLowPfn.raw - highmemPages < 64 * SZ_1M / pageSize {
                    log.info("highmem size (\(mb(highmemPages))MB) results in <64MB lowmem, ignoring it!")
                    highmemPages = 0
                }
                maxLowPfn = Pfn(maxLowPfn.raw - highmemPages)
            }
        } else {
            maxLowPfn = Pfn(maxmemPfn)
            if highmemPages == unset { highmemPages = maxPfn.raw - maxmemPfn }
            if highmemPages + maxmemPfn < maxPfn.raw { maxPfn = Pfn(maxmemPfn + highmemPages) }
            if highmemPages + maxmemPfn > maxPfn.raw {
                log.info("only \(mb(maxPfn.raw - maxmemPfn))MB highmem pages available, ignoring highmem size of \(mb(highmemPages))MB!")
            }
            // (HIGHMEM4G's "only 4GB will be used" cannot fire: MAX_ARCH_PFN already caps max_pfn.)
        }
    }

    /// Linux: initmem_init() (32-bit, no NUMA) and setup_bootmem_allocator().
    mutating func initmemInit32(_ st: inout I386State) {
        st.highstartPfn = maxPfn.raw
        st.highendPfn = maxPfn.raw
        if maxPfn.raw > maxLowPfn.raw { st.highstartPfn = maxLowPfn.raw }
        log.info("\((st.highendPfn - st.highstartPfn) >> (20 - pageShift))MB HIGHMEM available.")
        st.layout.highMemory = st.layout.pageOffset + (st.highstartPfn << pageShift)
        _ = memblock.setNode(0, UInt64.max, in: .memory, nid: 0, log: &log)
        log.info("\(maxLowPfn.raw >> (20 - pageShift))MB LOWMEM available.")
        log.info("  mapped low ram: 0 - \(hex08(maxPfnMapped.raw << pageShift))")
        log.info("  low ram: 0 - \(hex08(maxLowPfn.raw << pageShift))")
    }

    /// Linux: zone_sizes_init() → free_area_init() for i386's DMA, Normal and HighMem, one node,
    /// FLATMEM (no deferred init, every pfn of the node's span has a struct page).
    mutating func zoneSizesInit32(_ st: inout I386State) {
        let types = [I386ZoneType.dma, .normal, .highmem]
        let bounds = zoneRangesFromMax([Swift.min(16 * SZ_1M >> pageShift, maxLowPfn.raw), maxLowPfn.raw, maxPfn.raw])
        st.zoneLowest = bounds.map { $0.lo }
        st.zoneHighest = bounds.map { $0.hi }
        logZoneRanges(types.map { ($0.name, bounds[$0.rawValue].lo, bounds[$0.rawValue].hi) })
        log.info("Movable zone start for each node")
        let ranges = memPfnRanges()
        logEarlyNodeRanges(ranges)
        let (nodeStart, nodeEnd) = pfnRange(forNode: 0)
        logInitmemSetup(0, nodeStart, nodeEnd)
        nrKernelPages = 0
        nrAllPages = 0
        for t in types {
            // calculate_node_totalpages(): the zone's range clamped to the node.
            let zs = Swift.min(Swift.max(nodeStart, st.zoneLowest[t.rawValue]), st.zoneHighest[t.rawValue])
            let ze = Swift.min(Swift.max(nodeEnd, st.zoneLowest[t.rawValue]), st.zoneHighest[t.rawValue])
            var z = I386Zone(type: t)
            if ze > zs {
                z.startPfn = zs
                z.spannedPages = ze - zs
                z.presentPages = z.spannedPages - absentPagesInRange(nid: 0, zs, ze)
            }
            // free_area_init_core(): lowmem zones pay for the memmap (FLATMEM: the whole span);
            // highmem's struct pages are in lowmem, so nr_kernel_pages loses them instead.
            var freesize = z.presentPages
            let memmap = roundUp(z.spannedPages * Kernel.i386StructPageSize, pageSize) >> pageShift
            if t != .highmem {
                if freesize >= memmap { freesize -= memmap } else {
                    log.info("  \(t.name) zone: \(memmap) memmap pages exceeds freesize \(freesize)")
                }
                nrKernelPages += freesize
            } else if nrKernelPages > memmap * 2 {
                nrKernelPages -= memmap
            }
            nrAllPages += freesize
            z.managedPages = freesize
            st.zones[t.rawValue] = z
        }
        // memmap_init(): holes before each range are reported against the zone they fall in
        // front of; FLATMEM has no trailing section hole.
        var hole: UInt64 = 0
        for r in ranges {
            for z in st.zones where z.spannedPages != 0 {
                let s = Swift.min(Swift.max(r.start, z.startPfn), z.endPfn)
                let e = Swift.min(Swift.max(r.end, z.startPfn), z.endPfn)
                if s >= e { continue }
                if hole < s { logUnavailable(0, z.type.name, s - hole) }
                hole = e
            }
        }
    }

    /// Linux: build_all_zonelists(): one node; "Total pages" sums the estimates of every zone.
    mutating func buildAllZonelists32(_ st: inout I386State) {
        var total: UInt64 = 0
        for z in st.zones where z.presentPages != 0 { total += z.managedPages }
        st.totalPages = total
        let pageblock: UInt64 = 1 << (st.layout.pmdShift - pageShift)
        log.info("Built 1 zonelists, mobility grouping \(total < pageblock * 5 ? "off" : "on").  Total pages: \(total)")
    }

    /// Linux: mem_init()'s set_highmem_pages_init(), then its sanity checks of the layout.
    mutating func memInit32(_ st: inout I386State) throws(BootPanic) {
        // ZONE_MOVABLE counts as highmem when it is carved out of HighMem, which is the zone
        // find_usable_zone_for_movable() picks whenever highmem exists.
        let movableIsHigh = st.zoneHighest[I386ZoneType.highmem.rawValue] > st.zoneLowest[I386ZoneType.highmem.rawValue]
        for t in [I386ZoneType.highmem, .movable] where t == .highmem || movableIsHigh {
            let z = st.zone(t)
            log.info("Initializing \(t.name) for node 0 (\(hex08(z.startPfn)):\(hex08(z.endPfn)))")
            // add_highpages_with_active_regions(): every free memblock page of the zone.
            st.totalhighPages += memblock.freePages(inPfns: z.startPfn, z.endPfn)
        }
        let l = st.layout
        if l.vmallocStart >= l.vmallocEnd {
            throw .panic("kernel BUG at arch/x86/mm/init_32.c:\(I386Layout.vmallocBugLine)! (VMALLOC_START >= VMALLOC_END)")
        }
    }
}

extension I386Layout {
    /// Line of mem_init()'s BUG_ON(VMALLOC_START >= VMALLOC_END) in Debian's 6.1 tree.
    static let vmallocBugLine = 772
}
