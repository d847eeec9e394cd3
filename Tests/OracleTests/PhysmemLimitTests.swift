// Memory beyond what the memory model can describe: Linux trims it with a warning; kmemlab must
// do the same rather than try to describe it (it once crashed allocating a 2^61-byte bitmap).

import KmemlabTestSupport
import MMCore
import MMText
import Testing

@Suite("memory above MAX_PHYSMEM_BITS")
struct PhysmemLimitTests {
    @Test("a 4000 TiB machine with 4-level paging keeps 64 TiB and warns once from sparse_init")
    func fourLevelTrim() throws {
        var k = Kernel(machine: QEMUPreset(type: .pc, memBytes: 4000 << 40, cpus: 2).machine())
        try k.boot()
        let warnings = k.log.lines.filter { $0.hasPrefix("WARNING: ") }
        #expect(warnings == ["WARNING: CPU: 0 PID: 0 at mm/sparse.c:149 sparse_init"])
        #expect(k.totalramPages <= UInt64(64) << 28 && k.totalramPages > UInt64(60) << 28)
        #expect(k.taintText.contains("W"))
    }
}

@Suite("untouched memory costs nothing per block")
struct CompactMemmapTests {
    @Test("a 64 TiB boot keeps explicit block tables for only a handful of sections; the lists still hold every block")
    func compact() throws {
        var k = Kernel(machine: QEMUPreset(type: .pc, memBytes: 64 << 40, cpus: 2).machine())
        k.log.enabled = false
        try k.boot()
        #expect(k.memmap.chunkedSections < 64, "\(k.memmap.chunkedSections) sections with chunks")
        #expect(k.memmap.materialisedSections < 64)
        // Walk the MOVABLE order-10 list of Normal: it must visit exactly nr_free blocks, in
        // ascending order except where boot's late frees (pcp spills) interleave.
        let z = k.nodes[0].zones[ZoneType.normal.rawValue]
        let l = z.freeLists[10 * migrateTypes + Int(MigrateType.movable.rawValue)]
        var n: UInt64 = 0, p = l.head, last = Pfn(0), descending = 0
        while p != PageDescriptor.nilLink {
            #expect(k.memmap.buddyOrder(p) == 10)
            if p < last { descending += 1 }
            last = p
            n += 1
            p = k.memmap.nextFree(p)
        }
        #expect(n == l.count && n > 16_000_000)
        #expect(descending < 8)
    }
}

@Suite("nodes without memory")
struct MemorylessNodeTests {
    @Test("a node with CPUs but no memory gets a pg_data_t from memblock and the kernel's lines")
    func memoryless() throws {
        // srv-03 is a 5.19 boot; its node lines are the same in 6.1.
        let path = Fixtures.hardwarePath("srv-03-5.19.txt")
        var m = try DmesgParser(fileName: path).parse(Fixtures.text(path))
        m.commandLine += " memblock=debug"
        var k = Kernel(machine: m)
        try k.boot()
        let lines = k.log.lines
        let i = try #require(lines.firstIndex(of: "Initializing node 1 as memoryless"))
        #expect(lines[i + 1].hasPrefix("memblock_alloc_try_nid: 176128 bytes align=0x40 nid=-1 from=0x0000000000000000 max_addr=0x0000000000000000 free_area_init"))
        #expect(lines[i + 3] == "Initmem setup node 1 as memoryless")
        let expected = Fixtures.messages(Fixtures.text(path)).filter { $0.hasPrefix("Fallback order for Node") }
        #expect(lines.filter { $0.hasPrefix("Fallback order for Node") } == expected)
        let node1 = try #require(k.nodes.first { $0.nodeId == 1 })
        #expect(node1.physAddr != 0 && node1.nodeSpannedPages == 0)
    }
}
