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
    public mutating func takeRecorded(_ pfn: UInt64, order: Int, mt: MigrateType, percpuRefill: Bool,
                                      cpu: Int) -> RecordedPageRefusal? {
        guard cpu >= 0, cpu < nrCPUIds else { return .noCPU }
        guard let (n, z) = zoneIndex(ofPfn: pfn) else { return .noZone }
        guard nodes[n].zones[z].takeBlock(pfn, order: order, remainders: mt, &memmap) else { return .notFree }
        if percpuRefill && pcpAllowedOrder(order) {
            memmap.withPage(pfn) { d in d.migratetype = mt.rawValue; d.flags.insert(.pcp) }
            memmap.listAddTail(&nodes[n].zones[z].pcpLists[Zone.pcpIndex(cpu, orderToPindex(mt, order))], pfn, order: order)
            nodes[n].zones[z].pcp[cpu].count += 1 << UInt64(order)
        }
        return nil
    }

    /// mm_page_alloc_extfrag: __rmqueue_fallback() found the free block at `pfn` of
    /// `fallbackOrder` on another type's list for an `mt` request. It moves to `mt`'s list; with
    /// change_ownership its pageblock (every pageblock, for a block that large) became `mt`'s
    /// and the free pages in it moved along, as steal_suitable_fallback() does.
    public mutating func fallbackRecorded(_ pfn: UInt64, fallbackOrder: Int, mt: MigrateType,
                                          changeOwnership: Bool) -> RecordedPageRefusal? {
        guard let (n, z) = zoneIndex(ofPfn: pfn) else { return .noZone }
        guard memmap.buddyOrder(pfn) == fallbackOrder else { return .notFree }
        if changeOwnership && UInt64(fallbackOrder) >= pageblockOrder {
            var b = pfn
            while b < pfn + (1 << UInt64(fallbackOrder)) { memmap.setPageblockMigratetype(b, mt); b += pageblockNrPages }
        } else if changeOwnership {
            _ = nodes[n].zones[z].moveFreepagesBlock(pfn, mt: mt, &memmap)
            memmap.setPageblockMigratetype(pfn, mt)
            return nil
        }
        nodes[n].zones[z].moveToFreeList(pfn, order: fallbackOrder, mt: mt, &memmap)
        return nil
    }

    /// mm_page_alloc: the block is handed out — taken off `cpu`'s list if it is there (or off
    /// the buddy lists if `fromBuddy` is false and it is free there), then prepared as
    /// prep_new_page() does.
    public mutating func allocRecorded(_ pfn: UInt64, order: Int, gfp: GFPFlags, cpu: Int, takenAlready: Bool,
                                       _ mem: inout PhysMemory) -> RecordedPageRefusal? {
        guard cpu >= 0, cpu < nrCPUIds else { return .noCPU }
        guard let (n, z) = zoneIndex(ofPfn: pfn) else { return .noZone }
        if !takenAlready {
            let d = memmap.page(pfn)
            if d.flags.contains(.pcp) {
                // Whichever CPU's list holds it (a trace's CPU is the allocating one).
                let pindex = orderToPindex(MigrateType(stored: d.migratetype), order)
                var found = false
                for c in nodes[n].zones[z].pcp.indices where !found {
                    var p = nodes[n].zones[z].pcpLists[Zone.pcpIndex(c, pindex)].head
                    while p != PageDescriptor.nilLink {
                        if p == pfn { found = true; break }
                        p = memmap.next(p, order: order)
                    }
                    if found {
                        memmap.listDel(&nodes[n].zones[z].pcpLists[Zone.pcpIndex(c, pindex)], pfn, order: order)
                        nodes[n].zones[z].pcp[c].count -= 1 << UInt64(order)
                    }
                }
                guard found else { return .notOnPCPList }
                memmap.withPage(pfn) { d in _ = d.flags.remove(.pcp) }
            } else if !nodes[n].zones[z].takeBlock(pfn, order: order, &memmap) {
                return .notOnPCPList
            }
        }
        prepNewPage(pfn, order: order, gfp: gfp, &mem)
        return nil
    }

    /// What the model would hand out next from the state a recorded trace left, for the block
    /// the kernel is about to take at `pfn`: from the buddy lists, __rmqueue_smallest()'s choice
    /// (the head of the smallest non-empty `mt` list at or above `order`, whose low end is kept);
    /// from `cpu`'s per-cpu list, rmqueue_pcplist()'s (the list's head). Nil when the model has
    /// no such block (a fallback, an empty list). Comparing it with the kernel's pfn tests the
    /// allocator's choice on the kernel's own state, apart from how that state was reached.
    public func nextChoice(zoneOf pfn: UInt64, order: Int, mt: MigrateType, cpu: Int, fromPCP: Bool) -> UInt64? {
        guard order >= 0, order < maxOrder, let (n, z) = zoneIndex(ofPfn: pfn) else { return nil }
        let zone = nodes[n].zones[z]
        if fromPCP {
            guard cpu >= 0, cpu < zone.pcp.count, pcpAllowedOrder(order) else { return nil }
            let head = zone.pcpLists[Zone.pcpIndex(cpu, orderToPindex(mt, order))].head
            return head == PageDescriptor.nilLink ? nil : head
        }
        for o in order..<maxOrder {
            let head = zone.freeLists[Zone.listIndex(o, mt)].head
            if head != PageDescriptor.nilLink { return head }
        }
        return nil
    }

    /// mm_page_free / mm_page_free_batched: __free_pages() on `cpu`.
    public mutating func freeRecorded(_ pfn: UInt64, order: Int, cpu: Int,
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
