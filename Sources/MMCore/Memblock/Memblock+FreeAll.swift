// The hand-over: memory memblock leaves free becomes the buddy allocator's.
//
// Linux: mm/memblock.c — memblock_free_all(), free_low_memory_core_early(), __free_memory_core(),
//        __free_pages_memory(), memblock_free_late(), memblock_discard(); mm/page_alloc.c —
//        memmap_init_range() (pageblock types), memblock_free_pages(), __free_pages_core(),
//        deferred_init_memmap(), deferred_free_range(), deferred_free_pages(),
//        free_reserved_page().
// Exact: which pages become managed in which zone, which wait for deferred init, totalram_pages,
//        and the free lists themselves: chunk orders, FPI_TO_TAIL, ascending order, which
//        pageblocks are MOVABLE. Only whole pages inside a free range count: a page that a
//        reservation touches at all stays reserved for good.
// Simplified: deferred init runs on one thread in ascending order (Linux splits a node among
//        its CPUs, so its list order there can differ); a fully free 4 MiB block in the deferred
//        range is freed as one order-10 block, which leaves the lists exactly as its two
//        order-9 halves merging would.
// Reference: shared/reference/linux-6.1-mm.md §2.8, §4.11.

extension Kernel {
    /// Linux: memblock_free_all(). Every zone's managed count restarts at 0 and grows by the
    /// free pages below its node's first_deferred_pfn, which go onto the free lists; the ones
    /// above wait for deferred init, though totalram_pages counts them already.
    mutating func memblockFreeAll() {
        initMemmap()
        forEachZone { z in
            z.managedPages = 0
            z.freePages = 0
        }
        var total: UInt64 = 0
        for f in memblock.freeRanges() {
            let start = Pfn.up(f.start)
            let end = Swift.min(Pfn.down(f.end), maxLowPfn)
            guard start < end else { continue }
            total += end - start
            // Chunks at or above first_deferred_pfn wait for deferred init; the cut is
            // section-aligned, so no chunk straddles it.
            let nid = f.nid == maxNumNodes ? earlyPfnToNid(start) : f.nid
            guard let n = nodeIndex(NodeID(nid)) else { continue }
            let stop = Swift.min(end, nodes[n].firstDeferredPfn)
            var pfn = start
            var zone: (n: Int, z: Int, start: Pfn, end: Pfn)? = nil
            while pfn < stop {
                var order = Order(Swift.min(maxOrder - 1, pfn.raw.trailingZeroBitCount))
                while pfn + order.pages > end { order = order.down }
                if zone == nil || pfn < zone!.start || pfn >= zone!.end {
                    zone = zoneIndex(ofPfn: pfn).map { ($0.0, $0.1, nodes[$0.0].zones[$0.1].zoneStartPfn, nodes[$0.0].zones[$0.1].zoneEndPfn) }
                }
                if let zone { freePagesCore(node: zone.n, zone: zone.z, pfn, order: order) }
                pfn += order.pages
            }
        }
        totalramPages += total
    }

    /// The page descriptors and pageblock types memmap_init() left: every page reserved, and
    /// MOVABLE every pageblock whose first pfn is memory initialised before the deferred cut
    /// (so a block starting in a hole, like pfn 0's, stays UNMOVABLE). Every zone gets its
    /// boot pagesets (high 0, batch 1: pages pass straight through).
    mutating func initMemmap() {
        var zs: [(start: Pfn, end: Pfn, slot: ZoneID)] = []
        var end = maxPfn
        for node in nodes {
            for z in node.zones where z.spannedPages > 0 {
                zs.append((z.zoneStartPfn, z.zoneEndPfn, z.slot))
                end = Swift.max(end, z.zoneEndPfn)
            }
        }
        memmap = Memmap(endPfn: end, zones: zs)
        for n in nodes.indices {
            let cut = nodes[n].firstDeferredPfn
            for r in memPfnRanges(nid: nodes[n].nodeId.raw) {
                let start = Pfn(r.start), end = Pfn(r.end)
                memmap.markSubsectionsValid(start, end)
                for z in nodes[n].zones where z.spannedPages > 0 {
                    let s = Swift.max(start, z.zoneStartPfn)
                    let e = Swift.min(end, z.zoneEndPfn, cut)
                    if s < e { memmap.setPageblockMigratetypes(s, e, .movable) }
                }
            }
            for i in nodes[n].zones.indices {
                nodes[n].zones[i].setupPagesets(cpus: nrCPUIds)
            }
        }
    }

    /// Linux: __free_pages_core(): the pages lose PG_reserved, become managed, and the block
    /// goes to the tail of its list after merging.
    mutating func freePagesCore(node n: Int, zone z: Int, _ pfn: Pfn, order: Order) {
        let count: UInt64 = order.pages
        memmap.resetPages(pfn, count: count)
        nodes[n].zones[z].managedPages += count
        let mt = memmap.pageblockMigratetype(pfn)
        pageAlloc.nodes[n].zones[z].freeOneBlock(pfn, order: order, mt: mt, fpi: .toTail, &pageAlloc.memmap)
    }

    /// Linux: page_alloc_init_late()'s wait for deferred_init_memmap() on every node: the free
    /// pages above first_deferred_pfn are initialised and freed pageblock by pageblock.
    mutating func deferredInitMemmap() {
        for n in nodes.indices {
            let cut = nodes[n].firstDeferredPfn
            guard cut != .max else { continue }
            if let z = nodes[n].zones.firstIndex(where: { cut < $0.zoneEndPfn }) {
                let zs = nodes[n].zones[z].zoneStartPfn, ze = nodes[n].zones[z].zoneEndPfn
                for f in memblock.freeRanges() {
                    let nid = f.nid == maxNumNodes ? earlyPfnToNid(Pfn.up(f.start)) : f.nid
                    guard nid == nodes[n].nodeId.raw else { continue }
                    let s = Swift.max(Pfn.up(f.start), cut, zs)
                    let e = Swift.min(Pfn.down(f.end), ze)
                    if s < e { deferredFreePages(node: n, zone: z, s, e); scratch.lateFreed.append(s.raw..<e.raw) }
                }
            }
            // (The kernel prints the time this took; the model takes none.)
            let nid = nodes[n].nodeId
            log.info("node \(nid) deferred pages initialised in 0ms")
        }
    }

    /// Linux: deferred_free_pages() and deferred_free_range(): runs cut at pageblock
    /// boundaries; a whole pageblock is set MOVABLE and freed at order 9, any other run page by
    /// page (its block MOVABLE only if its first page is among them).
    mutating func deferredFreePages(node n: Int, zone z: Int, _ start: Pfn, _ end: Pfn) {
        var pfn = start
        while pfn < end {
            if pfn.isAligned(.top) && pfn + maxOrderNrPages <= end {
                let blocks = (end - pfn) / maxOrderNrPages
                pageAlloc.nodes[n].zones[z].freeMaxOrderRun(pfn, blocks: blocks, &pageAlloc.memmap)
                pfn += blocks * maxOrderNrPages
                continue
            }
            let runEnd = Swift.min(end, pfn.alignedDown(.pageblock) + pageblockNrPages)
            if pfn.isAligned(.pageblock) && runEnd - pfn == pageblockNrPages {
                memmap.setPageblockMigratetype(pfn, .movable)
                freePagesCore(node: n, zone: z, pfn, order: .pageblock)
            } else {
                for p in pfn..<runEnd {
                    if p.isAligned(.pageblock) {
                        memmap.setPageblockMigratetype(p, .movable)
                    }
                    freePagesCore(node: n, zone: z, p, order: 0)
                }
            }
            pfn = runEnd
        }
    }

    /// Linux: free_reserved_area() → free_reserved_page(): reserved pages handed to the page
    /// allocator late (the kernel image's init sections, the initrd): each becomes managed and
    /// RAM, and goes through the boot CPU's pcp list like any freed page.
    /// `boot`: a free of a boot step (recorded for the stepper); false for a replayed trace's.
    mutating func freeReservedPages(_ start: Pfn, _ end: Pfn, cpu: Int = 0, boot: Bool = true) {
        guard start < end else { return }
        if boot { scratch.lateFreed.append(start.raw..<end.raw) }
        for pfn in start..<end {
            guard let (n, z) = reservedPageZone(pfn) else { continue }
            memmap.withPage(pfn) { d in d = PageDescriptor(); d.refcount = 1 }
            nodes[n].zones[z].managedPages += 1
            totalramPages += 1
            var l = NoListener()
            freePages(pfn, order: 0, cpu: cpu, listener: &l)
        }
    }

    /// Linux: memblock_free_late(): after the hand-over, a reservation that is no longer needed
    /// goes straight to the buddy allocator, page by whole page, at each list's tail.
    mutating func memblockFreeLate(_ base: PhysAddr, _ size: UInt64) {
        let start = Pfn.up(base), end = Pfn.down(base &+ size)
        guard start < end else { return }
        scratch.lateFreed.append(start.raw..<end.raw)
        for pfn in start..<end {
            guard let (n, z) = reservedPageZone(pfn) else { continue }
            freePagesCore(node: n, zone: z, pfn, order: 0)
            totalramPages += 1
        }
    }

    /// The zone of a page that is still reserved (the only pages a late free may hand over).
    func reservedPageZone(_ pfn: Pfn) -> (Int, Int)? {
        guard let nz = zoneIndex(ofPfn: pfn), memmap.page(pfn).flags.contains(.reserved) else { return nil }
        return nz
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
