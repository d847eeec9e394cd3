// The buddy allocator in a small world: one zone of 64 pages and its memmap, no boot, no
// Kernel. A zone and the memmap it links its free lists through are values of their own (the
// zone's operations take the memmap `inout`), so the allocator's rules can be tested on a
// world small enough to work out by hand: merging with buddies (__free_one_page), splitting
// (expand), the per-cpu list's batch refill and its drain.

@testable import MMCore
import Testing

/// A Normal zone of `pages` pages on node 0 (64 unless a test asks for more), every page
/// reserved (as after memmap_init), the first pageblock of type `mt`.
func smallWorld(pages: UInt64 = 64, mt: MigrateType = .movable) -> (Zone, Memmap) {
    let slot = ZoneID(nid: 0, .normal)
    var mm = Memmap(endPfn: Pfn(pages), zones: [(start: Pfn(0), end: Pfn(pages), slot: slot)])
    mm.setPageblockMigratetype(Pfn(0), mt)
    var z = Zone(type: .normal, nid: 0)
    z.spannedPages = pages
    z.presentPages = pages
    z.managedPages = pages
    z.setupPagesets(cpus: 1)
    return (z, mm)
}

/// Free pages as __free_pages_core() hands them over: descriptor cleared, then freed.
func release(_ z: inout Zone, _ mm: inout Memmap, _ pfns: some Sequence<UInt64>, order: Order = 0,
             mt: MigrateType = .movable) {
    for pfn in pfns.map(Pfn.init) {
        mm.resetPages(pfn, count: order.pages)
        z.freeOneBlock(pfn, order: order, mt: mt, fpi: [], &mm)
    }
}

private let movable = MigrateType.movable

@Suite("small world: a 64-page zone, no boot")
struct SmallWorldBuddyTests {
    @Test("freeing every page merges them into one order-6 block; the zone's edge stops the merge")
    func mergeToTheTop() {
        var (z, mm) = smallWorld()
        release(&z, &mm, 0..<64)
        #expect(z.nrFree == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        #expect(z.freePages == 64)
        #expect(z.freeLists[Zone.listIndex(6, movable)].head == Pfn(0))
        #expect(mm.buddyOrder(Pfn(0)) == 6)
        #expect(mm.buddyOrder(Pfn(32)) == nil, "a merged buddy is no longer a free block of its own")
    }

    @Test("freeing in descending order merges the same way")
    func mergeDescending() {
        var (z, mm) = smallWorld()
        release(&z, &mm, (0..<64).reversed())
        #expect(z.nrFree == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    }

    @Test("an order-0 allocation splits the order-6 block: one free block of each lower order")
    func splitDown() throws {
        var (z, mm) = smallWorld()
        release(&z, &mm, 0..<64)
        let got = try #require(z.rmqueueSmallest(order: 0, mt: movable, &mm))
        #expect(got.pfn == Pfn(0) && got.from == 6)
        #expect(z.nrFree == [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
        // expand() lists the upper halves: 32 (order 5), 16, 8, 4, 2, 1 (order 0).
        for (order, pfn) in [(5, 32), (4, 16), (3, 8), (2, 4), (1, 2), (0, 1)] as [(Order, UInt64)] {
            #expect(z.freeLists[Zone.listIndex(order, movable)].head == Pfn(pfn), "order \(order)")
            #expect(mm.buddyOrder(Pfn(pfn)) == order)
        }
        #expect(z.freePages == 63)
        // Freeing it back undoes every split.
        release(&z, &mm, [0])
        #expect(z.nrFree == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0] && z.freePages == 64)
    }

    @Test("a page that is not free cannot merge: one held back in the middle keeps its buddies apart")
    func heldBuddyBlocksMerge() {
        var (z, mm) = smallWorld()
        release(&z, &mm, (0..<64).filter { $0 != 17 })
        // 16's buddy 17 is allocated: 16 stays order 0, 18–19 order 1, 20–23 order 2, 24–31
        // order 3, 0–15 order 4, 32–63 order 5.
        #expect(z.nrFree == [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
        #expect(mm.buddyOrder(Pfn(16)) == 0 && mm.buddyOrder(Pfn(18)) == 1 && mm.buddyOrder(Pfn(0)) == 4 && mm.buddyOrder(Pfn(32)) == 5)
        #expect(z.freePages == 63)
    }

    @Test("the per-cpu list refills a batch from the buddy lists and hands out its head; a drain merges everything back")
    func pcpRefillAndDrain() throws {
        var (z, mm) = smallWorld()
        release(&z, &mm, 0..<64)
        z.pagesetBatch = 4
        z.pagesetHigh = 64
        var rec = EventRecorder()
        let p = try #require(z.rmqueuePcplist(cpu: 0, order: 0, mt: movable, flags: [], &mm, &rec))
        #expect(p == Pfn(0))
        #expect(rec.events.contains(.pcpRefill(zone: z.slot, cpu: 0, order: 0, blocks: 4)))
        // Four pages left the buddy lists (0–3); three wait on the CPU's list.
        #expect(z.pcp[0].count == 3 && z.freePages == 60)
        #expect(z.nrFree == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0])
        let q = try #require(z.rmqueuePcplist(cpu: 0, order: 0, mt: movable, flags: [], &mm, &rec))
        #expect(q == Pfn(1), "the list hands out in the order rmqueue_bulk() filled it")
        #expect(rec.events.last == .pcpHit(zone: z.slot, cpu: 0, order: 0, migratetype: .movable))
        // Both back onto the list, then everything drained to the buddy lists.
        mm.withPage(p) { $0 = PageDescriptor() }
        mm.withPage(q) { $0 = PageDescriptor() }
        z.freeUnrefPage(p, order: 0, cpu: 0, &mm, &rec)
        z.freeUnrefPage(q, order: 0, cpu: 0, &mm, &rec)
        #expect(z.pcp[0].count == 4)
        z.drainPages(cpu: 0, &mm, &rec)
        #expect(z.pcp[0].count == 0)
        #expect(z.nrFree == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0] && z.freePages == 64)
    }
}

@Suite("small world: taking a given block off the buddy lists (take_page_off_buddy)")
struct TakeBlockTests {
    @Test("an order-2 block inside the order-6 block: the rest is split around it, and freeing it merges back")
    func takeInside() {
        var (z, mm) = smallWorld()
        release(&z, &mm, 0..<64)
        #expect(z.takeBlock(Pfn(20), order: 2, &mm))
        // break_down_buddy_pages(): 32–63 (order 5), 0–15 (order 4), 24–31 (order 3), 16–19 (order 2).
        #expect(z.nrFree == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0] && z.freePages == 60)
        #expect(mm.buddyOrder(Pfn(32)) == 5 && mm.buddyOrder(Pfn(0)) == 4 && mm.buddyOrder(Pfn(24)) == 3 && mm.buddyOrder(Pfn(16)) == 2)
        #expect(mm.buddyOrder(Pfn(20)) == nil)
        release(&z, &mm, [20], order: 2)
        #expect(z.nrFree == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0] && z.freePages == 64)
    }

    @Test("a block that is not (wholly) free is refused and nothing changes")
    func refused() {
        var (z, mm) = smallWorld()
        release(&z, &mm, (0..<64).filter { $0 != 17 })
        let before = (z.nrFree, z.freePages)
        #expect(!z.takeBlock(Pfn(16), order: 1, &mm), "17 is allocated")
        #expect(!z.takeBlock(Pfn(17), order: 0, &mm))
        #expect(!z.takeBlock(Pfn(18), order: 2, &mm), "not aligned to its order")
        #expect(z.nrFree == before.0 && z.freePages == before.1)
        #expect(z.takeBlock(Pfn(16), order: 0, &mm) && z.freePages == before.1 - 1)
    }
}

@Suite("small world: the per-cpu refill a block at a time equals rmqueue_bulk() page by page")
struct RefillBlockAtATimeTests {
    /// rmqueue_bulk() as Linux writes it: __rmqueue() once per block, each to the list's tail.
    func refillPageByPage(_ z: inout Zone, _ mm: inout Memmap, order: Order, mt: MigrateType, _ rec: inout EventRecorder) {
        var batch = z.pagesetBatch
        if batch > 1 { batch = Swift.max(batch >> UInt64(order.raw), 2) }
        let i = Zone.pcpIndex(0, orderToPindex(mt, order))
        var got = 0
        for _ in 0..<batch {
            guard let pfn = z.rmqueueFromLists(order: order, mt: mt, flags: [], &mm, &rec) else { break }
            mm.withPage(pfn) { d in d.migratetype = mt.rawValue; d.flags.insert(.pcp) }
            mm.listAddTail(&z.pcpLists[i], pfn, order: order)
            got += 1
        }
        z.pcp[0].count += UInt64(got) << UInt64(order.raw)
        rec.pageAlloc(.pcpRefill(zone: z.slot, cpu: 0, order: order, blocks: got))
        if got > 0 { _ = z.pcpTakeHead(cpu: 0, pindex: orderToPindex(mt, order), order: order, &mm) }
    }

    @Test("4096 pages, some held back, some freed between refills; orders 0–3 and 9, batches 1–200: the same pages, lists, counts, descriptors and events",
          arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func sameAsPageByPage(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var (z, mm) = smallWorld(pages: 4096)
        z.pagesetHigh = 100_000
        let held = Set((0..<(rng.next() % 400)).map { _ in rng.next() % 4096 })
        release(&z, &mm, (0..<4096).filter { !held.contains($0) })
        var taken: [(pfn: Pfn, order: Order)] = []
        var refills = 0
        for _ in 0..<40 {
            let order = ([0, 1, 2, 3, 9] as [Order])[Int(rng.next() % 5)]
            let pindex = orderToPindex(.movable, order)
            let i = Zone.pcpIndex(0, pindex)
            // Take the CPU's list of this order empty (those pages stay allocated), so that the
            // next allocation refills it; and give some taken order-0 pages back to the buddy
            // lists, so that the lists below a split are not always empty.
            while !z.pcpLists[i].isEmpty {
                taken.append((z.pcpTakeHead(cpu: 0, pindex: pindex, order: order, &mm), order))
            }
            for _ in 0..<Int(rng.next() % 8) where !taken.isEmpty {
                let t = taken.remove(at: Int(rng.next() % UInt64(taken.count)))
                release(&z, &mm, [t.pfn.raw], order: t.order)
            }
            z.pagesetBatch = [1, 2, 7, 31, 63, 200][Int(rng.next() % 6)]
            var a = z, ma = mm, b = z, mb = mm
            var ra = EventRecorder(), rb = EventRecorder()
            let got = a.rmqueuePcplist(cpu: 0, order: order, mt: .movable, flags: [], &ma, &ra)
            refillPageByPage(&b, &mb, order: order, mt: .movable, &rb)
            let what = "seed \(seed), refill \(refills), order \(order), batch \(z.pagesetBatch)"
            #expect(ra.events == rb.events, "\(what)")
            #expect(a.freeLists == b.freeLists && a.nrFree == b.nrFree && a.freePages == b.freePages, "\(what)")
            #expect(a.pcpLists == b.pcpLists && a.pcp[0].count == b.pcp[0].count, "\(what)")
            let differs = (0..<UInt64(4096)).first { ma.page(Pfn($0)) != mb.page(Pfn($0)) }
            #expect(differs == nil, "\(what): pfn \(differs ?? 0)")
            z = a; mm = ma
            refills += 1
            if got == nil {
                // The world ran dry: give everything back and go on.
                for t in taken { release(&z, &mm, [t.pfn.raw], order: t.order) }
                taken.removeAll()
            }
        }
        #expect(refills == 40)
    }
}

@Suite("small world: the highatomic reserve and the per-cpu lists")
struct HighatomicRefillTests {
    @Test("an atomic order-1 refill never takes the reserve (rmqueue_bulk() calls __rmqueue() alone); the buddy path after it does")
    func refillSkipsTheReserve() throws {
        // Pageblock 0 (pages 0–511) is a highatomic reserve, free; every other page is held.
        var (z, mm) = smallWorld(pages: 1024, mt: .highAtomic)
        release(&z, &mm, 0..<512, mt: .highAtomic)
        z.pagesetBatch = 8
        z.pagesetHigh = 64
        var rec = EventRecorder()
        let flags: AllocFlags = [.highAtomic, .nonBlock]
        #expect(z.rmqueuePcplist(cpu: 0, order: 1, mt: .unmovable, flags: flags, &mm, &rec) == nil)
        #expect(rec.events.contains(.pcpRefill(zone: z.slot, cpu: 0, order: 1, blocks: 0)))
        #expect(z.freePages == 512 && z.pcp[0].count == 0, "the reserve stays on its lists")
        // rmqueue() then goes to the buddy lists, where ALLOC_HIGHATOMIC may use the reserve.
        let (pfn, list) = try #require(z.rmqueue(order: 1, mt: .unmovable, flags: flags, &mm, &rec))
        #expect(pfn == Pfn(0) && list == .highAtomic && z.freePages == 510)
    }
}
