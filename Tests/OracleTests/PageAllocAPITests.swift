// alloc_pages/__free_pages behaviour on a booted machine: pcp lists, paths, misuse.

import KmemlabTestSupport
import MMCore
import MMText
import Testing

/// #require cannot wrap a mutating call; this can.
func must(_ pfn: Pfn?, sourceLocation: SourceLocation = #_sourceLocation) throws -> Pfn {
    try #require(pfn, sourceLocation: sourceLocation)
}

@Suite("alloc_pages and __free_pages")
struct PageAllocAPITests {
    @Test("order 0: an empty pcp list takes a batch, the next allocation hits, a free is reused first (LIFO)")
    func pcpLists() throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        let z = k.nodes[0].zones[ZoneType.dma32.rawValue]
        var rec = EventRecorder()
        let a = try must(k.allocPages(.gfpKernel, order: 0, cpu: 1, listener: &rec))
        #expect(rec.events.contains(.pcpRefill(zone: z.slot, cpu: 1, order: 0, blocks: Int(z.pagesetBatch))))
        #expect(k.nodes[0].zones[1].pcp[1].count == z.pagesetBatch - 1)
        rec = EventRecorder()
        let b = try must(k.allocPages(.gfpKernel, order: 0, cpu: 1, listener: &rec))
        #expect(rec.events.first == .pcpHit(zone: z.slot, cpu: 1, order: 0, migratetype: .unmovable))
        #expect(b == a + 1, "a refill lists its pages in ascending order")
        #expect(k.freePages(a, order: 0, cpu: 1) == .freed)
        #expect(k.allocPages(.gfpKernel, order: 0, cpu: 1) == a)
    }

    @Test("frees beyond pcp->high spill a batch (growing while frees continue) to the buddy lists")
    func pcpSpill() throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        let high = k.nodes[0].zones[1].pagesetHigh, batch = k.nodes[0].zones[1].pagesetBatch
        var pages: [Pfn] = []
        for _ in 0..<(high + 2 * batch) { pages.append(try must(k.allocPages(.gfpHighuserMovable, order: 0, cpu: 0))) }
        var rec = EventRecorder()
        for p in pages { k.freePages(p, order: 0, cpu: 0, listener: &rec) }
        let drains = rec.events.compactMap { e -> Int? in if case let .pcpDrain(_, _, n) = e { return n }; return nil }
        #expect(drains.first == Int(batch), "the first spill frees one batch (free_factor 0)")
        #expect(drains.count >= 2 && drains[1] == Int(batch) * 2, "the next one twice that")
        #expect(k.nodes[0].zones[1].pcp[0].count < high)
        #expect(k.checkPageAllocInvariants() == nil)
    }

    @Test("orders above 3 (but not 9) bypass the pcp lists and split from the smallest block")
    func buddyPath() throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        var rec = EventRecorder()
        _ = try must(k.allocPages(.gfpHighuserMovable, order: 5, listener: &rec))
        #expect(!rec.events.contains { if case .pcpRefill = $0 { return true }; return false })
        #expect(rec.events.contains { if case let .split(_, _, from, to, mt) = $0 { return to == 5 && from >= 5 && mt == .movable }; return false })
    }

    @Test("misuse is reported as Linux's Bad page state and refused; the lists stay sound")
    func misuse() throws {
        var k = try bootCase("pc-1g-2cpu", replay: false)
        let p = try must(k.allocPages(.gfpKernel, order: 0))
        #expect(k.freePages(p, order: 0) == .freed)
        #expect(k.freePages(p, order: 0) == .badPage(reason: .nonzeroRefcount))
        #expect(k.log.lines.contains("BUG: Bad page state in process kmemlab  pfn:\(String(p.raw, radix: 16))"))
        #expect(k.log.lines.contains("page dumped because: nonzero _refcount"))
        k.drainAllPages()
        // Back on the free lists: the head of a free block shows the buddy page type, a page
        // inside a merged block only its zero refcount.
        let reason: BadPageReason = k.memmap.buddyOrder(p) != nil ? .nonzeroMapcount : .nonzeroRefcount
        #expect(k.freePages(p, order: 0) == .badPage(reason: reason))
        // The first MiB stays reserved for the BIOS and the real-mode trampoline.
        #expect(k.freePages(Pfn(0x10), order: 0) == .badPage(reason: .flagsCheckAtFree))
        let q = try must(k.allocPages(.gfpKernel, order: 2))
        #expect(k.freePages(q, order: 0) == .badPage(reason: .orderMismatch(freed: 0, allocated: 2)))
        #expect(k.freePages(q, order: 2) == .freed)
        let c = try must(k.allocPages(GFPFlags.gfpKernel.union(.comp), order: 3))
        #expect(k.freePages(c + 1, order: 0) == .badPage(reason: .nonzeroRefcount))
        #expect(k.freePages(c, order: 2) == .badPage(reason: .compoundOrderMismatch))
        #expect(k.freePages(c, order: 3) == .freed)
        // A page still on an LRU list (PG_lru: a process's page freed without leaving it) is
        // refused, and the report names the flag, as Linux's does.
        let lru = try must(k.allocPages(.gfpHighuserMovable, order: 0))
        k.memmap.withPage(lru) { d in d.flags.insert(.lru) }
        #expect(k.freePages(lru, order: 0) == .badPage(reason: .flagsCheckAtFree))
        #expect(k.log.lines.contains { $0.hasPrefix("flags: ") && $0.contains("(lru|node=0|zone=") })
        k.memmap.withPage(lru) { d in d.flags.remove(.lru) }
        #expect(k.freePages(lru, order: 0) == .freed)
        #expect(k.freePages(Pfn(1 << 40), order: 0) == .invalidPfn)
        #expect(k.checkPageAllocInvariants() == nil)
    }

    @Test("mixed pageblocks: once movable pages run out they claim the blocks boot stole, where unmovable pages live")
    func mixedBlocks() throws {
        var k = try bootCase("pc-128m-1cpu", replay: false)
        let dma32 = k.nodes[0].zones[ZoneType.dma32.rawValue]
        #expect(k.mixedPageblockCounts(dma32) == [0, 0, 0, 0, 0])
        var n = 0
        while k.allocPages(.gfpHighuserMovable, order: 0) != nil { n += 1 }
        let mixed = k.mixedPageblockCounts(k.nodes[0].zones[ZoneType.dma32.rawValue])
        // The blocks boot's unmovable (vmalloc page-table) pages stole are mostly free: a movable
        // fallback of order ≥ 4 claims them back, so they are MOVABLE blocks holding unmovable
        // pages.
        #expect(mixed[1] > 0, "\(mixed) after \(n) movable pages")
    }

    @Test("page contents: a freed page keeps its data unless init_on_alloc (Debian's default) or __GFP_ZERO clears it")
    func contents() throws {
        for initOnAlloc in [true, false] {
            let path = Fixtures.casePath("pc-128m-1cpu", "dmesg.txt")
            var m = try DmesgParser(fileName: path).parse(Fixtures.text(path))
            if !initOnAlloc { m.commandLine += " init_on_alloc=0" }
            var k = Kernel(machine: m)
            try k.boot()
            let p = try must(k.allocPages(.gfpKernel, order: 0))
            k.physMem.write(p.physAddr + 100, 0xab)
            k.freePages(p, order: 0)
            let q = try must(k.allocPages(.gfpKernel, order: 0))
            #expect(q == p, "the pcp list hands the same page back")
            #expect(k.physMem.read(q.physAddr + 100) == (initOnAlloc ? 0 : 0xab))
            k.freePages(q, order: 0)
            let r = try must(k.allocPages(GFPFlags.gfpKernel.union(.zero), order: 0))
            #expect(r == p && k.physMem.read(r.physAddr + 100) == 0)
        }
    }

    @Test("pages of a never-touched 4 MiB block are not left marked reserved once it is allocated")
    func untouchedBlocks() throws {
        var k = try bootCase("pc-4g-2cpu", replay: false)
        // Deferred init freed Normal's blocks above its first section without per-page state.
        // Take order-10 blocks until some come from sections nobody had touched.
        var fromUntouched = 0
        var blocks: [Pfn] = []
        while fromUntouched < 4 {
            let next = k.nodes[0].zones[ZoneType.normal.rawValue].freeLists[10 * migrateTypes + 1].head
            if next != PageDescriptor.nilLink && !k.memmap.isMaterialised(next) { fromUntouched += 1 }
            blocks.append(try must(k.allocPages(.gfpHighuserMovable, order: 10)))
        }
        for b in blocks {
            for p in b..<(b + 1024) { #expect(!k.memmap.page(p).flags.contains(.reserved), "pfn \(p)") }
        }
        for b in blocks { #expect(k.freePages(b, order: 10) == .freed) }
        for b in blocks {
            for p in b..<(b + 1024) { #expect(!k.memmap.page(p).flags.contains(.reserved), "pfn \(p)") }
        }
        #expect(k.checkPageAllocInvariants() == nil)
    }

    @Test("the invariant walk notices a counter that is off by one")
    func checkerCanFail() throws {
        var k = try bootCase("pc-128m-1cpu", replay: false)
        #expect(k.checkPageAllocInvariants() == nil)
        k.nodes[0].zones[1].freePages += 1
        #expect(k.checkPageAllocInvariants() != nil)
        k.nodes[0].zones[1].freePages -= 1
        k.nodes[0].zones[1].nrFree[3] += 1
        #expect(k.checkPageAllocInvariants() != nil)
    }

    @Test("gfp flags map to zones and migratetypes as gfp_zone() and gfp_migratetype() do")
    func gfpMapping() {
        #expect(GFPFlags.gfpKernel.zone == .normal)
        #expect(GFPFlags.gfpHighuserMovable.zone == .movable)
        #expect(GFPFlags.gfpHighuser.zone == .normal)
        #expect(GFPFlags([.dma, .movable]).zone == .dma)
        #expect(GFPFlags([.dma32, .movable]).zone == .dma32)
        #expect(GFPFlags([.dma, .dma32]).zone == nil)
        #expect(GFPFlags.gfpHighuserMovable.migratetype == .movable)
        #expect(GFPFlags([.reclaimable]).migratetype == .reclaimable)
        #expect(GFPFlags([.reclaimable, .movable]).migratetype == nil)
        #expect(GFPFlags.gfpAtomic.rawValue == 0xa20)
        #expect(GFPFlags.gfpKernel.rawValue == 0xcc0)
        #expect(MemoryLayout<PageDescriptor>.size == 16)
    }
}
