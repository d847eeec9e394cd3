// Random SLUB workloads: whatever the mix of caches, sizes, CPUs and nodes, no object is handed
// out twice, objects keep their contents, every list and counter stays consistent, and freeing
// everything gives every slab page back.

import KmemlabTestSupport
import MMCore
import MMText
import Testing

@Suite("SLUB under random workloads")
struct SlabPropertyTests {
    @Test("random kmalloc/kfree and cache alloc/free across CPUs and nodes", arguments: [("pc-1g-2cpu", UInt64(1)), ("pc-16g-numa2", 2), ("q35-8g-4cpu", 3)])
    func randomWorkload(_ name: String, _ seed: UInt64) throws {
        var k = try bootCase(name, replay: false)
        var rng = SplitMix64(seed: seed)
        let plain = try testCache(&k, "prop_plain", 200, [])
        let debug = try testCache(&k, "prop_debug", 72, [.redZone, .poison, .storeUser, .consistencyChecks])
        let rcu = try testCache(&k, "prop_rcu", 1000, .typesafeByRCU)
        let caches = [plain, debug, rcu]
        let cpus = k.machine.cpus.possible
        let nodes = Int32(k.slub.slabNodes.count)
        struct Live { var addr: UInt64; var cache: CacheID?; var size: Int; var tag: UInt8 }
        var live: [Live] = []
        var seen = Set<UInt64>()
        let freeBefore = k.nodes.reduce(0) { $0 + $1.zones.reduce(0) { $0 + $1.freePages } }
        for step in 0..<40_000 {
            let r = rng.next()
            let cpu = Int(r % UInt64(cpus))
            if live.isEmpty || r % 100 < 55 {
                let nid: NodeID = r % 7 == 0 ? NodeID(Int32((r >> 8) % UInt64(nodes))) : NodeID.none
                if r % 3 == 0 {
                    let c = caches[Int((r >> 16) % 3)]
                    guard let a = k.slabAllocNode(c, .gfpKernel, nid: nid, cpu: cpu) else { continue }
                    live.append(Live(addr: a, cache: c, size: k.slub.caches[c].objectSize, tag: UInt8(truncatingIfNeeded: step)))
                } else {
                    let size = r % 50 == 0 ? Int((r >> 20) % 40000) + 1 : Int((r >> 20) % 4096) + 1
                    let gfp: GFPFlags = r % 11 == 0 ? [.reclaim, .reclaimable] : r % 13 == 0 ? [.reclaim, .io, .fs, .account] : .gfpKernel
                    guard let a = k.kmalloc(size, gfp, nid: nid, cpu: cpu) else { continue }
                    live.append(Live(addr: a, cache: nil, size: size, tag: UInt8(truncatingIfNeeded: step)))
                }
                let l = live[live.count - 1]
                #expect(seen.insert(l.addr).inserted, "0x\(String(l.addr, radix: 16)) handed out twice")
                // Write a tag at both ends of the object; it must survive until the free.
                let pa = try #require(k.directMapPhys(l.addr))
                k.physMem.write(pa, l.tag)
                k.physMem.write(pa + UInt64(l.size - 1), l.tag)
            } else {
                let i = Int((r >> 8) % UInt64(live.count))
                let l = live.remove(at: i)
                let pa = try #require(k.directMapPhys(l.addr))
                #expect(k.physMem.read(pa) == l.tag && k.physMem.read(pa + UInt64(l.size - 1)) == l.tag)
                let out = l.cache.map { k.slabFree($0, l.addr, cpu: cpu) } ?? k.kfree(l.addr, cpu: cpu)
                #expect(out == .freed)
                seen.remove(l.addr)
            }
            if step % 5000 == 0 {
                #expect(k.checkSlubInvariants() == nil, "\(k.checkSlubInvariants() ?? "")")
            }
        }
        #expect(k.slub.errors == 0, "no debug report on a sound workload")
        for l in live { _ = l.cache.map { k.slabFree($0, l.addr) } ?? k.kfree(l.addr) }
        #expect(k.checkSlubInvariants() == nil, "\(k.checkSlubInvariants() ?? "")")
        for c in caches {
            k.kmemCacheShrink(c)
            #expect(k.slub.slabInfo(c).numSlabs == 0)
            k.kmemCacheDestroy(c)
        }
        for id in k.slub.list { k.kmemCacheShrink(id) }
        #expect(k.checkSlubInvariants() == nil)
        #expect(k.checkPageAllocInvariants() == nil)
        k.drainAllPages()
        let freeAfter = k.nodes.reduce(0) { $0 + $1.zones.reduce(0) { $0 + $1.freePages } }
        // Only the kmalloc caches' min_partial empty slabs may stay (shrink frees them) and the
        // three caches' own structures went back: nothing leaks.
        #expect(freeAfter + 64 >= freeBefore, "free before \(freeBefore), after \(freeAfter)")
    }
}
