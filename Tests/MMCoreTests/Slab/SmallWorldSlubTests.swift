// SLUB in a small world: one cache of 512-byte objects on a page allocator of 256 pages, no
// boot, no Kernel. SLUB is a value whose paths take the page allocator, RAM and the log as
// parameters, so its rules can be watched on four slabs: how a cache fills its slabs one after
// another, where a slab goes when objects come back (the cpu partial list, the node partial
// list, the page allocator), the hardened free pointer, and a double free refused.

@testable import MMCore
import Testing

/// The direct map's base (PAGE_OFFSET without KASLR) and the vmemmap's.
private let directMap: UInt64 = 0xffff_8880_0000_0000

/// One node, one Normal zone of 256 pages, all free and UNMOVABLE, a pcp batch of 4.
private func smallPageAllocator() -> PageAllocator {
    var (z, mm) = smallWorld(pages: 256, mt: .unmovable)
    z.pagesetBatch = 4
    z.pagesetHigh = 64
    release(&z, &mm, 0..<256, mt: .unmovable)
    var node = PGData(nodeId: 0)
    node.nodeSpannedPages = 256
    node.nodePresentPages = 256
    node.zones[ZoneType.normal.rawValue] = z
    var pa = PageAllocator()
    pa.nodes = [node]
    pa.memmap = mm
    pa.zonelists.fallback = [[(nid: 0, zone: .normal)]]
    pa.configure(cpuToNode: [0], onlineNodes: 1, initOnAlloc: true, vmemmapBase: 0xffff_ea00_0000_0000)
    return pa
}

/// The world: the page allocator, RAM, the log, and a SLUB with one cache "test-512".
private struct SlubWorld {
    var pages = smallPageAllocator()
    var mem = PhysMemory()
    var log = KernelLog()
    var slub = SlubState()
    var cache = CacheID.none

    init() {
        slub.configure(presentCPUs: 1, possibleCPUs: 1, slabNodes: [true], directMapBase: directMap, maxPfn: Pfn(256),
                       initOnAlloc: true, initOnFree: false, seed: 1)
        // Past kmem_cache_init()'s bootstrap (no kmem_cache_node cache here), before the
        // random freelists: slabs hand out their objects in address order.
        slub.state = .partial
        cache = slub.createBootCache(KmemCacheSpec(name: "test-512", size: 512), &pages, &mem, &log)
    }

    mutating func alloc() -> UInt64? { slub.slabAllocNode(cache, .gfpKernel, &pages, &mem, &log) }
    mutating func alloc(_ n: Int) -> [UInt64] { (0..<n).compactMap { _ in alloc() } }
    mutating func free(_ object: UInt64, _ l: inout EventRecorder) -> SlabFreeOutcome {
        slub.slabFree(cache, object, &pages, &mem, &log, &l)
    }
    var zoneFree: UInt64 { pages.nodes[0].zones[ZoneType.normal.rawValue].freePages }
    var node: KmemCacheNode { slub.caches[cache].node[0] }
    func slab(atPfn pfn: UInt64) -> Slab? { slub.slabID(ofPfn: Pfn(pfn), pages).map { slub.slabs[$0] } }
    func checked() -> String? { slub.checkInvariants(pages, mem) }
}

/// The address of object `j` of the slab on page `pfn`.
private func object(_ pfn: UInt64, _ j: UInt64) -> UInt64 { directMap + pfn * 4096 + 512 * j }

@Suite("small world: a cache on four slabs, no boot")
struct SmallWorldSlubTests {
    @Test("the cache's layout: order-0 slabs of eight 512-byte objects, free pointer in the middle")
    func layout() {
        let w = SlubWorld()
        let s = w.slub.caches[w.cache]
        #expect(s.size == 512 && s.objects == 8 && s.order == 0)
        #expect(s.offset == 256, "calculate_sizes(): no ctor, no poison — mid-object")
        #expect(s.minPartial == 5 && s.cpuPartialSlabs == 13)
    }

    @Test("32 objects fill four slabs, one page each, in address order; the full ones leave every list")
    func fillFourSlabs() throws {
        var w = SlubWorld()
        let got = w.alloc(32)
        // The pcp refill took pages 0–3 off the buddy lists in one batch; each new slab took
        // the next.
        let expected: [UInt64] = (UInt64(0)..<32).map { i in object(i / 8, i % 8) }
        #expect(got == expected)
        #expect(w.zoneFree == 252 && w.pages.nodes[0].zones[ZoneType.normal.rawValue].pcp[0].count == 0)
        #expect(w.slub.caches[w.cache].pages == 4)
        #expect(w.node.nrSlabs == 4 && w.node.totalObjects == 32 && w.node.nrPartial == 0)
        for pfn in UInt64(0)..<3 {
            let slab = try #require(w.slab(atPfn: pfn))
            #expect(slab.inuse == 8 && !slab.frozen && slab.where_ == SlabPlace.none, "full slab \(pfn)")
        }
        #expect(w.slab(atPfn: 3)?.where_ == .cpuSlab)
        #expect(w.pages.memmap.page(Pfn(2)).flags.contains(.slab))
        #expect(w.slab(atPfn: 4) == nil, "page 4 is still the buddy allocator's")
        #expect(w.checked() == nil)
    }

    @Test("a free pointer is stored hardened: next ^ s->random ^ swab(its own address)")
    func hardenedFreePointer() throws {
        var w = SlubWorld()
        #expect(w.alloc() == object(0, 0))
        // Object 1 is free; its word at offset 256 points at object 2, encoded.
        let slot = object(0, 1) + 256
        let stored = w.mem.readWord(slot - directMap)
        #expect(stored == object(0, 2) ^ w.slub.caches[w.cache].random ^ slot.byteSwapped)
        #expect(stored != object(0, 2))
        #expect(w.slub.getFreepointer(w.cache, object(0, 1), w.mem) == object(0, 2))
    }

    @Test("objects coming back: a full slab goes to the cpu partial list, the cpu slab's to the freelist")
    func freesAndShrink() throws {
        var w = SlubWorld()
        #expect(w.alloc(32).count == 32)
        var rec = EventRecorder()
        // All of slab 1: the first free unfreezes nothing — a full slab is frozen onto this
        // CPU's partial list (put_cpu_partial), the rest land on its own freelist.
        for j in UInt64(0)..<8 { #expect(w.free(object(1, j), &rec) == .freed) }
        #expect(rec.slabEvents.first == .freeSlow(cache: w.cache, object: object(1, 0), slab: object(1, 0), to: .cpuPartial))
        let s1 = try #require(w.slab(atPfn: 1))
        #expect(s1.inuse == 0 && s1.frozen && s1.where_ == .cpuPartial)
        // One of the cpu slab's: the lockless fast path.
        #expect(w.free(object(3, 5), &rec) == .freed)
        #expect(rec.slabEvents.last == .freeFast(cache: w.cache, object: object(3, 5)))
        #expect(w.checked() == nil)

        // kmem_cache_shrink(): the cpu slab and the cpu partial list go to the node; the empty
        // slab goes back to the page allocator (its page to the pcp list), the other stays.
        rec = EventRecorder()
        w.slub.kmemCacheShrink(w.cache, &w.pages, &w.mem, &w.log, &rec)
        #expect(rec.slabEvents.contains(.slabFreed(cache: w.cache, slab: object(1, 0), order: 0)))
        #expect(w.slab(atPfn: 1) == nil)
        #expect(w.node.nrSlabs == 3 && w.node.totalObjects == 24 && w.node.nrPartial == 1)
        #expect(w.slub.caches[w.cache].pages == 3)
        #expect(w.pages.nodes[0].zones[ZoneType.normal.rawValue].pcp[0].count == 1)
        #expect(w.slab(atPfn: 3)?.where_ == .nodePartial && w.slab(atPfn: 3)?.inuse == 7)
        #expect(w.checked() == nil)

        // The next allocation takes the node's partial slab and its one free object.
        #expect(w.alloc() == object(3, 5))
        #expect(w.slab(atPfn: 3)?.where_ == .cpuSlab)
    }

    @Test("a double free is refused, reported as the hardened freelist's BUG, and the state stays sound")
    func doubleFree() throws {
        var w = SlubWorld()
        #expect(w.alloc(16).count == 16)
        var rec = EventRecorder()
        #expect(w.free(object(0, 3), &rec) == .freed)
        #expect(w.free(object(0, 3), &rec) == .refused(.doubleFree))
        #expect(w.log.lines.suffix(2) == ["kernel BUG at mm/slub.c:419!", "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI"])
        #expect(w.log.taint & KernelLog.taintDie != 0)
        #expect(w.slab(atPfn: 0)?.inuse == 7)
        #expect(w.checked() == nil)
        // A pointer into the middle of an object is no object.
        #expect(w.free(object(0, 4) + 8, &rec) == .refused(.notObjectStart))
        #expect(w.checked() == nil)
    }

    @Test("a cache that another merges into while it has a cpu slab zeroes the merged object size on the fast path")
    func mergeRefreshesTheCPUSlab() throws {
        var w = SlubWorld()
        // 500-byte objects in a 504-byte stride, then a 504-byte cache merges into it
        // (__kmem_cache_alias() raises its object_size to 504).
        let small = w.slub.createBootCache(KmemCacheSpec(name: "t500", size: 500), &w.pages, &w.mem, &w.log)
        // A cache like any kmem_cache_create() makes: on slab_caches, where find_mergeable()
        // looks, with a refcount (a boot cache's −1 forbids merging).
        w.slub.list.append(small)
        w.slub.caches[small].refcount = 1
        let y = try #require(w.slub.slabAllocNode(small, .gfpKernel, &w.pages, &w.mem, &w.log))
        let merged = try w.slub.kmemCacheCreate(KmemCacheSpec(name: "t504", size: 504), &w.pages, &w.mem, &w.log)
        #expect(merged == small && w.slub.caches[small].objectSize == 504)
        // Dirty the object's last four bytes, free it, take it back: init_on_alloc clears all 504.
        for i: UInt64 in 500..<504 { w.mem.write(y - directMap + i, 0xff) }
        var rec = EventRecorder()
        #expect(w.slub.slabFree(small, y, &w.pages, &w.mem, &w.log, &rec) == .freed)
        #expect(rec.slabEvents.contains { if case .freeFast = $0 { return true } else { return false } })
        let z = try #require(w.slub.slabAllocNode(small, .gfpKernel, &w.pages, &w.mem, &w.log))
        #expect(z == y)
        #expect((UInt64(500)..<504).allSatisfy { w.mem.read(z - directMap + $0) == 0 })
        #expect(w.checked() == nil)
    }
}
