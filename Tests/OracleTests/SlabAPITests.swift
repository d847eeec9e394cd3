// SLUB's allocation and free paths on a booted machine, objects in simulated memory, and
// every misuse lib/slub_kunit.c injects, with Linux's report and error count.

import KmemlabTestSupport
import MMCore
import MMText
import Testing


func must64(_ v: UInt64?, sourceLocation: SourceLocation = #_sourceLocation) throws -> UInt64 {
    try #require(v, sourceLocation: sourceLocation)
}

/// A cache the tests own (SLAB_NO_USER_FLAGS keeps slub_debug out, as slub_kunit.c does).
/// Merging is switched off for its creation so that the cache is its own (a plain 512-byte
/// cache would otherwise join a boot cache of that size, as it would in Linux).
func testCache(_ k: inout Kernel, _ name: String, _ size: Int, _ flags: SlabFlags) throws -> CacheID {
    let saved = k.slub.nomerge
    k.slub.nomerge = true
    defer { k.slub.nomerge = saved }
    return try k.kmemCacheCreate(KmemCacheSpec(name: name, size: size, flags: flags.union(.noUserFlags)))
}

@Suite("SLUB allocation and free paths")
struct SlabAPITests {
    @Test("kmalloc sizes map to Linux's caches and types; above 8 KiB kmalloc takes compound pages")
    func kmallocMapping() throws {
        let k = try bootCase("pc-1g-2cpu", replay: false)
        let cases: [(Int, GFPFlags, String)] = [
            (1, .gfpKernel, "kmalloc-8"), (8, .gfpKernel, "kmalloc-8"), (9, .gfpKernel, "kmalloc-16"),
            (24, .gfpKernel, "kmalloc-32"), (65, .gfpKernel, "kmalloc-96"), (96, .gfpKernel, "kmalloc-96"),
            (97, .gfpKernel, "kmalloc-128"), (129, .gfpKernel, "kmalloc-192"), (193, .gfpKernel, "kmalloc-256"),
            (4097, .gfpKernel, "kmalloc-8k"), (8192, .gfpKernel, "kmalloc-8k"),
            (64, [.reclaim, .io, .fs, .account], "kmalloc-cg-64"), (64, [.reclaim, .reclaimable], "kmalloc-rcl-64"),
            (64, [.reclaim, .dma], "dma-kmalloc-64"), (64, [.dma, .reclaimable, .account], "dma-kmalloc-64"),
        ]
        for (size, gfp, name) in cases {
            let id = try #require(k.kmallocSlab(size, gfp))
            #expect(k.slub.caches[id].name == name, "kmalloc(\(size), \(gfp.description))")
        }
        #expect(k.kmallocSlab(0, .gfpKernel) == nil && k.kmallocSlab(8193, .gfpKernel) == nil)
        var k2 = k
        #expect(k2.kmalloc(0, .gfpKernel) == Kmalloc.zeroSizePtr)
        let unreclaim = { (k: Kernel) in ProcFiles.meminfo(k).first { $0.hasPrefix("SUnreclaim:") } ?? "" }
        #expect(unreclaim(k2) == "SUnreclaim:           52 kB", "kmem_cache and kmem_cache_node slabs")
        let big = try must64(k2.kmalloc(20000, .gfpKernel))
        #expect(unreclaim(k2) == "SUnreclaim:           84 kB", "+ an order-3 large kmalloc")
        #expect(k2.ksize(big) == 32768, "order 3")
        #expect(k2.kfree(big) == .freed)
        #expect(k2.kmalloc(Kmalloc.maxSize + 1, .gfpKernel) == nil)
    }

    @Test("fast path: a new slab fills the cpu freelist; frees go back to it LIFO; the stored pointer is hardened")
    func fastPath() throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        let id = try testCache(&k, "t_fast", 100, [])
        let s = k.slub.caches[id]
        #expect(s.size == 104 && s.offset == 48 && s.objects == 39 && s.order == 0)
        var rec = EventRecorder()
        let a = try must64(k.slabAllocNode(id, .gfpKernel, cpu: 0, origSize: -1, &rec))
        #expect(rec.slabEvents.contains { if case .newSlab(id, _, 0, 0, _, false) = $0 { return true }; return false })
        rec = EventRecorder()
        let b = try must64(k.slabAllocNode(id, .gfpKernel, cpu: 0, origSize: -1, &rec))
        #expect(rec.slabEvents == [.cpuFreelist(cache: id, object: b)])
        #expect(a != b)
        #expect(k.slabFree(id, a, cpu: 0, &rec) == .freed)
        #expect(rec.slabEvents.last == .freeFast(cache: id, object: a))
        // The stored word is next ^ s->random ^ bswap(address of the word): never the plain pointer.
        let word = k.physMem.readWord(try #require(k.directMapPhys(a)) + 48)
        let next = k.slub.cpuSlab(id, cpu: 0).freelist
        #expect(next == a)
        #expect(word != 0 && word != b)
        #expect(k.slabAllocNode(id, .gfpKernel, cpu: 0) == a, "LIFO")
        // init_on_alloc (Debian's default) zeroes the object, free pointer included.
        let pa = try #require(k.directMapPhys(a))
        for i in 0..<100 { #expect(k.physMem.read(pa + UInt64(i)) == 0) }
        let phys = try #require(k.directMapPhys(a))
        let slab = try #require(k.slabID(ofPfn: Pfn.down(phys)))
        #expect(k.slub.slabs[slab].where_ == .cpuSlab && k.slub.slabs[slab].frozen)
    }

    @Test("the freelist of a new slab is a seeded permutation; the same seed gives the same order")
    func randomFreelist() throws {
        func order(seed: UInt64) throws -> [UInt64] {
            var k = try bootCase("pc-1g-2cpu", replay: false)
            k.seed = seed
            var m = k
            m.slub = SlubState()
            let id = try testCache(&k, "t_rand", 256, [])
            var out: [UInt64] = []
            for _ in 0..<16 { out.append(try must64(k.slabAllocNode(id, .gfpKernel))) }
            let base = out.min()!
            return out.map { ($0 - base) / 256 }
        }
        let a = try order(seed: 0), b = try order(seed: 0)
        #expect(a == b)
        #expect(Set(a).count == 16)
        #expect(a != Array(0..<16).map { UInt64($0) }, "randomised, not linear")
    }

    @Test("slow paths: a full cpu slab is replaced; remote frees go to the cpu partial list; empty slabs go back")
    func slowPaths() throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        let id = try testCache(&k, "t_slow", 512, [])
        let per = k.slub.caches[id].objects
        #expect(per == 16 && k.slub.caches[id].order == 1 && k.slub.caches[id].cpuPartial == 52)
        var objs: [UInt64] = []
        for _ in 0..<(per * 3) { objs.append(try must64(k.slabAllocNode(id, .gfpKernel, cpu: 0))) }
        #expect(k.slub.slabInfo(id).numSlabs == 3)
        // Freeing into a full slab that is not the cpu slab freezes it onto this CPU's partial list.
        var rec = EventRecorder()
        #expect(k.slabFree(id, objs[0], cpu: 1, &rec) == .freed)
        #expect(rec.slabEvents.contains { if case .freeSlow(_, _, _, .cpuPartial) = $0 { return true }; return false })
        #expect(k.slub.cpuSlab(id, cpu: 1).partial.isNone == false)
        // CPU 1 now allocates from that partial slab.
        rec = EventRecorder()
        #expect(k.slabAllocNode(id, .gfpKernel, nid: NodeID.none, cpu: 1, origSize: -1, &rec) == objs[0])
        #expect(rec.slabEvents.contains { if case .cpuPartial = $0 { return true }; return false })
        // Free everything and flush: empty slabs beyond min_partial go back to the page allocator.
        for o in objs { #expect(k.slabFree(id, o, cpu: 0) == .freed) }
        k.kmemCacheShrink(id)
        #expect(k.slub.slabInfo(id) == SlabInfo(activeObjs: 0, numObjs: 0, numSlabs: 0))
        #expect(k.checkPageAllocInvariants() == nil)
        k.kmemCacheDestroy(id)
        #expect(k.slub.find("t_slow") == nil)
    }

    @Test("NUMA: kmalloc_node takes its slab from the asked node; a cpu slab of another node is deactivated")
    func numaNodes() throws {
        var k = try bootCase("pc-16g-numa2", replay: false)
        #expect(k.slub.slabNodes == [true, true])
        let id = try testCache(&k, "t_numa", 192, [])
        for nid: NodeID in [0, 1, 0] {
            var rec = EventRecorder()
            let o = try must64(k.slabAllocNode(id, .gfpKernel, nid: nid, cpu: 0, origSize: -1, &rec))
            let phys = try #require(k.directMapPhys(o))
            let sid = try #require(k.slabID(ofPfn: Pfn.down(phys)))
            #expect(k.slub.slabs[sid].nid == nid)
            #expect(k.memmap.zoneSlot(Pfn.down(phys)).map { $0.nid } == nid)
        }
        // Each node's structure came from kmem_cache_node on that node.
        for nid in 0..<2 {
            let a = try #require(k.directMapPhys(k.slub.caches[id].node[nid].address))
            let sid = try #require(k.slabID(ofPfn: Pfn.down(a)))
            #expect(k.slub.slabs[sid].nid == NodeID(Int32(nid)) && k.slub.slabs[sid].cache == k.slub.kmemCacheNode)
        }
    }

    @Test("krealloc keeps a fitting object, moves a growing one with its bytes; ksize; bulk alloc/free")
    func kreallocAndBulk() throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        let a = try must64(k.kmalloc(40, .gfpKernel))
        #expect(k.ksize(a) == 64)
        let pa = try #require(k.directMapPhys(a))
        for i in 0..<40 { k.physMem.write(pa + UInt64(i), UInt8(i + 1)) }
        #expect(k.krealloc(a, 60, .gfpKernel) == a, "still fits kmalloc-64")
        let b = try must64(k.krealloc(a, 300, .gfpKernel))
        #expect(b != a && k.ksize(b) == 512)
        let pb = try #require(k.directMapPhys(b))
        for i in 0..<40 { #expect(k.physMem.read(pb + UInt64(i)) == UInt8(i + 1)) }
        #expect(k.kfree(a) == .refused(.doubleFree), "krealloc freed the old object")
        #expect(k.krealloc(b, 0, .gfpKernel) == Kmalloc.zeroSizePtr)
        let id = try testCache(&k, "t_bulk", 128, [])
        let objs = k.kmemCacheAllocBulk(id, .gfpKernel, count: 100)
        #expect(objs.count == 100 && Set(objs).count == 100)
        k.kmemCacheFreeBulk(id, objs)
        #expect(k.checkSlubInvariants() == nil)
    }

    @Test("init_on_free=1 clears freed objects; cgroup.memory=nokmem makes kmalloc-cg the normal caches")
    func bootOptions() throws {
        var k = try bootCase("pc-1g-2cpu", append: "init_on_free=1 cgroup.memory=nokmem")
        // Both switches are on: 6.1 does not turn init_on_alloc off for init_on_free.
        #expect(k.log.lines.contains("mem auto-init: stack:all(zero), heap alloc:on, heap free:on"))
        #expect(!SlabFiles.slabinfo(k).contains { $0.hasPrefix("kmalloc-cg-") })
        #expect(k.kmallocSlab(64, [.reclaim, .account]) == k.kmallocSlab(64, .gfpKernel))
        let id = try testCache(&k, "t_iof", 64, [])
        let o = try must64(k.slabAllocNode(id, .gfpKernel))
        let po = try #require(k.directMapPhys(o))
        k.physMem.write(po + 5, 0x77)
        #expect(k.slabFree(id, o) == .freed)
        #expect(k.physMem.read(po + 5) == 0)
    }

    @Test("kmem_cache_shrink: empty slabs freed, nearly full slabs first on the node list")
    func shrinkOrder() throws {
        var k = try bootCase("pc-1g-2cpu")
        let id = try testCache(&k, "t_shrink", 1024, [])   // 16 objects per order-2 slab
        let per = k.slub.caches[id].objects
        var objs: [[UInt64]] = []
        for _ in 0..<4 { objs.append((0..<per).map { _ in k.slabAllocNode(id, .gfpKernel)! }) }
        // Slab 0 keeps 1 object, slab 1 keeps 15, slab 2 none, slab 3 stays full.
        for o in objs[0].dropFirst() { _ = k.slabFree(id, o) }
        for o in objs[1].prefix(1) { _ = k.slabFree(id, o) }
        for o in objs[2] { _ = k.slabFree(id, o) }
        k.kmemCacheShrink(id)
        let order = k.slub.nodePartialSlabs(id, nid: 0).map { k.slub.slabs[$0].inuse }
        #expect(order == [15, 1], "fullest first; the empty slab is gone; the full one is on no list")
        #expect(k.slub.slabInfo(id).numSlabs == 3)
        #expect(k.checkSlubInvariants() == nil)
        // Slabs with more than 32 free objects are not promoted: they keep their order behind.
        let small = try testCache(&k, "t_shrink64", 64, [])   // 64 objects per slab
        var held: [[UInt64]] = []
        for _ in 0..<5 { held.append((0..<64).map { _ in k.slabAllocNode(small, .gfpKernel)! }) }
        for (i, keep) in [10, 60, 30, 62, 20].enumerated() { for o in held[i].dropFirst(keep) { _ = k.slabFree(small, o) } }
        for cpu in 0..<2 { k.flushCPUSlab(small, cpu: cpu) }
        let before = k.slub.nodePartialSlabs(small, nid: 0)
        let free = { (sid: SlabID) in Int(k.slub.slabs[sid].objects - k.slub.slabs[sid].inuse) }
        let promoted = before.filter { free($0) <= 32 }.reversed().sorted { free($0) < free($1) }
        let rest = before.filter { free($0) > 32 }
        k.kmemCacheShrink(small)
        #expect(k.slub.nodePartialSlabs(small, nid: 0) == promoted + rest)
        #expect(rest.count == 3 && promoted.count == 2)
    }

    @Test("merging: a compatible request joins the oldest fitting cache; a ctor or debug flag prevents it")
    func merging() throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        let a = try k.kmemCacheCreate(KmemCacheSpec(name: "t_a", size: 700))
        let b = try k.kmemCacheCreate(KmemCacheSpec(name: "t_b", size: 700))
        #expect(a == b && k.slub.caches[a].aliases.contains("t_b"))
        let c = try k.kmemCacheCreate(KmemCacheSpec(name: "t_c", size: 700, ctor: "t_ctor"))
        #expect(c != a && k.slub.caches[c].size == 712, "a ctor moves the free pointer out: 704 + 8")
        let d = try k.kmemCacheCreate(KmemCacheSpec(name: "t_d", size: 700, flags: .poison))
        #expect(d != a)
        #expect(throws: Kernel.CacheCreateError.invalidSize) { try k.kmemCacheCreate(KmemCacheSpec(name: "t_e", size: 4)) }
    }

    @Test("slub_debug=FZPU lays objects out with red zones, tracks and padding, and reports a double free")
    func slubDebugLayout() throws {
        var k = try bootCase("pc-1g-2cpu", append: "slub_debug=FZPU,kmalloc-64")
        let id = try #require(k.slub.find("kmalloc-64"))
        let s = k.slub.caches[id]
        // 64 + 8 right red zone, free pointer outside (72), 2 tracks (64), orig size (4), left
        // pad 64, right 8 → 220, aligned to 64.
        #expect(s.redLeftPad == 64 && s.inuse == 72 && s.offset == 72 && s.size == 256)
        #expect(s.cpuPartial == 0 && s.isDebug)
        #expect(k.slub.caches[k.slub.find("kmalloc-32")!].isDebug == false)
        let p = try must64(k.kmalloc(40, .gfpKernel))
        let q = try must64(k.kmalloc(40, .gfpKernel))
        #expect(k.kfree(p) == .freed)
        let before = k.log.lines.count
        #expect(k.kfree(p) == .refused(.consistencyCheckFailed))
        let report = Array(k.log.lines[before...])
        #expect(report.contains("BUG kmalloc-64 (Not tainted): Object already free"))
        #expect(report.contains { $0.hasPrefix("Object 0x\(String(p, radix: 16))") })
        #expect(report.contains("FIX kmalloc-64: Object at 0x\(String(p, radix: 16)) not freed"))
        #expect(report.contains { $0.hasPrefix("Allocated in ") } && report.contains { $0.hasPrefix("Freed in ") })
        #expect(k.taintText == "Tainted: G    B             ")
        // With nothing left allocated in the slab, Linux's first check is the count.
        #expect(k.kfree(q) == .freed)
        #expect(k.kfree(q) == .refused(.noAllocatedObjects) || k.slub.slabs.allSatisfy { $0.cache != id || $0.pfn == .max })
    }
}

/// lib/slub_kunit.c's cases, with the error counts it expects.
@Suite("slub_kunit: each injected corruption is found and reported as Linux reports it")
struct SlubKunitTests {
    @Test("test_clobber_zone: a write past an allocated object")
    func clobberZone() throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        let id = try testCache(&k, "TestSlub_RZ_alloc", 64, .redZone)
        let p = try must64(k.slabAllocNode(id, .gfpKernel))
        k.physMem.write(try #require(k.directMapPhys(p)) + 64, 0x12)
        let before = k.log.lines.count
        k.validateSlabCache(id)
        #expect(k.slub.errors == 2)
        let report = Array(k.log.lines[before...])
        #expect(report.contains("BUG TestSlub_RZ_alloc (Not tainted): Right Redzone overwritten"))
        let at = String(p + 64, radix: 16)
        #expect(report.contains { $0.hasPrefix("0x\(at)-0x\(at) @offset=") && $0.hasSuffix(". First byte 0x12 instead of 0xcc") })
        #expect(report.contains("FIX TestSlub_RZ_alloc: Restoring Right Redzone 0x\(at)-0x\(at)=0xcc"))
        #expect(k.slabFree(id, p) == .freed)
        k.kmemCacheDestroy(id)
    }

    @Test("test_next_pointer: a freed object's free pointer is corrupted, then repaired")
    func nextPointer() throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        let id = try testCache(&k, "TestSlub_next_ptr_free", 64, .poison)
        let p = try must64(k.slabAllocNode(id, .gfpKernel))
        #expect(k.slabFree(id, p) == .freed)
        let slot = try #require(k.directMapPhys(p)) + UInt64(k.slub.caches[id].offset)
        let saved = k.physMem.readWord(slot)
        k.physMem.write(slot, ~k.physMem.read(slot))
        k.validateSlabCache(id)
        #expect(k.slub.errors == 3)
        #expect(k.log.lines.contains("BUG TestSlub_next_ptr_free (Not tainted): Freechain corrupt"))
        k.physMem.writeWord(slot, saved)
        k.slub.errors = 0
        k.validateSlabCache(id)
        #expect(k.slub.errors == 2)
        #expect(k.log.lines.contains { $0.hasPrefix("BUG TestSlub_next_ptr_free (Tainted: G    B") && $0.hasSuffix("): Wrong object count. Counter is 15 but counted were 0") } ||
                k.log.lines.contains { $0.contains("Wrong object count") })
        k.slub.errors = 0
        k.validateSlabCache(id)
        #expect(k.slub.errors == 0)
    }

    @Test("test_first_word and test_clobber_50th_byte: writes into a freed, poisoned object", arguments: [0, 50])
    func poisonWrite(_ at: Int) throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        let id = try testCache(&k, at == 0 ? "TestSlub_1th_word_free" : "TestSlub_50th_word_free", 64, .poison)
        let p = try must64(k.slabAllocNode(id, .gfpKernel))
        #expect(k.slabFree(id, p) == .freed)
        k.physMem.write(try #require(k.directMapPhys(p)) + UInt64(at), at == 0 ? 0x78 : 0x9a)
        k.validateSlabCache(id)
        #expect(k.slub.errors == 2)
        #expect(k.log.lines.contains { $0.hasSuffix("): Poison overwritten") })
        // Repaired: a second pass finds nothing.
        k.slub.errors = 0
        k.validateSlabCache(id)
        #expect(k.slub.errors == 0)
    }

    @Test("test_clobber_redzone_free: a write past a freed object")
    func clobberRedzoneFree() throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        let id = try testCache(&k, "TestSlub_RZ_free", 64, .redZone)
        let p = try must64(k.slabAllocNode(id, .gfpKernel))
        #expect(k.slabFree(id, p) == .freed)
        k.physMem.write(try #require(k.directMapPhys(p)) + 64, 0xab)
        k.validateSlabCache(id)
        #expect(k.slub.errors == 2)
        #expect(k.log.lines.contains { $0.hasSuffix("First byte 0xab instead of 0xbb") })
    }

    @Test("without slub_debug: a double free is refused (hardened freelist BUG or the model's note), a foreign pointer warned about")
    func plainMisuse() throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        let id = try testCache(&k, "t_plain", 128, [])
        let a = try must64(k.slabAllocNode(id, .gfpKernel))
        let b = try must64(k.slabAllocNode(id, .gfpKernel))
        #expect(k.slabFree(id, a) == .freed)
        #expect(k.slabFree(id, a) == .refused(.doubleFree))
        #expect(k.log.lines.contains("kernel BUG at mm/slub.c:419!"))
        #expect(k.slabFree(id, b) == .freed)
        #expect(k.slabFree(id, a) == .refused(.doubleFree), "not at the head: only the model notices")
        #expect(k.log.lines.last?.hasPrefix("kmemlab: t_plain: double free of 0x") == true)
        let c = try must64(k.slabAllocNode(id, .gfpKernel))
        #expect(k.slabFree(id, c + 8) == .refused(.notObjectStart))
        let other = try #require(k.slub.find("kmalloc-128"))
        #expect(k.slabFree(other, c) == .freed, "freed into its own cache")
        #expect(k.log.lines.contains("kmem_cache_free: Wrong slab cache. kmalloc-128 but object is from t_plain"))
        // The cache is still sound: every object can be allocated again, each once.
        var seen = Set<UInt64>()
        for _ in 0..<64 { #expect(seen.insert(try must64(k.slabAllocNode(id, .gfpKernel))).inserted) }
    }
}
