// The memmap: every simulated page's descriptor and every pageblock's migratetype, kept compact.
//
// Linux: mm/sparse.c and mm/sparse-vmemmap.c (one 32768-entry struct page array per present
//        section), mm/page_alloc.c — get_pfnblock_flags_mask(), set_pfnblock_flags_mask(),
//        set_pageblock_migratetype(); include/linux/mm.h — page_zone_id().
// Exact: the state of every page and pageblock the allocator can observe.
// Simplified: a section's descriptors are materialised only when the allocator first touches a
//        page in it. Until then the section holds only reserved pages and free max-order blocks.
//        Those blocks' list links, list types and the section's pageblock types live in a
//        per-section chunk that exists only where they differ from the section's defaults (one
//        pageblock type, one list type, and each block linked to its neighbours b ± 1, which is
//        what boot's ascending hand-over leaves). So memory nobody has touched costs a few
//        bytes per 128 MiB section and one bit per 4 MiB block, and a 4 PiB machine fits.
// Invariants (checkInvariants): a section's descriptors either do not exist or cover it whole;
//        a max-order block is free only through its free bit, never through PG_buddy.
// Reference: shared/reference/linux-6.1-mm.md §2.5, §4.1, §4.11.

/// A zone by its node and type (Linux: the struct zone * a page's flags lead to; page_zone_id()
/// packs the same two numbers). Two bytes, nid × 8 + zone type, so that the per-section table
/// of zones stays compact.
@frozen
public struct ZoneID: Hashable, Sendable, CustomStringConvertible {
    public var raw: UInt16
    @inlinable public init(raw: UInt16) { self.raw = raw }
    @inlinable public init(nid: NodeID, _ type: ZoneType) { raw = UInt16(nid.raw) &* 8 &+ UInt16(type.rawValue) }
    /// Linux: zone_to_nid().
    @inlinable public var nid: NodeID { NodeID(Int32(raw / 8)) }
    /// Linux: zone_idx(): the zone's type as an index (0 DMA … 4 Device).
    @inlinable public var zoneIndex: Int { Int(raw % 8) }
    /// The zone type's name ("DMA32"), "?" for an index no type has.
    public var zoneName: String { ZoneType(rawValue: zoneIndex)?.name ?? "?" }
    public var description: String { "node \(nid) \(zoneName)" }
}

public struct Memmap: Sendable {
    /// One past the highest pfn the memmap covers (max_pfn rounded up to a section).
    public private(set) var endPfn = Pfn(0)
    /// Every materialised section's 32768 descriptors, one section after another in the order
    /// they were materialised: one flat array, so that a descriptor write costs one uniqueness
    /// check, not one for an outer and one for an inner array.
    @usableFromInline var descs: [PageDescriptor] = []
    /// Per section: which run of `descs` holds its descriptors (the run starts at ordinal ×
    /// 32768), or −1 while it has none.
    @usableFromInline var sectionBase: [Int32] = []
    /// Per max-order block (pfn >> 10): free as a whole order-10 block.
    @usableFromInline var maxFree: [UInt64] = []
    /// Per section: its chunk of explicit per-block values, or `noChunk`.
    @usableFromInline var sectionChunk: [UInt32] = []
    /// Per section without a chunk: the pageblock migratetype (low nibble) and the list type of
    /// its free max-order blocks (high nibble).
    @usableFromInline var sectionDefault: [UInt8] = []
    /// Chunks: per block its list links (block numbers, UInt32.max for none) and list type, per
    /// pageblock its migratetype.
    @usableFromInline var chunkNext: [UInt32] = []
    @usableFromInline var chunkPrev: [UInt32] = []
    @usableFromInline var chunkListMT: [UInt8] = []
    @usableFromInline var chunkPageblockMT: [UInt8] = []
    /// Per section: which of its 64 subsections (2 MiB, = pageblocks) overlap memory (Linux:
    /// the early sections' subsection_map, which pfn_to_online_page() consults) — none, all, or
    /// some (`someSubsections`), with the bits of a partly covered section in
    /// `subsectionBits`. A byte per section, not a word: a 4 PiB machine has 32 M sections and
    /// almost all are wholly present.
    @usableFromInline var subsectionState: [UInt8] = []
    @usableFromInline var subsectionBits: [Int: UInt64] = [:]
    @usableFromInline static let noSubsections: UInt8 = 0
    @usableFromInline static let allSubsections: UInt8 = 1
    @usableFromInline static let someSubsections: UInt8 = 2
    /// Per section: the zone of all its pages, `mixedZone` when zones meet inside it, `noZone`
    /// when it is not in any zone.
    @usableFromInline var sectionZone: [ZoneID] = []
    /// The zones' pfn ranges, for the sections where zones meet.
    @usableFromInline var zoneRanges: [(start: Pfn, end: Pfn, slot: ZoneID)] = []

    public static let mixedZone = ZoneID(raw: .max)
    public static let noZone = ZoneID(raw: .max - 1)
    public static let nilBlock: UInt32 = .max
    public static let noChunk: UInt32 = .max
    @usableFromInline static let blocksPerSection = Int(pagesPerSection / maxOrderNrPages)
    @usableFromInline static let pageblocksPerSection = Int(pagesPerSection / pageblockNrPages)

    public init() {}

    /// Sizes the tables for pfns below `endPfn` and records each zone's span. Every page starts
    /// reserved and every pageblock UNMOVABLE, as an all-zero struct page array would after
    /// memmap_init's reserved marking.
    public init(endPfn: Pfn, zones: [(start: Pfn, end: Pfn, slot: ZoneID)]) {
        let end = endPfn.roundedUp(pagesPerSection)
        self.endPfn = end
        let nSections = end.section
        sectionBase = [Int32](repeating: -1, count: nSections)
        let nBlocks = Int(end.raw / maxOrderNrPages)
        maxFree = [UInt64](repeating: 0, count: (nBlocks + 63) / 64)
        sectionChunk = [UInt32](repeating: Memmap.noChunk, count: nSections)
        sectionDefault = [UInt8](repeating: MigrateType.movable.rawValue << 4 | MigrateType.unmovable.rawValue, count: nSections)
        sectionZone = [ZoneID](repeating: Memmap.noZone, count: nSections)
        subsectionState = [UInt8](repeating: Memmap.noSubsections, count: nSections)
        zoneRanges = zones.filter { $0.start < $0.end }
        for z in zoneRanges {
            var s = z.start.section
            while Pfn.first(ofSection: s) < z.end {
                let whole = z.start <= Pfn.first(ofSection: s) && Pfn.first(ofSection: s + 1) <= z.end
                let cur = sectionZone[s]
                sectionZone[s] = whole && cur == Memmap.noZone ? z.slot : Memmap.mixedZone
                s += 1
            }
        }
    }

    // MARK: Zones and pageblocks

    /// Linux: page_zone_id(pfn_to_page(pfn)); nil outside every zone.
    @inlinable public func zoneSlot(_ pfn: Pfn) -> ZoneID? {
        guard pfn < endPfn else { return nil }
        let s = sectionZone[pfn.section]
        if s == Memmap.noZone { return nil }
        if s != Memmap.mixedZone { return s }
        for z in zoneRanges where z.start <= pfn && pfn < z.end { return z.slot }
        return nil
    }

    /// Linux: subsection_map_init(): the subsections [start, end) touches hold valid pfns.
    /// Section by section: a wholly covered one is one byte, not 64 bits.
    public mutating func markSubsectionsValid(_ start: Pfn, _ end: Pfn) {
        let stop = Swift.min(end, endPfn)
        guard start < stop else { return }
        var s = start.section
        while Pfn.first(ofSection: s) < stop {
            let base = Pfn.first(ofSection: s)
            let first = (Swift.max(start, base) - base) >> pageblockOrder
            let last = (Swift.min(stop, base + pagesPerSection) - base - 1) >> pageblockOrder
            let mask = last - first == 63 ? UInt64.max : ((UInt64(1) << (last - first + 1)) - 1) << first
            let word = subsectionWord(s) | mask
            if word == .max {
                subsectionState[s] = Memmap.allSubsections
                subsectionBits[s] = nil
            } else {
                subsectionState[s] = Memmap.someSubsections
                subsectionBits[s] = word
            }
            s += 1
        }
    }

    /// The 64 subsection bits of section `s`.
    @inlinable func subsectionWord(_ s: Int) -> UInt64 {
        switch subsectionState[s] {
        case Memmap.allSubsections: return .max
        case Memmap.someSubsections: return subsectionBits[s] ?? 0
        default: return 0
        }
    }

    /// Linux: pfn_section_valid() for an early section.
    @inlinable public func isSubsectionValid(_ pfn: Pfn) -> Bool {
        guard pfn < endPfn else { return false }
        return subsectionWord(pfn.section) & (1 << (UInt64(pfn.indexInSection) >> pageblockOrder)) != 0
    }

    /// Linux: page_mapcount() as dump_page() prints it from the struct page the kernel keeps:
    /// PAGE_BUDDY_MAPCOUNT_VALUE (−128) on a free block's head, else 0 (user mappings are
    /// counted by the processes that hold them, not in the kernel's descriptor here).
    @inlinable public func dumpMapcount(_ pfn: Pfn) -> Int { buddyOrder(pfn) != nil ? -128 : 0 }

    /// Linux: get_pageblock_migratetype().
    @inlinable public func pageblockMigratetype(_ pfn: Pfn) -> MigrateType {
        MigrateType(stored: pageblockMigratetypeStored(pfn))
    }

    @inlinable func pageblockMigratetypeStored(_ pfn: Pfn) -> UInt8 {
        let s = pfn.section
        let c = sectionChunk[s]
        if c == Memmap.noChunk { return sectionDefault[s] & 0xf }
        return chunkPageblockMT[Int(c) * Memmap.pageblocksPerSection + Int((pfn.raw >> pageblockOrder) & UInt64(Memmap.pageblocksPerSection - 1))]
    }

    /// Linux: set_pageblock_migratetype().
    @inlinable public mutating func setPageblockMigratetype(_ pfn: Pfn, _ type: MigrateType) {
        let mt = type.rawValue
        let s = pfn.section
        var c = sectionChunk[s]
        if c == Memmap.noChunk {
            if sectionDefault[s] & 0xf == mt { return }
            c = makeChunk(section: s)
        }
        chunkPageblockMT[Int(c) * Memmap.pageblocksPerSection + Int((pfn.raw >> pageblockOrder) & UInt64(Memmap.pageblocksPerSection - 1))] = mt
    }

    /// set_pageblock_migratetype() for every pageblock starting in [start, end), a whole
    /// section without a chunk at a time.
    public mutating func setPageblockMigratetypes(_ start: Pfn, _ end: Pfn, _ type: MigrateType) {
        let mt = type.rawValue
        var b = start.roundedUp(pageblockNrPages)
        while b < end {
            let s = b.section
            let sectionStart = Pfn.first(ofSection: s)
            if b == sectionStart && sectionStart + pagesPerSection <= end && sectionChunk[s] == Memmap.noChunk {
                sectionDefault[s] = sectionDefault[s] & 0xf0 | mt
                b += pagesPerSection
                continue
            }
            setPageblockMigratetype(b, type)
            b += pageblockNrPages
        }
    }

    /// Gives a section a chunk holding its defaults, so that one block or pageblock can differ.
    @usableFromInline mutating func makeChunk(section s: Int) -> UInt32 {
        let c = UInt32(chunkListMT.count / Memmap.blocksPerSection)
        let first = UInt32(s * Memmap.blocksPerSection)
        let d = sectionDefault[s]
        for i in 0..<UInt32(Memmap.blocksPerSection) {
            chunkNext.append(first + i + 1)
            chunkPrev.append(first &+ i &- 1)
            chunkListMT.append(d >> 4)
        }
        chunkPageblockMT.append(contentsOf: repeatElement(d & 0xf, count: Memmap.pageblocksPerSection))
        sectionChunk[s] = c
        return c
    }

    /// How many sections have chunks (each 320 bytes of host memory).
    public var chunkedSections: Int { chunkListMT.count / Memmap.blocksPerSection }

    // MARK: Page descriptors

    /// Whether the section holding `pfn` has its descriptors.
    @inlinable public func isMaterialised(_ pfn: Pfn) -> Bool {
        sectionBase[pfn.section] >= 0
    }

    /// The index in `descs` of `pfn`'s descriptor (its section must be materialised).
    @inline(__always) @inlinable func slot(_ pfn: Pfn) -> Int {
        let base = sectionBase[pfn.section]
        mmAssert(base >= 0, "descriptor of a section never materialised")
        return Int(base) &<< 15 &+ pfn.indexInSection
    }

    /// The descriptor of `pfn` as it stands (a reserved page or a free max-order block's page
    /// in a section never touched).
    @inlinable public func page(_ pfn: Pfn) -> PageDescriptor {
        let s = pfn.section
        let base = sectionBase[s]
        if base >= 0 { return descs[Int(base) &<< 15 &+ pfn.indexInSection] }
        var d = PageDescriptor()
        if !isMaxOrderFree(pfn.alignedDown(.top)) { d.flags = .reserved }
        return d
    }

    /// Runs `body` on the descriptor of `pfn`, materialising its section first.
    @inlinable public mutating func withPage<R>(_ pfn: Pfn, _ body: (inout PageDescriptor) -> R) -> R {
        let s = pfn.section
        if sectionBase[s] < 0 { materialise(section: s) }
        return body(&descs[Int(sectionBase[s]) &<< 15 &+ pfn.indexInSection])
    }

    /// Linux: the struct pages of a block going free, as __free_pages_core() and
    /// free_pages_prepare() leave them: no flags, refcount 0. A whole max-order block in a
    /// section never touched already reads that way once its free bit is set, so it stays
    /// without descriptors.
    @inlinable public mutating func resetPages(_ pfn: Pfn, count: UInt64) {
        if count == maxOrderNrPages && !isMaterialised(pfn) { return }
        for p in pfn..<(pfn + count) { withPage(p) { $0 = PageDescriptor() } }
    }

    /// Gives a section its descriptors: pages inside free max-order blocks are free (refcount 0,
    /// no flags: the block's head is free through its free bit), all others reserved.
    @usableFromInline mutating func materialise(section s: Int) {
        var reserved = PageDescriptor()
        reserved.flags = .reserved
        let base = descs.count
        descs.append(contentsOf: repeatElement(reserved, count: Int(pagesPerSection)))
        let first = Pfn.first(ofSection: s)
        var b: UInt64 = 0
        while b < pagesPerSection {
            if isMaxOrderFree(first + b) {
                for i in Int(b)..<Int(b + maxOrderNrPages) { descs[base + i] = PageDescriptor() }
            }
            b += maxOrderNrPages
        }
        sectionBase[s] = Int32(base >> 15)
    }

    /// How many sections have descriptors (the model's per-page host memory is this × 512 KiB).
    public var materialisedSections: Int {
        descs.count / Int(pagesPerSection)
    }

    // MARK: Max-order blocks

    @inlinable public func isMaxOrderFree(_ pfn: Pfn) -> Bool {
        guard pfn < endPfn else { return false }
        let b = pfn.raw >> 10
        return maxFree[Int(b >> 6)] & (1 << (b & 63)) != 0
    }

    @inlinable mutating func setMaxOrderFree(_ pfn: Pfn, _ free: Bool) {
        let b = pfn.raw >> 10
        if free { maxFree[Int(b >> 6)] |= 1 << (b & 63) } else { maxFree[Int(b >> 6)] &= ~(1 << (b & 63)) }
    }

    // MARK: List links (the free lists' and pcp lists' list_head)

    /// The next block on the list that holds the `order` block at `pfn`.
    @inline(__always) @inlinable public func next(_ pfn: Pfn, order: Order) -> Pfn {
        if order == .top {
            let n = blockLink(pfn.raw >> 10, next: true)
            return n == Memmap.nilBlock ? PageDescriptor.nilLink : Pfn(UInt64(n) << 10)
        }
        return descs[slot(pfn)].next
    }

    @inline(__always) @inlinable func prev(_ pfn: Pfn, order: Order) -> Pfn {
        if order == .top {
            let n = blockLink(pfn.raw >> 10, next: false)
            return n == Memmap.nilBlock ? PageDescriptor.nilLink : Pfn(UInt64(n) << 10)
        }
        return descs[slot(pfn)].prev
    }

    @inline(__always) @inlinable mutating func setNext(_ pfn: Pfn, order: Order, _ v: Pfn) {
        if order == .top {
            setBlockLink(pfn.raw >> 10, next: true, v == PageDescriptor.nilLink ? Memmap.nilBlock : UInt32(v.raw >> 10))
        } else {
            descs[slot(pfn)].next = v
        }
    }

    @inline(__always) @inlinable mutating func setPrev(_ pfn: Pfn, order: Order, _ v: Pfn) {
        if order == .top {
            setBlockLink(pfn.raw >> 10, next: false, v == PageDescriptor.nilLink ? Memmap.nilBlock : UInt32(v.raw >> 10))
        } else {
            descs[slot(pfn)].prev = v
        }
    }

    /// A max-order block's link: explicit in its section's chunk, else its neighbour.
    @inline(__always) @inlinable func blockLink(_ b: UInt64, next: Bool) -> UInt32 {
        let s = Int(b) / Memmap.blocksPerSection
        let c = sectionChunk[s]
        if c == Memmap.noChunk { return next ? UInt32(b + 1) : UInt32(truncatingIfNeeded: b &- 1) }
        let i = Int(c) * Memmap.blocksPerSection + Int(b) % Memmap.blocksPerSection
        return next ? chunkNext[i] : chunkPrev[i]
    }

    @inlinable mutating func setBlockLink(_ b: UInt64, next: Bool, _ v: UInt32) {
        let s = Int(b) / Memmap.blocksPerSection
        var c = sectionChunk[s]
        if c == Memmap.noChunk {
            if v == (next ? UInt32(b + 1) : UInt32(truncatingIfNeeded: b &- 1)) { return }
            c = makeChunk(section: s)
        }
        let i = Int(c) * Memmap.blocksPerSection + Int(b) % Memmap.blocksPerSection
        if next { chunkNext[i] = v } else { chunkPrev[i] = v }
    }

    /// The list type of a free max-order block.
    @inlinable func blockListType(_ b: UInt64) -> MigrateType {
        let s = Int(b) / Memmap.blocksPerSection
        let c = sectionChunk[s]
        if c == Memmap.noChunk { return MigrateType(stored: sectionDefault[s] >> 4) }
        return MigrateType(stored: chunkListMT[Int(c) * Memmap.blocksPerSection + Int(b) % Memmap.blocksPerSection])
    }

    @inlinable mutating func setBlockListType(_ b: UInt64, _ type: MigrateType) {
        let mt = type.rawValue
        let s = Int(b) / Memmap.blocksPerSection
        var c = sectionChunk[s]
        if c == Memmap.noChunk {
            if sectionDefault[s] >> 4 == mt { return }
            c = makeChunk(section: s)
        }
        chunkListMT[Int(c) * Memmap.blocksPerSection + Int(b) % Memmap.blocksPerSection] = mt
    }

    /// Linux: a run of list_add_tail()s of consecutive free max-order blocks [first, first +
    /// count × 1024) onto `l`, with their free bits and list type, writing only the links that
    /// differ from the neighbour defaults (boot hands untouched memory over this way).
    mutating func appendMaxOrderRun(_ l: inout FreeList, _ first: Pfn, count: UInt64, mt: UInt8) {
        guard count > 0 else { return }
        let b0 = first.raw >> 10, bEnd = b0 + count
        let last = Pfn((bEnd - 1) << 10)
        if l.tail == PageDescriptor.nilLink { l.head = first } else { setNext(l.tail, order: .top, first) }
        setPrev(first, order: .top, l.tail)
        var b = b0
        while b < bEnd {
            let s = Int(b) / Memmap.blocksPerSection
            let sectionEnd = UInt64(s + 1) * UInt64(Memmap.blocksPerSection)
            let runEnd = Swift.min(bEnd, sectionEnd)
            let whole = b == UInt64(s) * UInt64(Memmap.blocksPerSection) && runEnd == sectionEnd
            if sectionChunk[s] == Memmap.noChunk && (whole || sectionDefault[s] >> 4 == mt) {
                if whole { sectionDefault[s] = sectionDefault[s] & 0x0f | mt << 4 }
            } else {
                // (Links across a section boundary are written here too: x − 1 and x + 1 may lie in
                // the neighbouring section.)
                for x in b..<runEnd {
                    setBlockListType(x, MigrateType(stored: mt))
                    if x > b0 { setBlockLink(x, next: false, UInt32(x - 1)) }
                    if x + 1 < bEnd { setBlockLink(x, next: true, UInt32(x + 1)) }
                }
            }
            b = runEnd
        }
        setNext(last, order: .top, PageDescriptor.nilLink)
        setMaxOrderFreeRange(b0, bEnd)
        l.tail = last
        l.count += count
    }

    /// Sets the free bits of blocks [b0, b1).
    mutating func setMaxOrderFreeRange(_ b0: UInt64, _ b1: UInt64) {
        var b = b0
        while b < b1 {
            if b & 63 == 0 && b + 64 <= b1 { maxFree[Int(b >> 6)] = .max; b += 64; continue }
            maxFree[Int(b >> 6)] |= 1 << (b & 63)
            b += 1
        }
    }
}

extension Memmap {
    /// The block after a free max-order block on its list (for walks from outside the model).
    public func nextFree(_ pfn: Pfn) -> Pfn { next(pfn, order: .top) }
}
