// SLUB's allocation and free paths, with objects in simulated memory.
//
// Linux: mm/slub.c — slab_alloc_node(), ___slab_alloc(), get_partial(), get_partial_node(),
//        get_any_partial(), acquire_slab(), put_cpu_partial(), __unfreeze_partials(),
//        deactivate_slab(), flush_slab(), allocate_slab(), shuffle_freelist(), discard_slab(),
//        do_slab_free(), __slab_free(), free_to_partial_list(), alloc_single_from_partial(),
//        alloc_single_from_new_slab(), __kmem_cache_do_shrink(), kmem_cache_alloc_bulk(),
//        freelist_ptr() and set_freepointer() (SLAB_FREELIST_HARDENED).
// Exact: which object comes next, when a slab moves between the cpu slab, the cpu partial list
//        and the node lists, when it goes back to the page allocator, the order fallback, the
//        stored (hardened) free pointer word, the randomised initial freelist.
// Simplified: one CPU runs at a time, so every cmpxchg succeeds first time; get_any_partial()'s
//        get_cycles() draw comes from the seeded generator. The model also keeps one bit per
//        object (allocated or not), which Linux does not: it lets the model refuse a double
//        free Linux would not notice without slub_debug (the report says so).
// Reference: shared/reference/linux-6.1-mm.md §5.7, §5.8.

/// The path one slab allocation or free took.
public enum SlabEvent: Sendable, Equatable {
    /// Linux: the lockless fast path — the CPU's freelist had an object.
    case cpuFreelist(cache: CacheID, object: UInt64)
    /// Linux: ALLOC_REFILL — the cpu slab's own freelist (remote frees) was taken over.
    case cpuSlabRefill(cache: CacheID, slab: UInt64)
    /// Linux: CPU_PARTIAL_ALLOC — a slab from the CPU's partial list became the cpu slab.
    case cpuPartial(cache: CacheID, slab: UInt64)
    /// Linux: ALLOC_FROM_PARTIAL — a slab from node `nid`'s partial list (and `extra` more moved
    /// to the cpu partial list).
    case nodePartial(cache: CacheID, slab: UInt64, nid: NodeID, extra: Int)
    /// Linux: ALLOC_SLAB — a new slab of `order` from the page allocator (`fallback`: the
    /// preferred order failed and the minimum order was used).
    case newSlab(cache: CacheID, slab: UInt64, order: Order, nid: NodeID, zone: ZoneType?, fallback: Bool)
    /// Linux: the cpu slab was deactivated onto the node lists (or freed when empty).
    case deactivated(cache: CacheID, slab: UInt64, to: SlabPlace, discarded: Bool)
    /// Linux: FREE_FASTPATH — back on this CPU's freelist.
    case freeFast(cache: CacheID, object: UInt64)
    /// Linux: FREE_SLOWPATH — onto the slab's own freelist; `to` is where the slab went.
    case freeSlow(cache: CacheID, object: UInt64, slab: UInt64, to: SlabPlace)
    /// Linux: a slab went back to the page allocator (discard_slab).
    case slabFreed(cache: CacheID, slab: UInt64, order: Order)
    /// Linux: the cpu partial list was full and was unfrozen onto the node lists.
    case cpuPartialDrained(cache: CacheID, slabs: Int)
    /// kmalloc above KMALLOC_MAX_CACHE_SIZE: straight from the page allocator.
    case largeKmalloc(pfn: Pfn, order: Order)
    /// Misuse caught; the report is in the kernel log.
    case misuse(cache: CacheID, object: UInt64, what: SlabMisuse)
    /// Allocation failed (slab_out_of_memory).
    case outOfMemory(cache: CacheID)
}

/// Linux: GFP_RECLAIM_MASK and GFP_CONSTRAINT_MASK, what new_slab() keeps of the caller's gfp.
let gfpSlabKeep: GFPFlags = [.directReclaim, .kswapdReclaim, .io, .fs, .nowarn, .retryMayfail, .nofail,
                              .noretry, .memalloc, .nomemalloc, .hardwall, .thisnode]

public enum SlabFreeOutcome: Sendable, Equatable {
    case freed
    /// Refused: the object was not freeable; the report is in the kernel log.
    case refused(SlabMisuse)
}

/// Why kmem_cache_free() or kfree() refused an object. Linux would corrupt its state (or oops)
/// on most of these; the model refuses them and keeps its state sound. The kernel log holds the
/// report Linux (or, where Linux does not look, the model) prints; MMText names the reason.
public enum SlabMisuse: Sendable, Equatable {
    /// The cache id or CPU does not exist.
    case noSuchCacheOrCPU
    /// virt_to_cache(): the address is not in a slab page.
    case notSlabPage
    /// The address is inside a slab but not at an object's start.
    case notObjectStart
    /// The object is already free.
    case doubleFree
    /// slub_debug's check_slab() failed.
    case slabCheckFailed
    /// free_debug_processing(): the slab has no allocated object to free.
    case noAllocatedObjects
    /// slub_debug's free_consistency_checks() failed.
    case consistencyCheckFailed
    /// kfree(): not a direct-map address.
    case notDirectMapAddress
    /// kfree(): inside a large kmalloc's pages, not at their start.
    case notAllocationStart
    /// kfree() of a large kmalloc: __free_pages() refused the page.
    case badPage(BadPageReason)
    /// kfree() of a large kmalloc: the page has no struct page.
    case invalidPfn
}

extension Kernel {
    /// The direct-map address of a physical address (Linux: __va()).
    @inline(__always)
    public func directMapVirt(_ phys: PhysAddr) -> UInt64 { phys &+ pageOffset }
    /// The physical address of a direct-map address (Linux: __pa()); nil outside the map.
    @inline(__always)
    public func directMapPhys(_ virt: UInt64) -> PhysAddr? {
        guard virt >= pageOffset, virt - pageOffset < maxPfn.raw << pageShift else { return nil }
        return virt - pageOffset
    }
}

extension PageAllocListener {
    /// Slab events are optional for a listener.
    public mutating func slab(_ event: SlabEvent) {}
}

extension SlubState {
    // MARK: addresses and free pointers

    /// The direct-map address of a physical address (Linux: __va()).
    @inline(__always)
    func directMapVirt(_ phys: PhysAddr) -> UInt64 { phys &+ directMapBase }
    /// The physical address of a direct-map address (Linux: __pa()); nil outside the map.
    @inline(__always)
    func directMapPhys(_ virt: UInt64) -> PhysAddr? {
        guard virt >= directMapBase, virt - directMapBase < maxPfn.physAddr else { return nil }
        return virt - directMapBase
    }

    /// Linux: slab_address().
    @inline(__always)
    func slabAddress(_ sid: SlabID) -> UInt64 { directMapVirt(slabs[sid].pfn.physAddr) }

    /// Linux: get_freepointer(): the word at object + offset, decoded.
    @inline(__always)
    func getFreepointer(_ id: CacheID, _ object: UInt64, _ mem: PhysMemory) -> UInt64 {
        let slot = object &+ UInt64(caches[id].offset)
        return mem.readWord(slot &- directMapBase) ^ caches[id].random ^ slot.byteSwapped
    }

    /// Linux: set_freepointer() (the BUG_ON for an object freed onto itself is the caller's).
    @inline(__always)
    mutating func setFreepointer(_ id: CacheID, _ object: UInt64, _ fp: UInt64, _ mem: inout PhysMemory) {
        let slot = object &+ UInt64(caches[id].offset)
        mem.writeWord(slot &- directMapBase, fp ^ caches[id].random ^ slot.byteSwapped)
    }

    /// Which object of its slab an address is (nil if not an object's start).
    @inline(__always)
    func objectIndex(_ id: CacheID, _ sid: SlabID, _ object: UInt64) -> Int? {
        let size = caches[id].size
        let base = slabAddress(sid) &+ UInt64(caches[id].redLeftPad)
        guard object >= base else { return nil }
        let off = object - base
        guard off < UInt64(1) << 22 else { return nil }
        // Linux: obj_to_index() divides with a reciprocal too. ceil(2^44 / size) is exact
        // for every offset inside a slab (< 4 MiB) and every object size (≤ 4 MiB).
        let q = Int((off &* caches[id].reciprocal) >> 44)
        guard off == UInt64(q * size), q < Int(slabs[sid].objects) else { return nil }
        return q
    }

    /// Linux: check_valid_pointer().
    func checkValidPointer(_ id: CacheID, _ sid: SlabID, _ object: UInt64) -> Bool {
        object == 0 || objectIndex(id, sid, object) != nil
    }

    @inline(__always)
    func isAllocatedObject(_ sid: SlabID, _ index: Int) -> Bool {
        hot.test(slabs[sid].bitsOffset, index)
    }

    @inline(__always)
    mutating func setAllocatedObject(_ sid: SlabID, _ index: Int, _ on: Bool) {
        hot.set(slabs[sid].bitsOffset, index, on)
    }

    mutating func markAllocated(_ id: CacheID, _ object: UInt64, _ on: Bool, _ pages: inout PageAllocator) {
        guard let pfn = directMapPhys(object).map(Pfn.down), let sid = slabID(ofPfn: pfn, pages),
              let i = objectIndex(id, sid, object) else { return }
        setAllocatedObject(sid, i, on)
    }

    /// Linux: virt_to_slab(): the slab a page belongs to (nil for a page that is not a slab's).
    @inline(__always)
    public func slabID(ofPfn pfn: Pfn, _ pages: PageAllocator) -> SlabID? {
        guard pfn < maxPfn, pages.memmap.isMaterialised(pfn) else { return nil }
        var d = pages.memmap.page(pfn)
        var head = pfn
        if d.flags.contains(.tail) {
            head = pfn.alignedDown(Order(Int(d.order)))
            d = pages.memmap.page(head)
        }
        guard d.flags.contains(.slab) else { return nil }
        let sid = SlabID(d.slabIndex)
        guard slabs.holds(sid), slabs[sid].pfn == head else { return nil }
        return sid
    }

    mutating func addPartial(_ id: CacheID, _ sid: SlabID, toTail: Bool) {
        mmAssert(slabs[sid].where_ != .nodePartial && slabs[sid].where_ != .nodeFull, "a slab added to two lists")
        mmAssert(slabs[sid].inuse < slabs[sid].objects || !slabs[sid].frozen, "a frozen full slab on the partial list")
        let nid = slabs[sid].nid.number
        caches[id].node[nid].nrPartial += 1
        slabs[sid].where_ = .nodePartial
        var n = caches[id].node[nid]
        if n.partialHead.isNone {
            n.partialHead = sid; n.partialTail = sid
            slabs[sid].next = .none; slabs[sid].prev = .none
        } else if toTail {
            slabs[n.partialTail].next = sid
            slabs[sid].prev = n.partialTail; slabs[sid].next = .none
            n.partialTail = sid
        } else {
            slabs[n.partialHead].prev = sid
            slabs[sid].next = n.partialHead; slabs[sid].prev = .none
            n.partialHead = sid
        }
        caches[id].node[nid].partialHead = n.partialHead
        caches[id].node[nid].partialTail = n.partialTail
    }

    mutating func removePartial(_ id: CacheID, _ sid: SlabID) {
        mmAssert(slabs[sid].where_ == .nodePartial, "remove_partial() of a slab not on the partial list")
        let nid = slabs[sid].nid.number
        let (p, q) = (slabs[sid].prev, slabs[sid].next)
        mmAssert(p.isNone ? caches[id].node[nid].partialHead == sid : slabs[p].next == sid,
                 "partial list corruption: prev->next should be the slab")
        mmAssert(q.isNone ? caches[id].node[nid].partialTail == sid : slabs[q].prev == sid,
                 "partial list corruption: next->prev should be the slab")
        if !p.isNone { slabs[p].next = q } else { caches[id].node[nid].partialHead = q }
        if !q.isNone { slabs[q].prev = p } else { caches[id].node[nid].partialTail = p }
        slabs[sid].next = .none; slabs[sid].prev = .none
        slabs[sid].where_ = .none
        caches[id].node[nid].nrPartial -= 1
    }

    /// Linux: add_full() — only SLAB_STORE_USER caches keep a full list.
    mutating func addFull(_ id: CacheID, _ sid: SlabID) {
        guard caches[id].flags.contains(.storeUser) else { return }
        let nid = slabs[sid].nid.number
        let h = caches[id].node[nid].fullHead
        slabs[sid].next = h; slabs[sid].prev = .none
        if !h.isNone { slabs[h].prev = sid } else { caches[id].node[nid].fullTail = sid }
        caches[id].node[nid].fullHead = sid
        slabs[sid].where_ = .nodeFull
    }

    mutating func removeFull(_ id: CacheID, _ sid: SlabID) {
        guard caches[id].flags.contains(.storeUser), slabs[sid].where_ == .nodeFull else { return }
        let nid = slabs[sid].nid.number
        let (p, q) = (slabs[sid].prev, slabs[sid].next)
        if !p.isNone { slabs[p].next = q } else { caches[id].node[nid].fullHead = q }
        if !q.isNone { slabs[q].prev = p } else { caches[id].node[nid].fullTail = p }
        slabs[sid].next = .none; slabs[sid].prev = .none
        slabs[sid].where_ = .none
    }

    mutating func incSlabsNode(_ id: CacheID, _ nid: NodeID, objects: Int) {
        caches[id].node[nid.number].nrSlabs += 1
        caches[id].node[nid.number].totalObjects += objects
    }

    mutating func decSlabsNode(_ id: CacheID, _ nid: NodeID, objects: Int) {
        caches[id].node[nid.number].nrSlabs -= 1
        caches[id].node[nid.number].totalObjects -= objects
    }

    /// Linux: new_slab() → allocate_slab(): pages, then the initial freelist (shuffled when the
    /// cache has a random sequence). Returns the slab's id.
    mutating func newSlab<L: PageAllocListener>(_ id: CacheID, gfp: GFPFlags, nid: NodeID, cpu: Int,
                                                _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                _ l: inout L) -> SlabID? {
        let s = caches[id]
        let flags = gfp.intersection(gfpSlabKeep).union(s.allocflags)
        var allocGFP = flags.union([.nowarn, .noretry]).subtracting(.nofail)
        if allocGFP.contains(.directReclaim) && s.order > s.minOrder {
            allocGFP = allocGFP.union(.nomemalloc).subtracting(.reclaim)
        }
        var order = s.order, objects = s.objects, fallback = false
        var pfn = pages.allocPages(allocGFP, order: Order(order), cpu: cpu, nid: nid == NodeID.none ? nil : nid,
                                   &mem, listener: &l)
        if pfn == nil {
            order = s.minOrder; objects = s.minObjects; fallback = true
            var g = flags
            if order > 0 { g.insert(.comp) } else { g.remove(.comp) }
            pfn = pages.allocPages(g, order: Order(order), cpu: cpu, nid: nid == NodeID.none ? nil : nid, &mem, listener: &l)
        }
        guard let pfn else { return nil }
        let zone = pages.zoneIndex(ofPfn: pfn)
        let slabNid = zone.map { pages.nodes[$0.0].nodeId } ?? 0
        let sid: SlabID
        if let reuse = freeSlabIDs.popLast() { sid = reuse } else {
            sid = SlabID(index: slabs.count)
            slabs.append(Slab(cache: id, pfn: Pfn(0), order: 0, nid: 0, objects: 0, inuse: 0, frozen: false, freelist: 0))
        }
        let bits = allocationBits(sid, objects: objects)
        slabs[sid] = Slab(cache: id, pfn: pfn, order: UInt8(order), nid: slabNid, objects: Int32(objects),
                          inuse: 0, frozen: false, freelist: 0)
        (slabs[sid].bitsOffset, slabs[sid].bitsWords) = bits
        pages.memmap.withPage(pfn) { d in d.flags.insert(.slab); d.slabIndex = sid.raw }
        caches[id].pages += 1 << order
        let start = directMapVirt(pfn.physAddr)
        setupSlabDebug(id, sid, &mem)
        // shuffle_freelist() or the linear list.
        let first = start &+ UInt64(s.redLeftPad)
        if objects >= 2 && !s.randomSeq.isEmpty {
            let count = s.randomSeq.count
            var pos = Int(UInt32(truncatingIfNeeded: rng.next()) % UInt32(count))
            let limit = UInt32(objects * s.size)
            func nextEntry() -> UInt64 {
                while true {
                    let idx = s.randomSeq[pos]
                    pos += 1
                    if pos >= count { pos = 0 }
                    if idx < limit { return first &+ UInt64(idx) }
                }
            }
            var cur = nextEntry()
            setupObject(id, cur, &mem)
            slabs[sid].freelist = cur
            for _ in 1..<objects {
                let next = nextEntry()
                setupObject(id, next, &mem)
                setFreepointer(id, cur, next, &mem)
                cur = next
            }
            setFreepointer(id, cur, 0, &mem)
        } else {
            var p = first
            setupObject(id, p, &mem)
            slabs[sid].freelist = p
            for _ in 0..<(objects - 1) {
                let next = p &+ UInt64(s.size)
                setupObject(id, next, &mem)
                setFreepointer(id, p, next, &mem)
                p = next
            }
            setFreepointer(id, p, 0, &mem)
        }
        l.slab(.newSlab(cache: id, slab: start, order: Order(order), nid: slabNid,
                        zone: zone.map { ZoneType(rawValue: $0.1) ?? .normal }, fallback: fallback))
        return sid
    }

    /// The cleared allocation bits for slab id `sid` holding `objects` objects: the id's old
    /// run when its length fits, else a new one (the old one is given back).
    mutating func allocationBits(_ sid: SlabID, objects: Int) -> (offset: Int32, words: Int32) {
        let words = (objects + 63) / 64
        let old = (offset: slabs[sid].bitsOffset, words: Int(slabs[sid].bitsWords))
        if old.words == words {
            hot.clear(old.offset, words: words)
            return (old.offset, Int32(words))
        }
        if old.words > 0 { hot.release(old.offset, words: old.words) }
        return (hot.reserve(words: words), Int32(words))
    }

    mutating func newSlab(_ id: CacheID, gfp: GFPFlags, nid: NodeID, cpu: Int,
                          _ pages: inout PageAllocator, _ mem: inout PhysMemory) -> SlabID? {
        var l = NoListener()
        return newSlab(id, gfp: gfp, nid: nid, cpu: cpu, &pages, &mem, &l)
    }

    /// Linux: discard_slab() → dec_slabs_node() and __free_slab().
    mutating func discardSlab<L: PageAllocListener>(_ id: CacheID, _ sid: SlabID, cpu: Int,
                                                    _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                    _ log: inout KernelLog, _ l: inout L) {
        let slab = slabs[sid]
        decSlabsNode(id, slab.nid, objects: Int(slab.objects))
        if caches[id].isDebug { slabPadCheck(id, sid, &pages, &mem, &log) }
        pages.memmap.withPage(slab.pfn) { d in d.flags.remove(.slab); d.next = PageDescriptor.nilLink }
        caches[id].pages -= 1 << Int(slab.order)
        slabs[sid].where_ = .none
        slabs[sid].pfn = .max
        freeSlabIDs.append(sid)
        l.slab(.slabFreed(cache: id, slab: directMapVirt(slab.pfn.physAddr), order: Order(Int(slab.order))))
        _ = pages.freePages(slab.pfn, order: Order(Int(slab.order)), cpu: cpu, &log, listener: &l)
    }

    /// Linux: kmem_cache_alloc() / kmem_cache_alloc_node(): an object's address, or nil.
    public mutating func slabAllocNode(_ id: CacheID, _ gfp: GFPFlags, nid: NodeID = NodeID.none, cpu: Int = 0,
                                       _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                       _ log: inout KernelLog) -> UInt64? {
        var l = NoListener()
        return slabAllocNode(id, gfp, nid: nid, cpu: cpu, origSize: -1, &pages, &mem, &log, &l)
    }

    /// The fast path, inlined into its callers: the cpu slab's freelist has an object that lies
    /// where the cpu slab's objects lie. It reads the CPU's kmem_cache_cpu record (which
    /// carries the cpu slab's facts), the free pointer word, and the object's allocation bit;
    /// everything else — and any doubt — goes to `slabAllocNodeChecked`.
    @inline(__always)
    public mutating func slabAllocNode<L: PageAllocListener>(_ id: CacheID, _ gfp: GFPFlags, nid: NodeID = NodeID.none,
                                                           cpu: Int = 0, origSize: Int = -1,
                                                           _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                           _ log: inout KernelLog, _ l: inout L) -> UInt64? {
        let ci = id.index &* possibleCPUs &+ cpu
        if UInt(bitPattern: cpu) < UInt(bitPattern: possibleCPUs), UInt(bitPattern: ci) < UInt(bitPattern: hot.recordCount) {
            let c = hot.record(unchecked: ci)
            let object = c.freelist
            let off = object &- c.objBase
            let q = (off &* c.reciprocal) >> 44
            if off < c.span && q &* c.size == off && (nid == NodeID.none || c.nid == nid) {
                let slot = object &+ c.offset
                let next = mem.readWord(slot &- directMapBase) ^ c.random ^ slot.byteSwapped
                hot.update(unchecked: ci, bitRun: c.bitsOffset, Int(truncatingIfNeeded: q), true) { $0.advance(to: next) }
                if c.fast.contains(.wipeFreeptr) { mem.writeWord(slot &- directMapBase, 0) }
                if c.fast.contains(.zeroAlways) || gfp.contains(.zero) && c.fast.contains(.zeroOnGFP) {
                    mem.fill(object &- directMapBase, c.objectSize, 0)
                }
                l.slab(.cpuFreelist(cache: id, object: object))
                return object
            }
        }
        return slabAllocNodeChecked(id, gfp, nid: nid, cpu: cpu, origSize: origSize, &pages, &mem, &log, &l)
    }

    /// slab_alloc_node() with every check: the fast path's doubts, and the slow path.
    @inline(never)
    mutating func slabAllocNodeChecked<L: PageAllocListener>(_ id: CacheID, _ gfp: GFPFlags, nid: NodeID, cpu: Int,
                                                             origSize: Int,
                                                             _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                             _ log: inout KernelLog, _ l: inout L) -> UInt64? {
        guard caches.holds(id), !caches[id].destroyed,
              cpu >= 0, cpu < possibleCPUs else { return nil }
        var object: UInt64 = 0
        var sid = SlabID.none
        let ci = cpuIndex(id, cpu)
        var c = hot[ci]
        if c.freelist != 0, !c.slab.isNone, nid == NodeID.none || slabs[c.slab].nid == nid {
            // The lockless fast path: the slot is read once and written back once.
            object = c.freelist
            sid = c.slab
            c.freelist = getFreepointer(id, object, mem)
            c.tid &+= SlubState.tidStep
            hot[ci] = c
            l.slab(.cpuFreelist(cache: id, object: object))
        } else {
            let orig = origSize < 0 ? caches[id].objectSize : origSize
            guard let o = slabAllocSlow(id, gfp, nid: nid, cpu: cpu, origSize: orig, &pages, &mem, &log, &l) else {
                l.slab(.outOfMemory(cache: id))
                return nil
            }
            object = o
        }
        let plain = caches[id].plainInit
        if initOnFree && plain && !caches[id].freeptrOutsideObject {
            // maybe_wipe_obj_freeptr()
            mem.writeWord(object &+ UInt64(caches[id].offset) &- directMapBase, 0)
        }
        if !sid.isNone, let i = objectIndex(id, sid, object) { setAllocatedObject(sid, i, true) }
        else { markAllocated(id, object, true, &pages) }
        // slab_want_init_on_alloc()
        if initOnAlloc ? (plain || gfp.contains(.zero) && !caches[id].hasCtor) : gfp.contains(.zero) {
            mem.fill(object &- directMapBase, UInt64(caches[id].objectSize), 0)
        }
        return object
    }

    /// Linux: ___slab_alloc().
    mutating func slabAllocSlow<L: PageAllocListener>(_ id: CacheID, _ gfp: GFPFlags, nid nodeIn: NodeID, cpu: Int,
                                                    origSize: Int,
                                                    _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                    _ log: inout KernelLog, _ l: inout L) -> UInt64? {
        var node = nodeIn
        if node != NodeID.none && (node.number >= slabNodes.count || !slabNodes[node.number]) { node = NodeID.none }
        var sid = hot[cpuIndex(id, cpu)].slab
        while true {
            if !sid.isNone {
                // redo:
                if node != NodeID.none && slabs[sid].nid != node {
                    deactivateCPUSlab(id, cpu: cpu, &pages, &mem, &log, &l)
                } else {
                    if hot[cpuIndex(id, cpu)].freelist == 0 {
                        // get_freelist(): the objects freed to the frozen slab meanwhile.
                        let fl = slabs[sid].freelist
                        slabs[sid].freelist = 0
                        slabs[sid].inuse = slabs[sid].objects
                        slabs[sid].frozen = fl != 0
                        if fl == 0 {
                            slabs[sid].where_ = .none
                            setCPUSlab(id, cpu: cpu, .none)
                            hot[cpuIndex(id, cpu)].tid &+= SlubState.tidStep
                            sid = .none
                            continue
                        }
                        l.slab(.cpuSlabRefill(cache: id, slab: slabAddress(sid)))
                        hot[cpuIndex(id, cpu)].freelist = fl
                    }
                    // load_freelist:
                    let object = hot[cpuIndex(id, cpu)].freelist
                    hot[cpuIndex(id, cpu)].freelist = getFreepointer(id, object, mem)
                    hot[cpuIndex(id, cpu)].tid &+= SlubState.tidStep
                    return object
                }
            }
            // new_slab:
            let p = hot[cpuIndex(id, cpu)].partial
            if !p.isNone {
                hot[cpuIndex(id, cpu)].partial = slabs[p].next
                if !slabs[p].next.isNone {
                    slabs[slabs[p].next].slabs = slabs[p].slabs - 1
                }
                slabs[p].next = .none
                slabs[p].where_ = .cpuSlab
                setCPUSlab(id, cpu: cpu, p)
                sid = p
                l.slab(.cpuPartial(cache: id, slab: slabAddress(p)))
                continue
            }
            // new_objects:
            if let (object, from) = getPartial(id, gfp, node: node, cpu: cpu, origSize: origSize,
                                               &pages, &mem, &log, &l) {
                if caches[id].isDebug { return object }
                if let from { return loadNewCPUSlab(id, from, freelist: object, cpu: cpu, &pages, &mem, &log, &l) }
            }
            guard let fresh = newSlab(id, gfp: gfp, nid: node, cpu: cpu, &pages, &mem, &l) else { return nil }
            if caches[id].isDebug {
                guard let object = allocSingleFromNewSlab(id, fresh, origSize: origSize,
                                                          &pages, &mem, &log) else { continue }
                return object
            }
            let freelist = slabs[fresh].freelist
            slabs[fresh].freelist = 0
            slabs[fresh].inuse = slabs[fresh].objects
            slabs[fresh].frozen = true
            incSlabsNode(id, slabs[fresh].nid, objects: Int(slabs[fresh].objects))
            return loadNewCPUSlab(id, fresh, freelist: freelist, cpu: cpu, &pages, &mem, &log, &l)
        }
    }

    /// Linux: retry_load_slab: flush whatever cpu slab appeared, install the new one, then
    /// load_freelist.
    mutating func loadNewCPUSlab<L: PageAllocListener>(_ id: CacheID, _ sid: SlabID, freelist: UInt64, cpu: Int,
                                                       _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                       _ log: inout KernelLog, _ l: inout L) -> UInt64 {
        if !hot[cpuIndex(id, cpu)].slab.isNone { deactivateCPUSlab(id, cpu: cpu, &pages, &mem, &log, &l) }
        setCPUSlab(id, cpu: cpu, sid)
        slabs[sid].where_ = .cpuSlab
        hot[cpuIndex(id, cpu)].freelist = getFreepointer(id, freelist, mem)
        hot[cpuIndex(id, cpu)].tid &+= SlubState.tidStep
        return freelist
    }

    /// Linux: get_partial(): this node's partial list, then (for any-node requests) the other
    /// nodes in zonelist order. Returns the object and, without debugging, the slab that
    /// becomes the cpu slab.
    mutating func getPartial<L: PageAllocListener>(_ id: CacheID, _ gfp: GFPFlags, node: NodeID, cpu: Int, origSize: Int,
                                                   _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                   _ log: inout KernelLog,
                                                 _ l: inout L) -> (UInt64, SlabID?)? {
        let search = node == NodeID.none ? pages.preferredNode(pages.cpuNode(cpu)) : node
        if let r = getPartialNode(id, search, origSize: origSize, cpu: cpu, &pages, &mem, &log, &l) { return r }
        if node != NodeID.none { return nil }
        // get_any_partial(): remote_node_defrag_ratio 1000 of 1024.
        if rng.next() % 1024 > 1000 { return nil }
        guard let highest = gfp.zone, search.number < pages.zonelists.fallback.count else { return nil }
        for r in pages.zonelists.fallback[search.number] where r.zone <= highest {
            let n = r.nid.number
            guard n < caches[id].node.count, caches[id].node[n].present,
                  caches[id].node[n].nrPartial > caches[id].minPartial else { continue }
            if let r = getPartialNode(id, r.nid, origSize: origSize, cpu: cpu, &pages, &mem, &log, &l) { return r }
        }
        return nil
    }

    /// Linux: get_partial_node().
    mutating func getPartialNode<L: PageAllocListener>(_ id: CacheID, _ nid: NodeID, origSize: Int, cpu: Int,
                                                       _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                       _ log: inout KernelLog,
                                                     _ l: inout L) -> (UInt64, SlabID?)? {
        guard nid.number < caches[id].node.count, caches[id].node[nid.number].nrPartial > 0 else { return nil }
        var sid = caches[id].node[nid.number].partialHead
        var object: UInt64 = 0
        var taken = SlabID.none
        var extra = 0
        while !sid.isNone {
            let next = slabs[sid].next
            if caches[id].isDebug {
                if let o = allocSingleFromPartial(id, sid, origSize: origSize, &pages, &mem, &log) {
                    l.slab(.nodePartial(cache: id, slab: slabAddress(sid), nid: nid, extra: 0))
                    return (o, nil)
                }
                sid = next
                continue
            }
            // acquire_slab(): the first slab gives its whole freelist; the rest stay frozen
            // with theirs, on the cpu partial list.
            let fl = slabs[sid].freelist
            removePartial(id, sid)
            slabs[sid].frozen = true
            if object == 0 {
                slabs[sid].inuse = slabs[sid].objects
                slabs[sid].freelist = 0
                object = fl
                taken = sid
            } else {
                putCPUPartial(id, sid, drain: false, cpu: cpu, &pages, &mem, &log, &l)
                extra += 1
            }
            if !caches[id].hasCPUPartial || extra > caches[id].cpuPartialSlabs / 2 { break }
            sid = next
        }
        guard object != 0 else { return nil }
        l.slab(.nodePartial(cache: id, slab: slabAddress(taken), nid: nid, extra: extra))
        return (object, taken)
    }

    /// Linux: put_cpu_partial(): push a frozen slab onto this CPU's partial list; with `drain`,
    /// a list already holding cpu_partial_slabs slabs is unfrozen onto the node lists first.
    mutating func putCPUPartial<L: PageAllocListener>(_ id: CacheID, _ sid: SlabID, drain: Bool, cpu: Int,
                                                      _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                      _ log: inout KernelLog, _ l: inout L) {
        var old = hot[cpuIndex(id, cpu)].partial
        var count: Int32 = 0
        var toUnfreeze = SlabID.none
        if !old.isNone {
            if drain && Int(slabs[old].slabs) >= caches[id].cpuPartialSlabs {
                toUnfreeze = old
                old = .none
            } else {
                count = slabs[old].slabs
            }
        }
        slabs[sid].slabs = count + 1
        slabs[sid].next = old
        slabs[sid].where_ = .cpuPartial
        hot[cpuIndex(id, cpu)].partial = sid
        if !toUnfreeze.isNone { unfreezePartials(id, toUnfreeze, cpu: cpu, &pages, &mem, &log, &l) }
    }

    /// Linux: __unfreeze_partials().
    mutating func unfreezePartials<L: PageAllocListener>(_ id: CacheID, _ first: SlabID, cpu: Int,
                                                         _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                         _ log: inout KernelLog, _ l: inout L) {
        var sid = first
        var discard: [SlabID] = []
        var count = 0
        while !sid.isNone {
            let next = slabs[sid].next
            slabs[sid].frozen = false
            slabs[sid].next = .none
            let nid = slabs[sid].nid.number
            if slabs[sid].inuse == 0 && caches[id].node[nid].nrPartial >= caches[id].minPartial {
                discard.append(sid)
            } else {
                addPartial(id, sid, toTail: true)
            }
            count += 1
            sid = next
        }
        l.slab(.cpuPartialDrained(cache: id, slabs: count))
        for d in discard { discardSlab(id, d, cpu: cpu, &pages, &mem, &log, &l) }
    }

    /// Linux: the deactivate_slab: label — take the cpu slab away and deactivate it.
    mutating func deactivateCPUSlab<L: PageAllocListener>(_ id: CacheID, cpu: Int,
                                                          _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                          _ log: inout KernelLog, _ l: inout L) {
        let sid = hot[cpuIndex(id, cpu)].slab
        guard !sid.isNone else { return }
        let freelist = hot[cpuIndex(id, cpu)].freelist
        setCPUSlab(id, cpu: cpu, .none)
        hot[cpuIndex(id, cpu)].freelist = 0
        hot[cpuIndex(id, cpu)].tid &+= SlubState.tidStep
        deactivateSlab(id, sid, freelist: freelist, cpu: cpu, &pages, &mem, &log, &l)
    }

    /// Linux: deactivate_slab(): give the CPU's objects back to the slab, unfreeze it and put it
    /// where it belongs.
    mutating func deactivateSlab<L: PageAllocListener>(_ id: CacheID, _ sid: SlabID, freelist: UInt64, cpu: Int,
                                                       _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                       _ log: inout KernelLog, _ l: inout L) {
        let nid = slabs[sid].nid.number
        let toTail = slabs[sid].freelist != 0
        var delta: Int32 = 0
        var tail: UInt64 = 0
        var it = freelist
        while it != 0 {
            let next = getFreepointer(id, it, mem)
            if caches[id].flags.contains(.consistencyChecks) && !checkValidPointer(id, sid, next) {
                objectErr(id, sid, it, "Freechain corrupt", &pages, &mem, &log)
                slabFix(id, "Isolate corrupted freechain", &log)
                break
            }
            tail = it
            delta += 1
            it = next
        }
        var newFreelist = slabs[sid].freelist
        if tail != 0 {
            slabs[sid].inuse -= delta
            setFreepointer(id, tail, newFreelist, &mem)
            newFreelist = freelist
        }
        slabs[sid].freelist = newFreelist
        slabs[sid].frozen = false
        slabs[sid].where_ = .none
        let addr = slabAddress(sid)
        if slabs[sid].inuse == 0 && caches[id].node[nid].nrPartial >= caches[id].minPartial {
            l.slab(.deactivated(cache: id, slab: addr, to: .none, discarded: true))
            discardSlab(id, sid, cpu: cpu, &pages, &mem, &log, &l)
        } else if newFreelist != 0 {
            addPartial(id, sid, toTail: toTail)
            l.slab(.deactivated(cache: id, slab: addr, to: .nodePartial, discarded: false))
        } else {
            addFull(id, sid)
            l.slab(.deactivated(cache: id, slab: addr, to: slabs[sid].where_, discarded: false))
        }
    }

    /// Linux: __flush_cpu_slab(): the cpu slab and the cpu partial list go to the node lists.
    public mutating func flushCPUSlab(_ id: CacheID, cpu: Int,
                                      _ pages: inout PageAllocator, _ mem: inout PhysMemory, _ log: inout KernelLog) {
        var l = NoListener()
        flushCPUSlab(id, cpu: cpu, &pages, &mem, &log, &l)
    }

    mutating func flushCPUSlab<L: PageAllocListener>(_ id: CacheID, cpu: Int,
                                                     _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                     _ log: inout KernelLog, _ l: inout L) {
        deactivateCPUSlab(id, cpu: cpu, &pages, &mem, &log, &l)
        let p = hot[cpuIndex(id, cpu)].partial
        hot[cpuIndex(id, cpu)].partial = .none
        if !p.isNone { unfreezePartials(id, p, cpu: cpu, &pages, &mem, &log, &l) }
    }

    /// Linux: kmem_cache_free(): the object goes back to its slab. Misuse (a pointer that is no
    /// object of this cache, a double free) is reported and refused.
    public mutating func slabFree(_ id: CacheID, _ object: UInt64, cpu: Int = 0,
                                  _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                  _ log: inout KernelLog) -> SlabFreeOutcome {
        var l = NoListener()
        return slabFree(id, object, cpu: cpu, &pages, &mem, &log, &l)
    }

    /// The fast path, inlined into its callers: the object is an allocated object of this
    /// CPU's cpu slab of this cache, and the cache needs no debugging or init_on_free work. It
    /// reads the kmem_cache_cpu record and the object's bit and writes the free pointer word;
    /// everything else goes to `slabFreeChecked`.
    @inline(__always)
    public mutating func slabFree<L: PageAllocListener>(_ idIn: CacheID, _ object: UInt64, cpu: Int = 0,
                                                        _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                        _ log: inout KernelLog, _ l: inout L) -> SlabFreeOutcome {
        let ci = idIn.index &* possibleCPUs &+ cpu
        if UInt(bitPattern: cpu) < UInt(bitPattern: possibleCPUs), UInt(bitPattern: ci) < UInt(bitPattern: hot.recordCount) {
            let c = hot.record(unchecked: ci)
            let off = object &- c.objBase
            let q = (off &* c.reciprocal) >> 44
            if off < c.span && q &* c.size == off && c.fast.contains(.freeFast)
                && hot.test(unchecked: c.bitsOffset, Int(truncatingIfNeeded: q)) {
                let slot = object &+ c.offset
                mem.writeWord(slot &- directMapBase, c.freelist ^ c.random ^ slot.byteSwapped)
                hot.update(unchecked: ci, bitRun: c.bitsOffset, Int(truncatingIfNeeded: q), false) { $0.advance(to: object) }
                l.slab(.freeFast(cache: idIn, object: object))
                return .freed
            }
        }
        return slabFreeChecked(idIn, object, cpu: cpu, &pages, &mem, &log, &l)
    }

    /// kmem_cache_free() with every check: misuse, debugging, init_on_free, and __slab_free().
    @inline(never)
    mutating func slabFreeChecked<L: PageAllocListener>(_ idIn: CacheID, _ object: UInt64, cpu: Int,
                                                        _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                        _ log: inout KernelLog, _ l: inout L) -> SlabFreeOutcome {
        guard caches.holds(idIn), cpu >= 0, cpu < possibleCPUs else {
            return .refused(.noSuchCacheOrCPU)
        }
        // cache_from_obj(): with SLAB_FREELIST_HARDENED the object's own cache is used. An object
        // of this CPU's cpu slab is found without a page lookup.
        let cs = hot[cpuIndex(idIn, cpu)].slab
        var known: SlabID? = nil
        if !cs.isNone {
            let base = slabAddress(cs)
            if object >= base && object - base < pageSize << UInt64(slabs[cs].order) { known = cs }
        }
        guard let phys = directMapPhys(object), let sid = known ?? slabID(ofPfn: Pfn.down(phys), pages) else {
            log.warn(file: "mm/slab.h", line: 630, function: "kmem_cache_free", cpu: cpu, pid: 1,
                     message: "virt_to_cache: Object is not a Slab page!")
            l.slab(.misuse(cache: idIn, object: object, what: .notSlabPage))
            return .refused(.notSlabPage)
        }
        var id = idIn
        let owner = slabs[sid].cache
        if owner != idIn {
            log.warn(file: "mm/slab.h", line: 665, function: "kmem_cache_free", cpu: cpu, pid: 1,
                     message: "kmem_cache_free: Wrong slab cache. \(caches[idIn].name) but object is from \(caches[owner].name)")
            id = owner
        }
        if caches[id].isDebug {
            return freeToPartialList(id, sid, object, cpu: cpu, &pages, &mem, &log, &l)
        }
        guard let index = objectIndex(id, sid, object) else {
            modelReport(id, object, "free of a pointer that is not an object's start", &log)
            l.slab(.misuse(cache: id, object: object, what: .notObjectStart))
            return .refused(.notObjectStart)
        }
        guard isAllocatedObject(sid, index) else {
            let c = hot[cpuIndex(id, cpu)]
            let head = c.slab == sid ? c.freelist : slabs[sid].freelist
            if head == object {
                // set_freepointer()'s naive double-free check.
                log.info("kernel BUG at mm/slub.c:419!")
                let oops = log.nextOops()
                log.info("invalid opcode: 0000 [#\(oops)] PREEMPT SMP NOPTI")
                log.taint |= KernelLog.taintDie
            } else {
                modelReport(id, object, "double free", &log)
            }
            l.slab(.misuse(cache: id, object: object, what: .doubleFree))
            return .refused(.doubleFree)
        }
        setAllocatedObject(sid, index, false)
        if initOnFree && caches[id].plainInit {
            // slab_free_hook(): init_on_free clears the object (and the metadata after it).
            let s = caches[id]
            mem.fill(phys, UInt64(s.objectSize), 0)
            let rsize = s.flags.contains(.redZone) ? s.redLeftPad : 0
            mem.fill(phys &+ UInt64(s.inuse), UInt64(s.size - s.inuse - rsize), 0)
        }
        doSlabFree(id, sid, object, cpu: cpu, &pages, &mem, &log, &l)
        return .freed
    }

    /// Linux: do_slab_free(): onto the CPU's freelist if the object's slab is the cpu slab.
    @inline(__always)
    mutating func doSlabFree<L: PageAllocListener>(_ id: CacheID, _ sid: SlabID, _ object: UInt64, cpu: Int,
                                                   _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                   _ log: inout KernelLog, _ l: inout L) {
        let ci = cpuIndex(id, cpu)
        var c = hot[ci]
        if c.slab == sid {
            setFreepointer(id, object, c.freelist, &mem)
            c.freelist = object
            c.tid &+= SlubState.tidStep
            hot[ci] = c
            l.slab(.freeFast(cache: id, object: object))
            return
        }
        slabFreeSlow(id, sid, object, cpu: cpu, &pages, &mem, &log, &l)
    }

    /// Linux: __slab_free() without debugging.
    mutating func slabFreeSlow<L: PageAllocListener>(_ id: CacheID, _ sid: SlabID, _ object: UInt64, cpu: Int,
                                                     _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                     _ log: inout KernelLog, _ l: inout L) {
        let prior = slabs[sid].freelist
        mmAssert(slabs[sid].inuse > 0, "__slab_free() of a slab with no object in use")
        setFreepointer(id, object, prior, &mem)
        slabs[sid].freelist = object
        slabs[sid].inuse -= 1
        let wasFrozen = slabs[sid].frozen
        let inuse = slabs[sid].inuse
        let addr = slabAddress(sid)
        if wasFrozen {
            l.slab(.freeSlow(cache: id, object: object, slab: addr, to: slabs[sid].where_))
            return
        }
        if prior == 0 && caches[id].hasCPUPartial {
            slabs[sid].frozen = true
            putCPUPartial(id, sid, drain: true, cpu: cpu, &pages, &mem, &log, &l)
            l.slab(.freeSlow(cache: id, object: object, slab: addr, to: .cpuPartial))
            return
        }
        let nid = slabs[sid].nid.number
        if inuse == 0 && caches[id].node[nid].nrPartial >= caches[id].minPartial {
            if prior != 0 { removePartial(id, sid) } else { removeFull(id, sid) }
            l.slab(.freeSlow(cache: id, object: object, slab: addr, to: .none))
            discardSlab(id, sid, cpu: cpu, &pages, &mem, &log, &l)
            return
        }
        if !caches[id].hasCPUPartial && prior == 0 {
            removeFull(id, sid)
            addPartial(id, sid, toTail: true)
        }
        l.slab(.freeSlow(cache: id, object: object, slab: addr, to: slabs[sid].where_))
    }

    /// Linux: kmem_cache_shrink() → __kmem_cache_do_shrink(): flush every CPU, free the empty
    /// slabs on the node partial lists and sort the rest by how full they are.
    public mutating func kmemCacheShrink(_ id: CacheID,
                                         _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                         _ log: inout KernelLog) {
        var l = NoListener()
        kmemCacheShrink(id, &pages, &mem, &log, &l)
    }

    public mutating func kmemCacheShrink<L: PageAllocListener>(_ id: CacheID,
                                                               _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                               _ log: inout KernelLog, _ l: inout L) {
        for cpu in 0..<possibleCPUs { flushCPUSlab(id, cpu: cpu, &pages, &mem, &log, &l) }
        for nid in caches[id].node.indices where caches[id].node[nid].present {
            // Empty slabs go; slabs with at most 32 free objects move to the head, fullest
            // first (SHRINK_PROMOTE_MAX); the rest keep their place behind them.
            var promote = [[SlabID]](repeating: [], count: 32)
            var rest: [SlabID] = []
            var empty: [SlabID] = []
            var sid = caches[id].node[nid].partialHead
            while !sid.isNone {
                let next = slabs[sid].next
                let free = Int(slabs[sid].objects - slabs[sid].inuse)
                removePartial(id, sid)
                if free == Int(slabs[sid].objects) { empty.append(sid) }
                else if free <= 32 { promote[free - 1].append(sid) }
                else { rest.append(sid) }
                sid = next
            }
            for r in rest { addPartial(id, r, toTail: true) }
            // list_move() put each bucket in reverse order; list_splice() keeps that.
            for b in (0..<32).reversed() { for s in promote[b] { addPartial(id, s, toTail: false) } }
            // The discard list, built by list_move().
            for e in empty.reversed() { discardSlab(id, e, cpu: 0, &pages, &mem, &log, &l) }
        }
    }

    /// Linux: kmem_cache_alloc_bulk(): `count` objects, or none if any allocation fails.
    public mutating func kmemCacheAllocBulk(_ id: CacheID, _ gfp: GFPFlags, count: Int, cpu: Int = 0,
                                            _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                            _ log: inout KernelLog) -> [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            guard let o = slabAllocNode(id, gfp, cpu: cpu, &pages, &mem, &log) else {
                for p in out { _ = slabFree(id, p, cpu: cpu, &pages, &mem, &log) }
                return []
            }
            out.append(o)
        }
        return out
    }

    /// Linux: kmem_cache_free_bulk().
    public mutating func kmemCacheFreeBulk(_ id: CacheID, _ objects: [UInt64], cpu: Int = 0,
                                           _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                           _ log: inout KernelLog) {
        for o in objects { _ = slabFree(id, o, cpu: cpu, &pages, &mem, &log) }
    }
}
