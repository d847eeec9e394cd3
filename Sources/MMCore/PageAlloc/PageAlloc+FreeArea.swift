// The buddy free lists: free_area[order].free_list[migratetype], and the merge on free.
//
// Linux: mm/page_alloc.c — add_to_free_list(), add_to_free_list_tail(), move_to_free_list(),
//        del_page_from_free_list(), __free_one_page(), buddy_merge_likely(), expand(),
//        __rmqueue_smallest(), move_freepages(), move_freepages_block(), take_page_off_buddy(),
//        break_down_buddy_pages(); include/linux/list.h.
// Exact: which list a block goes on, head or tail, how far it merges (pageblock and isolation
//        limits), which block allocation takes and how the remainder is split.
// Simplified: Linux's circular list_head becomes a doubly linked list of pfns with an explicit
//        head and tail; each list also counts its blocks (Linux counts only per order).
// Invariants (checkPageAllocInvariants, PageAlloc+Checks.swift): nr_free[order] is the sum of
//        that order's list counts; every listed block is a buddy of that order whose recorded list is the one holding it;
//        NR_FREE_PAGES is the pages on all lists.
// Reference: shared/reference/linux-6.1-mm.md §4.1, §4.5, §4.8.

/// One doubly linked list of blocks (or of pcp pages).
public struct FreeList: Sendable, Equatable {
    public var head: Pfn = PageDescriptor.nilLink
    public var tail: Pfn = PageDescriptor.nilLink
    public var count: UInt64 = 0
    public init() {}
    @inlinable public var isEmpty: Bool { head == PageDescriptor.nilLink }
}

/// Linux: FPI_* flags of __free_one_page().
public struct FPIFlags: OptionSet, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Linux: FPI_TO_TAIL — memory handed over at boot goes to the list's tail.
    public static let toTail = FPIFlags(rawValue: 1 << 1)
}

extension Memmap {
    /// Linux: list_add().
    @inline(__always) @inlinable mutating func listAddHead(_ l: inout FreeList, _ pfn: Pfn, order: Order) {
        mmAssert(l.head == PageDescriptor.nilLink || prev(l.head, order: order) == PageDescriptor.nilLink,
                 "list_add corruption: the head has a predecessor")
        setPrev(pfn, order: order, PageDescriptor.nilLink)
        setNext(pfn, order: order, l.head)
        if l.head == PageDescriptor.nilLink { l.tail = pfn } else { setPrev(l.head, order: order, pfn) }
        l.head = pfn
        l.count += 1
    }

    /// Linux: list_add_tail().
    @inline(__always) @inlinable mutating func listAddTail(_ l: inout FreeList, _ pfn: Pfn, order: Order) {
        mmAssert(l.tail == PageDescriptor.nilLink || next(l.tail, order: order) == PageDescriptor.nilLink,
                 "list_add corruption: the tail has a successor")
        setNext(pfn, order: order, PageDescriptor.nilLink)
        setPrev(pfn, order: order, l.tail)
        if l.tail == PageDescriptor.nilLink { l.head = pfn } else { setNext(l.tail, order: order, pfn) }
        l.tail = pfn
        l.count += 1
    }

    /// Linux: list_del().
    @inline(__always) @inlinable mutating func listDel(_ l: inout FreeList, _ pfn: Pfn, order: Order) {
        let p = prev(pfn, order: order), n = next(pfn, order: order)
        // Linux: __list_del_entry_valid() — the neighbours point back at the entry.
        mmAssert(l.count > 0, "list_del corruption: the list is empty")
        mmAssert(p == PageDescriptor.nilLink ? l.head == pfn : next(p, order: order) == pfn,
                 "list_del corruption: prev->next should be the entry")
        mmAssert(n == PageDescriptor.nilLink ? l.tail == pfn : prev(n, order: order) == pfn,
                 "list_del corruption: next->prev should be the entry")
        if p == PageDescriptor.nilLink { l.head = n } else { setNext(p, order: order, n) }
        if n == PageDescriptor.nilLink { l.tail = p } else { setPrev(n, order: order, p) }
        l.count -= 1
    }

    /// Linux: rmqueue_bulk()'s list_add_tail() of `count` blocks of `order` from `first` on,
    /// ascending, each marked as a CPU list's page of `migratetype` (no longer a buddy, order
    /// 0). The blocks lie in one max-order block, so their descriptors are one run of the
    /// memmap and are written through one exclusive access.
    @inlinable mutating func listAddTailRun(_ l: inout FreeList, _ first: Pfn, count: Int, order: Order,
                                            migratetype: MigrateType) {
        guard count > 0 else { return }
        mmAssert(order < .top && first.alignedDown(.top) == (first + (UInt64(count - 1) << UInt64(order.raw))).alignedDown(.top),
                 "a run of pcp blocks outside one max-order block")
        mmAssert(l.tail == PageDescriptor.nilLink || next(l.tail, order: order) == PageDescriptor.nilLink,
                 "list_add corruption: the tail has a successor")
        if !isMaterialised(first) { materialise(section: first.section) }
        if l.tail == PageDescriptor.nilLink { l.head = first } else { setNext(l.tail, order: order, first) }
        let base = slot(first), stride = 1 &<< order.raw
        var prev = l.tail, pfn = first
        var run = descs.mutableSpan
        for k in 0..<count {
            let i = base &+ k &* stride
            var d = run[i]
            d.flags.remove(.buddy)
            d.flags.insert(.pcp)
            d.order = 0
            d.migratetype = migratetype.rawValue
            d.prev = prev
            d.next = k == count &- 1 ? PageDescriptor.nilLink : pfn + UInt64(stride)
            run[i] = d
            prev = pfn
            pfn = pfn + UInt64(stride)
        }
        l.tail = prev
        l.count += UInt64(count)
    }

    /// Linux: PageBuddy() && buddy_order(): the order of the free block whose head is `pfn`.
    @inlinable public func buddyOrder(_ pfn: Pfn) -> Order? {
        guard pfn < endPfn else { return nil }
        if pfn.isAligned(.top) && isMaxOrderFree(pfn) { return .top }
        guard isMaterialised(pfn) else { return nil }
        let d = descs[slot(pfn)]
        return d.flags.contains(.buddy) ? Order(Int(d.order)) : nil
    }

    /// The free list (migratetype) a free block is on.
    @inlinable func freeListType(_ pfn: Pfn, order: Order) -> MigrateType {
        if order == .top { return blockListType(pfn.raw >> 10) }
        return MigrateType(stored: descs[slot(pfn)].migratetype)
    }

    /// Linux: set_buddy_order() / rmv_page_order(), plus the list the block is on.
    @inlinable mutating func markFree(_ pfn: Pfn, order: Order, list mt: MigrateType) {
        if order == .top {
            setMaxOrderFree(pfn, true)
            setBlockListType(pfn.raw >> 10, mt)
        } else {
            withPage(pfn) { d in
                d.flags.insert(.buddy)
                d.order = UInt8(order.raw)
                d.migratetype = mt.rawValue
            }
        }
    }

    @inlinable mutating func clearFree(_ pfn: Pfn, order: Order) {
        if order == .top {
            // The block's pages read as free only through its bit: give the section its
            // descriptors while they still do, or materialising later would mark them reserved.
            if !isMaterialised(pfn) { materialise(section: pfn.section) }
            setMaxOrderFree(pfn, false)
        } else {
            withPage(pfn) { d in d.flags.remove(.buddy); d.order = 0 }
        }
    }
}

extension Zone {
    @inlinable public static func listIndex(_ order: Order, _ mt: MigrateType) -> Int { order.raw &* migrateTypes &+ mt.index }

    /// Linux: add_to_free_list() / add_to_free_list_tail().
    @inlinable mutating func addToFreeList(_ pfn: Pfn, order: Order, mt: MigrateType, tail: Bool, _ mm: inout Memmap) {
        mmAssert(mm.buddyOrder(pfn) == nil, "a free block listed twice")
        mmAssert(pfn.isAligned(order), "a free block not aligned to its order")
        mm.markFree(pfn, order: order, list: mt)
        if tail {
            mm.listAddTail(&freeLists[Zone.listIndex(order, mt)], pfn, order: order)
        } else {
            mm.listAddHead(&freeLists[Zone.listIndex(order, mt)], pfn, order: order)
        }
        nrFree[order.raw] += 1
    }

    /// Linux: del_page_from_free_list().
    @inlinable mutating func delFromFreeList(_ pfn: Pfn, order: Order, _ mm: inout Memmap) {
        mmAssert(mm.buddyOrder(pfn) == order, "del_page_from_free_list(): not a free block of this order")
        mmAssert(nrFree[order.raw] > 0, "nr_free would go below zero")
        let mt = mm.freeListType(pfn, order: order)
        mm.listDel(&freeLists[Zone.listIndex(order, mt)], pfn, order: order)
        mm.clearFree(pfn, order: order)
        nrFree[order.raw] -= 1
    }

    /// Linux: move_to_free_list(): to the tail of another migratetype's list.
    @inlinable mutating func moveToFreeList(_ pfn: Pfn, order: Order, mt: MigrateType, _ mm: inout Memmap) {
        let old = mm.freeListType(pfn, order: order)
        mm.listDel(&freeLists[Zone.listIndex(order, old)], pfn, order: order)
        mm.markFree(pfn, order: order, list: mt)
        mm.listAddTail(&freeLists[Zone.listIndex(order, mt)], pfn, order: order)
    }

    /// Linux: __free_one_page(): merge with free buddies as far as allowed, then list the result.
    /// Returns the order the block reached.
    @discardableResult
    mutating func freeOneBlock(_ pfn0: Pfn, order order0: Order, mt: MigrateType, fpi: FPIFlags,
                               _ mm: inout Memmap) -> Order {
        var pfn = pfn0, order = order0, buddy = Pfn(0)
        if mt != MigrateType.isolate { freePages += order.pages }
        while order < .top {
            buddy = pfn.buddy(order)
            guard buddy < mm.endPfn, mm.buddyOrder(buddy) == order, mm.zoneSlot(buddy) == slot else { break }
            if UInt64(order.raw) >= pageblockOrder {
                let bmt = mm.pageblockMigratetype(buddy)
                if mt != bmt && (!mt.isPCPType || !bmt.isPCPType) { break }
            }
            delFromFreeList(buddy, order: order, &mm)
            pfn = Pfn(pfn.raw & buddy.raw)
            order = order.up
        }
        // (buddy is the last pfn the loop looked at, merged or not, as in Linux.)
        let tail = fpi.contains(.toTail) || buddyMergeLikely(pfn, buddy: buddy, order: order, mm)
        addToFreeList(pfn, order: order, mt: mt, tail: tail, &mm)
        return order
    }

    /// Deferred init's common case in one loop: `blocks` whole 4 MiB blocks from `pfn`, each
    /// pageblock set MOVABLE and the block freed as __free_pages_core() would (managed, then the
    /// tail of the MOVABLE order-10 list; no merging beyond the maximum order).
    mutating func freeMaxOrderRun(_ pfn: Pfn, blocks: UInt64, _ mm: inout Memmap) {
        let movable = MigrateType.movable
        let end = pfn + blocks * maxOrderNrPages
        mm.setPageblockMigratetypes(pfn, end, movable)
        // Descriptors exist only in sections something touched; only those need resetting.
        var p = pfn
        while p < end {
            let sectionEnd = Swift.min(end, Pfn.first(ofSection: p.section + 1))
            if mm.isMaterialised(p) { mm.resetPages(p, count: sectionEnd - p) }
            p = sectionEnd
        }
        mm.appendMaxOrderRun(&freeLists[Zone.listIndex(.top, movable)], pfn, count: blocks, mt: movable.rawValue)
        nrFree[maxOrder - 1] += blocks
        managedPages += blocks * maxOrderNrPages
        freePages += blocks * maxOrderNrPages
    }

    /// Linux: buddy_merge_likely(): a block whose next-larger buddy is free goes to the tail, so
    /// it stays free long enough to merge.
    func buddyMergeLikely(_ pfn: Pfn, buddy: Pfn, order: Order, _ mm: borrowing Memmap) -> Bool {
        guard order.raw < maxOrder - 2 else { return false }
        let higherPfn = Pfn(buddy.raw & pfn.raw)
        let higherBuddy = higherPfn.buddy(order.up)
        guard higherBuddy < mm.endPfn, mm.zoneSlot(higherBuddy) == slot else { return false }
        return mm.buddyOrder(higherBuddy) == order.up
    }

    /// The free block of this zone that contains `pfn`, of order `order` or larger: its head and
    /// order (the walk up the aligned heads that take_page_off_buddy() makes). Nil when none
    /// is, or when a head would lie outside the zone.
    public func freeBlock(containing pfn: Pfn, atLeast order: Order, _ mm: Memmap) -> (head: Pfn, order: Order)? {
        guard order.raw >= 0 else { return nil }
        for o in order..<Order.limit {
            let head = pfn.alignedDown(o)
            guard mm.zoneSlot(head) == slot else { return nil }
            if let bo = mm.buddyOrder(head), bo >= o { return (head, bo) }
        }
        return nil
    }

    /// Linux: take_page_off_buddy() and break_down_buddy_pages(), for a block of any order: the
    /// free block that contains [`target`, `target` + 2^order) leaves its list and is broken
    /// down around the target, each half that is not the target going back on the list of the
    /// head's pageblock type. The replay of a recorded trace (`--as-recorded`) uses it to hand
    /// out exactly the block the kernel handed out; `remainders` names the list the halves go
    /// to when the caller knows it (__rmqueue_smallest()'s expand() uses the asking type).
    /// False, with nothing changed, when the block is not free (or only part of it is).
    public mutating func takeBlock(_ target: Pfn, order: Order, remainders: MigrateType? = nil,
                                   _ mm: inout Memmap) -> Bool {
        guard order.isBuddyOrder, target.isAligned(order),
              let (head, headOrder) = freeBlock(containing: target, atLeast: order, mm) else { return false }
        let mt = remainders ?? mm.pageblockMigratetype(head)
        delFromFreeList(head, order: headOrder, &mm)
        var page = head, high = headOrder
        while high > order {
            high = high.down
            let size = high.pages
            let buddy: Pfn
            if target >= page + size { buddy = page; page += size } else { buddy = page + size }
            addToFreeList(buddy, order: high, mt: mt, tail: false, &mm)
        }
        if mt != .isolate { freePages -= order.pages }
        return true
    }

    /// Linux: expand(): split the block at `pfn` from order `high` down to `low`, listing the
    /// upper halves at the head; the caller keeps the lowest part.
    mutating func expand(_ pfn: Pfn, low: Order, high: Order, mt: MigrateType, _ mm: inout Memmap) {
        var high = high
        while high > low {
            high = high.down
            addToFreeList(pfn + high.pages, order: high, mt: mt, tail: false, &mm)
        }
    }

    /// The smallest order at or above `order` whose list of `mt` holds a block.
    @inlinable func smallestFreeOrder(_ order: Order, _ mt: MigrateType) -> Order? {
        var o = order
        while o < .limit {
            if !freeLists[Zone.listIndex(o, mt)].isEmpty { return o }
            o = o.up
        }
        return nil
    }

    /// Linux: __rmqueue_smallest(): the head of the smallest non-empty list of `mt` at or above
    /// `order`, split down to `order`.
    mutating func rmqueueSmallest(order: Order, mt: MigrateType, _ mm: inout Memmap) -> (pfn: Pfn, from: Order)? {
        guard let o = smallestFreeOrder(order, mt) else { return nil }
        let pfn = freeLists[Zone.listIndex(o, mt)].head
        delFromFreeList(pfn, order: o, &mm)
        expand(pfn, low: order, high: o, mt: mt, &mm)
        freePages -= order.pages
        return (pfn, o)
    }

    /// Linux: move_freepages(): move every free block in [start, end] to `mt`'s lists, and count
    /// the in-use pages that are movable.
    mutating func moveFreepages(_ start: Pfn, _ end: Pfn, mt: MigrateType, _ mm: inout Memmap)
        -> (moved: UInt64, movable: UInt64)
    {
        var pfn = start, moved: UInt64 = 0, movable: UInt64 = 0
        while pfn <= end {
            guard let o = mm.buddyOrder(pfn) else {
                let d = mm.page(pfn)
                if d.refcount > 0 && d.migratetype == MigrateType.movable.rawValue && !d.flags.contains(.slab) {
                    movable += 1
                }
                pfn += 1
                continue
            }
            moveToFreeList(pfn, order: o, mt: mt, &mm)
            pfn += o.pages
            moved += o.pages
        }
        return (moved, movable)
    }

    /// Linux: move_freepages_block(): the pageblock around `pfn`, or nothing if it leaves the zone.
    mutating func moveFreepagesBlock(_ pfn: Pfn, mt: MigrateType, _ mm: inout Memmap)
        -> (moved: UInt64, movable: UInt64)
    {
        var start = pfn.roundedDown(pageblockNrPages)
        let end = start + pageblockNrPages - 1
        if start < zoneStartPfn { start = pfn }
        if end >= zoneEndPfn { return (0, 0) }
        return moveFreepages(start, end, mt: mt, &mm)
    }
}
