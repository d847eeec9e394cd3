// The bulk page allocator: vmalloc's order-0 pages, straight off a CPU's list.
//
// Linux: mm/page_alloc.c — __alloc_pages_bulk(); mm/vmalloc.c — vm_area_alloc_pages() (chunks
//        of at most 100 pages; a chunk of one page goes through alloc_pages() instead).
// Exact: the zone (the first in the zonelist whose watermark allows the whole request), the
//        pages (the list's head, the list refilled as rmqueue_pcplist() refills it), and what a
//        kmem trace sees: the refills' mm_page_alloc_zone_locked but no mm_page_alloc — so a
//        replay must model these pages itself (Sources/MMText/TraceReplay.swift).
// Simplified: no cpuset, and a request the zone cannot meet fails as a whole instead of falling
//        back to single allocations.

/// Linux: vm_area_alloc_pages()'s chunk: the most pages one bulk call is asked for.
public let vmallocBulkChunk = 100

extension PageAllocator {
    /// Linux: __alloc_pages_bulk()'s zone: the first zone of the zonelist for `gfp` from `cpu`'s
    /// node whose low watermark plus `count` pages is met (the preferred node only, on NUMA).
    public func bulkZone(_ gfp: GFPFlags, count: Int, cpu: Int) -> (node: Int, zone: Int)? {
        guard let highest = gfp.zone, cpu >= 0, cpu < nrCPUIds, !nodes.isEmpty else { return nil }
        let prefNid = preferredNode(cpuNode(cpu))
        var first: NodeID?
        for ref in zonelists.fallback[prefNid.number] where ref.zone <= highest {
            guard let n = nodeIndex(ref.nid) else { continue }
            if first == nil { first = ref.nid }
            if onlineNodes > 1 && ref.nid != first { return nil }
            let z = ref.zone.rawValue
            let mark = nodes[n].zones[z].lowWmark + UInt64(count)
            if nodes[n].zones[z].watermarkFast(order: 0, mark: mark, highestZone: highest.rawValue,
                                               flags: [.wmarkLow], gfp: gfp) { return (n, z) }
        }
        return nil
    }

    /// Linux: __alloc_pages_bulk() for `count` (≥ 2) order-0 pages: each from `cpu`'s list in the
    /// zone bulkZone() picks, the list refilled when it runs dry. The pages, in the order taken.
    public mutating func allocPagesBulk<L: PageAllocListener>(_ gfp: GFPFlags, count: Int, cpu: Int,
                                                            _ mem: inout PhysMemory, listener l: inout L) -> [Pfn] {
        guard count >= 2, let mt = gfp.migratetype, let (n, z) = bulkZone(gfp, count: count, cpu: cpu) else { return [] }
        var pages: [Pfn] = []
        pages.reserveCapacity(count)
        while pages.count < count {
            guard let pfn = nodes[n].zones[z].rmqueuePcplist(cpu: cpu, order: 0, mt: mt, flags: [.wmarkLow], &memmap, &l)
            else { break }
            prepNewPage(pfn, order: 0, gfp: gfp, &mem)
            pages.append(pfn)
        }
        return pages
    }

    /// A replay's bulk allocation from the kernel's own lists: up to `count` pages off the head
    /// of `cpu`'s order-0 list of `gfp`'s type in zone (`node`, `zone`), without refilling it
    /// (the trace's own refill events do that). The pages taken.
    public mutating func takeBulkRecorded(_ gfp: GFPFlags, count: Int, cpu: Int, node n: Int, zone z: Int,
                                          _ mem: inout PhysMemory) -> [Pfn] {
        guard let mt = gfp.migratetype, n < nodes.count, z < nodes[n].zones.count,
              cpu >= 0, cpu < nodes[n].zones[z].pcp.count else { return [] }
        let pindex = orderToPindex(mt, 0), index = Zone.pcpIndex(cpu, pindex)
        var pages: [Pfn] = []
        while pages.count < count, !nodes[n].zones[z].pcpLists[index].isEmpty {
            let pfn = nodes[n].zones[z].pcpLists[index].head
            unlinkPCP(pfn, order: 0, node: n, zone: z, cpu: cpu, pindex: pindex)
            prepNewPage(pfn, order: 0, gfp: gfp, &mem)
            pages.append(pfn)
        }
        return pages
    }
}
