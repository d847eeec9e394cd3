// The kmem_cache API as the rest of the kernel calls it: SLUB handed the parts it stands on.
//
// Linux: mm/slub.c, mm/slab_common.c — kmem_cache_alloc(), kmem_cache_alloc_node(),
//        kmem_cache_free(), kmem_cache_shrink(), kmem_cache_alloc_bulk(),
//        kmem_cache_free_bulk(), kmem_cache_create(), kmem_cache_destroy(), validate_slab_cache(),
//        virt_to_slab().
// Exact: each call is the SlubState operation of the same name (Slub+Alloc.swift and its
//        neighbours); these only pass it the page allocator, RAM and the kernel log, which
//        `Kernel` owns beside `slub`.

extension Kernel {
    /// Linux: kmem_cache_alloc() / kmem_cache_alloc_node(): an object's address, or nil.
    public mutating func slabAllocNode(_ id: CacheID, _ gfp: GFPFlags, nid: NodeID = NodeID.none, cpu: Int = 0) -> UInt64? {
        var l = NoListener()
        return slub.slabAllocNode(id, gfp, nid: nid, cpu: cpu, origSize: -1, &pageAlloc, &physMem, &log, &l)
    }

    public mutating func slabAllocNode<L: PageAllocListener>(_ id: CacheID, _ gfp: GFPFlags, nid: NodeID = NodeID.none,
                                                           cpu: Int = 0, origSize: Int = -1, _ l: inout L) -> UInt64? {
        slub.slabAllocNode(id, gfp, nid: nid, cpu: cpu, origSize: origSize, &pageAlloc, &physMem, &log, &l)
    }

    /// Linux: kmem_cache_free(). Misuse is reported and refused.
    public mutating func slabFree(_ id: CacheID, _ object: UInt64, cpu: Int = 0) -> SlabFreeOutcome {
        var l = NoListener()
        return slub.slabFree(id, object, cpu: cpu, &pageAlloc, &physMem, &log, &l)
    }

    public mutating func slabFree<L: PageAllocListener>(_ id: CacheID, _ object: UInt64, cpu: Int = 0,
                                                      _ l: inout L) -> SlabFreeOutcome {
        slub.slabFree(id, object, cpu: cpu, &pageAlloc, &physMem, &log, &l)
    }

    /// Linux: __flush_cpu_slab().
    public mutating func flushCPUSlab(_ id: CacheID, cpu: Int) {
        slub.flushCPUSlab(id, cpu: cpu, &pageAlloc, &physMem, &log)
    }

    /// Linux: kmem_cache_shrink().
    public mutating func kmemCacheShrink(_ id: CacheID) {
        slub.kmemCacheShrink(id, &pageAlloc, &physMem, &log)
    }

    public mutating func kmemCacheShrink<L: PageAllocListener>(_ id: CacheID, _ l: inout L) {
        slub.kmemCacheShrink(id, &pageAlloc, &physMem, &log, &l)
    }

    /// Linux: kmem_cache_alloc_bulk().
    public mutating func kmemCacheAllocBulk(_ id: CacheID, _ gfp: GFPFlags, count: Int, cpu: Int = 0) -> [UInt64] {
        slub.kmemCacheAllocBulk(id, gfp, count: count, cpu: cpu, &pageAlloc, &physMem, &log)
    }

    /// Linux: kmem_cache_free_bulk().
    public mutating func kmemCacheFreeBulk(_ id: CacheID, _ objects: [UInt64], cpu: Int = 0) {
        slub.kmemCacheFreeBulk(id, objects, cpu: cpu, &pageAlloc, &physMem, &log)
    }

    /// Linux: validate_slab_cache(): the number of reports.
    public mutating func validateSlabCache(_ id: CacheID) -> Int {
        slub.validateSlabCache(id, &pageAlloc, &physMem, &log)
    }

    /// Linux: kmem_cache_create_usercopy().
    public mutating func kmemCacheCreate(_ spec: KmemCacheSpec) throws(CacheCreateError) -> CacheID {
        try slub.kmemCacheCreate(spec, &pageAlloc, &physMem, &log)
    }

    /// Linux: kmem_cache_destroy().
    public mutating func kmemCacheDestroy(_ id: CacheID) {
        slub.kmemCacheDestroy(id, &pageAlloc, &physMem, &log)
    }

    /// Linux: virt_to_slab() of a page.
    public func slabID(ofPfn pfn: Pfn) -> SlabID? { slub.slabID(ofPfn: pfn, pageAlloc) }

    /// SlubState.checkSlubInvariants() on this kernel's memory.
    public func checkSlubInvariants() -> String? { slub.checkInvariants(pageAlloc, physMem) }
}
