// alloc_pages() and __free_pages(): the page allocator's entry points.
//
// Linux: mm/page_alloc.c — __alloc_pages(), prepare_alloc_pages(), alloc_flags_nofragment(),
//        get_page_from_freelist(), zone_watermark_fast(), __zone_watermark_ok(),
//        __zone_watermark_unusable_free(), rmqueue(), prep_new_page(), prep_compound_page(),
//        gfp_to_alloc_flags(), __alloc_pages_slowpath(), __free_pages(), free_the_page(),
//        free_pages_prepare(), __free_pages_ok(), bad_page(); mm/debug.c — dump_page().
// Exact: the zonelist walk, the watermark each attempt uses, ALLOC_NOFRAGMENT and its retry,
//        the pcp-or-buddy choice, compound pages, and misuse reported as "Bad page state".
// Simplified: the slow path reports what Linux would do next (kswapd, compaction, reclaim, OOM)
//        and then fails, as a __GFP_NORETRY allocation would; __GFP_NOFAIL fails the same way
//        instead of looping. NR_FREE_PAGES is read exactly (Linux's per-cpu vmstat drift is
//        not modelled). No cpusets, no dirty limits, no node reclaim (all off by default).
// Reference: shared/reference/linux-6.1-mm.md §4.2–§4.5, §4.7, §4.8.

/// Why __free_pages() refused a page: what free_pages_prepare() found. `dumpReason` is the text
/// bad_page() logs after "page dumped because:" (the kernel's own words, so it lives with the
/// log the model prints).
public enum BadPageReason: Sendable, Equatable {
    /// A flag PAGE_FLAGS_CHECK_AT_FREE covers (PG_reserved, PG_slab…) is still set.
    case flagsCheckAtFree
    /// The page is already free: a buddy page's mapcount holds PAGE_BUDDY_MAPCOUNT_VALUE.
    case nonzeroMapcount
    /// The refcount does not drop to zero: a free of a tail page, a pcp page or a page that is
    /// not allocated.
    case nonzeroRefcount
    /// A compound head freed with another order (VM_BUG_ON_PAGE under DEBUG_VM).
    case compoundOrderMismatch
    /// A non-compound block freed with another order than it was allocated with (Linux does not
    /// notice; the model refuses, since the buddy lists would be corrupted).
    case orderMismatch(freed: Order, allocated: Order)

    public var dumpReason: String {
        switch self {
        case .flagsCheckAtFree: return "PAGE_FLAGS_CHECK_AT_FREE flag(s) set"
        case .nonzeroMapcount: return "nonzero mapcount"
        case .nonzeroRefcount: return "nonzero _refcount"
        case .compoundOrderMismatch: return "VM_BUG_ON_PAGE(compound && compound_order(page) != order)"
        case let .orderMismatch(freed, allocated): return "freed with order \(freed), allocated with order \(allocated)"
        }
    }
}

/// What a free did.
public enum FreeOutcome: Sendable, Equatable {
    case freed
    /// Refused; the report is in the kernel log.
    case badPage(reason: BadPageReason)
    /// The pfn has no struct page (Linux would oops).
    case invalidPfn
}

extension Zone {
    /// Linux: __zone_watermark_unusable_free().
    @inlinable func unusableFree(order: Order, flags: AllocFlags) -> Int64 {
        var u = Int64(order.pages) - 1
        if flags.isDisjoint(with: .reserves) { u += Int64(nrReservedHighatomic) }
        return u
    }

    /// Linux: __zone_watermark_ok().
    func watermarkOK(order: Order, mark: UInt64, highestZone: Int, flags: AllocFlags, free: Int64) -> Bool {
        let free = free - unusableFree(order: order, flags: flags)
        var min = Int64(mark)
        if !flags.isDisjoint(with: .reserves) {
            if flags.contains(.minReserve) {
                min -= min / 2
                if flags.contains(.nonBlock) { min -= min / 4 }
            }
            if flags.contains(.oom) { min -= min / 2 }
        }
        if free <= min + Int64(lowmemReserve[highestZone]) { return false }
        if order == 0 { return true }
        for o in order..<Order.limit where nrFree[o.raw] != 0 {
            for mt in [MigrateType.unmovable, .movable, .reclaimable] where !freeLists[Zone.listIndex(o, mt)].isEmpty {
                return true
            }
            if !flags.isDisjoint(with: [.highAtomic, .oom])
                && !freeLists[Zone.listIndex(o, MigrateType.highAtomic)].isEmpty { return true }
        }
        return false
    }

    /// Linux: zone_watermark_fast().
    @inline(__always)
    func watermarkFast(order: Order, mark: UInt64, highestZone: Int, flags: AllocFlags, gfp: GFPFlags) -> Bool {
        let free = Int64(freePages)
        if order == 0 {
            let reserved = unusableFree(order: 0, flags: flags)
            let usable = free - Swift.min(free, reserved)
            if usable > Int64(mark + lowmemReserve[highestZone]) { return true }
        }
        if watermarkOK(order: order, mark: mark, highestZone: highestZone, flags: flags, free: free) { return true }
        if order == 0 && gfp.contains(.atomic) && watermarkBoost != 0 && flags.watermark == 0 {
            return watermarkOK(order: order, mark: watermark.min, highestZone: highestZone, flags: flags, free: free)
        }
        return false
    }

    /// Linux: wmark_pages(zone, alloc_flags & ALLOC_WMARK_MASK).
    @inlinable func wmarkPages(_ i: Int) -> UInt64 {
        switch i {
        case 0: return minWmark
        case 1: return lowWmark
        default: return highWmark
        }
    }
}

extension PageAllocator {
    /// Linux: alloc_pages_node(nid, gfp, order) (`nid` nil: the CPU's node): the pfn of the
    /// first page, or nil. `cpu` is the CPU the caller runs on (its pcp lists are used);
    /// `mem` is RAM, which init_on_alloc and __GFP_ZERO clear.
    public mutating func allocPages<L: PageAllocListener>(_ gfp: GFPFlags, order: Order, cpu: Int = 0,
                                                        nid: NodeID? = nil, _ mem: inout PhysMemory,
                                                        listener l: inout L) -> Pfn? {
        if let pfn = allocPcpHit(gfp, order: order, cpu: cpu, nid: nid, &mem, &l) { return pfn }
        return allocPagesFull(gfp, order: order, cpu: cpu, nid: nid, &mem, &l)
    }

    /// The allocation Linux serves most often, taken without the general walk: an order the
    /// CPU lists keep (0…3), the preferred zone passing its low watermark, and a page on the
    /// CPU's list. get_page_from_freelist() would stop at that zone and rmqueue_pcplist() would
    /// take that page, so the result, the events and the state after are the same. When any of
    /// it does not hold this returns nil having changed nothing, and the general path runs.
    @inline(__always)
    mutating func allocPcpHit<L: PageAllocListener>(_ gfp: GFPFlags, order: Order, cpu: Int, nid: NodeID?,
                                                  _ mem: inout PhysMemory, _ l: inout L) -> Pfn? {
        guard order.raw >= 0, order <= .costly, let highest = gfp.zone, var mt = gfp.migratetype,
              cpu >= 0, cpu < nrCPUIds, !nodes.isEmpty else { return nil }
        if zonelists.mobilityGroupingDisabled { mt = .unmovable }
        let prefNid = preferredNode(nid ?? cpuNode(cpu))
        guard let first = preferredZoneIndex(prefNid, highest: highest, thisNode: gfp.contains(.thisnode)) else { return nil }
        let ref = zonelists.fallback[prefNid.number][first]
        guard let n = nodeIndex(ref.nid) else { return nil }
        let flags: AllocFlags = gfp.contains(.kswapdReclaim) ? [.wmarkLow, .kswapd] : [.wmarkLow]
        // One access to the zone for the whole take (each separate nodes[n].zones[z] write
        // would check both arrays' uniqueness again).
        guard let pfn = nodes[n].zones[ref.zone.rawValue].pcpHit(cpu: cpu, order: order, mt: mt, highest: highest,
                                                                 flags: flags, gfp: gfp, &memmap, &l)
        else { return nil }
        prepNewPage(pfn, order: order, gfp: gfp, &mem)
        l.pageAlloc(.allocated(pfn: pfn, order: order, gfp: gfp, migratetype: mt))
        return pfn
    }

    /// Linux: __alloc_pages() whole: the zonelist walk, the fast attempt, the slow path.
    mutating func allocPagesFull<L: PageAllocListener>(_ gfp: GFPFlags, order: Order, cpu: Int, nid: NodeID?,
                                                     _ mem: inout PhysMemory, _ l: inout L) -> Pfn? {
        guard order.isBuddyOrder, let highest = gfp.zone, var mt = gfp.migratetype,
              cpu >= 0, cpu < nrCPUIds, !nodes.isEmpty
        else {
            l.pageAlloc(.failed(order: order, gfp: gfp))
            return nil
        }
        if zonelists.mobilityGroupingDisabled { mt = .unmovable }
        let prefNid = preferredNode(nid ?? cpuNode(cpu))
        let nl = prefNid.number
        guard let first = preferredZoneIndex(prefNid, highest: highest, thisNode: gfp.contains(.thisnode)) else {
            l.pageAlloc(.failed(order: order, gfp: gfp))
            return nil
        }
        var ctx = AllocContext(highest: highest, migratetype: mt, prefIndex: first,
                               nid: prefNid, thisNode: gfp.contains(.thisnode))
        // Fast path: the low watermark, and whole pageblocks only when Normal is preferred.
        var flags: AllocFlags = [.wmarkLow]
        if gfp.contains(.kswapdReclaim) { flags.insert(.kswapd) }
        let pref = zonelists.fallback[nl][first]
        if pref.zone == .normal, let n = nodeIndex(pref.nid),
           !(onlineNodes > 1 && !nodes[n].zones[ZoneType.dma32.rawValue].isPopulated) {
            flags.insert(.noFragment)
        }
        if let pfn = getPageFromFreelist(gfp, order: order, flags: flags, &ctx, cpu: cpu, &mem, &l) { return pfn }
        return allocSlowpath(gfp, order: order, &ctx, cpu: cpu, &mem, &l)
    }

    /// Linux: first_zones_zonelist() (ac->preferred_zoneref): where in node `nid`'s zonelist
    /// the first zone an allocation may use is, or nil when none is.
    @inline(__always)
    func preferredZoneIndex(_ nid: NodeID, highest: ZoneType, thisNode: Bool) -> Int? {
        let list = nid.number
        for i in zonelists.fallback[list].indices {
            let r = zonelists.fallback[list][i]
            if r.zone <= highest && (!thisNode || r.nid == nid) { return i }
        }
        return nil
    }

    /// Linux: numa_mem_id() for a node without memory: the nearest one that has some.
    @inline(__always)
    public func preferredNode(_ nid: NodeID) -> NodeID {
        let n = nid.isNone || nid.number >= zonelists.fallback.count ? bootCPUNode : nid
        if n.number < zonelists.fallback.count, !zonelists.fallback[n.number].isEmpty { return n }
        for (i, z) in zonelists.fallback.enumerated() where !z.isEmpty { return NodeID(Int32(i)) }
        return 0
    }

    /// Linux: __alloc_pages_slowpath(), reduced to its watermark retries.
    mutating func allocSlowpath<L: PageAllocListener>(_ gfp: GFPFlags, order: Order, _ ctx: inout AllocContext,
                                                    cpu: Int, _ mem: inout PhysMemory, _ l: inout L) -> Pfn? {
        var flags: AllocFlags = [.cpuset]
        if gfp.contains(.high) { flags.insert(.minReserve) }
        if gfp.contains(.kswapdReclaim) { flags.insert(.kswapd) }
        if !gfp.contains(.directReclaim) {
            if !gfp.contains(.nomemalloc) {
                flags.insert(.nonBlock)
                if order > 0 && flags.contains(.minReserve) { flags.insert(.highAtomic) }
            }
            if flags.contains(.minReserve) { flags.remove(.cpuset) }
        }
        if flags.contains(.kswapd) { l.pageAlloc(.slowPath(.wakeKswapd)) }
        l.pageAlloc(.slowPath(.retryMinWatermark))
        if let pfn = getPageFromFreelist(gfp, order: order, flags: flags, &ctx, cpu: cpu, &mem, &l) { return pfn }
        // Linux: __gfp_pfmemalloc_flags(): __GFP_MEMALLOC ignores the watermarks.
        if gfp.contains(.memalloc) && !gfp.contains(.nomemalloc) {
            if let pfn = getPageFromFreelist(gfp, order: order, flags: flags.union(.noWatermarks), &ctx,
                                             cpu: cpu, &mem, &l) { return pfn }
        }
        if gfp.contains(.directReclaim) {
            if order > .costly || order > 0 { l.pageAlloc(.slowPath(.directCompaction)) }
            l.pageAlloc(.slowPath(.directReclaim))
            if !gfp.contains(.noretry) && !gfp.contains(.retryMayfail) && order <= .costly {
                l.pageAlloc(.slowPath(.oomKiller))
            }
        }
        l.pageAlloc(.slowPath(.giveUp))
        l.pageAlloc(.failed(order: order, gfp: gfp))
        return nil
    }

    /// Linux: get_page_from_freelist().
    mutating func getPageFromFreelist<L: PageAllocListener>(_ gfp: GFPFlags, order: Order, flags flags0: AllocFlags,
                                                          _ ctx: inout AllocContext, cpu: Int,
                                                          _ mem: inout PhysMemory, _ l: inout L) -> Pfn? {
        var flags = flags0
        let nl = ctx.nid.number
        let multiNode = onlineNodes > 1
        retry: while true {
            let noFallback = flags.contains(.noFragment)
            var i = ctx.prefIndex
            while i < zonelists.fallback[nl].count {
                let ref = zonelists.fallback[nl][i]
                i += 1
                guard ref.zone <= ctx.highest, !ctx.thisNode || ref.nid == ctx.nid,
                      let n = nodeIndex(ref.nid) else { continue }
                let z = ref.zone.rawValue
                if noFallback && multiNode && i - 1 != ctx.prefIndex && ref.nid != zonelists.fallback[nl][ctx.prefIndex].nid {
                    flags.remove(.noFragment)
                    l.pageAlloc(.noFragmentDropped)
                    continue retry
                }
                let mark = nodes[n].zones[z].wmarkPages(flags.watermark)
                if !nodes[n].zones[z].watermarkFast(order: order, mark: mark, highestZone: ctx.highest.rawValue,
                                                    flags: flags, gfp: gfp) {
                    l.pageAlloc(.watermarkFailed(zone: nodes[n].zones[z].slot, order: order, mark: mark,
                                                 free: nodes[n].zones[z].freePages))
                    if !flags.contains(.noWatermarks) { continue }
                }
                if let pfn = rmqueue(node: n, zone: z, order: order, gfp: gfp, flags: flags, mt: ctx.migratetype,
                                     cpu: cpu, &l) {
                    prepNewPage(pfn, order: order, gfp: gfp, &mem)
                    if flags.contains(.highAtomic) {
                        nodes[n].zones[z].reserveHighatomicPageblock(pfn, &memmap, &l)
                    }
                    l.pageAlloc(.allocated(pfn: pfn, order: order, gfp: gfp,
                                           migratetype: ctx.migratetype))
                    return pfn
                }
            }
            if noFallback {
                flags.remove(.noFragment)
                l.pageAlloc(.noFragmentDropped)
                continue retry
            }
            return nil
        }
    }

    /// Linux: rmqueue(): the CPU's list for small orders and THP, the buddy lists otherwise or
    /// when the list cannot be refilled; a boosted zone wakes kswapd.
    mutating func rmqueue<L: PageAllocListener>(node n: Int, zone z: Int, order: Order, gfp: GFPFlags,
                                              flags: AllocFlags, mt: MigrateType, cpu: Int, _ l: inout L) -> Pfn? {
        var pfn: Pfn?
        if pcpAllowedOrder(order) {
            pfn = nodes[n].zones[z].rmqueuePcplist(cpu: cpu, order: order, mt: mt, flags: flags, &memmap, &l)
        }
        if pfn == nil {
            pfn = nodes[n].zones[z].rmqueue(order: order, mt: mt, flags: flags, &memmap, &l)?.0
        }
        if nodes[n].zones[z].boostedWatermark {
            nodes[n].zones[z].boostedWatermark = false
            l.pageAlloc(.slowPath(.wakeKswapd))
        }
        return pfn
    }

    /// Linux: prep_new_page(): refcount 1, compound head and tails for __GFP_COMP, and zeroed
    /// when init_on_alloc (Debian's default) or __GFP_ZERO asks.
    mutating func prepNewPage(_ pfn: Pfn, order: Order, gfp: GFPFlags, _ mem: inout PhysMemory) {
        let mt = UInt8(gfp.migratetype?.rawValue ?? 0)
        memmap.withPage(pfn) { d in
            d.flags = gfp.contains(.comp) && order > 0 ? .head : []
            d.refcount = 1
            d.order = UInt8(order.raw)
            d.migratetype = mt
        }
        if gfp.contains(.comp) && order > 0 {
            for p in (pfn + 1)..<(pfn + order.pages) {
                memmap.withPage(p) { d in d.flags = .tail; d.order = UInt8(order.raw); d.refcount = 0 }
            }
        }
        if initOnAlloc || gfp.contains(.zero) { mem.zero(pfn, pages: order.pages) }
    }

    /// Linux: __free_pages(page, order). Misuse is refused with Linux's "Bad page state" report
    /// in `log`.
    @discardableResult
    public mutating func freePages<L: PageAllocListener>(_ pfn: Pfn, order: Order, cpu: Int = 0,
                                                       _ log: inout KernelLog, listener l: inout L) -> FreeOutcome {
        // The common free, without the general checks' repeated lookups: an allocated plain
        // page or block of a CPU-list order whose descriptor shows nothing free_pages_prepare()
        // would object to (no flags, a reference, the order it was allocated with).
        if order.raw >= 0, order <= .costly, cpu >= 0, cpu < nrCPUIds,
           let slot = memmap.zoneSlot(pfn), memmap.isMaterialised(pfn), let n = nodeIndex(slot.nid) {
            let d = memmap.page(pfn)
            if d.flags.isEmpty, d.refcount > 0, Int(d.order) == order.raw,
               !pfn.isAligned(.top) || !memmap.isMaxOrderFree(pfn) {
                mmAssert(freeCheck(pfn, order: order) == nil, "the free fast path passed a page the checks refuse")
                // (freeUnrefPage() clears the refcount and order in the same descriptor write
                // that puts the page on its list.)
                nodes[n].zones[slot.zoneIndex].freeUnrefPage(pfn, order: order, cpu: cpu, &memmap, &l)
                return .freed
            }
        }
        return freePagesChecked(pfn, order: order, cpu: cpu, &log, &l)
    }

    /// Linux: __free_pages() with free_pages_prepare()'s checks, for every page.
    mutating func freePagesChecked<L: PageAllocListener>(_ pfn: Pfn, order: Order, cpu: Int,
                                                       _ log: inout KernelLog, _ l: inout L) -> FreeOutcome {
        guard order.isBuddyOrder, let (n, z) = zoneIndex(ofPfn: pfn), cpu >= 0, cpu < nrCPUIds
        else { return .invalidPfn }
        let slot = nodes[n].zones[z].slot
        if let reason = freeCheck(pfn, order: order) {
            badPage(pfn, reason: reason.reason, refcount: reason.refcount, &log)
            l.pageAlloc(.badPage(pfn: pfn, reason: reason.reason))
            return .badPage(reason: reason.reason)
        }
        let compound = memmap.page(pfn).flags.contains(.head)
        memmap.withPage(pfn) { d in d.refcount = 0; d.flags = []; d.order = 0 }
        if compound { memmap.resetPages(pfn + 1, count: order.pages - 1) }
        if pcpAllowedOrder(order) {
            nodes[n].zones[z].freeUnrefPage(pfn, order: order, cpu: cpu, &memmap, &l)
        } else {
            let mt = memmap.pageblockMigratetype(pfn)
            let merged = nodes[n].zones[z].freeOneBlock(pfn, order: order, mt: mt, fpi: [], &memmap)
            l.pageAlloc(.freedToBuddy(zone: slot, pfn: pfn, order: order, mergedOrder: merged, toTail: false))
        }
        return .freed
    }

    /// The node and zone indices of the zone holding `pfn` (Linux: page_zone()), nil outside
    /// every zone.
    @inline(__always)
    public func zoneIndex(ofPfn pfn: Pfn) -> (Int, Int)? {
        guard let slot = memmap.zoneSlot(pfn), let n = nodeIndex(slot.nid) else { return nil }
        return (n, slot.zoneIndex)
    }

    /// Linux: free_pages_prepare()'s checks (and, for what Linux only catches with DEBUG_VM or
    /// not at all, the model's own): nil when the free is sound.
    @inline(__always)
    func freeCheck(_ pfn: Pfn, order: Order) -> (reason: BadPageReason, refcount: Int)? {
        let d = memmap.page(pfn)
        if d.flags.contains(.reserved) { return (.flagsCheckAtFree, Int(d.refcount)) }
        if memmap.buddyOrder(pfn) != nil { return (.nonzeroMapcount, 0) }
        if d.refcount <= 0 || d.flags.contains(.pcp) || d.flags.contains(.tail) {
            return (.nonzeroRefcount, Int(d.refcount) - 1)
        }
        if d.flags.contains(.slab) || d.flags.contains(.lru) { return (.flagsCheckAtFree, Int(d.refcount)) }
        if Int(d.order) != order.raw {
            if d.flags.contains(.head) { return (.compoundOrderMismatch, Int(d.refcount)) }
            return (.orderMismatch(freed: order, allocated: Order(Int(d.order))), Int(d.refcount))
        }
        return nil
    }

    /// Linux: bad_page() and dump_page(): the report, with the page's address in the vmemmap
    /// and its flags word as Linux lays it out (node, zone, last cpupid above the flag bits).
    func badPage(_ pfn: Pfn, reason: BadPageReason, refcount: Int, _ log: inout KernelLog) {
        let mapcount = memmap.dumpMapcount(pfn)
        let page = vmemmapBase &+ pfn.raw &* 64
        log.info("BUG: Bad page state in process kmemlab  pfn:\(padLeftZero(String(pfn.raw, radix: 16), 5))")
        log.info("page:\(ptr(page)) refcount:\(refcount) mapcount:\(mapcount) mapping:0000000000000000 index:0x0 pfn:\(hex(pfn.raw))")
        log.info("flags: \(pageFlagsText(pfn))")
        log.info("page dumped because: \(reason.dumpReason)")
        log.taint |= KernelLog.taintBadPage
    }

    /// Linux: %pGp — page->flags as a number, then the set flags and the node/zone fields.
    public func pageFlagsText(_ pfn: Pfn) -> String {
        let d = memmap.page(pfn)
        let slot = memmap.zoneSlot(pfn) ?? ZoneID(raw: 0)
        let node = UInt64(slot.nid.raw), zone = UInt64(slot.zoneIndex)
        var bits: UInt64 = node << 54 | zone << 51 | 0x1fffff << 30
        var names: [String] = []
        if d.flags.contains(.lru) { bits |= 1 << 4; names.append("lru") }
        if d.flags.contains(.slab) { bits |= 1 << 9; names.append("slab") }
        if d.flags.contains(.reserved) { bits |= 1 << 12; names.append("reserved") }
        if d.flags.contains(.head) { bits |= 1 << 16; names.append("head") }
        names.append("node=\(node)")
        names.append("zone=\(zone)")
        names.append("lastcpupid=0x1fffff")
        var joined = ""
        for (i, n) in names.enumerated() { joined += (i == 0 ? "" : "|") + n }
        return "\(hex(bits))(\(joined))"
    }
}

extension Kernel {
    /// Linux: alloc_pages_node(): the page allocator, with RAM to clear.
    public mutating func allocPages(_ gfp: GFPFlags, order: Order, cpu: Int = 0, nid: NodeID? = nil) -> Pfn? {
        var l = NoListener()
        return pageAlloc.allocPages(gfp, order: order, cpu: cpu, nid: nid, &physMem, listener: &l)
    }

    public mutating func allocPages<L: PageAllocListener>(_ gfp: GFPFlags, order: Order, cpu: Int = 0,
                                                        nid: NodeID? = nil, listener l: inout L) -> Pfn? {
        pageAlloc.allocPages(gfp, order: order, cpu: cpu, nid: nid, &physMem, listener: &l)
    }

    /// Linux: __free_pages(): the page allocator, with the kernel log for its reports.
    @discardableResult
    public mutating func freePages(_ pfn: Pfn, order: Order, cpu: Int = 0) -> FreeOutcome {
        var l = NoListener()
        return pageAlloc.freePages(pfn, order: order, cpu: cpu, &log, listener: &l)
    }

    @discardableResult
    public mutating func freePages<L: PageAllocListener>(_ pfn: Pfn, order: Order, cpu: Int = 0,
                                                       listener l: inout L) -> FreeOutcome {
        pageAlloc.freePages(pfn, order: order, cpu: cpu, &log, listener: &l)
    }

    /// The node and zone indices of the zone holding `pfn` (Linux: page_zone()).
    @inline(__always)
    func zoneIndex(ofPfn pfn: Pfn) -> (Int, Int)? { pageAlloc.zoneIndex(ofPfn: pfn) }

    /// Linux: init_on_alloc (CONFIG_INIT_ON_ALLOC_DEFAULT_ON=y in Debian; init_on_alloc=0 turns
    /// it off), parsed once at Kernel.init.
    public var initOnAlloc: Bool { initOnAllocParam }

    /// Linux: init_on_free (off by default in Debian).
    public var initOnFree: Bool { commandLine.bool("init_on_free", default: false) }
}

/// Linux: struct alloc_context.
struct AllocContext {
    var highest: ZoneType
    var migratetype: MigrateType
    var prefIndex: Int
    var nid: NodeID
    var thisNode: Bool
}
