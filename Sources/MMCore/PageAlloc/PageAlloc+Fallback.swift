// Taking memory of another migratetype: fallback, pageblock stealing, watermark boost, and the
// highatomic reserve.
//
// Linux: mm/page_alloc.c — fallbacks[], __rmqueue(), __rmqueue_fallback(),
//        find_suitable_fallback(), can_steal_fallback(), steal_suitable_fallback(),
//        change_pageblock_range(), boost_watermark(), reserve_highatomic_pageblock(),
//        rmqueue_buddy().
// Exact: which list is raided (largest block first, smallest for movable requests that cannot
//        steal), when a whole pageblock changes owner, how far the boost goes.
// Reference: shared/reference/linux-6.1-mm.md §4.5, §4.6, §4.9.

/// Linux: fallbacks[][]: the lists each type may borrow from, in order.
@inlinable func fallbackTypes(_ mt: MigrateType) -> (MigrateType, MigrateType)? {
    switch mt {
    case .unmovable: return (.reclaimable, .movable)
    case .movable: return (.reclaimable, .unmovable)
    case .reclaimable: return (.unmovable, .movable)
    default: return nil
    }
}

extension Zone {
    /// Linux: rmqueue_buddy()'s list choice under zone->lock: the highatomic reserve first for
    /// ALLOC_HIGHATOMIC, then __rmqueue(), then the reserve for OOM and non-blocking callers.
    /// Returns the block and the list type it came from (page->index on a pcp list).
    mutating func rmqueue<L: PageAllocListener>(order: Order, mt: MigrateType, flags: AllocFlags,
                                              _ mm: inout Memmap, _ l: inout L) -> (Pfn, MigrateType)? {
        let ha = MigrateType.highAtomic
        if flags.contains(.highAtomic), let r = rmqueueSmallest(order: order, mt: ha, &mm) {
            l.pageAlloc(.split(zone: slot, pfn: r.pfn, from: r.from, to: order, migratetype: .highAtomic))
            return (r.pfn, ha)
        }
        if let pfn = rmqueueFromLists(order: order, mt: mt, flags: flags, &mm, &l) { return (pfn, mt) }
        if !flags.isDisjoint(with: [.oom, .nonBlock]), let r = rmqueueSmallest(order: order, mt: ha, &mm) {
            l.pageAlloc(.split(zone: slot, pfn: r.pfn, from: r.from, to: order, migratetype: .highAtomic))
            return (r.pfn, ha)
        }
        return nil
    }

    /// Linux: __rmqueue(): the smallest block on `mt`'s lists; when there is none, a fallback
    /// moves blocks of another type to them, and the search runs again. rmqueue_bulk() fills
    /// the per-cpu lists through this alone, so a refill never takes from the highatomic
    /// reserve (only rmqueue_buddy() does, after the CPU's list came back empty).
    mutating func rmqueueFromLists<L: PageAllocListener>(order: Order, mt: MigrateType, flags: AllocFlags,
                                                        _ mm: inout Memmap, _ l: inout L) -> Pfn? {
        while true {
            if let r = rmqueueSmallest(order: order, mt: mt, &mm) {
                l.pageAlloc(.split(zone: slot, pfn: r.pfn, from: r.from, to: order, migratetype: mt))
                return r.pfn
            }
            if !rmqueueFallback(order: order, startMT: mt, flags: flags, &mm, &l) { return nil }
        }
    }

    /// Linux: can_steal_fallback().
    func canStealFallback(order: Order, startMT: MigrateType, mobilityDisabled: Bool) -> Bool {
        if order >= .pageblock { return true }
        if order.raw >= Order.pageblock.raw / 2 || startMT == .reclaimable || startMT == .unmovable || mobilityDisabled { return true }
        return false
    }

    /// Linux: find_suitable_fallback(): the first fallback list of this order with a block.
    func findSuitableFallback(order: Order, startMT: MigrateType, onlyStealable: Bool)
        -> (mt: MigrateType, canSteal: Bool)?
    {
        guard nrFree[order.raw] != 0, let (a, b) = fallbackTypes(startMT) else { return nil }
        let can = canStealFallback(order: order, startMT: startMT, mobilityDisabled: false)
        for i in 0..<2 {
            let fmt = i == 0 ? a : b
            if freeLists[Zone.listIndex(order, fmt)].isEmpty { continue }
            if !onlyStealable || can { return (fmt, can) }
        }
        return nil
    }

    /// Linux: __rmqueue_fallback(): move a block (and maybe its pageblock) of another type to
    /// `startMT`'s lists. True if something moved.
    mutating func rmqueueFallback<L: PageAllocListener>(order: Order, startMT: MigrateType, flags: AllocFlags,
                                                      _ mm: inout Memmap, _ l: inout L) -> Bool {
        var minOrder = order
        if order < .pageblock && flags.contains(.noFragment) { minOrder = .pageblock }
        var o = Order.top
        var found: (mt: MigrateType, canSteal: Bool)?
        while o >= minOrder {
            if let f = findSuitableFallback(order: o, startMT: startMT, onlyStealable: false) {
                found = f
                if !f.canSteal && startMT == MigrateType.movable && o > order {
                    // Cannot take the whole block: split the smallest one instead.
                    o = order
                    while o < .limit {
                        if let g = findSuitableFallback(order: o, startMT: startMT, onlyStealable: false) {
                            found = g
                            break
                        }
                        o = o.up
                    }
                }
                break
            }
            o = o.down
        }
        guard let f = found, o < .limit else { return false }
        let pfn = freeLists[Zone.listIndex(o, f.mt)].head
        let claimed = stealSuitableFallback(pfn, order: o, flags: flags, startMT: startMT,
                                            wholeBlock: f.canSteal, &mm, &l)
        l.pageAlloc(.fallback(zone: slot, order: order, foundOrder: o,
                              wanted: startMT,
                              fallback: f.mt, claimedPageblock: claimed))
        return true
    }

    /// Linux: steal_suitable_fallback(). Returns whether the pageblock(s) now belong to
    /// `startMT` (what mm_page_alloc_extfrag reports as change_ownership).
    mutating func stealSuitableFallback<L: PageAllocListener>(_ pfn: Pfn, order: Order, flags: AllocFlags,
                                                            startMT: MigrateType, wholeBlock: Bool,
                                                            _ mm: inout Memmap, _ l: inout L) -> Bool {
        let old = mm.pageblockMigratetype(pfn)
        if old == MigrateType.highAtomic {
            moveToFreeList(pfn, order: order, mt: startMT, &mm)
            return false
        }
        if order >= .pageblock {
            var b = pfn
            while b < pfn + order.pages {
                mm.setPageblockMigratetype(b, startMT)
                b += pageblockNrPages
            }
            moveToFreeList(pfn, order: order, mt: startMT, &mm)
            return true
        }
        if boostWatermark(&l) && flags.contains(.kswapd) { boostedWatermark = true }
        if !wholeBlock {
            moveToFreeList(pfn, order: order, mt: startMT, &mm)
            return false
        }
        let (free, movable) = moveFreepagesBlock(pfn, mt: startMT, &mm)
        let alike: UInt64
        if startMT == MigrateType.movable {
            alike = movable
        } else if old == MigrateType.movable {
            alike = pageblockNrPages - (free + movable)
        } else {
            alike = 0
        }
        if free == 0 {
            moveToFreeList(pfn, order: order, mt: startMT, &mm)
            return false
        }
        if free + alike >= 1 << (pageblockOrder - 1) {
            mm.setPageblockMigratetype(pfn, startMT)
            return true
        }
        return false
    }

    /// Linux: boost_watermark(): raise every watermark by a pageblock, up to
    /// watermark_boost_factor of the high mark, so kswapd reclaims before more blocks mix.
    mutating func boostWatermark<L: PageAllocListener>(_ l: inout L) -> Bool {
        guard boostFactor != 0, pageblockNrPages * 4 <= managedPages else { return false }
        var maxBoost = mulFrac(watermark.high, boostFactor, 10000)
        if maxBoost == 0 { return false }
        maxBoost = Swift.max(pageblockNrPages, maxBoost)
        watermarkBoost = Swift.min(watermarkBoost + pageblockNrPages, maxBoost)
        l.pageAlloc(.watermarkBoosted(zone: slot, boost: watermarkBoost))
        return true
    }

    /// Linux: reserve_highatomic_pageblock(): after a high-order atomic allocation, keep its
    /// pageblock for such allocations (up to 1% of the zone plus a pageblock).
    mutating func reserveHighatomicPageblock<L: PageAllocListener>(_ pfn: Pfn, _ mm: inout Memmap, _ l: inout L) {
        let maxManaged = managedPages / 100 + pageblockNrPages
        guard nrReservedHighatomic < maxManaged else { return }
        guard mm.pageblockMigratetype(pfn).isPCPType else { return }
        nrReservedHighatomic += pageblockNrPages
        mm.setPageblockMigratetype(pfn, .highAtomic)
        _ = moveFreepagesBlock(pfn, mt: .highAtomic, &mm)
        l.pageAlloc(.highatomicReserved(zone: slot, pfn: pfn.alignedDown(.pageblock)))
    }
}

/// Linux: mult_frac(x, n, d) without overflow.
@inlinable func mulFrac(_ x: UInt64, _ n: UInt64, _ d: UInt64) -> UInt64 {
    let q = x / d, r = x % d
    return q * n + r * n / d
}
