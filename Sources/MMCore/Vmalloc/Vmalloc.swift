// vmalloc: virtually contiguous kernel memory from scattered pages.
//
// Linux: mm/vmalloc.c — alloc_vmap_area() (first fit above VMALLOC_START), __get_vm_area_node()
//        (the guard page), __vmalloc_node_range() (huge mappings when each node's share is at
//        least a PMD), __vmalloc_area_node() (the page array: kmalloc'd, or vmalloc'd itself
//        above a page — VM_VPAGES), vm_area_alloc_pages(), vfree(), s_show()
//        (/proc/vmallocinfo); mm/mempolicy.c — the interleave policy boot runs under.
// Exact: area sizes (guard page included), alignment, the first-fit placement among the areas
//        the model made, pages per node under boot's interleaving, the page-table pages the
//        mappings need (a PTE page per 2 MiB of small pages, a PMD page per 1 GiB), the
//        vmallocinfo line.
// Simplified: only the areas the model's own boot steps and users create exist (Linux's boot
//        also maps IRQ stacks, ioremaps firmware tables and more), so addresses differ from a
//        real boot's; sizes and flags do not.

/// Linux: struct vm_struct as /proc/vmallocinfo shows it.
public struct VmapArea: Sendable, Equatable {
    /// [start, end), the guard page included.
    public var start: UInt64
    public var end: UInt64
    public var caller: String
    /// Backing blocks: their pfns, all of `order` (0, or 9 for a huge mapping).
    public var blocks: [Pfn]
    public var order: Int
    /// Pages per node id (4 KiB pages).
    public var perNode: [Int]
    /// Linux: VM_VPAGES — the page array was itself vmalloc'd; else kmalloc'd at `pagesArray`.
    public var vpages: Bool
    public var pagesArray: UInt64
    /// Linux: VM_IOREMAP's phys_addr — the physical range an ioremap() area maps (nil: vmalloc).
    public var ioremapPhys: PhysAddr?
    public var nrPages: Int { blocks.count << order }
}

public struct VmallocState: Sendable {
    /// Busy areas, by start address.
    public var areas: [VmapArea] = []
    /// Which 2 MiB slots have a PTE page and which 1 GiB slots a PMD page.
    var pteTables = Bitset()
    var pmdTables = Bitset()
    /// Page-table pages the mappings took.
    public var tablePages = 0
    /// The interleave policy's next node (boot's MPOL_INTERLEAVE over the nodes with memory).
    var interleaveNext = 0
    public init() {}
}

extension Kernel {
    /// Linux: VMALLOC_START, VMALLOC_END.
    public var vmallocStart: UInt64 { layout.vmallocBase }
    public var vmallocEnd: UInt64 { layout.vmallocBase &+ ((la57 ? 12800 : 32) << 40) &- 1 }

    /// Linux: alloc_vmap_area(): the lowest free range of `size` at `align` inside
    /// [VMALLOC_START, VMALLOC_END].
    func findVmapGap(size: UInt64, align: UInt64) -> (index: Int, start: UInt64)? {
        var addr = roundUp(vmallocStart, align)
        for (i, a) in vmalloc.areas.enumerated() {
            if addr + size <= a.start { return (i, addr) }
            addr = Swift.max(addr, roundUp(a.end, align))
        }
        guard addr + size - 1 <= vmallocEnd else { return nil }
        return (vmalloc.areas.count, addr)
    }

    /// Linux: vmalloc(size) with boot's interleave policy; `huge` as vmalloc_huge().
    /// Returns the area's start address, or nil.
    public mutating func vmallocNode(_ size: UInt64, gfp: GFPFlags = .gfpKernel, huge: Bool = false,
                                     caller: String = "vmalloc") -> UInt64? {
        guard size > 0, size <= vmallocEnd - vmallocStart else { return nil }
        var shift = pageShift
        let real = roundUp(size, pageSize)
        let withMemory = nodes.filter { $0.nodePresentPages > 0 }.map { $0.nodeId }
        if huge, real / UInt64(Swift.max(1, NUMAState.members(numa.nodeOnline).count)) >= pmdSize { shift = pmdShift }
        let areaSize = roundUp(real, UInt64(1) << shift) + pageSize   // the guard page
        guard let gap = findVmapGap(size: areaSize, align: UInt64(1) << shift) else { return nil }
        let order = Int(shift - pageShift)
        var area = VmapArea(start: gap.start, end: gap.start + areaSize, caller: caller, blocks: [], order: order,
                            perNode: [Int](repeating: 0, count: nrNodeIds), vpages: false, pagesArray: 0, ioremapPhys: nil)
        vmalloc.areas.insert(area, at: gap.index)
        // __vmalloc_area_node(): the array of page pointers first.
        let nrPages = Int(roundUp(real, UInt64(1) << shift) >> pageShift)
        let arrayBytes = UInt64(nrPages) * 8
        if arrayBytes > pageSize {
            guard let a = vmallocNode(arrayBytes, gfp: gfp.union(.zero), caller: caller) else {
                removeArea(gap.start); return nil
            }
            area.vpages = true
            area.pagesArray = a
        } else {
            guard let a = kmalloc(Int(arrayBytes), gfp.union(.zero)) else { removeArea(gap.start); return nil }
            area.pagesArray = a
        }
        // vm_area_alloc_pages(): interleaved over the nodes with memory.
        var g = gfp
        if order > 0 { g.insert(.comp) }
        for _ in 0..<(nrPages >> order) {
            let nid = withMemory.isEmpty ? NodeID.none : withMemory[vmalloc.interleaveNext % withMemory.count]
            vmalloc.interleaveNext += 1
            guard let pfn = allocPages(g, order: Order(order), nid: nid) else {
                replaceArea(area)
                vfree(gap.start)
                return nil
            }
            area.blocks.append(pfn)
            if let slot = memmap.zoneSlot(pfn) { area.perNode[slot.nid.number] += 1 << order }
        }
        replaceArea(area)
        mapVmalloc(gap.start, blocks: area.blocks, order: order)
        return gap.start
    }

    /// Linux: vmap_pages_range() (vmap_pmd_range/vmap_pte_range, vmap_try_huge_pmd): the
    /// PAGE_KERNEL entries for an area's pages, with a PMD page per new 1 GiB and a PTE page per
    /// new 2 MiB of small pages (the PUD pages were preallocated at boot).
    mutating func mapVmalloc(_ start: UInt64, blocks: [Pfn], order: Int) {
        let huge = order > 0
        var a = start
        for pfn in blocks {
            vmallocTables(a, pte: !huge)
            if let e = entryAddress(a, at: huge ? .pmd : .pte) {
                physMem.writeWord(e, pfn.physAddr | (huge ? pageKernelLarge : pageKernel))
            }
            a += pageSize << order
        }
    }

    /// The tables under a vmalloc-space address: a PMD page for a new 1 GiB, a PTE page for a new
    /// 2 MiB (`pte`: the mapping uses 4 KiB pages), from the page allocator, linked in.
    mutating func vmallocTables(_ va: UInt64, pte: Bool) {
        let off = va - vmallocStart
        if !vmalloc.pmdTables.contains(off >> pudShift) {
            vmalloc.pmdTables.insert(off >> pudShift)
            if let t = allocPages([.zero], order: 0) {
                vmalloc.tablePages += 1
                if let e = entryAddress(va, at: .pud) { populate(e, t.physAddr) }
            }
        }
        if pte && !vmalloc.pteTables.contains(off >> pmdShift) {
            vmalloc.pteTables.insert(off >> pmdShift)
            if let t = allocPages([.zero], order: 0) {
                vmalloc.tablePages += 1
                if let e = entryAddress(va, at: .pmd) { populate(e, t.physAddr) }
            }
        }
    }

    /// Linux: vunmap_range_noflush(): the area's leaf entries cleared; the tables stay.
    mutating func unmapVmalloc(_ area: VmapArea) {
        var a = area.start
        for _ in area.blocks {
            if let e = entryAddress(a, at: area.order > 0 ? .pmd : .pte) { physMem.writeWord(e, 0) }
            a += pageSize << area.order
        }
    }

    mutating func replaceArea(_ area: VmapArea) {
        if let i = vmalloc.areas.firstIndex(where: { $0.start == area.start }) { vmalloc.areas[i] = area }
    }

    mutating func removeArea(_ start: UInt64) {
        vmalloc.areas.removeAll { $0.start == start }
    }

    /// Linux: ioremap() → __ioremap_caller() with _PAGE_CACHE_MODE_UC_MINUS: a VM_IOREMAP area
    /// (aligned to its size's power of two, up to 1 GiB, plus the guard page) whose PTEs map
    /// [phys, phys + size) with PAGE_KERNEL_IO | _PAGE_PCD. Normal RAM in use is refused with
    /// Linux's warning. Returns the mapped address of `phys` (the page offset kept), or nil.
    public mutating func ioremap(_ phys: PhysAddr, _ size: UInt64, caller: String = "ioremap") -> UInt64? {
        let last = phys &+ size &- 1
        guard size > 0, last >= phys else { return nil }
        guard last >> maxPhysmemBits == 0 else {
            log.info("ioremap: invalid physical address \(String(phys, radix: 16))")
            return nil
        }
        // __ioremap_check_ram(): a System RAM page that is not PageReserved is in use.
        var p = Pfn.up(phys).raw
        while p < (last + 1) >> pageShift {
            if e820.mappedAny(p << pageShift, (p + 1) << pageShift, type: .ram) && !memblock.isRegionReserved(p << pageShift, pageSize) {
                if !ioremapOnRAMWarned {
                    ioremapOnRAMWarned = true
                    warnOnce(file: "arch/x86/mm/ioremap.c", line: 211, function: "__ioremap_caller",
                             message: "ioremap on RAM at \(pa(phys)) - \(pa(last))")
                }
                return nil
            }
            p += 1
        }
        let offset = phys & (pageSize - 1)
        let base = phys & ~(pageSize - 1)
        let bytes = roundUp(last + 1, pageSize) - base
        // __get_vm_area_node(): VM_IOREMAP aligns to the size's order, clamped to [PAGE_SHIFT, PUD_SHIFT].
        var orderBits = pageShift
        while (UInt64(1) << orderBits) < bytes && orderBits < pudShift { orderBits += 1 }
        guard let gap = findVmapGap(size: bytes + pageSize, align: UInt64(1) << orderBits) else { return nil }
        let area = VmapArea(start: gap.start, end: gap.start + bytes + pageSize, caller: caller, blocks: [], order: 0,
                            perNode: [Int](repeating: 0, count: nrNodeIds), vpages: false, pagesArray: 0, ioremapPhys: base)
        vmalloc.areas.insert(area, at: gap.index)
        // ioremap_page_range(): 4 KiB entries (see DIVERGENCES: no huge ioremap mappings).
        var va = gap.start
        while va < gap.start + bytes {
            vmallocTables(va, pte: true)
            if let e = entryAddress(va, at: .pte) { physMem.writeWord(e, (base + va - gap.start) | pageKernel | PTE.pcd) }
            va += pageSize
        }
        return gap.start + offset
    }

    /// Linux: iounmap(): the area's entries cleared and the area released. false if `addr` is
    /// not inside an ioremap() area.
    @discardableResult
    public mutating func iounmap(_ addr: UInt64) -> Bool {
        guard let i = vmalloc.areas.firstIndex(where: { $0.ioremapPhys != nil && addr >= $0.start && addr < $0.end - pageSize })
        else { return false }
        let a = vmalloc.areas.remove(at: i)
        var va = a.start
        while va < a.end - pageSize {
            if let e = entryAddress(va, at: .pte) { physMem.writeWord(e, 0) }
            va += pageSize
        }
        return true
    }

    /// Linux: vfree(): the pages back to the buddy allocator, the page array freed, the area
    /// released (page tables stay, as Linux keeps them). false if `addr` starts no area.
    @discardableResult
    public mutating func vfree(_ addr: UInt64) -> Bool {
        guard let i = vmalloc.areas.firstIndex(where: { $0.start == addr && $0.ioremapPhys == nil }) else { return false }
        let a = vmalloc.areas.remove(at: i)
        unmapVmalloc(a)
        for b in a.blocks { _ = freePages(b, order: Order(a.order)) }
        if a.vpages { vfree(a.pagesArray) } else if a.pagesArray != 0 { kfree(a.pagesArray) }
        return true
    }
}
