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
    public func pfnValid(_ pfn: UInt64) -> Bool { nid(ofSection: pfn >> pfnSectionShift) != nil }
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
                    pendingPanic = "sparse_init: Failed to allocate \(8 * nrSectionRoots) bytes align=\(hex(memblock.smpCacheBytes))"
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
    }

    /// Linux: vmemmap_populate_hugepages() for one section: its 2 MiB of struct pages is one PMD
    /// entry; the tables above it are allocated on the node as they are first needed.
    mutating func vmemmapPopulateSection(_ section: UInt64, nid: Int32, haveBuffer: Bool) {
        let offset = (section << pfnSectionShift) * 64
        if la57 {
            let top = sections.vmemmap.slot(offset, sections.vmemmap.pgdShift)
            if !sections.vmemmap.pgd.contains(top) { sections.vmemmap.pgd.insert(top); vmemmapAllocBlockZero(nid) }
        }
        let p4 = sections.vmemmap.slot(offset, p4dShift)
        if !sections.vmemmap.p4d.contains(p4) { sections.vmemmap.p4d.insert(p4); vmemmapAllocBlockZero(nid) }
        let pud = sections.vmemmap.slot(offset, pudShift)
        if !sections.vmemmap.pudTable.contains(pud) { sections.vmemmap.pudTable.insert(pud); vmemmapAllocBlockZero(nid) }
        if !haveBuffer {
            // vmemmap_alloc_block_buf() without a buffer: one 2 MiB block straight from memblock.
            _ = memblock.allocTryNidRaw(size: pmdSize, align: pmdSize, minAddr: Kernel.maxDMAAddress, nid: nid,
                                        caller: .unknownOffset("vmemmap_alloc_block"), log: &log)
        }
    }

    /// Linux: vmemmap_alloc_block_zero(PAGE_SIZE, node) before slab: memblock, above 16 MiB.
    mutating func vmemmapAllocBlockZero(_ nid: Int32) {
        _ = memblock.allocTryNidRaw(size: pageSize, align: pageSize, minAddr: Kernel.maxDMAAddress, nid: nid,
                                    caller: Caller("vmemmap_alloc_block_zero.constprop.0+0xc/0x28"), log: &log)
    }
}
