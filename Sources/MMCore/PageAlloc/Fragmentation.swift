// How fragmented a zone's free memory is, by the kernel's own formulas.
//
// Linux: mm/vmstat.c — fill_contig_page_info(), __fragmentation_index(), extfrag_for_order(),
//        unusable_free_index() (debugfs extfrag/unusable_index and extfrag/extfrag_index);
//        mm/compaction.c — fragmentation_score_zone(), fragmentation_score_zone_weighted(),
//        fragmentation_score_node(), fragmentation_score_wmark().
// Exact: integer arithmetic as the kernel does it (the indices are thousandths, the scores
//        percentages, every division truncating), from the zone's nr_free counts only — the
//        same numbers a real machine's debugfs shows for the same buddy lists.
// kmemlab's own measures (largest free block, the share of free memory in blocks of at least
// pageblock order, the fallback counters) say in a line what researchers quote.

/// Linux: struct contig_page_info: the free memory of a zone seen from one order.
public struct ContigPageInfo: Equatable, Sendable {
    /// Free base pages.
    public var freePages: UInt64 = 0
    /// Free blocks of any order.
    public var freeBlocksTotal: UInt64 = 0
    /// Blocks of the asked order that the free blocks of that order or larger could give.
    public var freeBlocksSuitable: UInt64 = 0

    /// Linux: fill_contig_page_info(): from the free-block count of each order.
    public init(nrFree: [UInt64], suitableOrder: Int) {
        for order in nrFree.indices {
            let blocks = nrFree[order]
            freeBlocksTotal &+= blocks
            freePages &+= blocks << UInt64(order)
            if order >= suitableOrder { freeBlocksSuitable &+= blocks << UInt64(order - suitableOrder) }
        }
    }

    /// Linux: unusable_free_index(): thousandths of free memory that cannot serve a request
    /// of `order` (1000 when nothing is free).
    public func unusableFreeIndex(order: Order) -> Int {
        guard freePages != 0 else { return 1000 }
        return Int((freePages - (freeBlocksSuitable << UInt64(order.raw))) * 1000 / freePages)
    }

    /// Linux: __fragmentation_index(): −1000 when a block of `order` is free (the index only
    /// means something for a request that would fail); otherwise toward 0 when it fails for
    /// lack of memory and toward 1000 when it fails for fragmentation.
    public func fragmentationIndex(order: Order) -> Int {
        guard order < .limit, freeBlocksTotal != 0 else { return 0 }
        if freeBlocksSuitable != 0 { return -1000 }
        let requested = order.pages
        return 1000 - Int((1000 + freePages * 1000 / requested) / freeBlocksTotal)
    }

    /// Linux: extfrag_for_order()'s arithmetic: the percentage of free pages in blocks smaller
    /// than `order`.
    public func extfragPercent(order: Order) -> UInt64 {
        guard freePages != 0 else { return 0 }
        return (freePages - (freeBlocksSuitable << UInt64(order.raw))) * 100 / freePages
    }
}

/// Linux: COMPACTION_HPAGE_ORDER (HPAGE_PMD_ORDER with THP): the order proactive compaction
/// scores a zone at.
public let compactionHPageOrder = 9

extension Zone {
    /// Linux: fill_contig_page_info(zone, order, &info).
    public func contigPageInfo(order: Order) -> ContigPageInfo {
        ContigPageInfo(nrFree: nrFree, suitableOrder: order.raw)
    }

    /// Linux: extfrag_for_order(zone, order).
    public func extfragForOrder(_ order: Order) -> UInt64 {
        contigPageInfo(order: order).extfragPercent(order: order)
    }

    /// Linux: fragmentation_score_zone(): percent of free memory in blocks below order 9.
    public var fragmentationScore: UInt64 { extfragForOrder(Order(compactionHPageOrder)) }

    /// Linux: fragmentation_score_zone_weighted(): the zone's score scaled by its share of
    /// the node's present pages (so small zones such as DMA barely count).
    public func fragmentationScoreWeighted(nodePresentPages: UInt64) -> UInt64 {
        presentPages &* fragmentationScore / (nodePresentPages &+ 1)
    }

    /// The order of the largest free block, or nil when nothing is free.
    public var largestFreeOrder: Int? { nrFree.lastIndex(where: { $0 != 0 }) }

    /// Free pages in blocks of at least `order` (kmemlab's "free memory usable for huge pages").
    public func freePages(inBlocksOfAtLeast order: Order) -> UInt64 {
        var pages: UInt64 = 0
        for o in order..<Order.limit { pages &+= nrFree[o.raw] << UInt64(o.raw) }
        return pages
    }
}

/// One zone's fragmentation figures, computed once for every report that prints them (the
/// summary table, CSV, JSON, the side-by-side comparison, the explorer).
public struct ZoneFragmentation: Sendable {
    public let freePages: UInt64
    /// Free pages in blocks of at least a pageblock (what a huge page needs).
    public let freeInPageblocks: UInt64
    public let largestOrder: Int?
    /// Linux: fragmentation_score_zone().
    public let score: UInt64
    /// Linux: unusable_free_index() and __fragmentation_index() at each order, in thousandths.
    public let unusableIndex: [Int]
    public let fragmentationIndex: [Int]

    public init(_ z: Zone) {
        freePages = z.freePages(inBlocksOfAtLeast: 0)
        freeInPageblocks = z.freePages(inBlocksOfAtLeast: .pageblock)
        largestOrder = z.largestFreeOrder
        score = z.fragmentationScore
        unusableIndex = (0..<maxOrder).map { z.contigPageInfo(order: Order($0)).unusableFreeIndex(order: Order($0)) }
        fragmentationIndex = (0..<maxOrder).map { z.contigPageInfo(order: Order($0)).fragmentationIndex(order: Order($0)) }
    }
}

extension PGData {
    /// Linux: fragmentation_score_node(): the weighted zone scores summed (0–100); kcompactd
    /// compacts proactively while it is above the high mark.
    public var fragmentationScore: UInt64 {
        var score: UInt64 = 0
        for z in zones { score &+= z.fragmentationScoreWeighted(nodePresentPages: nodePresentPages) }
        return score
    }

    /// Linux: fragmentation_score_wmark(): proactive compaction starts above `high` and stops
    /// below `low`; vm.compaction_proactiveness sets them (0 turns it off).
    public static func fragmentationScoreWmarks(proactiveness: UInt64) -> (low: UInt64, high: UInt64) {
        let low = Swift.max(100 &- Swift.min(proactiveness, 100), 5)
        return (low, Swift.min(low + 10, 100))
    }
}

/// Fallbacks counted as mm_page_alloc_extfrag splits them (and as mmtests reports them): an
/// allocation served from another migratetype's free list.
public struct ExtfragCounters: Equatable, Sendable {
    /// Every fallback (Linux: one mm_page_alloc_extfrag event each).
    public var events: UInt64 = 0
    /// Fallbacks that took a block smaller than a pageblock, mixing types inside it.
    public var fragmenting: UInt64 = 0
    /// Fallbacks that claimed the whole pageblock for the asking type.
    public var changeOwnership: UInt64 = 0
    /// Fragmenting fallbacks by an unmovable allocation (the ones compaction cannot undo).
    public var fragmentingUnmovable: UInt64 = 0
    public init() {}

    /// Counts one fallback. `fallbackOrder` is the order of the block taken.
    public mutating func count(allocMigratetype: MigrateType, fallbackOrder: Int, changedOwnership: Bool) {
        events &+= 1
        if fallbackOrder < Int(pageblockOrder) {
            fragmenting &+= 1
            if allocMigratetype == .unmovable { fragmentingUnmovable &+= 1 }
        }
        if changedOwnership { changeOwnership &+= 1 }
    }
}
