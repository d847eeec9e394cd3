// The buddy lists after boot, against the oracle's /proc/pagetypeinfo, and their invariants.

import KmemlabTestSupport
import MMCore
import MMText
import Testing

/// The "Number of blocks type" rows of a pagetypeinfo text: zone label → 5 counts.
func blockCountRows(_ lines: [String]) -> [String: [UInt64]] {
    var out: [String: [UInt64]] = [:]
    var inBlocks = false
    for l in lines {
        if l.hasPrefix("Number of blocks type") { inBlocks = true; continue }
        if l.hasPrefix("Page block order") || l.isEmpty { inBlocks = false; continue }
        guard inBlocks, let comma = l.firstIndex(of: ",") else { continue }
        let parts = l.split(separator: " ", omittingEmptySubsequences: true)
        let label = String(l[..<comma]) + "," + parts[3]
        out[label] = parts.suffix(5).compactMap { UInt64($0) }
    }
    return out
}

@Suite("buddy free lists right after boot")
struct BuddyOracleTests {
    @Test("invariants hold and pageblocks are counted as Linux counts them", arguments: Fixtures.caseNames)
    func afterBoot(_ name: String) throws {
        let k = try bootCase(name, replay: false)
        #expect(k.checkPageAllocInvariants() == nil, "\(k.checkPageAllocInvariants() ?? "")")
        let real = blockCountRows(Fixtures.text(Fixtures.casePath(name, "pagetypeinfo.txt")).split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        let model = blockCountRows(ProcFiles.pagetypeinfo(k))
        #expect(Set(real.keys) == Set(model.keys))
        for (zone, r) in real {
            guard let m = model[zone] else { continue }
            // Every pageblock of the zone is counted once...
            #expect(m.reduce(0, +) == r.reduce(0, +), "\(name) \(zone): \(m) vs \(r)")
            // ...and boot's own allocations (not modelled) only ever turn MOVABLE blocks into
            // other types, so the model has at least as many MOVABLE ones.
            #expect(m[1] >= r[1], "\(name) \(zone): model movable \(m[1]) < kernel's \(r[1])")
        }
        // The DMA zone's first block starts in the hole at pfn 0 and stays UNMOVABLE. (Its node is
        // the one holding address 0: node 1 when a CPU-less node 0 is renumbered.)
        #expect(model.first { $0.key.hasSuffix(",DMA") }?.value == [1, 7, 0, 0, 0])
    }

    @Test("memblock_free_all frees ascending to the tail: lists start at their lowest block")
    func ascendingLists() throws {
        let k = try bootCase("pc-1g-2cpu-nologbuf", replay: false)
        let dma32 = k.nodes[0].zones[ZoneType.dma32.rawValue]
        let head = dma32.freeLists[10 * migrateTypes + 1].head
        let blocks = k.freeBlocks(node: 0, zone: 1).filter { $0.order == 10 }
        // (two pageblocks went UNMOVABLE for boot's vmalloc page tables: the lowest movable
        // order-10 block is the head.)
        #expect(head == blocks.first { k.memmap.pageblockMigratetype($0.pfn) == .movable }?.pfn)
        #expect(k.nodes[0].zones[0].nrFree == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3])
    }
}
