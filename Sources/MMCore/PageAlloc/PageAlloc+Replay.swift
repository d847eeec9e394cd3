// Applying a recorded kmem trace's page events to the page allocator (`kmemlab replay
// --as-recorded`): the model's lists follow the real kernel's choices instead of making their own.
//
// Linux: no single counterpart. Each operation is the part of the kernel's path an event records:
//        mm_page_alloc_zone_locked — rmqueue_bulk() (percpu_refill=1: onto the CPU's list) or
//        rmqueue_buddy() (0: straight to the caller); mm_page_alloc — rmqueue_pcplist()'s take
//        from the CPU's list, then prep_new_page(); mm_page_free — __free_pages() (the model's
//        own free path, pcp lists and all); mm_page_pcpu_drain — free_pcppages_bulk()'s move
//        of one block back to the buddy lists.
// Exact: the block each event names leaves or joins exactly the list Linux's did, split and
//        merged as take_page_off_buddy()/__free_one_page() do.
// Simplified: the start state is the model's, which is not the kernel's at trace_init() (boot's
//        own allocations are not modelled); an event the state cannot allow is refused, reported
//        by the caller with its line, and the replay goes on.

/// Why a recorded page event could not be applied.
public enum RecordedPageRefusal: Sendable, Equatable {
    /// The pfn is in no zone of this machine.
    case noZone
    /// The CPU does not exist on this machine.
    case noCPU
    /// The block is not free in the model (another owner, or only part of it is free).
    case notFree
    /// The block is on no CPU's list and not free, so it cannot be handed out.
    case notOnPCPList
    /// __free_pages() refused it (the model has it free, or with another order).
    case badFree(BadPageReason)
}

extension PageAllocator {
    /// mm_page_alloc_zone_locked: the block leaves the buddy lists — onto `cpu`'s list of
    /// migratetype `mt` when `percpuRefill`, else to the caller (whose mm_page_alloc follows).
    public mutating func takeRecorded(_ pfn: Pfn, order: Order, mt: MigrateType, percpuRefill: Bool,
                                      cpu: Int) -> RecordedPageRefusal? {
        guard cpu >= 0, cpu < nrCPUIds else { return .noCPU }
        guard order.isBuddyOrder, pfn.isAligned(order) else { return .notFree }
        guard let (n, z) = zoneIndex(ofPfn: pfn) else { return .noZone }
        inferFallback(pfn, order: order, mt: mt, node: n, zone: z)
        inferBuddyTakes(pfn, order: order, mt: mt, node: n, zone: z)
        guard nodes[n].zones[z].takeBlock(pfn, order: order, remainders: mt, &memmap) else { return .notFree }
        if percpuRefill && pcpAllowedOrder(order) {
            memmap.withPage(pfn) { d in d.migratetype = mt.rawValue; d.flags.insert(.pcp) }
            memmap.listAddTail(&nodes[n].zones[z].pcpLists[Zone.pcpIndex(cpu, orderToPindex(mt, order))], pfn, order: order)
            nodes[n].zones[z].pcp[cpu].count += order.pages
        }
        return nil
    }

    /// __rmqueue_smallest() takes only from the asking type's list, so a block the kernel took
    /// for `mt` that the model has free on another type's list was moved there by a fallback
    /// the trace did not record (no mm_page_alloc_extfrag in its event set, or tracing was
    /// paused): the model's own steal_suitable_fallback() decides what moves with it.
    mutating func inferFallback(_ pfn: Pfn, order: Order, mt: MigrateType, node n: Int, zone z: Int) {
        guard let (head, bo) = nodes[n].zones[z].freeBlock(containing: pfn, atLeast: order, memmap) else { return }
        let list = memmap.freeListType(head, order: bo)
        guard list != mt, list != .isolate, list != .highAtomic else { return }
        var l = NoListener()
        let can = nodes[n].zones[z].canStealFallback(order: bo, startMT: mt, mobilityDisabled: zonelists.mobilityGroupingDisabled)
        _ = nodes[n].zones[z].stealSuitableFallback(head, order: bo, flags: [], startMT: mt, wholeBlock: can, &memmap, &l)
        inferredFallbacks += 1
    }

    /// __rmqueue_smallest() takes the head of the smallest non-empty list of its type: blocks
    /// the model still has ahead of the kernel's choice — on smaller lists of that type, or
    /// before it on its own — were taken where the trace was silent (before trace_init(), or
    /// while tracing paused). They are allocated in the model too.
    mutating func inferBuddyTakes(_ pfn: Pfn, order: Order, mt: MigrateType, node n: Int, zone z: Int) {
        guard let (head, found) = nodes[n].zones[z].freeBlock(containing: pfn, atLeast: order, memmap),
              memmap.freeListType(head, order: found) == mt, head == pfn else { return }
        for o in order...found {
            while true {
                let first = nodes[n].zones[z].freeLists[Zone.listIndex(o, mt)].head
                if first == PageDescriptor.nilLink || (o == found && first == head) { break }
                guard nodes[n].zones[z].takeBlock(first, order: o, &memmap) else { break }
                memmap.withPage(first) { d in d.refcount = 1; d.order = UInt8(o.raw) }
                inferredUntraced += Int(o.pages)
            }
        }
    }

    /// mm_page_alloc_extfrag: __rmqueue_fallback() found the free block at `pfn` of
    /// `fallbackOrder` on another type's list for an `mt` request. It moves to `mt`'s list; with
    /// change_ownership its pageblock (every pageblock, for a block that large) became `mt`'s
    /// and the free pages in it moved along, as steal_suitable_fallback() does.
    public mutating func fallbackRecorded(_ pfn: Pfn, fallbackOrder: Order, mt: MigrateType,
                                          changeOwnership: Bool) -> RecordedPageRefusal? {
        guard let (n, z) = zoneIndex(ofPfn: pfn) else { return .noZone }
        guard fallbackOrder.isBuddyOrder, memmap.buddyOrder(pfn) == fallbackOrder else { return .notFree }
        // steal_suitable_fallback() as the kernel ran it (free pages moved with the block when it
        // could steal, the watermark boost); the trace then says who owns the pageblock.
        var l = NoListener()
        let can = nodes[n].zones[z].canStealFallback(order: fallbackOrder, startMT: mt, mobilityDisabled: zonelists.mobilityGroupingDisabled)
        let old = memmap.pageblockMigratetype(pfn)
        let claimed = nodes[n].zones[z].stealSuitableFallback(pfn, order: fallbackOrder, flags: [], startMT: mt,
                                                              wholeBlock: can, &memmap, &l)
        if claimed != changeOwnership && fallbackOrder < .pageblock {
            memmap.setPageblockMigratetype(pfn, changeOwnership ? mt : old)
        }
        return nil
    }

    /// mm_page_alloc: the block is handed out — taken off `cpu`'s list if it is there (or off
    /// the buddy lists if `fromBuddy` is false and it is free there), then prepared as
    /// prep_new_page() does.
    public mutating func allocRecorded(_ pfn: Pfn, order: Order, gfp: GFPFlags, cpu: Int, takenAlready: Bool,
                                       _ mem: inout PhysMemory) -> RecordedPageRefusal? {
        guard cpu >= 0, cpu < nrCPUIds else { return .noCPU }
        guard order.isBuddyOrder else { return .notOnPCPList }
        guard let (n, z) = zoneIndex(ofPfn: pfn) else { return .noZone }
        if !takenAlready {
            let d = memmap.page(pfn)
            if d.flags.contains(.pcp) {
                // Whichever CPU's list holds it (a trace's CPU is the allocating one).
                let pindex = orderToPindex(MigrateType(stored: d.migratetype), order)
                var found = false
                for c in nodes[n].zones[z].pcp.indices where !found {
                    var p = nodes[n].zones[z].pcpLists[Zone.pcpIndex(c, pindex)].head
                    var ahead: [Pfn] = []
                    while p != PageDescriptor.nilLink {
                        if p == pfn { found = true; break }
                        ahead.append(p)
                        p = memmap.next(p, order: order)
                    }
                    if found {
                        unlinkPCP(pfn, order: order, node: n, zone: z, cpu: c, pindex: pindex)
                        // rmqueue_pcplist() takes the head: on the allocating CPU's own list, the
                        // pages ahead of the kernel's were taken where the trace was silent.
                        if c == cpu { takeUntraced(ahead, order: order, node: n, zone: z, cpu: c, pindex: pindex, gfp: gfp, &mem) }
                    }
                }
                guard found else { return .notOnPCPList }
            } else if !nodes[n].zones[z].takeBlock(pfn, order: order, &memmap) {
                return .notOnPCPList
            }
        }
        prepNewPage(pfn, order: order, gfp: gfp, &mem)
        return nil
    }

    /// A block leaves `cpu`'s list `pindex` in zone (`n`, `z`): unlinked, counted, no longer
    /// marked as on a list (the caller prepares it for its new owner).
    mutating func unlinkPCP(_ pfn: Pfn, order: Order, node n: Int, zone z: Int, cpu: Int, pindex: Int) {
        memmap.listDel(&nodes[n].zones[z].pcpLists[Zone.pcpIndex(cpu, pindex)], pfn, order: order)
        nodes[n].zones[z].pcp[cpu].count -= order.pages
        memmap.withPage(pfn) { d in _ = d.flags.remove(.pcp) }
    }

    /// Pages off the head of a CPU's list that the kernel must have taken untraced: allocated
    /// in the model too (a later free in the trace then applies).
    mutating func takeUntraced(_ pages: [Pfn], order: Order, node n: Int, zone z: Int, cpu: Int, pindex: Int,
                               gfp: GFPFlags, _ mem: inout PhysMemory) {
        for q in pages {
            unlinkPCP(q, order: order, node: n, zone: z, cpu: cpu, pindex: pindex)
            prepNewPage(q, order: order, gfp: gfp, &mem)
            inferredUntraced += Int(order.pages)
        }
    }

    /// What the model would hand out next from the state a recorded trace left, for the block
    /// the kernel is about to take at `pfn`: from the buddy lists, __rmqueue_smallest()'s choice
    /// (the head of the smallest non-empty `mt` list at or above `order`, whose low end is kept);
    /// from `cpu`'s per-cpu list, rmqueue_pcplist()'s (the list's head). Nil when the model has
    /// no such block (a fallback, an empty list). Comparing it with the kernel's pfn tests the
    /// allocator's choice on the kernel's own state, apart from how that state was reached.
    public func nextChoice(zoneOf pfn: Pfn, order: Order, mt: MigrateType, cpu: Int, fromPCP: Bool) -> Pfn? {
        guard order.isBuddyOrder, let (n, z) = zoneIndex(ofPfn: pfn) else { return nil }
        let zone = nodes[n].zones[z]
        if fromPCP {
            guard cpu >= 0, cpu < zone.pcp.count, pcpAllowedOrder(order) else { return nil }
            let head = zone.pcpLists[Zone.pcpIndex(cpu, orderToPindex(mt, order))].head
            return head == PageDescriptor.nilLink ? nil : head
        }
        for o in order..<Order.limit {
            let head = zone.freeLists[Zone.listIndex(o, mt)].head
            if head != PageDescriptor.nilLink { return head }
        }
        return nil
    }

    /// mm_page_free / mm_page_free_batched: __free_pages() on `cpu`.
    public mutating func freeRecorded(_ pfn: Pfn, order: Order, cpu: Int,
                                      _ log: inout KernelLog) -> RecordedPageRefusal? {
        guard cpu >= 0, cpu < nrCPUIds else { return .noCPU }
        var l = NoListener()
        switch freePages(pfn, order: order, cpu: cpu, &log, listener: &l) {
        case .freed: return nil
        case .invalidPfn: return .noZone
        case .badPage(let reason): return .badFree(reason)
        }
    }
}
