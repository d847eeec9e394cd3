// The page allocator's invariants, walked in full (tests and checked builds).
//
// Linux: nothing walks all of this at once; CONFIG_DEBUG_VM checks pieces of it on every
//        operation (VM_BUG_ON_PAGE in __free_one_page, expand and del_page_from_free_list).
// Checks: each list's links run both ways and its count is right; every listed block is a free
//        block of the list's order, recorded on that list, in the zone; nr_free per order and
//        NR_FREE_PAGES add up; pcp counts add up; no two free buddies were left unmerged where
//        __free_one_page would have merged them.

extension Kernel {
    /// Linux: drain_all_pages(NULL): every CPU's lists back to the buddy lists.
    public mutating func drainAllPages() {
        var l = NoListener()
        for n in nodes.indices {
            for z in nodes[n].zones.indices {
                for cpu in pageAlloc.nodes[n].zones[z].pcp.indices { pageAlloc.nodes[n].zones[z].drainPages(cpu: cpu, &pageAlloc.memmap, &l) }
            }
        }
    }

    /// Every free block of a zone as (pfn, order), ascending: what the buddy lists hold,
    /// whatever the migratetype.
    public func freeBlocks(node n: Int, zone z: Int) -> [(pfn: Pfn, order: Order)] {
        var out: [(pfn: Pfn, order: Order)] = []
        let zone = nodes[n].zones[z]
        for o in Order(0)..<Order.limit {
            for mt in MigrateType.allCases {
                var p = zone.freeLists[Zone.listIndex(o, mt)].head
                while p != PageDescriptor.nilLink {
                    out.append((p, o))
                    p = memmap.next(p, order: o)
                }
            }
        }
        out.sort { $0.pfn < $1.pfn }
        return out
    }

    /// PageAllocator.checkInvariants() of this kernel's allocator.
    public func checkPageAllocInvariants() -> String? { pageAlloc.checkInvariants() }
}

extension PageAllocator {
    /// The first broken invariant of the free lists, the pcp lists and the counters, or nil
    /// (the full walk; each list operation also checks its own neighbours under MMCORE_CHECKS).
    public func checkInvariants() -> String? {
        for node in nodes {
            for z in node.zones {
                var pages: UInt64 = 0
                for o in Order(0)..<Order.limit {
                    var blocks: UInt64 = 0
                    for mt in MigrateType.allCases {
                        let l = z.freeLists[Zone.listIndex(o, mt)]
                        if let e = walk(l, order: o, check: { p in
                            if memmap.buddyOrder(p) != o { return "pfn \(p) on order-\(o) list is not a free order-\(o) block" }
                            if memmap.freeListType(p, order: o) != mt { return "pfn \(p) records another list than type \(mt.name)" }
                            if memmap.zoneSlot(p) != z.slot { return "pfn \(p) on zone \(z.slot.raw)'s list lies in another zone" }
                            let b = p.buddy(o)
                            if o < .top, memmap.buddyOrder(b) == o, memmap.zoneSlot(b) == z.slot {
                                let bmt = memmap.pageblockMigratetype(b), pmt = memmap.pageblockMigratetype(p)
                                if o < .pageblock || bmt == pmt || (bmt.isPCPType && pmt.isPCPType) {
                                    return "free buddies \(p) and \(b) of order \(o) were not merged"
                                }
                            }
                            return nil
                        }) { return "node \(node.nodeId) zone \(z.type.name): \(e)" }
                        blocks += l.count
                        if mt != MigrateType.isolate { pages += l.count << UInt64(o.raw) }
                    }
                    if blocks != z.nrFree[o.raw] { return "node \(node.nodeId) zone \(z.type.name): nr_free[\(o)] \(z.nrFree[o.raw]) but lists hold \(blocks)" }
                }
                if pages != z.freePages { return "node \(node.nodeId) zone \(z.type.name): NR_FREE_PAGES \(z.freePages) but lists hold \(pages)" }
                for (cpu, pcp) in z.pcp.enumerated() {
                    var count: UInt64 = 0
                    for i in 0..<nrPCPLists {
                        let l = z.pcpLists[Zone.pcpIndex(cpu, i)]
                        let o = pindexToOrder(i)
                        if let e = walk(l, order: o, check: { p in
                            memmap.page(p).flags.contains(.pcp) ? nil : "pfn \(p) on a pcp list lacks the pcp mark"
                        }) { return "node \(node.nodeId) zone \(z.type.name) cpu \(cpu): \(e)" }
                        count += l.count << UInt64(o.raw)
                    }
                    if count != pcp.count { return "node \(node.nodeId) zone \(z.type.name) cpu \(cpu): pcp count \(pcp.count) but lists hold \(count)" }
                }
            }
        }
        return nil
    }

    /// Walks a list both ways; nil when its links and count agree and `check` passes each block.
    func walk(_ l: FreeList, order: Order, check: (Pfn) -> String?) -> String? {
        var p = l.head, prev = PageDescriptor.nilLink, n: UInt64 = 0
        while p != PageDescriptor.nilLink {
            if memmap.prev(p, order: order) != prev { return "pfn \(p): back link broken" }
            if let e = check(p) { return e }
            n += 1
            if n > l.count { return "list longer than its count \(l.count)" }
            prev = p
            p = memmap.next(p, order: order)
        }
        if prev != l.tail { return "tail \(l.tail) is not the last block \(prev)" }
        return n == l.count ? nil : "list holds \(n), count says \(l.count)"
    }
}
