// Walking the free lists and the per-cpu lists from outside the allocator.
//
// Linux: mm/vmstat.c — pagetypeinfo_showfree_print() (walks each zone's free_area lists per
//        order and migratetype), and the pcp lists as drain_pages_zone() visits them.
// Exact: every block on a list, in list order, with its order and list type; nothing else
//        reads or changes the allocator.
// Why: the views that draw physical memory (the page map of `kmemlab report` and `serve`) need
//        to know which pages a free block covers; only a block's head page carries its order.

extension PageAllocator {
    /// Every free block on the buddy lists: head pfn, order, and the list (migratetype) it is on,
    /// node by node, zone by zone, order by order, list by list, head to tail.
    public func forEachFreeBlock(_ body: (_ pfn: Pfn, _ order: Order, _ list: MigrateType) -> Void) {
        for node in nodes {
            for z in node.zones {
                for order in Order(0)..<Order.limit {
                    for mt in MigrateType.allCases where mt.index < migrateTypes {
                        forEachBlock(on: z.freeLists[Zone.listIndex(order, mt)], order: order) { body($0, order, mt) }
                    }
                }
            }
        }
    }

    /// Every block on a per-cpu list: head pfn, order, and the CPU whose list holds it.
    public func forEachPcpBlock(_ body: (_ pfn: Pfn, _ order: Order, _ cpu: Int) -> Void) {
        for node in nodes {
            for z in node.zones {
                for cpu in z.pcp.indices {
                    for pindex in 0..<nrPCPLists {
                        let order = pindexToOrder(pindex)
                        forEachBlock(on: z.pcpLists[Zone.pcpIndex(cpu, pindex)], order: order) { body($0, order, cpu) }
                    }
                }
            }
        }
    }

    /// The blocks of one list, head to tail (never more than its count, so a broken link
    /// cannot loop).
    func forEachBlock(on list: FreeList, order: Order, _ body: (Pfn) -> Void) {
        var p = list.head
        var left = list.count
        while p != PageDescriptor.nilLink && left > 0 {
            body(p)
            p = memmap.next(p, order: order)
            left -= 1
        }
    }
}
