// tools/testing/memblock/tests/basic_api.c, in our own words: add, add_node, reserve, remove,
// free, bottom-up and trim_memory on the region arrays.

import MMCore
import Testing

@Suite("memblock basic API (basic_api.c)")
struct MemblockBasicTests {
    @Test("initial state: both arrays hold the dummy, 128 slots, top-down, no limit")
    func initialState() {
        let w = World(withMemory: false)
        #expect(w.memory == [dummy] && w.reserved == [dummy])
        #expect(w.mb.memory.max == 128 && w.mb.reserved.max == 128)
        #expect(w.mb.memory.name == "memory" && w.mb.reserved.name == "reserved")
        #expect(w.mb.bottomUp == false && w.mb.currentLimit == Memblock.allocAnywhere)
    }

    // Both arrays behave the same for additions: memblock_add on memory, memblock_reserve on reserved.
    enum Target: CaseIterable { case memory, reserved }

    func adder(_ t: Target) -> (inout World, PhysAddr, UInt64) -> Void {
        t == .memory ? { $0.add($1, $2) } : { $0.reserve($1, $2) }
    }
    func regions(_ w: World, _ t: Target) -> [MemblockRegion] { t == .memory ? w.memory : w.reserved }
    func total(_ w: World, _ t: Target) -> UInt64 { t == .memory ? w.mb.memory.totalSize : w.mb.reserved.totalSize }

    @Test("add to an empty array fills the dummy slot", arguments: Target.allCases)
    func simple(_ t: Target) {
        var w = World(withMemory: false)
        adder(t)(&w, 0x1000_0000, 0x4000_0000)
        #expect(regions(w, t) == [region(0x1000_0000, 0x4000_0000)])
        #expect(total(w, t) == 0x4000_0000)
    }

    @Test("add_node records nid and flags")
    func addNode() {
        var w = World(withMemory: false)
        w.mb.addNode(0x10_0000, 0x1_0000, nid: 1, flags: .hotplug, log: &w.log)
        #expect(w.memory == [MemblockRegion(base: 0x10_0000, size: 0x1_0000, flags: .hotplug, nid: 1)])
    }

    @Test("two disjoint ranges stay two, sorted", arguments: Target.allCases)
    func disjoint(_ t: Target) {
        var w = World(withMemory: false)
        adder(t)(&w, 0x4000_0000, 0x1000)
        adder(t)(&w, 0x1000_0000, 0x2000)
        #expect(regions(w, t) == [region(0x1000_0000, 0x2000), region(0x4000_0000, 0x1000)])
        #expect(total(w, t) == 0x3000)
    }

    @Test("a range overlapping the start of a region merges into one", arguments: Target.allCases)
    func overlapTop(_ t: Target) {
        var w = World(withMemory: false)
        adder(t)(&w, 0x2000, 0x4000)       // [0x2000, 0x6000)
        adder(t)(&w, 0x1000, 0x2000)       // [0x1000, 0x3000)
        #expect(regions(w, t) == [region(0x1000, 0x5000)])
        #expect(total(w, t) == 0x5000)
    }

    @Test("a range overlapping the end of a region merges into one", arguments: Target.allCases)
    func overlapBottom(_ t: Target) {
        var w = World(withMemory: false)
        adder(t)(&w, 0x2000, 0x4000)
        adder(t)(&w, 0x5000, 0x3000)
        #expect(regions(w, t) == [region(0x2000, 0x6000)])
        #expect(total(w, t) == 0x6000)
    }

    @Test("a range inside a region changes nothing; adding twice changes nothing", arguments: Target.allCases)
    func withinAndTwice(_ t: Target) {
        var w = World(withMemory: false)
        adder(t)(&w, 0x2000, 0x8000)
        adder(t)(&w, 0x3000, 0x1000)
        adder(t)(&w, 0x2000, 0x8000)
        #expect(regions(w, t) == [region(0x2000, 0x8000)])
        #expect(total(w, t) == 0x8000)
    }

    @Test("a range filling the gap between two regions merges all three", arguments: Target.allCases)
    func between(_ t: Target) {
        var w = World(withMemory: false)
        adder(t)(&w, 0x1000, 0x1000)
        adder(t)(&w, 0x4000, 0x1000)
        adder(t)(&w, 0x2000, 0x2000)
        #expect(regions(w, t) == [region(0x1000, 0x4000)])
        #expect(total(w, t) == 0x4000)
    }

    @Test("a range past PHYS_ADDR_MAX is cut there", arguments: Target.allCases)
    func nearMax(_ t: Target) {
        var w = World(withMemory: false)
        let base = physAddrMax - 0x1000
        adder(t)(&w, base, 0x4000)
        #expect(regions(w, t) == [region(base, physAddrMax - base)])
    }

    // memblock_remove on memory, memblock_free on reserved: the same expectations.
    func remover(_ t: Target) -> (inout World, PhysAddr, UInt64) -> Void {
        t == .memory ? { $0.remove($1, $2) } : { $0.free($1, $2) }
    }

    @Test("removing a whole region leaves the other at index 0", arguments: Target.allCases)
    func removeSimple(_ t: Target) {
        var w = World(withMemory: false)
        adder(t)(&w, 0x1000, 0x1000); adder(t)(&w, 0x4000, 0x2000)
        remover(t)(&w, 0x1000, 0x1000)
        #expect(regions(w, t) == [region(0x4000, 0x2000)])
        #expect(total(w, t) == 0x2000)
    }

    @Test("removing an absent range changes nothing", arguments: Target.allCases)
    func removeAbsent(_ t: Target) {
        var w = World(withMemory: false)
        adder(t)(&w, 0x4000, 0x2000)
        remover(t)(&w, 0x1000, 0x1000)
        #expect(regions(w, t) == [region(0x4000, 0x2000)])
    }

    @Test("removing over the start or the end of a region trims it", arguments: Target.allCases)
    func removeOverlap(_ t: Target) {
        var w = World(withMemory: false)
        adder(t)(&w, 0x4000, 0x4000)
        remover(t)(&w, 0x3000, 0x2000)
        #expect(regions(w, t) == [region(0x5000, 0x3000)])
        remover(t)(&w, 0x7000, 0x2000)
        #expect(regions(w, t) == [region(0x5000, 0x2000)])
        #expect(total(w, t) == 0x2000)
    }

    @Test("removing inside a region splits it in two", arguments: Target.allCases)
    func removeWithin(_ t: Target) {
        var w = World(withMemory: false)
        adder(t)(&w, 0x4000, 0x4000)
        remover(t)(&w, 0x5000, 0x1000)
        #expect(regions(w, t) == [region(0x4000, 0x1000), region(0x6000, 0x2000)])
        #expect(total(w, t) == 0x3000)
    }

    @Test("removing the only region brings the dummy back", arguments: Target.allCases)
    func removeOnly(_ t: Target) {
        var w = World(withMemory: false)
        adder(t)(&w, 0x4000, 0x4000)
        remover(t)(&w, 0x4000, 0x4000)
        #expect(regions(w, t) == [dummy])
        #expect(total(w, t) == 0)
    }

    @Test("removing past PHYS_ADDR_MAX removes up to it", arguments: Target.allCases)
    func removeNearMax(_ t: Target) {
        var w = World(withMemory: false)
        let base = physAddrMax - 0x2000
        adder(t)(&w, base, 0x2000)
        remover(t)(&w, base + 0x1000, 0x4000)
        #expect(regions(w, t) == [region(base, 0x1000)])
    }

    @Test("removing a range over two regions trims both", arguments: Target.allCases)
    func removeOverlapTwo(_ t: Target) {
        var w = World(withMemory: false)
        adder(t)(&w, 0x1000, 0x3000); adder(t)(&w, 0x6000, 0x3000)
        remover(t)(&w, 0x3000, 0x4000)
        #expect(regions(w, t) == [region(0x1000, 0x2000), region(0x7000, 0x2000)])
        #expect(total(w, t) == 0x4000)
    }

    @Test("memblock_set_bottom_up toggles the direction")
    func bottomUpFlag() {
        var w = World(withMemory: false)
        w.mb.bottomUp = true
        #expect(w.mb.bottomUp)
    }

    @Test("trim_memory: aligned regions stay, a tiny one goes, unaligned edges move inward")
    func trim() {
        var w = World(withMemory: false)
        w.add(0x1000, 0x1000)                  // aligned
        w.add(0x3010, 0x10)                    // rounds to nothing
        w.add(0x5010, 0x1000 - 0x10)           // base moves up to 0x6000? no: to 0x5020
        w.add(0x8000, 0x1010)                  // end moves down
        w.mb.trimMemory(align: smpCacheBytes)
        #expect(w.memory == [region(0x1000, 0x1000), region(0x5020, 0xfe0), region(0x8000, 0x1000)])
    }

    @Test("trim_memory leaves total_size as it was for rounded edges, as the kernel does")
    func trimTotal() {
        var w = World(withMemory: false)
        w.add(0x1000, 0x9ec00)  // [0x1000, 0x9fc00), as e820 gives on QEMU
        w.mb.trimMemory(align: pageSize)
        #expect(w.memory == [region(0x1000, 0x9e000)])
        #expect(w.mb.memory.totalSize == 0x9ec00)
    }

    @Test("set_node splits regions at the node boundary and tags them")
    func setNode() {
        var w = World(withMemory: false)
        w.add(0x0, 0x10000)
        w.mb.setNode(0x4000, 0xc000, in: .memory, nid: 1, log: &w.log)
        w.mb.setNode(0x0, 0x4000, in: .memory, nid: 0, log: &w.log)
        #expect(w.memory == [MemblockRegion(base: 0, size: 0x4000, nid: 0), MemblockRegion(base: 0x4000, size: 0xc000, nid: 1)])
    }

    @Test("past 128 regions the array doubles, its new home reserved from memblock itself")
    func doubling() {
        var w = World(withMemory: false)
        w.mb.debug = true
        w.add(0x1000_0000, 0x1000_0000)  // memory to hold the new array
        w.mb.currentLimit = 0x2000_0000
        w.mb.allowResize()
        for i in 0..<129 { w.reserve(0x1000_0000 + UInt64(i) * 0x2000, 0x1000) }
        #expect(w.mb.reserved.max == 256)
        #expect(w.mb.reserved.cnt == 130)
        // 256 regions × 24 bytes = 6 KiB (the debug line shows that), reserved page-aligned as 8 KiB.
        #expect(w.reserved.last == region(0x1fff_e000, 0x2000))
        #expect(w.log.lines.contains("memblock: reserved is doubled to 256 at [0x000000001fffe000-0x000000001ffff7ff]"))
    }

    @Test("without allow_resize a full array refuses more regions")
    func noResize() {
        var w = World(withMemory: false)
        for i in 0..<128 { w.reserve(UInt64(i) * 0x2000, 0x1000) }
        #expect(w.mb.reserve(0x1000_0000, 0x1000, log: &w.log) == false)
        #expect(w.mb.reserved.cnt == 128)
    }

    @Test("memblock=debug lines have the kernel's format")
    func debugLines() {
        var w = World(withMemory: false)
        w.mb.debug = true
        w.mb.add(0x1000, 0x9ec00, caller: Caller("e820__memblock_setup+0x65/0x7d"), log: &w.log)
        w.mb.reserve(0xf5ba0, 0x10, caller: Caller("smp_scan_config+0xa7/0xff"), log: &w.log)
        #expect(w.log.lines == [
            "memblock_add: [0x0000000000001000-0x000000000009fbff] e820__memblock_setup+0x65/0x7d",
            "memblock_reserve: [0x00000000000f5ba0-0x00000000000f5baf] smp_scan_config+0xa7/0xff",
        ])
    }
}
