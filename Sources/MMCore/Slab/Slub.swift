// SLUB's caches: their layout, slab order and limits, and how the allocator bootstraps itself.
//
// Linux: mm/slub.c — calculate_sizes(), calculate_order(), calc_slab_order(), set_min_partial(),
//        set_cpu_partial(), kmem_cache_open(), early_kmem_cache_node_alloc(), bootstrap(),
//        kmem_cache_init(), init_cache_random_seq(), create_unique_id(); mm/slab.h (struct
//        kmem_cache_node); include/linux/slub_def.h (struct kmem_cache, kmem_cache_cpu).
// Exact: object size, alignment, free-pointer offset, red-zone padding, slab order and objects
//        per slab (and the order-fallback `min`), min_partial, cpu_partial and its slab count,
//        allocflags, the "SLUB:" line; caches are listed newest first as slab_caches is.
// Simplified: the per-cpu structures are plain arrays (no percpu allocator behind them); a
//        cache's `struct kmem_cache` is still allocated from the kmem_cache cache, as in Linux.
// Reference: shared/reference/linux-6.1-mm.md §5.1, §5.3–5.5.

/// Linux: struct slab (the fields SLUB keeps in the head page's struct page).
public struct Slab: Sendable, Equatable {
    public var cache: CacheID
    public var pfn: Pfn
    public var order: UInt8
    public var nid: NodeID
    public var objects: Int32
    public var inuse: Int32
    public var frozen: Bool
    /// The first free object (a virtual address), 0 when the slab has none.
    public var freelist: UInt64
    /// Links on a node's partial or full list, or the next slab on a cpu partial list.
    var next = SlabID.none
    var prev = SlabID.none
    /// Linux: slab->slabs — on the first slab of a cpu partial list, how many the list holds.
    var slabs: Int32 = 0
    public var where_: SlabPlace = .none
    /// Where this slab's allocation bits start in `SlubState.hot`'s bitmap (kept with the slab
    /// id when the id is reused), and how many words they take.
    var bitsOffset: Int32 = 0
    var bitsWords: Int32 = 0
}

/// Where a slab is, for checks and for `kmemlab slab`.
public enum SlabPlace: UInt8, Sendable {
    /// Full and on no list (or freed).
    case none
    case cpuSlab, cpuPartial, nodePartial
    /// Linux: n->full (only kept with SLAB_STORE_USER).
    case nodeFull
}

/// Linux: struct kmem_cache_cpu.
///
/// Beside Linux's four fields it carries a copy of what the fast paths need to know about the
/// cpu slab and its cache (where its objects lie, their size, the free pointer's place and
/// key, which init_on_alloc/init_on_free work they take), so that an allocation or a free on
/// the cpu slab reads this one record and nothing else: Linux reads the same facts from the
/// struct kmem_cache the CPU has in cache. The copy is made by `install(_:…)`, the only
/// writer of `slab`, whenever a slab becomes or stops being the cpu slab.
public struct KmemCacheCPU: Sendable, BitwiseCopyable {
    public var freelist: UInt64 = 0
    public var tid: UInt64
    public fileprivate(set) var slab = SlabID.none
    /// The first slab of the cpu partial list.
    public var partial = SlabID.none
    /// The cpu slab's first object (slab_address() + red_left_pad); its objects lie in
    /// [objBase, objBase + span) (span 0 when there is no cpu slab).
    var objBase: UInt64 = 0
    var span: UInt64 = 0
    /// The cache's size, obj_to_index()'s reciprocal, free pointer offset and s->random.
    var size: UInt64 = 1
    var reciprocal: UInt64 = 0
    var offset: UInt64 = 0
    var random: UInt64 = 0
    var objectSize: UInt64 = 0
    /// The cpu slab's run in the object bitmap, and its node.
    var bitsOffset: Int32 = 0
    var nid: NodeID = 0
    var fast: FastPath = []

    init(tid: UInt64) { self.tid = tid }

    /// What the fast paths may do on this cache (fixed by its flags and init_on_alloc/free).
    struct FastPath: OptionSet, Sendable {
        var rawValue: UInt8
        /// slab_want_init_on_alloc() is true whatever the gfp.
        static let zeroAlways = FastPath(rawValue: 1)
        /// slab_want_init_on_alloc() is true when the gfp has __GFP_ZERO.
        static let zeroOnGFP = FastPath(rawValue: 2)
        /// maybe_wipe_obj_freeptr() clears the free pointer word on allocation.
        static let wipeFreeptr = FastPath(rawValue: 4)
        /// A free can go straight onto the CPU's freelist (no debugging, no init_on_free wipe).
        static let freeFast = FastPath(rawValue: 8)
    }

    /// A fast-path pop or push: the new freelist head, and the next transaction id.
    @inline(__always)
    mutating func advance(to head: UInt64) {
        freelist = head
        tid &+= SlubState.tidStep
    }

    /// Makes `sid` the cpu slab (or none), copying what the fast paths read.
    mutating func install(_ sid: SlabID, _ slub: SlubState, _ id: CacheID) {
        slab = sid
        guard !sid.isNone else { span = 0; objBase = 0; return }
        let s = slub.caches[id], slab = slub.slabs[sid]
        objBase = slub.slabAddress(sid) &+ UInt64(s.redLeftPad)
        span = UInt64(slab.objects) * UInt64(s.size)
        size = UInt64(s.size)
        reciprocal = s.reciprocal
        offset = UInt64(s.offset)
        random = s.random
        objectSize = UInt64(s.objectSize)
        bitsOffset = slab.bitsOffset
        nid = slab.nid
        fast = []
        if slub.initOnAlloc && s.plainInit { fast.insert(.zeroAlways) }
        if !slub.initOnAlloc || !s.hasCtor { fast.insert(.zeroOnGFP) }
        if slub.initOnFree && s.plainInit && !s.freeptrOutsideObject { fast.insert(.wipeFreeptr) }
        if !s.isDebug && !(slub.initOnFree && s.plainInit) { fast.insert(.freeFast) }
    }
}

/// Linux: struct kmem_cache_node.
public struct KmemCacheNode: Sendable {
    public var present = false
    public var nrPartial = 0
    public var nrSlabs = 0
    public var totalObjects = 0
    var partialHead = SlabID.none
    var partialTail = SlabID.none
    var fullHead = SlabID.none
    var fullTail = SlabID.none
    /// Where this node's struct kmem_cache_node lives (an object of the kmem_cache_node cache).
    public var address: UInt64 = 0
}

/// Linux: struct kmem_cache.
public struct KmemCache: Sendable {
    public var name: String
    public var objectSize: Int
    /// Linux: s->size — an object with its metadata, the stride between objects.
    public var size: Int
    public var align: Int
    /// Where the free pointer lies from the object's start.
    public var offset = 0
    /// Linux: s->inuse — where the metadata starts.
    public var inuse = 0
    public var redLeftPad = 0
    public var flags: SlabFlags
    public var useroffset = 0
    public var usersize = 0
    public var ctor: String?
    /// Linux: refcount: −1 never merges (boot and kmalloc caches), otherwise 1 + aliases.
    public var refcount = 1
    /// Linux: s->oo, s->min (order and objects per slab; `min` is the order-fallback).
    public var order = 0
    public var objects = 0
    public var minOrder = 0
    public var minObjects = 0
    public var minPartial = 5
    /// Linux: s->cpu_partial (objects) and cpu_partial_slabs.
    public var cpuPartial = 0
    public var cpuPartialSlabs = 0
    public var allocflags: GFPFlags = []
    /// Linux: s->random (SLAB_FREELIST_HARDENED).
    public var random: UInt64 = 0
    /// Linux: s->random_seq, already multiplied by the object size.
    public var randomSeq: [UInt32] = []
    /// Names merged into this cache (Linux: the sysfs symlinks to it).
    public var aliases: [String] = []
    /// Where its struct kmem_cache lives (0 for the two static boot caches before bootstrap).
    public var address: UInt64 = 0
    public var destroyed = false
    public var node: [KmemCacheNode] = []
    /// Linux: NR_SLAB_*_B accounting of this cache's pages.
    public var pages = 0
    /// No constructor, not RCU-typesafe, not poisoned: init_on_alloc/init_on_free apply
    /// (slab_want_init_on_alloc()/_free()). Kept so the hot path reads a flag, not the ctor.
    public var plainInit = true
    public var hasCtor = false
    /// Linux: s->reciprocal_size — here ceil(2^44 / size), for slub.objectIndex().
    public var reciprocal: UInt64 = 0

    public init(name: String, objectSize: Int, align: Int, flags: SlabFlags) {
        self.name = name; self.objectSize = objectSize; self.size = objectSize; self.align = align; self.flags = flags
    }

    /// Linux: kmem_cache_debug(s).
    public var isDebug: Bool { !flags.isDisjoint(with: .debugFlags) }
    /// Linux: kmem_cache_has_cpu_partial().
    public var hasCPUPartial: Bool { !isDebug }
    /// Linux: freeptr_outside_object().
    public var freeptrOutsideObject: Bool { offset >= inuse }
    /// Linux: get_info_end().
    public var infoEnd: Int { freeptrOutsideObject ? inuse + 8 : inuse }

    /// Linux: create_unique_id() — the sysfs name of a mergeable cache.
    public var uniqueID: String {
        var s = ":"
        if flags.contains(.cacheDMA) { s += "d" }
        if flags.contains(.cacheDMA32) { s += "D" }
        if flags.contains(.reclaimAccount) { s += "a" }
        if flags.contains(.consistencyChecks) { s += "F" }
        if flags.contains(.account) { s += "A" }
        if s.utf8.count > 1 { s += "-" }
        let digits = "\(size)"
        return s + String(repeating: "0", count: Swift.max(0, 7 - digits.utf8.count)) + digits
    }
}

/// Linux: slab_state.
public enum SlabState: Int, Sendable, Comparable {
    case down, partial, up, full
    public static func < (a: SlabState, b: SlabState) -> Bool { a.rawValue < b.rawValue }
}

/// Everything SLUB keeps: the caches, their slabs and the boot-time settings.
public struct SlubState: Sendable {
    public var caches: [KmemCache] = []
    /// Linux: slab_caches, oldest first (Linux's list has the newest at its head).
    public var list: [CacheID] = []
    public var slabs: [Slab] = []
    var freeSlabIDs: [SlabID] = []
    /// Linux: each cache's kmem_cache_cpu, one per possible CPU (record cache id × nr_cpu_ids +
    /// cpu), and the model's allocation bit of every slab object (a run of words per slab),
    /// in one store, so that a fast path pays one copy-on-write check for both.
    var hot = FlatRecordStore<KmemCacheCPU>()
    /// Linux: kmalloc_caches[type][index] (−1: none).
    public var kmallocCaches = [[CacheID]](repeating: [CacheID](repeating: .none, count: Kmalloc.shiftHigh + 1),
                                         count: KmallocType.allCases.count)
    public var kmemCache = CacheID.none
    public var kmemCacheNode = CacheID.none
    public var state: SlabState = .down
    /// Linux: slub_min_order, slub_max_order, slub_min_objects.
    public var minOrder = 0
    public var maxOrder = 3
    public var minObjects = 0
    /// Linux: slab_nomerge.
    public var nomerge = false
    /// Linux: slub_debug and the per-cache blocks of slub_debug_string.
    public var debugFlags: SlabFlags = []
    var debugBlocks: [(flags: SlabFlags, names: [String])] = []
    var disableHigherOrderDebug = false
    var initOnAlloc = true
    var initOnFree = false
    var rng = SplitMix64(seed: 0)
    /// Linux: TID_STEP (NR_CPUS rounded to a power of two under CONFIG_PREEMPTION).
    static let tidStep: UInt64 = 8192
    /// Linux: slab_nodes (N_NORMAL_MEMORY), by node id.
    public var slabNodes: [Bool] = []
    /// How many reports (BUG and FIX lines' blocks) slab debugging printed; lib/slub_kunit.c
    /// counts the same things as slab_errors.
    public var errors = 0
    /// Linux: PAGE_OFFSET, where the direct map begins (objects are direct-map addresses).
    public internal(set) var directMapBase: UInt64 = 0
    /// Linux: max_pfn, the end of the direct map SLUB's objects can be in.
    public internal(set) var maxPfn = Pfn(0)
    /// Linux: num_present_cpus() and nr_cpu_ids when caches are created.
    var presentCPUs = 1
    public internal(set) var possibleCPUs = 1

    public init() {}

    /// The facts of the machine SLUB reads, set once by kmem_cache_init() (or by a test that
    /// builds a small SLUB): the CPUs, the nodes with normal memory (slab_nodes), where the
    /// direct map lies, init_on_alloc/init_on_free, and the seed of s->random and the freelist
    /// shuffle.
    public mutating func configure(presentCPUs: Int, possibleCPUs: Int, slabNodes: [Bool], directMapBase: UInt64,
                                   maxPfn: Pfn, initOnAlloc: Bool, initOnFree: Bool, seed: UInt64) {
        self.presentCPUs = presentCPUs
        self.possibleCPUs = possibleCPUs
        self.slabNodes = slabNodes
        self.directMapBase = directMapBase
        self.maxPfn = maxPfn
        self.initOnAlloc = initOnAlloc
        self.initOnFree = initOnFree
        self.rng = SplitMix64(seed: seed)
    }

    /// Linux: calculate_order() — nil when no order up to MAX_ORDER − 1 holds an object.
    func calculateOrder(_ size: Int) -> Int? {
        var minObjects = self.minObjects
        if minObjects == 0 {
            var nr = presentCPUs
            if nr <= 1 { nr = possibleCPUs }
            minObjects = 4 * ((Int.bitWidth - nr.leadingZeroBitCount) + 1)
        }
        minObjects = Swift.min(minObjects, Kernel.orderObjects(maxOrder, size))
        while minObjects > 1 {
            for fract in [16, 8, 4] {
                let o = Kernel.calcSlabOrder(size, minObjects: minObjects, maxOrder: maxOrder, fract: fract, minOrder: minOrder)
                if o <= maxOrder { return o }
            }
            minObjects -= 1
        }
        var o = Kernel.calcSlabOrder(size, minObjects: 1, maxOrder: maxOrder, fract: 1, minOrder: minOrder)
        if o <= maxOrder { return o }
        o = Kernel.calcSlabOrder(size, minObjects: 1, maxOrder: MMCore.maxOrder - 1, fract: 1, minOrder: minOrder)
        if o < MMCore.maxOrder { return o }
        return nil
    }

    /// The cache with this name or alias.
    public func find(_ name: String) -> CacheID? {
        for id in list.reversed() where caches[id].name == name { return id }
        for id in list.reversed() where caches[id].aliases.contains(name) { return id }
        return nil
    }
}

extension Kernel {
    /// Linux: calculate_alignment().
    static func calculateAlignment(_ flags: SlabFlags, _ align: Int, _ size: Int) -> Int {
        var a = align
        if flags.contains(.hwcacheAlign) {
            var ralign = 64
            while size <= ralign / 2 { ralign /= 2 }
            a = Swift.max(a, ralign)
        }
        a = Swift.max(a, 8)
        return alignUp(a, 8)
    }

    /// Linux: order_objects().
    static func orderObjects(_ order: Int, _ size: Int) -> Int { (Int(pageSize) << order) / size }

    /// Linux: calc_slab_order(): the lowest order whose leftover is at most 1/fract of the slab.
    static func calcSlabOrder(_ size: Int, minObjects: Int, maxOrder: Int, fract: Int, minOrder: Int) -> Int {
        if orderObjects(minOrder, size) > 32767 { return getOrder(size * 32767) - 1 }
        var o = Swift.max(minOrder, getOrder(minObjects * size))
        while o <= maxOrder {
            let slab = Int(pageSize) << o
            if slab % size <= slab / fract { return o }
            o += 1
        }
        return maxOrder + 1
    }

    /// Linux: calculate_sizes(): the object layout, then order and objects per slab.
    static func calculateSizes(_ s: inout KmemCache, _ slub: SlubState) -> Bool {
        let flags = s.flags
        var size = alignUp(s.objectSize, 8)
        if flags.contains(.poison) && !flags.contains(.typesafeByRCU) && s.ctor == nil {
            s.flags.insert(.objectPoison)
        } else {
            s.flags.remove(.objectPoison)
        }
        if flags.contains(.redZone) && size == s.objectSize { size += 8 }
        s.inuse = size
        if !flags.isDisjoint(with: [.typesafeByRCU, .poison]) || (flags.contains(.redZone) && s.objectSize < 8) || s.ctor != nil {
            s.offset = size
            size += 8
        } else {
            s.offset = (s.objectSize / 2) & ~7
        }
        if flags.contains(.storeUser) {
            size += 2 * Kernel.trackSize
            if flags.contains(.kmalloc) { size += 4 }
        }
        s.redLeftPad = 0
        if flags.contains(.redZone) {
            size += 8
            s.redLeftPad = alignUp(8, s.align)
            size += s.redLeftPad
        }
        size = alignUp(size, s.align)
        s.size = size
        guard let o = slub.calculateOrder(size) else { return false }
        s.allocflags = o > 0 ? [.comp] : []
        if s.flags.contains(.cacheDMA) { s.allocflags.insert(.dma) }
        if s.flags.contains(.cacheDMA32) { s.allocflags.insert(.dma32) }
        if s.flags.contains(.reclaimAccount) { s.allocflags.insert(.reclaimable) }
        s.order = o
        s.objects = orderObjects(o, size)
        s.minOrder = getOrder(size)
        s.minObjects = orderObjects(s.minOrder, size)
        return s.objects > 0
    }

    /// Linux: sizeof(struct track) with STACKDEPOT (handle, addr, cpu, pid, when).
    static let trackSize = 32

    /// Linux: kmem_cache_init().
    mutating func kmemCacheInit() {
        var slabNodes = [Bool](repeating: false, count: nrNodeIds)
        for n in nodes where n.nodeId.number < nrNodeIds {
            for t in [ZoneType.dma, .dma32, .normal] where n.zones[t.rawValue].presentPages > 0 {
                slabNodes[n.nodeId.number] = true
            }
        }
        slub.configure(presentCPUs: Swift.max(1, machine.cpus.present), possibleCPUs: nrCPUIds, slabNodes: slabNodes,
                       directMapBase: pageOffset, maxPfn: maxPfn, initOnAlloc: initOnAlloc,
                       initOnFree: initOnFree, seed: seed ^ 0x5ab1_5eed)
        // kmem_cache_node first: its node structures come from its own first slab.
        slub.kmemCacheNode = CacheID(index: slub.caches.count)   // (Linux: kmem_cache_node = &boot_kmem_cache_node)
        slub.kmemCacheNode = slub.createBootCache(KmemCacheSpec(name: "kmem_cache_node", size: 64, flags: .hwcacheAlign),
                                                  &pageAlloc, &physMem, &log)
        slub.state = .partial
        // struct kmem_cache ends in node[nr_node_ids].
        slub.kmemCache = CacheID(index: slub.caches.count)
        slub.kmemCache = slub.createBootCache(KmemCacheSpec(name: "kmem_cache", size: 216 + 8 * nrNodeIds,
                                              flags: .hwcacheAlign), &pageAlloc, &physMem,
                                              &log)
        // bootstrap(): each static cache moves into an object of kmem_cache, and the boot CPU's
        // slabs are flushed to the node lists.
        for id in [slub.kmemCache, slub.kmemCacheNode] {
            slub.caches[id].address = slub.slabAllocNode(slub.kmemCache, .gfpNowait, nid: NodeID.none, cpu: 0,
                                                         &pageAlloc, &physMem,
                                                         &log) ?? 0
            slub.flushCPUSlab(id, cpu: 0, &pageAlloc, &physMem, &log)
            slub.list.append(id)
        }
        createKmallocCaches()
        slub.state = .up
        for id in slub.list { slub.initCacheRandomSeq(id) }
        let (cpus, nodeIds) = (nrCPUIds, nrNodeIds)
        log.info("SLUB: HWalign=64, Order=\(slub.minOrder)-\(slub.maxOrder), MinObjects=\(slub.minObjects), CPUs=\(cpus), Nodes=\(nodeIds)")
    }

}

func alignUp(_ x: Int, _ a: Int) -> Int { (x + a - 1) / a * a }

/// Linux: struct slabinfo as get_slabinfo() fills it.
public struct SlabInfo: Sendable, Equatable {
    public var activeObjs = 0
    public var numObjs = 0
    public var numSlabs = 0
    public init(activeObjs: Int = 0, numObjs: Int = 0, numSlabs: Int = 0) {
        self.activeObjs = activeObjs; self.numObjs = numObjs; self.numSlabs = numSlabs
    }
}

extension Kernel {

    /// Linux: slab_caches from its head: the caches /proc/slabinfo lists, newest first.
    public var slabCachesNewestFirst: [CacheID] { slub.list.reversed() }

}

extension SlubState {
    /// Linux: kmem_cache_flags(): the slub_debug flags that apply to a cache of this name.
    func kmemCacheFlags(_ flags: SlabFlags, name: String) -> SlabFlags {
        if flags.contains(.noUserFlags) { return flags }
        var local = debugFlags
        if flags.contains(.noLeakTrace) { local.remove(.storeUser) }
        for block in debugBlocks {
            for pattern in block.names {
                if let star = pattern.firstIndex(of: "*") {
                    if name.hasPrefix(String(pattern[..<star])) { return flags.union(block.flags) }
                } else if pattern == name {
                    return flags.union(block.flags)
                }
            }
        }
        return flags.union(local)
    }

    /// Linux: kmem_cache_open() for the cache at `id` (its name, sizes, align, flags and ctor
    /// are set): layout, limits, the hardened-pointer secret, the random sequence once SLUB
    /// is up, and the per-node structures.
    mutating func kmemCacheOpen(_ id: CacheID,
                                _ pages: inout PageAllocator, _ mem: inout PhysMemory, _ log: inout KernelLog) -> Bool {
        var s = caches[id]
        s.flags = kmemCacheFlags(s.flags, name: s.name)
        s.random = rng.next()
        guard Kernel.calculateSizes(&s, self) else { return false }
        if disableHigherOrderDebug && Kernel.getOrder(s.size) > Kernel.getOrder(s.objectSize) {
            // Linux: disable_higher_order_debug — drop the metadata that made the slab bigger.
            s.flags.subtract([.redZone, .poison, .storeUser])
            s.offset = 0
            guard Kernel.calculateSizes(&s, self) else { return false }
        }
        // set_min_partial(s, ilog2(s->size) / 2)
        s.minPartial = Swift.min(10, Swift.max(5, (Int.bitWidth - 1 - s.size.leadingZeroBitCount) / 2))
        // set_cpu_partial()
        if !s.hasCPUPartial { s.cpuPartial = 0 }
        else if s.size >= Int(pageSize) { s.cpuPartial = 6 }
        else if s.size >= 1024 { s.cpuPartial = 24 }
        else if s.size >= 256 { s.cpuPartial = 52 }
        else { s.cpuPartial = 120 }
        s.cpuPartialSlabs = s.cpuPartial == 0 ? 0 : (2 * s.cpuPartial + s.objects - 1) / s.objects
        s.reciprocal = ((UInt64(1) << 44) + UInt64(s.size) - 1) / UInt64(s.size)
        s.hasCtor = s.ctor != nil
        s.plainInit = !s.hasCtor && s.flags.isDisjoint(with: [.typesafeByRCU, .poison])
        // Its kmem_cache_cpu slots (ids are dense, so the slots of cache `id` start at
        // id × nr_cpu_ids).
        while hot.recordCount < (id.index + 1) * possibleCPUs {
            hot.append(KmemCacheCPU(tid: UInt64(hot.recordCount % possibleCPUs)))
        }
        s.node = [KmemCacheNode](repeating: KmemCacheNode(), count: slabNodes.count)
        caches[id] = s
        if state >= .up { initCacheRandomSeq(id) }
        // init_kmem_cache_nodes()
        for nid in slabNodes.indices where slabNodes[nid] {
            caches[id].node[nid].present = true
            if state == .down {
                earlyKmemCacheNodeAlloc(NodeID(Int32(nid)), &pages, &mem)
            } else {
                let addr = slabAllocNode(kmemCacheNode, .gfpKernel, nid: NodeID(Int32(nid)), cpu: 0, &pages, &mem, &log) ?? 0
                caches[id].node[nid].address = addr
            }
        }
        return true
    }

    /// Linux: init_cache_random_seq() / cache_random_seq_create(): a Fisher–Yates permutation
    /// of one slab's objects, as byte offsets.
    mutating func initCacheRandomSeq(_ id: CacheID) {
        let s = caches[id]
        guard s.randomSeq.isEmpty, s.objects >= 2 else { return }
        var seq = (0..<s.objects).map { UInt32($0) }
        var state = SplitMix64(seed: rng.next())
        var i = seq.count - 1
        while i > 0 {
            let j = Int(UInt32(truncatingIfNeeded: state.next()) % UInt32(i + 1))
            seq.swapAt(i, j)
            i -= 1
        }
        for k in seq.indices { seq[k] *= UInt32(s.size) }
        caches[id].randomSeq = seq
    }

    /// Linux: early_kmem_cache_node_alloc(): the kmem_cache_node cache's own node structure,
    /// carved from a slab taken straight from the page allocator.
    mutating func earlyKmemCacheNodeAlloc(_ nid: NodeID, _ pages: inout PageAllocator, _ mem: inout PhysMemory) {
        let id = kmemCacheNode
        guard let sid = newSlab(id, gfp: .gfpNowait, nid: nid, cpu: 0, &pages, &mem) else { return }
        let object = slabs[sid].freelist
        slabs[sid].freelist = getFreepointer(id, object, mem)
        slabs[sid].inuse = 1
        if let i = objectIndex(id, sid, object) { setAllocatedObject(sid, i, true) }
        if caches[id].isDebug { initObject(id, object, SlabPoison.redActive, &mem) }
        let actual = slabs[sid].nid
        caches[id].node[actual.number].address = object
        incSlabsNode(id, actual, objects: Int(slabs[sid].objects))
        addPartial(id, sid, toTail: false)
    }

    /// Linux: create_boot_cache(): natural alignment for power-of-two sizes, never merged.
    mutating func createBootCache(_ spec: KmemCacheSpec,
                                  _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                  _ log: inout KernelLog) -> CacheID {
        var align = 8
        if spec.size & (spec.size - 1) == 0 { align = Swift.max(align, spec.size) }
        var c = KmemCache(name: spec.name, objectSize: spec.size,
                          align: Kernel.calculateAlignment(spec.flags, align, spec.size), flags: spec.flags)
        c.useroffset = spec.useroffset
        c.usersize = spec.usersize
        let id = CacheID(index: caches.count)
        caches.append(c)
        _ = kmemCacheOpen(id, &pages, &mem, &log)
        caches[id].refcount = -1
        return id
    }

    /// Linux: get_slabinfo(): free objects on cpu slabs and cpu partial slabs count as active.
    public func slabInfo(_ id: CacheID) -> SlabInfo {
        var info = SlabInfo()
        let s = caches[id]
        for n in s.node where n.present {
            info.numSlabs += n.nrSlabs
            info.numObjs += n.totalObjects
            var sid = n.partialHead
            while !sid.isNone {
                info.activeObjs -= Int(slabs[sid].objects - slabs[sid].inuse)
                sid = slabs[sid].next
            }
        }
        info.activeObjs += info.numObjs
        return info
    }

    /// Linux: slab_unmergeable() as sysfs_slab_add() asks it: a mergeable cache's sysfs
    /// directory is its unique id, with its name as a symlink.
    public func hasUniqueSysfsName(_ id: CacheID) -> Bool { !slabUnmergeable(caches[id]) }

    /// Where cache `id`'s kmem_cache_cpu for `cpu` is among `hot`'s records.
    @inline(__always) public func cpuIndex(_ id: CacheID, _ cpu: Int) -> Int { id.index * possibleCPUs + cpu }

    /// Linux: per_cpu_ptr(s->cpu_slab, cpu).
    public func cpuSlab(_ id: CacheID, cpu: Int) -> KmemCacheCPU { hot[cpuIndex(id, cpu)] }

    /// Makes `sid` (or none) cache `id`'s cpu slab on `cpu`, with the facts its fast paths read.
    mutating func setCPUSlab(_ id: CacheID, cpu: Int, _ sid: SlabID) {
        var c = hot[cpuIndex(id, cpu)]
        c.install(sid, self, id)
        hot[cpuIndex(id, cpu)] = c
    }

    /// A cache's kmem_cache_cpu for every possible CPU.
    public func cpuSlabs(of id: CacheID) -> [KmemCacheCPU] {
        (0..<possibleCPUs).map { hot[cpuIndex(id, $0)] }
    }

    /// The live slabs of a cache, in slab-table order.
    public func slabs(of id: CacheID) -> [SlabID] {
        var out: [SlabID] = []
        for (i, s) in slabs.enumerated() where s.cache == id && s.pfn != .max { out.append(SlabID(index: i)) }
        return out
    }

    /// How many of a live slab's objects are allocated (the model's allocation bits: unlike
    /// slabinfo, objects on a CPU's freelist count as free).
    public func allocatedObjects(_ sid: SlabID) -> Int {
        var n = 0
        for i in 0..<Int(slabs[sid].objects) where hot.test(slabs[sid].bitsOffset, i) { n += 1 }
        return n
    }

    /// The slab after `sid` on a cpu partial list (−1 at the end).
    public func nextCPUPartial(_ sid: SlabID) -> SlabID { slabs[sid].next }

    /// A node's partial list, head first.
    public func nodePartialSlabs(_ id: CacheID, nid: Int) -> [SlabID] {
        var out: [SlabID] = []
        var sid = caches[id].node[nid].partialHead
        while !sid.isNone && out.count <= slabs.count { out.append(sid); sid = slabs[sid].next }
        return out
    }
}
