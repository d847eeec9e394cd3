// Creating caches, merging them, the kmalloc caches, and kmalloc/kfree themselves.
//
// Linux: mm/slab_common.c — kmem_cache_create_usercopy(), find_mergeable(), slab_unmergeable(),
//        create_cache(), kmem_cache_destroy(), create_kmalloc_caches(), new_kmalloc_cache(),
//        kmalloc_slab(), __kmalloc_large_node(), free_large_kmalloc(), kfree(), ksize(),
//        krealloc(); mm/slub.c — __kmem_cache_alias(), setup_slub_min_order() and friends,
//        setup_slub_debug(), parse_slub_debug_flags().
// Exact: which caches merge (scan order, size, alignment and flag rules), alias bookkeeping
//        (object_size and inuse grow), the kmalloc size-to-cache mapping and type choice, the
//        large-kmalloc path, and the boot parameters' effects.
// Reference: shared/reference/linux-6.1-mm.md §5.1, §5.2, §5.6.

extension Kernel {
    /// Linux: the __setup handlers for slub_min_order=, slub_max_order=, slub_min_objects=,
    /// slab_nomerge, slab_merge and slub_debug (parse_args(), right after "Kernel command line").
    mutating func setupSlubParams() {
        for p in commandLine.params {
            switch p.name {
            case "slub_min_order", "slab_min_order":
                if let v = p.value.flatMap({ Int($0) }) { slub.minOrder = Swift.min(v, maxOrder - 1) }
            case "slub_max_order", "slab_max_order":
                if let v = p.value.flatMap({ Int($0) }) { slub.maxOrder = Swift.min(v, maxOrder - 1) }
            case "slub_min_objects", "slab_min_objects":
                if let v = p.value.flatMap({ Int($0) }) { slub.minObjects = v }
            case "slab_nomerge", "slub_nomerge":
                slub.nomerge = true
            case "slab_merge", "slub_merge":
                slub.nomerge = false
            case "slub_debug", "slab_debug":
                parseSlubDebug(p.value)
            default:
                break
            }
        }
        if slub.minOrder > slub.maxOrder { slub.maxOrder = slub.minOrder }
    }

    /// Linux: setup_slub_debug() / parse_slub_debug_flags(): blocks separated by ';', each
    /// "FLAGS" (global) or "FLAGS,cache,cache…" (those caches).
    mutating func parseSlubDebug(_ value: String?) {
        var global = SlabFlags.debugDefault
        var globalChanged = false
        slub.debugBlocks = []
        if let value, !value.isEmpty {
            for block in value.split(separator: ";", omittingEmptySubsequences: true) {
                let parts = block.split(separator: ",", omittingEmptySubsequences: false)
                var flags: SlabFlags = []
                let letters = parts[0]
                if letters.isEmpty && parts.count > 1 { flags = .debugDefault }
                for ch in letters {
                    switch ch.lowercased() {
                    case "-": flags = []
                    case "f": flags.insert(.consistencyChecks)
                    case "z": flags.insert(.redZone)
                    case "p": flags.insert(.poison)
                    case "u": flags.insert(.storeUser)
                    case "t": flags.insert(.trace)
                    case "a": flags.insert(.failSlab)
                    case "o": slub.disableHigherOrderDebug = true
                    default: log.info("slub_debug option '\(ch)' unknown. skipped")
                    }
                }
                let names = parts.dropFirst().map(String.init).filter { !$0.isEmpty }
                if parts.count > 1 {
                    slub.debugBlocks.append((flags: flags, names: names))
                } else {
                    global = flags
                    globalChanged = true
                }
            }
            if !slub.debugBlocks.isEmpty && !globalChanged { global = [] }
        }
        slub.debugFlags = global
        if (initOnAlloc || initOnFree) && global.contains(.poison) {
            log.info("mem auto-init: SLAB_POISON will take precedence over init_on_alloc/init_on_free")
        }
    }

    /// Why kmem_cache_create() can refuse.
    public enum CacheCreateError: Error, Equatable, Sendable {
        case invalidSize
        case badFlags
        case noMemory
        case noOrder
    }

    /// Linux: create_kmalloc_caches(0): NORMAL, CGROUP, RECLAIM, DMA, each 8 … 8k.
    mutating func createKmallocCaches() {
        let nokmem = commandLine.last("cgroup.memory")?.split(separator: ",").contains("nokmem") ?? false
        for type in KmallocType.allCases {
            for i in Kmalloc.creationOrder {
                if type == .cgroup && nokmem {
                    slub.kmallocCaches[type.rawValue][i] = slub.kmallocCaches[KmallocType.normal.rawValue][i]
                    continue
                }
                var flags: SlabFlags = []
                switch type {
                case .normal: break
                case .cgroup: flags = .account
                case .reclaim: flags = .reclaimAccount
                case .dma: flags = .cacheDMA
                }
                let size = Kmalloc.size(index: i)
                // create_kmalloc_cache(): its struct comes from kmem_cache.
                let addr = slub.slabAllocNode(slub.kmemCache, .gfpNowait, nid: NodeID.none, cpu: 0, &pageAlloc, &physMem,
                                              &log) ?? 0
                let id = slub.createBootCache(KmemCacheSpec(name: type.name(Kmalloc.sizeName(index: i)), size: size,
                                                       flags: flags.union(.kmalloc), usersize: size), &pageAlloc,
                                                       &physMem,
                                                       &log)
                slub.caches[id].address = addr
                slub.caches[id].refcount = type == .normal ? -1 : 1
                slub.list.append(id)
                slub.kmallocCaches[type.rawValue][i] = id
            }
        }
    }

    /// Linux: kmalloc_slab(): the cache a kmalloc of `size` with `gfp` uses (nil for 0 and for
    /// sizes above KMALLOC_MAX_CACHE_SIZE).
    public func kmallocSlab(_ size: Int, _ gfp: GFPFlags) -> CacheID? {
        guard size > 0, size <= Kmalloc.maxCacheSize else { return nil }
        let id = slub.kmallocCaches[KmallocType.of(gfp).rawValue][Kmalloc.index(ofSize: size)]
        return id.isNone ? nil : id
    }

    /// Linux: kmalloc() / kmalloc_node(): ZERO_SIZE_PTR for 0, a kmalloc cache's object, or
    /// pages straight from the buddy allocator above 8 KiB.
    public mutating func kmalloc(_ size: Int, _ gfp: GFPFlags, nid: NodeID = NodeID.none, cpu: Int = 0) -> UInt64? {
        var l = NoListener()
        return kmalloc(size, gfp, nid: nid, cpu: cpu, &l)
    }

    public mutating func kmalloc<L: PageAllocListener>(_ size: Int, _ gfp: GFPFlags, nid: NodeID = NodeID.none,
                                                     cpu: Int = 0, _ l: inout L) -> UInt64? {
        if size == 0 { return Kmalloc.zeroSizePtr }
        if size > Kmalloc.maxCacheSize {
            // __kmalloc_large_node()
            guard size <= Kmalloc.maxSize else { return nil }
            let order = Order(Kernel.getOrder(size))
            var g = gfp.union(.comp)
            if order == 0 { g.remove(.comp) }
            guard let pfn = allocPages(g, order: order, cpu: cpu, nid: nid == NodeID.none ? nil : nid, listener: &l) else { return nil }
            largeKmallocPages += Int(order.pages)
            l.slab(.largeKmalloc(pfn: pfn, order: order))
            return directMapVirt(pfn.physAddr)
        }
        guard let id = kmallocSlab(size, gfp) else { return nil }
        return slub.slabAllocNode(id, gfp, nid: nid, cpu: cpu, origSize: size, &pageAlloc, &physMem, &log, &l)
    }

    /// Linux: kzalloc().
    public mutating func kzalloc(_ size: Int, _ gfp: GFPFlags, cpu: Int = 0) -> UInt64? {
        kmalloc(size, gfp.union(.zero), cpu: cpu)
    }

    /// Linux: kfree(): NULL and ZERO_SIZE_PTR are ignored; a slab object goes back to its
    /// cache; anything else must be a large kmalloc (free_large_kmalloc()).
    @discardableResult
    public mutating func kfree(_ addr: UInt64, cpu: Int = 0) -> SlabFreeOutcome {
        var l = NoListener()
        return kfree(addr, cpu: cpu, &l)
    }

    @discardableResult
    public mutating func kfree<L: PageAllocListener>(_ addr: UInt64, cpu: Int = 0, _ l: inout L) -> SlabFreeOutcome {
        if addr <= Kmalloc.zeroSizePtr { return .freed }
        guard let phys = directMapPhys(addr) else {
            log.info("kmemlab: kfree(\(pa(addr))): not a direct-map address (Linux would oops)")
            return .refused(.notDirectMapAddress)
        }
        let pfn = Pfn.down(phys)
        if let sid = slub.slabID(ofPfn: pfn, pageAlloc) {
            return slub.slabFree(slub.slabs[sid].cache, addr, cpu: cpu, &pageAlloc, &physMem, &log, &l)
        }
        // free_large_kmalloc(): a compound head (or an order-0 page) given out by kmalloc.
        let d = memmap.isMaterialised(pfn) ? memmap.page(pfn) : PageDescriptor()
        if d.flags.contains(.tail) || phys & (pageSize - 1) != 0 {
            log.info("kmemlab: kfree(\(pa(addr))): not the start of an allocation (Linux would free the wrong page or oops)")
            return .refused(.notAllocationStart)
        }
        let order = d.flags.contains(.head) ? Order(Int(d.order)) : 0
        if order == 0 {
            warnOnce(file: "mm/slab_common.c", line: 904, function: "free_large_kmalloc", cpu: cpu, pid: 1)
            log.info("object pointer: \(pa(addr))")
        }
        switch freePages(pfn, order: order, cpu: cpu, listener: &l) {
        case .freed:
            largeKmallocPages -= Int(order.pages)
            return .freed
        case .badPage(let reason): return .refused(.badPage(reason))
        case .invalidPfn: return .refused(.invalidPfn)
        }
    }

    /// Linux: ksize() → __ksize(): the usable size (the cache's object size, or the whole
    /// large allocation).
    public func ksize(_ addr: UInt64) -> Int {
        if addr <= Kmalloc.zeroSizePtr { return 0 }
        guard let phys = directMapPhys(addr) else { return 0 }
        let pfn = Pfn.down(phys)
        if let sid = slub.slabID(ofPfn: pfn, pageAlloc) { return slub.caches[slub.slabs[sid].cache].objectSize }
        let d = memmap.isMaterialised(pfn) ? memmap.page(pfn) : PageDescriptor()
        return Int(pageSize) << (d.flags.contains(.head) ? Int(d.order) : 0)
    }

    /// Linux: krealloc(): the same object if it is big enough, else a new one with the bytes
    /// copied and the old one freed.
    public mutating func krealloc(_ addr: UInt64, _ newSize: Int, _ gfp: GFPFlags, cpu: Int = 0) -> UInt64? {
        if newSize == 0 { kfree(addr, cpu: cpu); return Kmalloc.zeroSizePtr }
        let ks = ksize(addr)
        if ks >= newSize && addr > Kmalloc.zeroSizePtr { return addr }
        guard let n = kmalloc(newSize, gfp, cpu: cpu) else { return nil }
        if addr > Kmalloc.zeroSizePtr {
            var i: UInt64 = 0
            while i < UInt64(ks) {
                physMem.write(n &- pageOffset &+ i, physMem.read(addr &- pageOffset &+ i))
                i += 1
            }
            kfree(addr, cpu: cpu)
        }
        return n
    }

    /// The named caches a booted 6.1 kernel has (or `slabCacheTable`'s, from `--slab-caches`),
    /// created in the order Linux creates them.
    mutating func createBootSlabCaches() {
        let table = slabCacheTable ?? Kernel.bootSlabCaches
        for spec in table where slub.find(spec.name) == nil {
            _ = try? slub.kmemCacheCreate(spec, &pageAlloc, &physMem, &log)
        }
    }
}

extension SlubState {
    /// Linux: slab_unmergeable().
    func slabUnmergeable(_ s: KmemCache) -> Bool {
        nomerge || !s.flags.isDisjoint(with: .neverMerge) || s.ctor != nil || s.usersize != 0 || s.refcount < 0
    }

    /// Linux: find_mergeable(): the oldest cache this request could share.
    func findMergeable(_ spec: KmemCacheSpec) -> CacheID? {
        if nomerge || spec.ctor != nil { return nil }
        var size = alignUp(spec.size, 8)
        let align = Kernel.calculateAlignment(spec.flags, spec.align, size)
        size = alignUp(size, align)
        let flags = kmemCacheFlags(spec.flags, name: spec.name)
        if !flags.isDisjoint(with: .neverMerge) { return nil }
        for id in list {
            let s = caches[id]
            if slabUnmergeable(s) || size > s.size { continue }
            if flags.intersection(.mergeSame) != s.flags.intersection(.mergeSame) { continue }
            if s.size & ~(align - 1) != s.size { continue }
            if s.size - size >= 8 { continue }
            return id
        }
        return nil
    }

    /// Linux: kmem_cache_create_usercopy(): a new cache, or an existing one it merges into.
    public mutating func kmemCacheCreate(_ spec: KmemCacheSpec,
                                         _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                         _ log: inout KernelLog) throws(Kernel.CacheCreateError) -> CacheID {
        guard spec.size >= 8, spec.size <= Int(Int32.max) - 8 else {
            log.info("kmem_cache_create(\(spec.name)) failed with error -22")
            throw .invalidSize
        }
        var spec = spec
        if !spec.flags.isSubset(of: .createMask) {
            log.info("kmem_cache_create(\(spec.name)) failed with error -22")
            throw .badFlags
        }
        spec.flags = spec.flags.intersection(SlabFlags.createMask)
        if spec.usersize > spec.size || spec.size - spec.usersize < spec.useroffset || (spec.usersize == 0 && spec.useroffset != 0) {
            spec.usersize = 0; spec.useroffset = 0
        }
        if spec.usersize == 0, let target = findMergeable(spec) {
            // __kmem_cache_alias()
            caches[target].refcount += 1
            caches[target].objectSize = Swift.max(caches[target].objectSize, spec.size)
            caches[target].inuse = Swift.max(caches[target].inuse, alignUp(spec.size, 8))
            caches[target].aliases.append(spec.name)
            // The cpu slabs' copies of the object size and free-pointer placement follow.
            for cpu in 0..<possibleCPUs { setCPUSlab(target, cpu: cpu, hot[cpuIndex(target, cpu)].slab) }
            return target
        }
        // create_cache(): the struct kmem_cache itself comes from the kmem_cache cache.
        guard let addr = slabAllocNode(kmemCache, .gfpKernel, nid: NodeID.none, cpu: 0, &pages, &mem, &log) else {
            log.info("kmem_cache_create(\(spec.name)) failed with error -12")
            throw .noMemory
        }
        var c = KmemCache(name: spec.name, objectSize: spec.size,
                          align: Kernel.calculateAlignment(spec.flags, spec.align, spec.size), flags: spec.flags)
        c.useroffset = spec.useroffset
        c.usersize = spec.usersize
        c.ctor = spec.ctor
        c.address = addr
        let id = CacheID(index: caches.count)
        caches.append(c)
        guard kmemCacheOpen(id, &pages, &mem, &log) else {
            caches[id].destroyed = true
            _ = slabFree(kmemCache, addr, &pages, &mem, &log)
            log.info("kmem_cache_create(\(spec.name)) failed with error -22")
            throw .noOrder
        }
        list.append(id)
        return id
    }

    /// Linux: kmem_cache_destroy(): an alias only drops its reference; the last user flushes the
    /// CPUs and frees every slab. Objects still allocated are reported as Linux does.
    public mutating func kmemCacheDestroy(_ id: CacheID,
                                          _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                          _ log: inout KernelLog) {
        guard caches.holds(id), !caches[id].destroyed else { return }
        caches[id].refcount -= 1
        if caches[id].refcount > 0 { return }
        for cpu in 0..<possibleCPUs { flushCPUSlab(id, cpu: cpu, &pages, &mem, &log) }
        var leaked = false
        for nid in caches[id].node.indices where caches[id].node[nid].present {
            var sid = caches[id].node[nid].partialHead
            while !sid.isNone {
                let next = slabs[sid].next
                if slabs[sid].inuse == 0 {
                    removePartial(id, sid)
                    var l = NoListener()
                    discardSlab(id, sid, cpu: 0, &pages, &mem, &log, &l)
                } else {
                    leaked = true
                    slabErr(id, sid, "Objects remaining in \(caches[id].name) on __kmem_cache_shutdown()", &pages, &log)
                }
                sid = next
            }
            if caches[id].node[nid].nrSlabs > 0 { leaked = true }
        }
        if leaked {
            log.info("kmem_cache_destroy \(caches[id].name): Slab cache still has objects when called from kmemlab")
            caches[id].refcount = 1
            return
        }
        for nid in caches[id].node.indices where caches[id].node[nid].address != 0 {
            _ = slabFree(kmemCacheNode, caches[id].node[nid].address, &pages, &mem, &log)
        }
        if caches[id].address != 0 { _ = slabFree(kmemCache, caches[id].address, &pages, &mem, &log) }
        caches[id].destroyed = true
        list.removeAll { $0 == id }
    }
}
