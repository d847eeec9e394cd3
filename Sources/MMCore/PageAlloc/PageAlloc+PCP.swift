// Per-cpu page lists (pcp): the order-0…3 and THP cache in front of the buddy free lists.
//
// Linux: mm/page_alloc.c — order_to_pindex(), pindex_to_order(), pcp_allowed_order(),
//        rmqueue_pcplist(), __rmqueue_pcplist(), rmqueue_bulk(), free_unref_page(),
//        free_unref_page_commit(), nr_pcp_free(), nr_pcp_high(), free_pcppages_bulk(),
//        drain_pages_zone(); include/linux/mmzone.h (struct per_cpu_pages).
// Exact: the batch a refill takes, which list a freed page joins, when the list spills and how
//        many pages go back, in which order (round robin from the list just used, tail first).
// Simplified: one simulated CPU runs at a time, so pcp->lock and its trylock failure are not
//        modelled; ZONE_RECLAIM_ACTIVE is never set (no reclaim yet).
// Invariants: count is the pages on the 14 lists; each list holds one order and migratetype.
// Reference: shared/reference/linux-6.1-mm.md §3.11, §4.7.

/// Linux: NR_PCP_LISTS (orders 0…3 × 3 types, plus THP unmovable and movable).
public let nrPCPLists = 14
/// Linux: PAGE_ALLOC_COSTLY_ORDER.
public let pageAllocCostlyOrder = 3
/// Linux: CONFIG_PCP_BATCH_SCALE_MAX (default 5).
let pcpBatchScaleMax: UInt8 = 5

/// Linux: struct per_cpu_pages. high and batch are the zone's (pageset_high / pageset_batch).
public struct PerCPUPages: Sendable, Equatable {
    /// Pages (not blocks) on the lists.
    public var count: UInt64 = 0
    public var freeFactor: UInt8 = 0
    public init() {}
}

/// Linux: order_to_pindex().
@inlinable public func orderToPindex(_ mt: MigrateType, _ order: Order) -> Int {
    if order > .costly { return migratePCPTypes * (pageAllocCostlyOrder + 1) + (mt == .movable ? 1 : 0) }
    return order.raw &* migratePCPTypes &+ mt.index
}

/// Linux: pindex_to_order().
@inlinable public func pindexToOrder(_ pindex: Int) -> Order {
    pindex >= migratePCPTypes * (pageAllocCostlyOrder + 1) ? .pageblock : Order(pindex / migratePCPTypes)
}

/// Linux: pcp_allowed_order(): small orders, and THP's pageblock order.
@inlinable public func pcpAllowedOrder(_ order: Order) -> Bool {
    order <= .costly || order == .pageblock
}

extension Zone {
    /// Linux: rmqueue_pcplist() and __rmqueue_pcplist(): the head of the CPU's list, refilled
    /// with a batch from the buddy lists when empty (rmqueue_bulk(): __rmqueue() per block,
    /// never the highatomic reserve).
    mutating func rmqueuePcplist<L: PageAllocListener>(cpu: Int, order: Order, mt: MigrateType, flags: AllocFlags,
                                                     _ mm: inout Memmap, _ l: inout L) -> Pfn? {
        pcp[cpu].freeFactor >>= 1
        let pindex = orderToPindex(mt, order)
        if pcpLists[Zone.pcpIndex(cpu, pindex)].isEmpty {
            var batch = pagesetBatch
            if batch > 1 { batch = Swift.max(batch >> UInt64(order.raw), 2) }
            var got = 0
            while got < batch {
                // A block at a time where rmqueue_bulk()'s calls would split one block: same
                // pages, same order, same lists left behind (refillFromSplitBlock()).
                if let from = smallestFreeOrder(order, mt), from > order {
                    got += refillFromSplitBlock(from: from, order: order, mt: mt, upTo: Int(batch) - got,
                                                list: Zone.pcpIndex(cpu, pindex), &mm, &l)
                    continue
                }
                guard let pfn = rmqueueFromLists(order: order, mt: mt, flags: flags, &mm, &l) else { break }
                mm.withPage(pfn) { d in d.migratetype = mt.rawValue; d.flags.insert(.pcp) }
                mm.listAddTail(&pcpLists[Zone.pcpIndex(cpu, pindex)], pfn, order: order)
                got += 1
            }
            pcp[cpu].count += UInt64(got) << UInt64(order.raw)
            l.pageAlloc(.pcpRefill(zone: slot, cpu: cpu, order: order, blocks: got))
            if got == 0 { return nil }
        } else {
            l.pageAlloc(.pcpHit(zone: slot, cpu: cpu, order: order, migratetype: mt))
        }
        return pcpTakeHead(cpu: cpu, pindex: pindex, order: order, &mm)
    }

    /// Linux: rmqueue_bulk()'s __rmqueue() calls while they split one block. When the
    /// smallest list of `mt` that holds a block is at `from` > `order`, __rmqueue_smallest()
    /// takes that block and expand() puts its upper halves at the heads of the lower lists,
    /// which were empty; so the calls that follow take the block's pieces in ascending pfn
    /// order, each from the smallest list, until the block is used up or the batch is full.
    /// Done here as one step: the block leaves its list, up to `upTo` of its `order` pieces go
    /// to the tail of the CPU's list `list` in that order (each reported as the split that
    /// took it), and what is left lies on the lists as expand() leaves it. Returns the pieces
    /// taken. The pages, the lists, the counters and the events equal the page-by-page path's.
    mutating func refillFromSplitBlock<L: PageAllocListener>(from: Order, order: Order, mt: MigrateType, upTo: Int,
                                                            list: Int, _ mm: inout Memmap, _ l: inout L) -> Int {
        let block = freeLists[Zone.listIndex(from, mt)].head
        delFromFreeList(block, order: from, &mm)
        let pieces = 1 &<< (from.raw &- order.raw)
        let n = Swift.min(upTo, pieces)
        // The k-th piece (k > 0) is the head of the block left at k: order + ctz(k).
        for k in 0..<n {
            let took = k == 0 ? from : Order(order.raw &+ k.trailingZeroBitCount)
            l.pageAlloc(.split(zone: slot, pfn: block + (UInt64(k) &<< UInt64(order.raw)), from: took, to: order, migratetype: mt))
        }
        var k = n
        while k < pieces {
            let o = Order(order.raw &+ k.trailingZeroBitCount)
            addToFreeList(block + (UInt64(k) &<< UInt64(order.raw)), order: o, mt: mt, tail: false, &mm)
            k &+= 1 &<< k.trailingZeroBitCount
        }
        freePages -= UInt64(n) &* order.pages
        mm.listAddTailRun(&pcpLists[list], block, count: n, order: order, migratetype: mt)
        return n
    }

    /// The fast path's take (PageAllocator.allocPcpHit): when this zone passes its watermark
    /// at a glance and the CPU's list for the order and type has a page, what
    /// rmqueue_pcplist() and rmqueue() do with it; nil, with nothing changed, otherwise. The
    /// page keeps its pcp mark: the caller preps it (prep_new_page()) at once, which rewrites
    /// the descriptor's flags.
    @inline(__always)
    mutating func pcpHit<L: PageAllocListener>(cpu: Int, order: Order, mt: MigrateType, highest: ZoneType,
                                             flags: AllocFlags, gfp: GFPFlags, _ mm: inout Memmap, _ l: inout L) -> Pfn? {
        let pindex = orderToPindex(mt, order)
        guard !pcpLists[Zone.pcpIndex(cpu, pindex)].isEmpty,
              watermarkFast(order: order, mark: lowWmark, highestZone: highest.rawValue, flags: flags, gfp: gfp)
        else { return nil }
        pcp[cpu].freeFactor >>= 1
        l.pageAlloc(.pcpHit(zone: slot, cpu: cpu, order: order, migratetype: mt))
        // pcpTakeHead() without its descriptor write: prep_new_page() rewrites the flags next.
        let i = Zone.pcpIndex(cpu, pindex)
        let pfn = pcpLists[i].head
        mm.listDel(&pcpLists[i], pfn, order: order)
        pcp[cpu].count -= order.pages
        if boostedWatermark {
            boostedWatermark = false
            l.pageAlloc(.slowPath(.wakeKswapd))
        }
        return pfn
    }

    /// Linux: __rmqueue_pcplist()'s list_first_entry() and list_del(): the head of a CPU's list
    /// that is known not to be empty.
    @inline(__always)
    mutating func pcpTakeHead(cpu: Int, pindex: Int, order: Order, _ mm: inout Memmap) -> Pfn {
        let i = Zone.pcpIndex(cpu, pindex)
        let pfn = pcpLists[i].head
        mm.listDel(&pcpLists[i], pfn, order: order)
        mm.withPage(pfn) { d in _ = d.flags.remove(.pcp) }
        pcp[cpu].count -= order.pages
        return pfn
    }

    /// Linux: free_unref_page() after free_pages_prepare(): onto the CPU's list (HIGHATOMIC
    /// pages on the movable one, keeping their type), spilling to the buddy lists above high.
    mutating func freeUnrefPage<L: PageAllocListener>(_ pfn: Pfn, order: Order, cpu: Int,
                                                    _ mm: inout Memmap, _ l: inout L) {
        let mt = mm.pageblockMigratetype(pfn)
        if mt == MigrateType.isolate {
            mm.withPage(pfn) { d in d.refcount = 0; d.order = 0 }
            let merged = freeOneBlock(pfn, order: order, mt: mt, fpi: [], &mm)
            l.pageAlloc(.freedToBuddy(zone: slot, pfn: pfn, order: order, mergedOrder: merged, toTail: false))
            return
        }
        let pcpMT = mt.isPCPType ? mt : MigrateType.movable
        mm.withPage(pfn) { d in d.refcount = 0; d.order = 0; d.migratetype = mt.rawValue; d.flags.insert(.pcp) }
        let pindex = orderToPindex(pcpMT, order)
        mm.listAddHead(&pcpLists[Zone.pcpIndex(cpu, pindex)], pfn, order: order)
        pcp[cpu].count += order.pages
        l.pageAlloc(.pcpFree(zone: slot, cpu: cpu, pfn: pfn, order: order, migratetype: mt))
        let freeHigh = pcp[cpu].freeFactor != 0 && order != 0 && order <= .costly
        let high: UInt64 = pagesetHigh == 0 || freeHigh ? 0 : pagesetHigh
        if pcp[cpu].count >= high {
            let n = nrPcpFree(cpu: cpu, high: high, batch: pagesetBatch, freeHigh: freeHigh)
            freePcppagesBulk(cpu: cpu, count: n, pindex: pindex, &mm, &l)
        }
    }

    /// Linux: nr_pcp_free(): how many pages a spill frees; grows while frees come without
    /// allocations in between.
    mutating func nrPcpFree(cpu: Int, high: UInt64, batch: UInt64, freeHigh: Bool) -> UInt64 {
        if freeHigh { return pcp[cpu].count }
        if high < batch { return 1 }
        let lo = batch, hi = high - batch
        let b = batch << UInt64(pcp[cpu].freeFactor)
        if b < hi && pcp[cpu].freeFactor < pcpBatchScaleMax { pcp[cpu].freeFactor += 1 }
        return Swift.min(Swift.max(b, lo), hi)
    }

    /// Linux: free_pcppages_bulk(): round robin over the lists, starting with `pindex`, each
    /// visit freeing from the list's tail until it is empty or the count is reached.
    mutating func freePcppagesBulk<L: PageAllocListener>(cpu: Int, count: UInt64, pindex: Int,
                                                       _ mm: inout Memmap, _ l: inout L) {
        var count = Int64(Swift.min(count, pcp[cpu].count))
        var minP = 0, maxP = nrPCPLists - 1, p = pindex - 1
        var freed = 0
        while count > 0 {
            while true {
                p += 1
                if p > maxP { p = minP }
                if !pcpLists[Zone.pcpIndex(cpu, p)].isEmpty { break }
                if p == maxP { maxP -= 1 }
                if p == minP { minP += 1 }
            }
            let order = pindexToOrder(p)
            repeat {
                let pfn = pcpLists[Zone.pcpIndex(cpu, p)].tail
                mm.listDel(&pcpLists[Zone.pcpIndex(cpu, p)], pfn, order: order)
                let mt = mm.withPage(pfn) { d -> MigrateType in d.flags.remove(.pcp); return MigrateType(stored: d.migratetype) }
                count -= Int64(order.pages)
                pcp[cpu].count -= order.pages
                freeOneBlock(pfn, order: order, mt: mt, fpi: [], &mm)
                freed += Int(order.pages)
            } while count > 0 && !pcpLists[Zone.pcpIndex(cpu, p)].isEmpty
        }
        l.pageAlloc(.pcpDrain(zone: slot, cpu: cpu, pages: freed))
    }

    /// Linux: drain_pages_zone(): everything on one CPU's lists back to the buddy lists.
    mutating func drainPages<L: PageAllocListener>(cpu: Int, _ mm: inout Memmap, _ l: inout L) {
        while pcp[cpu].count > 0 {
            let n = Swift.min(pcp[cpu].count, pagesetBatch << 5)
            freePcppagesBulk(cpu: cpu, count: n, pindex: 0, &mm, &l)
        }
    }
}
