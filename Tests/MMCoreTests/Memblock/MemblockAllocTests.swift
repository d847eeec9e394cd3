// tools/testing/memblock/tests/alloc_api.c, alloc_helpers_api.c and alloc_nid_api.c, in our own
// words: where memblock_alloc*, memblock_alloc_from and memblock_alloc_try_nid place a block,
// top-down and bottom-up, and when they fail.

import MMCore
import Testing

@Suite("memblock_alloc (alloc_api.c)")
struct MemblockAllocTests {
    @Test("simple: top-down at the end (size not rounded), bottom-up at the start", arguments: [false, true])
    func simple(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        let a = w.alloc(2)
        let expected = bottomUp ? memStart : memEnd - smpCacheBytes
        #expect(a == expected)
        #expect(w.reserved == [region(expected, 2)])
        #expect(w.mb.reserved.totalSize == 2)
    }

    @Test("top-down next to a misaligned reservation at the end: a separate region below it")
    func topDownDisjoint() {
        var w = World()
        w.reserve(memEnd - 0x28, 0x28)            // starts misaligned for 64
        let a = w.alloc(0x10, align: 64)
        #expect(a == memEnd - 0x40)               // aligned down: 8 bytes short of touching it
        #expect(w.reserved == [region(memEnd - 0x40, 0x10), region(memEnd - 0x28, 0x28)])
    }

    @Test("first fit below a reservation at the end merges with it", arguments: [false, true])
    func adjacentMerge(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        // Reserved at the end (top-down) or the start (bottom-up) of memory, aligned size.
        let r: PhysAddr = bottomUp ? memStart : memEnd - 0x100
        w.reserve(r, 0x100)
        let a = w.alloc(0x40)
        #expect(a == (bottomUp ? memStart + 0x100 : memEnd - 0x140))
        #expect(w.reserved == [region(bottomUp ? memStart : memEnd - 0x140, 0x140)])
    }

    @Test("second fit: no room above the top reservation, the block goes below the lower one")
    func secondFit() {
        var w = World()
        w.reserve(memEnd - 0x100, 0x100)
        w.reserve(memEnd - 0x200 - 0x20, 0x100)   // leaves a 0x20 gap, too small for 0x40
        let a = w.alloc(0x40)
        #expect(a == memEnd - 0x220 - 0x40)
        #expect(w.reserved == [region(memEnd - 0x260, 0x140), region(memEnd - 0x100, 0x100)])
    }

    @Test("a block that exactly fills the gap between two reservations merges all three", arguments: [false, true])
    func inBetween(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        w.reserve(memStart, 0x2000)
        w.reserve(memStart + 0x2100, memSize - 0x2100)
        let a = w.alloc(0x100)
        #expect(a == memStart + 0x2000)
        #expect(w.reserved == [region(memStart, memSize)])
    }

    @Test("no fitting gap, all reserved, no memory, or too large: NULL and nothing reserved", arguments: [false, true])
    func failures(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        for i in stride(from: 0, to: memSize, by: 0x100) { w.reserve(memStart + i, 0x80) }  // gaps of 0x80
        let before = w.reserved
        #expect(w.alloc(0x100) == 0)
        #expect(w.reserved == before)

        var full = World(bottomUp: bottomUp)
        full.reserve(memStart, memSize)
        #expect(full.alloc(0x20) == 0)

        var none = World(withMemory: false, bottomUp: bottomUp)
        #expect(none.alloc(0x20) == 0)
        #expect(none.reserved == [dummy] && none.mb.reserved.totalSize == 0)

        var small = World(bottomUp: bottomUp)
        #expect(small.alloc(memSize + 0x20) == 0)
    }

    @Test("exactly enough room left succeeds and merges", arguments: [false, true])
    func limitedSpace(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        w.reserve(bottomUp ? memStart + 0x1000 : memStart, memSize - 0x1000)
        let a = w.alloc(0x1000)
        #expect(a == (bottomUp ? memStart : memEnd - 0x1000))
        #expect(w.reserved == [region(memStart, memSize)])
    }

    @Test("the first page of physical memory is never handed out")
    func firstPage() {
        var w = World(withMemory: false, bottomUp: true)
        w.add(0, 0x4000)
        #expect(w.alloc(0x100) == 0x1000)
    }

    @Test("debug line of memblock_alloc_try_nid")
    func debugLine() {
        var w = World()
        w.mb.debug = true
        _ = w.mb.allocTryNid(size: 32768, align: 0x40, caller: Caller("sparse_init+0x9f/0x23c"), log: &w.log)
        #expect(w.log.lines.first == "memblock_alloc_try_nid: 32768 bytes align=0x40 nid=-1 from=0x0000000000000000 max_addr=0x0000000000000000 sparse_init+0x9f/0x23c")
        #expect(w.log.lines.last == "memblock_reserve: [0x0000000000103fe0-0x0000000000103fdf] memblock_alloc_range_nid+0xb0/0x13d" || w.log.lines.count == 1)
    }
}

@Suite("memblock_alloc_from (alloc_helpers_api.c)")
struct MemblockAllocFromTests {
    @Test("aligned min_addr with room: top-down at the end, bottom-up at min_addr", arguments: [false, true])
    func simple(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        let min = memStart + 0x2000
        let a = w.allocFrom(0x100, min: min)
        #expect(a == (bottomUp ? min : memEnd - 0x100))
    }

    @Test("misaligned min_addr: bottom-up rounds up to the alignment")
    func misaligned() {
        var w = World(bottomUp: true)
        let a = w.allocFrom(0x100, min: memStart + 0x2001)
        #expect(a == memStart + 0x2020)
    }

    @Test("no room above min_addr: the lower limit is dropped", arguments: [false, true])
    func highAddress(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        let a = w.allocFrom(0x100, min: memEnd - 0x20)
        #expect(a == (bottomUp ? memStart : memEnd - 0x100))
    }

    @Test("everything above min_addr reserved: top-down places below min_addr and merges")
    func noSpaceAbove() {
        var w = World()
        let min = memStart + 0x2000
        w.reserve(min, memEnd - min)
        let a = w.allocFrom(0x100, min: min)
        #expect(a == min - 0x100)
        #expect(w.reserved == [region(min - 0x100, memEnd - min + 0x100)])
    }

    @Test("min_addr below the start of memory", arguments: [false, true])
    func minBelowMemory(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        let a = w.allocFrom(0x100, min: memStart - 0x1000)
        #expect(a == (bottomUp ? memStart : memEnd - 0x100))
    }
}

@Suite("memblock_alloc_try_nid ranges (alloc_nid_api.c)")
struct MemblockAllocNidRangeTests {
    @Test("top-down ends at max_addr; bottom-up starts at min_addr", arguments: [false, true])
    func simple(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        let min = memStart + 0x1000, max = memStart + 0x3000
        let a = w.allocTryNid(0x100, min: min, max: max)
        #expect(a == (bottomUp ? min : max - 0x100))
    }

    @Test("a misaligned max_addr: top-down ends below it, aligned")
    func misalignedEnd() {
        var w = World()
        let max = memStart + 0x3000 + 0x11
        #expect(w.allocTryNid(0x100, min: memStart, max: max) == memStart + 0x3000 - 0x100)
    }

    @Test("exact fit: [min, max)", arguments: [false, true])
    func exactFit(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        let min = memStart + 0x1000, max = memStart + 0x1100
        #expect(w.allocTryNid(0x100, min: min, max: max) == min)
    }

    @Test("a range too narrow drops the lower limit", arguments: [false, true])
    func narrowRange(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        let min = memStart + 0x1000, max = memStart + 0x1080
        let a = w.allocTryNid(0x100, min: min, max: max)
        #expect(a == (bottomUp ? memStart : max - 0x100))
    }

    @Test("max_addr so low nothing fits even from the start: NULL")
    func lowMax() {
        var w = World()
        #expect(w.allocTryNid(0x100, min: memStart, max: memStart + 0x80) == 0)
    }

    @Test("reservations on both borders, gap larger than the request", arguments: [false, true])
    func bothBorders(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        let min = memStart + 0x1000, max = memStart + 0x2000
        w.reserve(min - 0x100, 0x100)
        w.reserve(max, 0x100)
        let a = w.allocTryNid(0x200, min: min, max: max)
        #expect(a == (bottomUp ? min : max - 0x200))
        #expect(w.mb.reserved.cnt == 2)
    }

    @Test("max_addr beyond the end of memory: top-down ends at the end", arguments: [false, true])
    func maxBeyondDRAM(bottomUp: Bool) {
        var w = World(bottomUp: bottomUp)
        let min = memStart + 0x1000
        let a = w.allocTryNid(0x100, min: min, max: memEnd + 0x10_0000)
        #expect(a == (bottomUp ? min : memEnd - 0x100))
    }
}

@Suite("memblock_alloc_try_nid on NUMA nodes (alloc_nid_api.c, NUMA=1)")
struct MemblockAllocNidNUMATests {
    /// The kernel's tests split the memory into 8 nodes: 1/4, 1/16, 1/8, 1/8, 1/16, 1/16, 1/4, 1/16.
    static func numaWorld(bottomUp: Bool) -> World {
        var w = World(withMemory: false, bottomUp: bottomUp)
        let fractions: [UInt64] = [4, 16, 8, 8, 16, 16, 4, 16]
        var base = memStart
        for (nid, f) in fractions.enumerated() {
            let size = memSize / f
            w.mb.addNode(base, size, nid: Int32(nid), flags: [], log: &w.log)
            base += size
        }
        return w
    }
    static func node(_ w: World, _ nid: Int) -> MemblockRegion { w.memory[nid] }

    @Test("the requested node has room: its end (top-down) or start (bottom-up)", arguments: [false, true])
    func simple(bottomUp: Bool) {
        var w = Self.numaWorld(bottomUp: bottomUp)
        let n = Self.node(w, 3)
        let a = w.allocTryNid(0x100, min: 0, max: Memblock.allocAnywhere, nid: 3)
        #expect(a == (bottomUp ? n.base : n.end - 0x100))
    }

    @Test("the requested node is too small: falls back to any node", arguments: [false, true])
    func smallNode(bottomUp: Bool) {
        var w = Self.numaWorld(bottomUp: bottomUp)
        let n1 = Self.node(w, 1)
        let a = w.allocTryNid(n1.size * 2, min: 0, max: Memblock.allocAnywhere, nid: 1)
        let fallback = bottomUp ? Self.node(w, 0) : Self.node(w, 6)
        // Top-down the highest node with room is node 6 (node 7 is too small); bottom-up node 0.
        #expect(a == (bottomUp ? fallback.base : fallback.end - n1.size * 2))
    }

    @Test("exact nid never falls back")
    func exact() {
        var w = Self.numaWorld(bottomUp: false)
        let n1 = Self.node(w, 1)
        #expect(w.mb.allocExactNidRaw(size: n1.size * 2, align: smpCacheBytes, nid: 1, log: &w.log) == 0)
    }

    @Test("an allocation never spans two nodes")
    func neverSpans() {
        var w = Self.numaWorld(bottomUp: false)
        // Reserve everything but the last 0x80 bytes of node 2 and the first 0x80 of node 3.
        let n2 = Self.node(w, 2), n3 = Self.node(w, 3)
        w.reserve(memStart, n2.end - 0x80 - memStart)
        w.reserve(n3.base + 0x80, memEnd - n3.base - 0x80)
        #expect(w.allocTryNid(0x100, min: 0, max: Memblock.allocAnywhere) == 0)
    }
}
