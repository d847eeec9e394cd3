// The direct map: which physical ranges the kernel maps at boot, with which page sizes, and where
// the page-table pages come from.
//
// Linux: arch/x86/mm/init.c — init_mem_mapping(), probe_page_size_mask(), memory_map_top_down(),
//        memory_map_bottom_up(), init_range_memory_mapping(), init_memory_mapping(),
//        split_mem_range(), adjust_range_page_size_mask(), alloc_low_pages(),
//        early_alloc_pgt_buf(); arch/x86/mm/init_64.c — __kernel_physical_mapping_init() and the
//        phys_*_init() walks; arch/x86/mm/kaslr.c — init_trampoline_kaslr().
// Exact: the ranges, the page sizes, the order of table allocations, which come from the 16-page
// .brk buffer and which from memblock (with their memblock=debug lines), max_pfn_mapped.
// Simplified: the entries are written into the pages allocated for them (PageTables.swift); the
// direct map's base is the unrandomised one even when memory KASLR is on (only the trampoline's
// extra table page is modelled); the .brk buffer is taken to be the last user of .brk.
// Reference: shared/reference/linux-6.1-mm.md §2.3.

/// One piece of split_mem_range(): [start, end) mapped with the given page sizes.
public struct MapRange: Equatable, Sendable {
    public var start: PhysAddr
    public var end: PhysAddr
    public var pageSizeMask: PageSizeMask
}

extension Kernel {
    /// Linux: __PAGE_OFFSET_BASE_L4 / _L5 (page_offset_base without KASLR).
    public var pageOffset: UInt64 { layout.pageOffsetBase }
    /// Linux: VMEMMAP_START without KASLR.
    public var vmemmapBase: UInt64 { layout.vmemmapBase }
    /// Linux: INIT_PGT_BUF_SIZE = 4 × INIT_PGD_PAGE_TABLES (4 with X86_5LEVEL) pages under
    /// RANDOMIZE_MEMORY.
    static let initPgtBufPages: UInt64 = 16

    /// Linux: kaslr_memory_enabled() — KASLR is on and not turned off on the command line.
    var kaslrMemoryEnabled: Bool { !commandLine.has("nokaslr") }

    /// Linux: probe_page_size_mask(). Every modelled CPU has PSE (and Debian's kernel has no
    /// DEBUG_PAGEALLOC), so 2 MiB pages are always used; 1 GiB pages need the CPU's GBPAGES and
    /// direct_gbpages (on by default, `nogbpages` turns it off).
    var probePageSizeMask: PageSizeMask {
        var mask: PageSizeMask = [.size2M]
        var gb = true
        for p in commandLine.params where p.name == "gbpages" || p.name == "nogbpages" { gb = p.name == "gbpages" }
        if gb && machine.cpus.gbPages { mask.insert(.size1G) }
        return mask
    }

    /// Linux: early_alloc_pgt_buf(), called before reserve_brk(): 16 pages of .brk.
    mutating func earlyAllocPgtBuf() {
        let k = machine.kernel
        let bytes = Kernel.initPgtBufPages * pageSize
        let top = k.brkUsed >= bytes ? k.brkEnd : k.reserveEnd + bytes
        scratch.pgtBufTop = Pfn.down(top)
        scratch.pgtBufStart = Pfn(scratch.pgtBufTop.raw - Kernel.initPgtBufPages)
        scratch.pgtBufEnd = scratch.pgtBufStart
    }

    /// Linux: init_mem_mapping(). Maps the ISA range, then all RAM top-down (bottom-up under
    /// movable_node), so that each step's tables come from memory the previous steps mapped.
    mutating func initMemMapping() {
        pageSizeMask = probePageSizeMask
        defaultKernelPteMask = ptiEnabled ? ~PTE.global : ~UInt64(0)
        directMap = PageTableShadow(base: pageOffset, la57: la57)
        let end = maxPfn.physAddr
        _ = initMemoryMapping(0, SZ_1M)
        initTrampoline()
        if memblock.bottomUp {
            let kernelEnd = machine.kernel.end
            memoryMapBottomUp(kernelEnd, end)
            memoryMapBottomUp(SZ_1M, kernelEnd)
        } else {
            memoryMapTopDown(SZ_1M, end)
        }
        if maxPfn > maxLowPfn { maxLowPfn = maxPfn }
    }

    /// Linux: init_trampoline(): with memory KASLR the AP trampoline gets its own PUD page (and a
    /// P4D page under 5-level paging).
    mutating func initTrampoline() {
        guard kaslrMemoryEnabled else { return }
        allocLowPage()
        if la57 { allocLowPage() }
    }

    /// Linux: memory_map_top_down(). Probes the highest free 2 MiB block, then maps downwards from
    /// its end in steps that grow ×256 once as much RAM as the step is mapped.
    mutating func memoryMapTopDown(_ mapStart: PhysAddr, _ mapEnd: PhysAddr) {
        let addr = memblock.physAllocRange(size: pmdSize, align: pmdSize, start: mapStart, end: mapEnd,
                                           caller: Caller("init_mem_mapping+0x1ee/0x31f"), log: &log)
        let realEnd: PhysAddr
        if addr == 0 {
            log.info("Failed to release memory for alloc_low_pages()")
            realEnd = Swift.max(mapStart, roundDown(mapEnd, pmdSize))
        } else {
            memblock.physFree(addr, pmdSize, caller: Caller("init_mem_mapping+0x22e/0x31f"), log: &log)
            realEnd = addr + pmdSize
        }
        directMapRealEnd = realEnd
        var step = pmdSize
        var mapped: UInt64 = 0
        minPfnMapped = Pfn.down(realEnd)
        var lastStart = realEnd
        while lastStart > mapStart {
            var start: PhysAddr
            if lastStart > step {
                start = roundDown(lastStart - 1, step)
                if start < mapStart { start = mapStart }
            } else {
                start = mapStart
            }
            mapped += initRangeMemoryMapping(start, lastStart)
            lastStart = start
            minPfnMapped = Pfn.down(lastStart)
            if mapped >= step { step <<= pmdShift - pageShift - 1 }
        }
        if realEnd < mapEnd { _ = initRangeMemoryMapping(realEnd, mapEnd) }
    }

    /// Linux: memory_map_bottom_up().
    mutating func memoryMapBottomUp(_ mapStart: PhysAddr, _ mapEnd: PhysAddr) {
        var step = pmdSize
        var mapped: UInt64 = 0
        var start = mapStart
        minPfnMapped = Pfn.down(start)
        while start < mapEnd {
            var next: PhysAddr
            if step != 0 && mapEnd - start > step {
                next = roundUp(start + 1, step)
                if next > mapEnd { next = mapEnd }
            } else {
                next = mapEnd
            }
            mapped += initRangeMemoryMapping(start, next)
            start = next
            if mapped >= step { step <<= pmdShift - pageShift - 1 }
        }
    }

    /// Linux: init_range_memory_mapping(): maps the RAM (memblock memory) inside [rStart, rEnd).
    /// Tables for a range that covers the .brk buffer cannot come from that buffer.
    mutating func initRangeMemoryMapping(_ rStart: PhysAddr, _ rEnd: PhysAddr) -> UInt64 {
        var mapped: UInt64 = 0
        for r in memblock.pfnRanges() {
            let start = Swift.min(Swift.max(r.start << pageShift, rStart), rEnd)
            let end = Swift.min(Swift.max(r.end << pageShift, rStart), rEnd)
            if start >= end { continue }
            scratch.canUseBrkPgt = Swift.max(start, scratch.pgtBufEnd.physAddr) >= Swift.min(end, scratch.pgtBufTop.physAddr)
            _ = initMemoryMapping(start, end)
            mapped += end - start
            scratch.canUseBrkPgt = true
        }
        return mapped
    }

    /// Linux: init_memory_mapping(). Returns the end pfn mapped.
    mutating func initMemoryMapping(_ start: PhysAddr, _ end: PhysAddr) -> Pfn {
        var ret: PhysAddr = 0
        for mr in splitMemRange(start, end) {
            ret = kernelPhysicalMappingInit(mr)
        }
        addPfnRangeMapped(Pfn.down(start), Pfn.down(ret))
        return Pfn.down(ret)
    }

    /// Linux: add_pfn_range_mapped().
    mutating func addPfnRangeMapped(_ start: Pfn, _ end: Pfn) {
        var s = start.raw, e = end.raw
        var merged: [(UInt64, UInt64)] = []
        for r in pfnMapped {
            if r.1 < s || r.0 > e { merged.append(r) } else { s = Swift.min(s, r.0); e = Swift.max(e, r.1) }
        }
        merged.append((s, e))
        merged.sort { $0.0 < $1.0 }
        pfnMapped = merged
        if end > maxPfnMapped { maxPfnMapped = end }
    }

    /// Linux: pfn_range_is_mapped().
    public func pfnRangeIsMapped(_ start: Pfn, _ end: Pfn) -> Bool {
        for r in pfnMapped where start.raw >= r.0 && end.raw <= r.1 { return true }
        return false
    }

    /// Linux: split_mem_range(): a 4 KiB head up to 2 MiB alignment, 2 MiB pages up to 1 GiB
    /// alignment, 1 GiB pages, a 2 MiB tail and a 4 KiB tail; small pieces are promoted when the
    /// whole surrounding large page is RAM of one memblock region; equal neighbours merge.
    func splitMemRange(_ start: PhysAddr, _ end: PhysAddr) -> [MapRange] {
        let pmdPages = pmdSize >> pageShift, pudPages = pudSize >> pageShift
        var mr: [MapRange] = []
        func save(_ s: UInt64, _ e: UInt64, _ mask: PageSizeMask) {
            if s < e { mr.append(MapRange(start: s << pageShift, end: e << pageShift, pageSizeMask: mask)) }
        }
        let limit = end >> pageShift
        var pfn = start >> pageShift
        var e = Swift.min(roundUp(pfn, pmdPages), limit)
        if pfn < e { save(pfn, e, []); pfn = e }

        var s = roundUp(pfn, pmdPages)
        e = roundUp(pfn, pudPages)
        if e > roundDown(limit, pmdPages) { e = roundDown(limit, pmdPages) }
        if s < e { save(s, e, pageSizeMask.intersection(.size2M)); pfn = e }

        s = roundUp(pfn, pudPages)
        e = roundDown(limit, pudPages)
        if s < e { save(s, e, pageSizeMask.intersection([.size2M, .size1G])); pfn = e }

        s = roundUp(pfn, pmdPages)
        e = roundDown(limit, pmdPages)
        if s < e { save(s, e, pageSizeMask.intersection(.size2M)); pfn = e }

        save(pfn, limit, [])

        // adjust_range_page_size_mask()
        for i in mr.indices {
            if pageSizeMask.contains(.size2M) && !mr[i].pageSizeMask.contains(.size2M) {
                let a = roundDown(mr[i].start, pmdSize), b = roundUp(mr[i].end, pmdSize)
                if memblock.isRegionMemory(a, b - a) { mr[i].pageSizeMask.insert(.size2M) }
            }
            if pageSizeMask.contains(.size1G) && !mr[i].pageSizeMask.contains(.size1G) {
                let a = roundDown(mr[i].start, pudSize), b = roundUp(mr[i].end, pudSize)
                if memblock.isRegionMemory(a, b - a) { mr[i].pageSizeMask.insert(.size1G) }
            }
        }
        var i = 0
        while mr.count > 1 && i < mr.count - 1 {
            if mr[i].end == mr[i + 1].start && mr[i].pageSizeMask == mr[i + 1].pageSizeMask {
                mr[i].end = mr[i + 1].end
                mr.remove(at: i + 1)
            } else {
                i += 1
            }
        }
        return mr
    }

    /// Linux: alloc_low_pages(1): the .brk buffer while it lasts (and unless the range being
    /// mapped covers it), then memblock, from memory that is already mapped. Returns the page
    /// (0 when there is none: boot then panics).
    @discardableResult
    mutating func allocLowPage() -> PhysAddr {
        var ret: PhysAddr = 0
        if scratch.pgtBufEnd.raw + 1 > scratch.pgtBufTop.raw || !scratch.canUseBrkPgt {
            if minPfnMapped < maxPfnMapped {
                ret = memblock.physAllocRange(size: pageSize, align: pageSize, start: minPfnMapped.physAddr,
                                              end: maxPfnMapped.physAddr,
                                              caller: Caller("alloc_low_pages+0x137/0x160"), log: &log)
            }
            // (The kernel would then extend .brk; the modelled image has no room left there.)
            if ret == 0 { scratch.pendingPanic = "alloc_low_pages: can not alloc memory" }
        } else {
            ret = scratch.pgtBufEnd.physAddr
            scratch.pgtBufEnd = Pfn(scratch.pgtBufEnd.raw + 1)
        }
        directMapTablePages += 1
        return ret
    }

    /// Linux: kernel_physical_mapping_init() for one map_range: fills the PGD (and P4D), PUD,
    /// PMD and PTE levels, allocating a table page for every empty entry that needs one.
    mutating func kernelPhysicalMappingInit(_ mr: MapRange) -> PhysAddr {
        let start = mr.start, end = mr.end
        var p = start
        while p < end {
            let topEnd = Swift.min(end, directMap.slotEnd(p, directMap.pgdShift))
            let top = directMap.slot(p, directMap.pgdShift)
            let pgdEntry = entryAddress(pgtRoots.initTopPgt, pageOffset &+ p, .pgd)
            if !directMap.pgd.contains(top) { populate(pgdEntry, allocLowPage()); directMap.pgd.insert(top) }
            if la57 {
                var q = p
                while q < topEnd {
                    let qEnd = Swift.min(topEnd, directMap.slotEnd(q, p4dShift))
                    let s = directMap.slot(q, p4dShift)
                    let p4dEntry = entryAddress(tableBelow(pgdEntry), pageOffset &+ q, .p4d)
                    if !directMap.p4d.contains(s) { populate(p4dEntry, allocLowPage()); directMap.p4d.insert(s) }
                    physPudInit(q, qEnd, mr.pageSizeMask, tableBelow(p4dEntry))
                    q = qEnd
                }
            } else {
                physPudInit(p, topEnd, mr.pageSizeMask, tableBelow(pgdEntry))
            }
            p = topEnd
        }
        return end
    }

    /// Linux: phys_pud_init() over [start, end) of one PUD page.
    mutating func physPudInit(_ start: PhysAddr, _ end: PhysAddr, _ mask: PageSizeMask, _ pudPage: PhysAddr) {
        var p = start
        var run = LeafRun()
        while p < end {
            let gEnd = Swift.min(end, directMap.slotEnd(p, pudShift))
            let g = directMap.slot(p, pudShift)
            let entry = entryAddress(pudPage, pageOffset &+ p, .pud)
            if directMap.pudLarge.contains(g) {
                if mask.contains(.size1G) {
                    directPagesCount[2] += 1   // counted again, as Linux counts a reused mapping
                } else {
                    // A 1 GiB page split into a PMD table with the same protections; only
                    // [p, gEnd) is mapped in it.
                    flushLeaves(&run, pudPage)
                    let pmd = allocLowPage()
                    directMap.pudLarge.remove(g)
                    directMap.pudTable.insert(g)
                    directPagesCount[2] -= 1
                    populate(entry, pmd)
                    physPmdInit(p, gEnd, mask, pmd, fresh: true)
                }
            } else if directMap.pudTable.contains(g) {
                physPmdInit(p, gEnd, mask, tableBelow(entry), fresh: false)
            } else if mask.contains(.size1G) {
                directMap.pudLarge.insert(g)
                directPagesCount[2] += 1
                addLeaf(&run, pudPage, index: Int((entry & (pageSize - 1)) >> 3),
                        value: roundDown(p, pudSize) | pageKernelLarge, step: pudSize)
            } else {
                let pmd = allocLowPage()
                directMap.pudTable.insert(g)
                populate(entry, pmd)
                physPmdInit(p, gEnd, mask, pmd, fresh: true)
            }
            p = gEnd
        }
        flushLeaves(&run, pudPage)
    }

    /// Linux: phys_pmd_init() and phys_pte_init() over [start, end) of one PMD page. `fresh`: the
    /// page was just allocated, so no entry needs reading first.
    mutating func physPmdInit(_ start: PhysAddr, _ end: PhysAddr, _ mask: PageSizeMask, _ pmdPage: PhysAddr, fresh: Bool) {
        if fresh && mask.contains(.size2M) {
            // A new table mapped with 2 MiB pages only (split_mem_range() gave whole blocks): one run.
            let first = roundDown(start, pmdSize)
            let count = (roundUp(end, pmdSize) - first) >> pmdShift
            directPagesCount[1] += count
            physMem.writeRun(pmdPage >> pageShift, index: Int(((pageOffset &+ first) >> pmdShift) & 511), count: Int(count),
                             first: first | pageKernelLarge, step: pmdSize)
            return
        }
        var run = LeafRun()
        var p = start
        while p < end {
            let next = Swift.min(end, roundDown(p, pmdSize) + pmdSize)
            let s = directMap.slot(p, pmdShift)
            let entry = entryAddress(pmdPage, pageOffset &+ p, .pmd)
            let old = fresh ? 0 : physMem.readWord(entry)
            if directMap.hasPTETable(s) {
                physPteInit(p, next, tableBelow(entry))
            } else if old & PTE.pse != 0 && mask.contains(.size2M) {
                directPagesCount[1] += 1
            } else if mask.contains(.size2M) {
                directPagesCount[1] += 1
                addLeaf(&run, pmdPage, index: Int((entry & (pageSize - 1)) >> 3),
                        value: roundDown(p, pmdSize) | pageKernelLarge, step: pmdSize)
            } else {
                flushLeaves(&run, pmdPage)
                let pte = allocLowPage()
                directMap.insertPTETable(s)
                if old & PTE.pse != 0 { directPagesCount[1] -= 1 }
                populate(entry, pte)
                physPteInit(p, next, pte)
            }
            p = next
        }
        flushLeaves(&run, pmdPage)
    }

    /// Linux: phys_pte_init(): 4 KiB pages for [start, end), all inside one PTE page.
    mutating func physPteInit(_ start: PhysAddr, _ end: PhysAddr, _ ptePage: PhysAddr) {
        let first = Int((start >> pageShift) & 511)
        let count = Int((end - start) >> pageShift)
        directPagesCount[0] += UInt64(count)
        physMem.writeRun(ptePage >> pageShift, index: first, count: count, first: start | pageKernel, step: pageSize)
    }

    /// Consecutive leaf entries of one table, written as one run.
    struct LeafRun {
        var index = 0, count = 0
        var first: UInt64 = 0, step: UInt64 = 0
    }

    /// Adds a leaf entry to `run`, writing out the run first when the entry does not continue it.
    mutating func addLeaf(_ run: inout LeafRun, _ table: PhysAddr, index: Int, value: UInt64, step: UInt64) {
        if run.count > 0 && index == run.index + run.count && value == run.first &+ UInt64(run.count) &* run.step {
            run.count += 1
            return
        }
        flushLeaves(&run, table)
        run = LeafRun(index: index, count: 1, first: value, step: step)
    }

    mutating func flushLeaves(_ run: inout LeafRun, _ table: PhysAddr) {
        if run.count > 0 {
            physMem.writeRun(table >> pageShift, index: run.index, count: run.count, first: run.first, step: run.step)
        }
        run = LeafRun()
    }
}
