// The hand-over: memory memblock leaves free becomes the buddy allocator's.
//
// Linux: mm/memblock.c — memblock_free_all(), free_low_memory_core_early(), __free_memory_core(),
//        __free_pages_memory(), memblock_free_late(), memblock_discard(); mm/page_alloc.c —
//        memblock_free_pages(), __free_pages_core(), deferred_init_memmap().
// Exact: which pages become managed in which zone, which wait for deferred init, and
//        totalram_pages. Only whole pages inside a free range count: a page that a reservation
//        touches at all stays reserved for good.
// Simplified: the pages are counted, not yet put on free lists (the buddy allocator's lists
//        arrive with MM/PageAlloc's allocator).

extension Kernel {
    /// Linux: memblock_free_all(). Every zone's managed count restarts at 0 and grows by the
    /// free pages below its node's first_deferred_pfn; the ones above wait for deferred init,
    /// though totalram_pages counts them already.
    mutating func memblockFreeAll() {
        forEachZone { z in
            z.managedPages = 0
            z.freePages = 0
            z.deferredFreePages = 0
        }
        var total: UInt64 = 0
        for f in memblock.freeRanges() {
            let start = Pfn.up(f.start).raw
            let end = Swift.min(Pfn.down(f.end).raw, maxLowPfn.raw)
            guard start < end else { continue }
            total += end - start
            freePagesToZones(start, end, nid: f.nid, deferredSplit: true)
        }
        totalramPages += total
    }

    /// Adds [start, end) to the managed pages of the zones it lies in; with `deferredSplit`, the
    /// part at or above the node's first_deferred_pfn is set aside for deferred init instead.
    mutating func freePagesToZones(_ start: UInt64, _ end: UInt64, nid: Int32, deferredSplit: Bool) {
        let nid = nid == maxNumNodes ? earlyPfnToNid(Pfn(start)) : nid
        guard let n = nodeIndex(nid) else { return }
        let cut = deferredSplit ? nodes[n].firstDeferredPfn : .max
        for i in nodes[n].zones.indices {
            let z = nodes[n].zones[i]
            let s = Swift.max(start, z.zoneStartPfn), e = Swift.min(end, z.zoneEndPfn)
            guard s < e else { continue }
            let early = s >= cut ? 0 : Swift.min(e, cut) - s
            nodes[n].zones[i].managedPages += early
            nodes[n].zones[i].freePages += early
            nodes[n].zones[i].deferredFreePages += (e - s) - early
        }
    }

    /// Linux: page_alloc_init_late()'s wait for deferred_init_memmap() on every node: the pages
    /// above first_deferred_pfn are initialised and freed, and become managed.
    mutating func deferredInitMemmap() {
        for n in nodes.indices {
            for i in nodes[n].zones.indices {
                nodes[n].zones[i].managedPages += nodes[n].zones[i].deferredFreePages
                nodes[n].zones[i].freePages += nodes[n].zones[i].deferredFreePages
                nodes[n].zones[i].deferredFreePages = 0
            }
            if nodes[n].firstDeferredPfn != .max {
                // (The kernel prints the time this took; the model takes none.)
                log.info("node \(nodes[n].nodeId) deferred pages initialised in 0ms")
            }
        }
    }

    /// Pages that stayed reserved through the hand-over and are given to the buddy allocator
    /// later (memblock_free_late(), free_reserved_area()): managed in their zone, and RAM in
    /// totalram_pages from now on.
    mutating func freeReservedPages(_ start: UInt64, _ end: UInt64) {
        guard start < end else { return }
        freePagesToZones(start, end, nid: earlyPfnToNid(Pfn(start)), deferredSplit: false)
        totalramPages += end - start
    }

    /// Linux: memblock_free_late(): after the hand-over, a reservation that is no longer needed
    /// goes straight to the buddy allocator, page by whole page.
    mutating func memblockFreeLate(_ base: PhysAddr, _ size: UInt64) {
        freeReservedPages(Pfn.up(base).raw, Pfn.down(base &+ size).raw)
    }

    /// Linux: memblock_discard(): memblock's arrays are no longer needed once boot is over; the
    /// ones that had to double live in memblock memory and are given back.
    mutating func memblockDiscard() {
        let regionSize: UInt64 = 24  // sizeof(struct memblock_region)
        for t in [memblock.reserved, memblock.memory] {
            guard let a = t.dynamicArray else { continue }
            memblockFreeLate(a.base, roundUp(regionSize * UInt64(t.max), pageSize))
        }
    }
}
