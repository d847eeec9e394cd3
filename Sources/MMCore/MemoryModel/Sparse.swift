// SPARSEMEM_VMEMMAP as Debian builds it: memory is described in 128 MiB sections; each present
// section's 32768 struct pages live in one 2 MiB block mapped into the vmemmap.
//
// Linux: mm/sparse.c — memblocks_present(), memory_present(), sparse_index_init(),
//        sparse_init(), sparse_init_nid(), sparse_early_usemaps_alloc_pgdat_section(),
//        sparse_buffer_init(), sparse_buffer_fini(); mm/sparse-vmemmap.c —
//        vmemmap_alloc_block_zero(), vmemmap_p?d_populate(); arch/x86/mm/init_64.c —
//        vmemmap_populate_hugepages().
// Exact: the root array (SPARSEMEM_EXTREME), which roots are allocated on which node, the usage
//        maps, the per-node memmap buffer (2 MiB per present section, even a partly filled one),
//        the vmemmap page-table pages, in the kernel's order with their memblock=debug lines.
// Simplified: the memmap's contents are not stored here: kmemlab keeps page state compactly
//        elsewhere; this records only where Linux's struct pages would be.
// Reference: shared/reference/linux-6.1-mm.md §2.5.

/// Linux: SECTION_SIZE_BITS (27) and PFN_SECTION_SHIFT.
public let sectionSizeBits: UInt64 = 27
public let pfnSectionShift: UInt64 = sectionSizeBits - pageShift
public let pagesPerSection: UInt64 = 1 << pfnSectionShift

/// Linux: the memory model the kernel is built with (Debian: SPARSEMEM_VMEMMAP). The others
/// are what-ifs: x86-64 cannot select FLATMEM (it needs !NUMA and 32-bit), and classic
/// SPARSEMEM differs from VMEMMAP only in how a pfn becomes a struct page and in the page
/// tables the vmemmap needs.
public enum MemoryModel: String, Sendable, CaseIterable {
    /// One mem_map array per node (CONFIG_FLATMEM): pfn_to_page = mem_map + pfn; no sections,
    /// so no DEFERRED_STRUCT_PAGE_INIT either.
    case flat
    /// CONFIG_SPARSEMEM without VMEMMAP: each section's mem_section records where its struct
    /// pages are, minus the section's first pfn.
    case sparse
    /// CONFIG_SPARSEMEM_VMEMMAP: all struct pages at vmemmap + pfn, backed section by section.
    case vmemmap
}

/// A run of consecutive present sections of one node.
public struct SectionRun: Equatable, Sendable {
    public var start: UInt64   // first section number
    public var end: UInt64     // one past the last
    public var nid: Int32
}

/// The memmap of one sparse_init_nid() call: its sections and where their struct pages went.
public struct SparseNodeBlock: Equatable, Sendable {
    public var nid: Int32
    public var runs: [SectionRun]
    /// The mem_section_usage array and the memmap buffer (0: allocation failed).
    public var usage: PhysAddr
    public var buffer: PhysAddr
}

public struct SparseState: Sendable {
    /// Linux: the mem_section root pointer array, and which roots exist.
    public var rootArray: PhysAddr = 0
    public var roots = Bitset()
    /// Present sections, ascending.
    public var present: [SectionRun] = []
    public var blocks: [SparseNodeBlock] = []
    public var vmemmap = PageTableShadow(base: 0, la57: false)

    public init() {}

    public var presentCount: UInt64 {
        var n: UInt64 = 0
        for r in present { n += r.end - r.start }
        return n
    }

    /// The node of a present section, or nil (pfn_valid() is false there).
    public func nid(ofSection s: UInt64) -> Int32? {
        var lo = 0, hi = present.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if present[mid].end <= s { lo = mid + 1 } else { hi = mid }
        }
        return lo < present.count && present[lo].start <= s ? present[lo].nid : nil
    }

    /// Linux: pfn_valid() under SPARSEMEM: the pfn's section has a memmap.
    public func pfnValid(_ pfn: Pfn) -> Bool { nid(ofSection: pfn.raw >> pfnSectionShift) != nil }
}

extension Kernel {
    /// Linux: SECTIONS_PER_ROOT = PAGE_SIZE / sizeof(struct mem_section) (32 bytes with
    /// PAGE_EXTENSION) and NR_SECTION_ROOTS.
    static let sectionsPerRoot: UInt64 = 128
    var nrSectionRoots: UInt64 { (1 << (maxPhysmemBits - sectionSizeBits)) / Kernel.sectionsPerRoot }
    /// Linux: mem_section_usage_size(): the subsection bitmap, an rcu_head (a 6.1 stable
    /// backport) and 4 pageblock bits for each of the section's 64 pageblocks.
    static let memSectionUsageSize: UInt64 = 56
    /// Linux: section_map_size() = ALIGN(sizeof(struct page) × PAGES_PER_SECTION, PMD_SIZE).
    static let sectionMapSize: UInt64 = 2 * SZ_1M
    /// Linux: __pa(MAX_DMA_ADDRESS), the lowest address memmap and vmemmap tables prefer.
    static let maxDMAAddress: PhysAddr = 16 * SZ_1M

    /// Linux: paging_init() (arch/x86/mm/init_64.c): the memmap, then the zones.
    mutating func pagingInit() {
        sparseInit()
        zoneSizesInit()
    }

    /// Linux: sparse_init().
    mutating func sparseInit() {
        sections = SparseState()
        sections.vmemmap = PageTableShadow(base: vmemmapBase, la57: la57)
        if memoryModel == .flat {
            // No sections: the model still keeps the present ranges for its own lookups, and
            // under FLATMEM every pfn below the end of memory has a struct page (pfn_valid()).
            var end: UInt64 = 0
            for r in memPfnRanges() { end = Swift.max(end, r.end) }
            let maxSection = (UInt64(1) << (maxPhysmemBits - pageShift)) / pagesPerSection
            if end > 0 { sections.present = [SectionRun(start: 0, end: Swift.min(maxSection, (end + pagesPerSection - 1) / pagesPerSection), nid: 0)] }
            return
        }
        memblocksPresent()
        // Group present sections by node, in section order.
        var i = 0
        while i < sections.present.count {
            let nid = sections.present[i].nid
            var j = i
            while j < sections.present.count && sections.present[j].nid == nid { j += 1 }
            sparseInitNid(nid, Array(sections.present[i..<j]))
            i = j
        }
    }

    /// Linux: memblocks_present() → memory_present() for every memblock range.
    mutating func memblocksPresent() {
        var warned = (start: false, end: false)
        for r in memPfnRanges() {
            var s = r.start & ~(pagesPerSection - 1), e = r.end
            let nid = r.nid
            // mminit_validate_memmodel_limits(): SPARSEMEM cannot describe memory above
            // MAX_PHYSMEM_BITS (64 TiB with 4-level paging); such ranges are cut off.
            let maxPfn = UInt64(1) << (maxPhysmemBits - pageShift)
            if s > maxPfn {
                if !warned.start { warnOnce(file: "mm/sparse.c", line: 142, function: "sparse_init"); warned.start = true }
                s = maxPfn; e = maxPfn
            } else if e > maxPfn {
                if !warned.end { warnOnce(file: "mm/sparse.c", line: 149, function: "sparse_init"); warned.end = true }
                e = maxPfn
            }
            if s >= e { continue }
            if sections.rootArray == 0 {
                sections.rootArray = memblock.allocTryNid(size: 8 * nrSectionRoots, align: memblock.smpCacheBytes,
                                                         caller: Caller("sparse_init+0x9f/0x23c"), log: &log)
                if sections.rootArray == 0 {
                    scratch.pendingPanic = "sparse_init: Failed to allocate \(8 * nrSectionRoots) bytes align=\(hex(memblock.smpCacheBytes))"
                    return
                }
            }
            let first = s >> pfnSectionShift, last = (e - 1) >> pfnSectionShift
            for root in (first / Kernel.sectionsPerRoot)...(last / Kernel.sectionsPerRoot) where !sections.roots.contains(root) {
                _ = memblock.allocTryNid(size: pageSize, align: memblock.smpCacheBytes, nid: nid,
                                         caller: Caller("sparse_index_alloc+0x40/0x65"), log: &log)
                sections.roots.insert(root)
            }
            // A section already present (shared with the previous range) keeps its first node.
            var from = first
            if let lastRun = sections.present.last, lastRun.end > from { from = lastRun.end }
            if from > last { continue }
            if let lastRun = sections.present.last, lastRun.end == from, lastRun.nid == nid {
                sections.present[sections.present.count - 1].end = last + 1
            } else {
                sections.present.append(SectionRun(start: from, end: last + 1, nid: nid))
            }
        }
    }

    /// Linux: sparse_init_nid(): usage maps near NODE_DATA, one buffer for the node's memmap,
    /// then the vmemmap mapping of every section.
    mutating func sparseInitNid(_ nid: Int32, _ runs: [SectionRun]) {
        var mapCount: UInt64 = 0
        for r in runs { mapCount += r.end - r.start }
        // sparse_early_usemaps_alloc_pgdat_section(): in NODE_DATA's section if possible.
        let pgdat = Int(nid) < numa.nodeData.count ? numa.nodeData[Int(nid)] : 0
        let goal = pgdat & ~((1 << sectionSizeBits) - 1)
        let goalNid = earlyPfnToNid(Pfn.down(goal))
        var usage = memblock.allocTryNid(size: Kernel.memSectionUsageSize * mapCount, align: memblock.smpCacheBytes,
                                         minAddr: goal, maxAddr: goal + (1 << sectionSizeBits), nid: goalNid,
                                         caller: Caller("sparse_init_nid+0x8d/0x34d"), log: &log)
        if usage == 0 {
            usage = memblock.allocTryNid(size: Kernel.memSectionUsageSize * mapCount, align: memblock.smpCacheBytes,
                                         minAddr: goal, maxAddr: 0, nid: goalNid,
                                         caller: Caller("sparse_init_nid+0x8d/0x34d"), log: &log)
        }
        if usage == 0 {
            log.info("sparse_init_nid: node[\(nid)] usemap allocation failed")
            sections.blocks.append(SparseNodeBlock(nid: nid, runs: runs, usage: 0, buffer: 0))
            return
        }
        // sparse_buffer_init() → memmap_alloc(): exact node, 2 MiB aligned, above 16 MiB.
        let bufSize = mapCount * Kernel.sectionMapSize
        let buffer = memblock.allocExactNidRaw(size: bufSize, align: Kernel.sectionMapSize, minAddr: Kernel.maxDMAAddress,
                                               nid: nid, caller: Caller("sparse_init_nid+0x11f/0x34d"), log: &log)
        sections.blocks.append(SparseNodeBlock(nid: nid, runs: runs, usage: usage, buffer: buffer))
        for r in runs {
            for s in r.start..<r.end {
                vmemmapPopulateSection(s, nid: nid, haveBuffer: buffer != 0)
            }
        }
        vmemmapMapBuffer(sections.blocks[sections.blocks.count - 1])
    }

    /// Linux: vmemmap_populate_hugepages() for one section: its 2 MiB of struct pages is one PMD
    /// entry; the tables above it are allocated on the node as they are first needed.
    mutating func vmemmapPopulateSection(_ section: UInt64, nid: Int32, haveBuffer: Bool) {
        if memoryModel == .sparse {
            // __populate_section_memmap(): the buffer, else memblock; no vmemmap tables.
            if !haveBuffer {
                _ = memblock.allocTryNidRaw(size: Kernel.sectionMapSize, align: Kernel.sectionMapSize, minAddr: Kernel.maxDMAAddress,
                                            nid: nid, caller: .unknownOffset("__populate_section_memmap"), log: &log)
            }
            return
        }
        let offset = (section << pfnSectionShift) * 64
        let va = vmemmapBase &+ offset
        let pgdEntry = entryAddress(pgtRoots.initTopPgt, va, .pgd)
        if la57 {
            let top = sections.vmemmap.slot(offset, sections.vmemmap.pgdShift)
            if !sections.vmemmap.pgd.contains(top) { sections.vmemmap.pgd.insert(top); populate(pgdEntry, vmemmapAllocBlockZero(nid)) }
        }
        let p4 = sections.vmemmap.slot(offset, p4dShift)
        if !sections.vmemmap.p4d.contains(p4) {
            sections.vmemmap.p4d.insert(p4)
            populate(la57 ? entryAddress(tableBelow(pgdEntry), va, .p4d) : pgdEntry, vmemmapAllocBlockZero(nid))
        }
        let pud = sections.vmemmap.slot(offset, pudShift)
        if !sections.vmemmap.pudTable.contains(pud) {
            sections.vmemmap.pudTable.insert(pud)
            let table = vmemmapAllocBlockZero(nid)
            if let e = entryAddress(va, at: .pud) { populate(e, table) }
        }
        if !haveBuffer {
            // vmemmap_alloc_block_buf() without a buffer: one 2 MiB block straight from memblock
            // (vmemmap_alloc_block() is inlined into vmemmap_populate() in Debian's build).
            let block = memblock.allocTryNidRaw(size: pmdSize, align: pmdSize, minAddr: Kernel.maxDMAAddress, nid: nid,
                                                caller: Caller("vmemmap_populate+0x119/0x32d"), log: &log)
            if block != 0, let e = entryAddress(va, at: .pmd) { physMem.writeWord(e, block | pageKernelLarge) }
        }
    }

    /// Linux: vmemmap_set_pmd() for sections whose struct pages came from the node's buffer: one
    /// 2 MiB PAGE_KERNEL_LARGE entry per section, consecutive sections on consecutive blocks.
    mutating func vmemmapMapBuffer(_ block: SparseNodeBlock) {
        guard memoryModel == .vmemmap, block.buffer != 0 else { return }
        var phys = block.buffer
        for r in block.runs {
            var s = r.start
            while s < r.end {
                let va = vmemmapBase &+ (s << pfnSectionShift) &* 64
                // Up to the end of the PMD page (1 GiB of vmemmap: 512 sections).
                let n = Swift.min(r.end - s, 512 - ((va >> pmdShift) & 511))
                if let e = entryAddress(va, at: .pmd) {
                    physMem.writeRun(e >> pageShift, index: Int((e & (pageSize - 1)) >> 3), count: Int(n),
                                     first: phys | pageKernelLarge, step: pmdSize)
                }
                s += n
                phys += n * pmdSize
            }
        }
    }

    /// Linux: vmemmap_alloc_block_zero(PAGE_SIZE, node) before slab: memblock, above 16 MiB.
    mutating func vmemmapAllocBlockZero(_ nid: Int32) -> PhysAddr {
        memblock.allocTryNidRaw(size: pageSize, align: pageSize, minAddr: Kernel.maxDMAAddress, nid: nid,
                                    caller: Caller("vmemmap_alloc_block_zero.constprop.0+0xc/0x28"), log: &log)
    }
}

extension Kernel {
    /// Where Linux's struct page for `pfn` is under the chosen memory model, and how it got
    /// there: the steps pfn_to_page() takes. nil when the pfn has no struct page.
    public func structPage(_ frame: Pfn) -> StructPageLocation? {
        let pfn = frame.raw
        switch memoryModel {
        case .flat:
            // mem_map starts at the node's MAX_ORDER-aligned first pfn.
            guard let n = nodes.first(where: { $0.nodeMemMap != 0 && frame >= $0.nodeStartPfn.alignedDown(.top)
                                               && frame < $0.nodeEndPfn.roundedUp(maxOrderNrPages) })
            else { return nil }
            let start = n.nodeStartPfn.alignedDown(.top).raw
            let map = n.nodeMemMap - (n.nodeStartPfn.raw - start) * 64
            return StructPageLocation(model: .flat, section: nil, virt: directMapVirt(map + (pfn - start) * 64),
                                      phys: map + (pfn - start) * 64, sectionMap: map, nid: n.nodeId.raw)
        case .sparse, .vmemmap:
            let section = pfn >> pfnSectionShift
            guard let nid = sections.nid(ofSection: section) else { return nil }
            // The section's 2 MiB of struct pages: its place in its node's buffer.
            var phys: PhysAddr = 0
            for b in sections.blocks where b.buffer != 0 {
                var idx: UInt64 = 0
                for r in b.runs {
                    if section >= r.start && section < r.end { phys = b.buffer + (idx + section - r.start) * Kernel.sectionMapSize }
                    idx += r.end - r.start
                }
            }
            let offset = (pfn - (section << pfnSectionShift)) * 64
            let virt = memoryModel == .vmemmap ? vmemmapBase &+ pfn &* 64 : directMapVirt(phys + offset)
            return StructPageLocation(model: memoryModel, section: section, virt: virt,
                                      phys: phys == 0 ? nil : phys + offset, sectionMap: phys, nid: nid)
        }
    }
}

/// The answer of Kernel.structPage(_:).
public struct StructPageLocation: Sendable, Equatable {
    public var model: MemoryModel
    /// The section number (SPARSEMEM models).
    public var section: UInt64?
    /// The struct page's kernel virtual address (what pfn_to_page() returns).
    public var virt: UInt64
    /// The RAM holding it (nil if its memmap allocation failed).
    public var phys: PhysAddr?
    /// FLATMEM: mem_map's physical address; SPARSEMEM: the section's memmap block.
    public var sectionMap: PhysAddr
    public var nid: Int32
}
