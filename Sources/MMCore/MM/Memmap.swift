// The memmap: every simulated page's descriptor and every pageblock's migratetype, kept compact.
//
// Linux: mm/sparse.c and mm/sparse-vmemmap.c (one 32768-entry struct page array per present
//        section), mm/page_alloc.c — get_pfnblock_flags_mask(), set_pfnblock_flags_mask(),
//        set_pageblock_migratetype(); include/linux/mm.h — page_zone_id().
// Exact: the state of every page and pageblock the allocator can observe.
// Simplified: a section's descriptors are materialised only when the allocator first touches a
//        page in it. Until then the section holds only reserved pages and free max-order blocks,
//        and those blocks' free-list links live in a per-block table (8 bytes per 4 MiB), so a
//        machine whose memory nobody has touched needs no per-page host memory at all.
// Invariants (checkInvariants): a section's descriptors either do not exist or cover it whole;
//        a max-order block is free only through the per-block table, never through PG_buddy.
// Reference: shared/reference/linux-6.1-mm.md §2.5, §4.1, §4.11.

/// Linux: page_zone_id(): which node's zone a page belongs to, as nid × 8 + zone type.
public typealias ZoneSlot = UInt16

public struct Memmap: Sendable {
    /// One past the highest pfn the memmap covers (max_pfn rounded up to a section).
    public private(set) var endPfn: UInt64 = 0
    /// Per section: the page descriptors once materialised, else empty.
    @usableFromInline var pages: [[PageDescriptor]] = []
    /// Per max-order block (pfn >> 10): free as a whole order-10 block, and its list links
    /// (block numbers; UInt32.max for none).
    @usableFromInline var maxFree: [UInt64] = []
    @usableFromInline var maxNext: [UInt32] = []
    @usableFromInline var maxPrev: [UInt32] = []
    /// Per max-order block: the migratetype list a free one is on.
    @usableFromInline var maxListMT: [UInt8] = []
    /// Per pageblock (pfn >> 9): Linux's pageblock flags' migratetype bits.
    @usableFromInline var pageblockMT: [UInt8] = []
    /// Per 2 MiB subsection (= pageblock): whether it overlaps memory (Linux: the early
    /// sections' subsection_map, which pfn_to_online_page() consults).
    @usableFromInline var subsectionValid: [UInt64] = []
    /// Per section: the zone of all its pages, `mixedZone` when zones meet inside it, `noZone`
    /// when it is not in any zone.
    @usableFromInline var sectionZone: [ZoneSlot] = []
    /// The zones' pfn ranges, for the sections where zones meet.
    @usableFromInline var zoneRanges: [(start: UInt64, end: UInt64, slot: ZoneSlot)] = []

    public static let mixedZone: ZoneSlot = .max
    public static let noZone: ZoneSlot = .max - 1
    public static let nilBlock: UInt32 = .max

    public init() {}

    /// Sizes the tables for pfns below `endPfn` and records each zone's span. Every page starts
    /// reserved and every pageblock UNMOVABLE, as an all-zero struct page array would after
    /// memmap_init's reserved marking.
    public init(endPfn: UInt64, zones: [(start: UInt64, end: UInt64, slot: ZoneSlot)]) {
        let end = roundUp(endPfn, pagesPerSection)
        self.endPfn = end
        let nSections = Int(end / pagesPerSection)
        pages = [[PageDescriptor]](repeating: [], count: nSections)
        let nBlocks = Int(end / maxOrderNrPages)
        maxFree = [UInt64](repeating: 0, count: (nBlocks + 63) / 64)
        maxNext = [UInt32](repeating: Memmap.nilBlock, count: nBlocks)
        maxPrev = [UInt32](repeating: Memmap.nilBlock, count: nBlocks)
        maxListMT = [UInt8](repeating: 0, count: nBlocks)
        pageblockMT = [UInt8](repeating: 0, count: Int(end / pageblockNrPages))
        sectionZone = [ZoneSlot](repeating: Memmap.noZone, count: nSections)
        subsectionValid = [UInt64](repeating: 0, count: (Int(end / pageblockNrPages) + 63) / 64)
        zoneRanges = zones.filter { $0.start < $0.end }
        for z in zoneRanges {
            var s = z.start / pagesPerSection
            while s * pagesPerSection < z.end {
                let whole = z.start <= s * pagesPerSection && (s + 1) * pagesPerSection <= z.end
                let cur = sectionZone[Int(s)]
                sectionZone[Int(s)] = whole && cur == Memmap.noZone ? z.slot : Memmap.mixedZone
                s += 1
            }
        }
    }

    // MARK: Zones and pageblocks

    /// Linux: page_zone_id(pfn_to_page(pfn)); nil outside every zone.
    @inlinable public func zoneSlot(_ pfn: UInt64) -> ZoneSlot? {
        guard pfn < endPfn else { return nil }
        let s = sectionZone[Int(pfn / pagesPerSection)]
        if s == Memmap.noZone { return nil }
        if s != Memmap.mixedZone { return s }
        for z in zoneRanges where z.start <= pfn && pfn < z.end { return z.slot }
        return nil
    }

    /// Linux: subsection_map_init(): the subsections [start, end) touches hold valid pfns.
    public mutating func markSubsectionsValid(_ start: UInt64, _ end: UInt64) {
        guard start < end else { return }
        var b = start >> pageblockOrder
        while b <= (end - 1) >> pageblockOrder && Int(b >> 6) < subsectionValid.count {
            subsectionValid[Int(b >> 6)] |= 1 << (b & 63)
            b += 1
        }
    }

    /// Linux: pfn_section_valid() for an early section.
    @inlinable public func isSubsectionValid(_ pfn: UInt64) -> Bool {
        let b = pfn >> pageblockOrder
        return Int(b >> 6) < subsectionValid.count && subsectionValid[Int(b >> 6)] & (1 << (b & 63)) != 0
    }

    /// Linux: get_pageblock_migratetype().
    @inlinable public func pageblockMigratetype(_ pfn: UInt64) -> UInt8 {
        pageblockMT[Int(pfn >> pageblockOrder)]
    }

    /// Linux: set_pageblock_migratetype().
    @inlinable public mutating func setPageblockMigratetype(_ pfn: UInt64, _ mt: UInt8) {
        pageblockMT[Int(pfn >> pageblockOrder)] = mt
    }

    // MARK: Page descriptors

    /// Whether the section holding `pfn` has its descriptors.
    @inlinable public func isMaterialised(_ pfn: UInt64) -> Bool {
        !pages[Int(pfn / pagesPerSection)].isEmpty
    }

    /// The descriptor of `pfn` as it stands (a reserved page or a free max-order block's page
    /// in a section never touched).
    @inlinable public func page(_ pfn: UInt64) -> PageDescriptor {
        let s = Int(pfn / pagesPerSection)
        if !pages[s].isEmpty { return pages[s][Int(pfn % pagesPerSection)] }
        var d = PageDescriptor()
        if !isMaxOrderFree(pfn & ~(maxOrderNrPages - 1)) { d.flags = .reserved }
        return d
    }

    /// Runs `body` on the descriptor of `pfn`, materialising its section first.
    @inlinable public mutating func withPage<R>(_ pfn: UInt64, _ body: (inout PageDescriptor) -> R) -> R {
        let s = Int(pfn / pagesPerSection)
        if pages[s].isEmpty { materialise(section: s) }
        return body(&pages[s][Int(pfn % pagesPerSection)])
    }

    /// Linux: the struct pages of a block going free, as __free_pages_core() and
    /// free_pages_prepare() leave them: no flags, refcount 0. A whole max-order block in a
    /// section never touched already reads that way once its free bit is set, so it stays
    /// without descriptors.
    @inlinable public mutating func resetPages(_ pfn: UInt64, count: UInt64) {
        if count == maxOrderNrPages && !isMaterialised(pfn) { return }
        for p in pfn..<(pfn + count) { withPage(p) { $0 = PageDescriptor() } }
    }

    /// Gives a section its descriptors: pages inside free max-order blocks are free (refcount 0,
    /// no flags: the block's head is free through the per-block table), all others reserved.
    @usableFromInline mutating func materialise(section s: Int) {
        var reserved = PageDescriptor()
        reserved.flags = .reserved
        var a = [PageDescriptor](repeating: reserved, count: Int(pagesPerSection))
        let first = UInt64(s) * pagesPerSection
        var b: UInt64 = 0
        while b < pagesPerSection {
            if isMaxOrderFree(first + b) {
                for i in Int(b)..<Int(b + maxOrderNrPages) { a[i] = PageDescriptor() }
            }
            b += maxOrderNrPages
        }
        pages[s] = a
    }

    /// How many sections have descriptors (the model's per-page host memory is this × 512 KiB).
    public var materialisedSections: Int {
        var n = 0
        for p in pages where !p.isEmpty { n += 1 }
        return n
    }

    // MARK: Max-order blocks

    @inlinable public func isMaxOrderFree(_ pfn: UInt64) -> Bool {
        guard pfn < endPfn else { return false }
        let b = pfn >> 10
        return maxFree[Int(b >> 6)] & (1 << (b & 63)) != 0
    }

    @inlinable mutating func setMaxOrderFree(_ pfn: UInt64, _ free: Bool) {
        let b = pfn >> 10
        if free { maxFree[Int(b >> 6)] |= 1 << (b & 63) } else { maxFree[Int(b >> 6)] &= ~(1 << (b & 63)) }
    }

    // MARK: List links (the free lists' and pcp lists' list_head)

    /// The next block on the list that holds the `order` block at `pfn`.
    @inlinable func next(_ pfn: UInt64, order: Int) -> UInt64 {
        if order == maxOrder - 1 {
            let n = maxNext[Int(pfn >> 10)]
            return n == Memmap.nilBlock ? PageDescriptor.nilLink : UInt64(n) << 10
        }
        return pages[Int(pfn / pagesPerSection)][Int(pfn % pagesPerSection)].next
    }

    @inlinable func prev(_ pfn: UInt64, order: Int) -> UInt64 {
        if order == maxOrder - 1 {
            let n = maxPrev[Int(pfn >> 10)]
            return n == Memmap.nilBlock ? PageDescriptor.nilLink : UInt64(n) << 10
        }
        return pages[Int(pfn / pagesPerSection)][Int(pfn % pagesPerSection)].prev
    }

    @inlinable mutating func setNext(_ pfn: UInt64, order: Int, _ v: UInt64) {
        if order == maxOrder - 1 {
            maxNext[Int(pfn >> 10)] = v == PageDescriptor.nilLink ? Memmap.nilBlock : UInt32(v >> 10)
        } else {
            pages[Int(pfn / pagesPerSection)][Int(pfn % pagesPerSection)].next = v
        }
    }

    @inlinable mutating func setPrev(_ pfn: UInt64, order: Int, _ v: UInt64) {
        if order == maxOrder - 1 {
            maxPrev[Int(pfn >> 10)] = v == PageDescriptor.nilLink ? Memmap.nilBlock : UInt32(v >> 10)
        } else {
            pages[Int(pfn / pagesPerSection)][Int(pfn % pagesPerSection)].prev = v
        }
    }
}
