// The fragmentation indices against real kernels: every oracle case read its /proc/buddyinfo
// and debugfs extfrag/unusable_index and extfrag_index at the end of its run. Computed from
// the buddyinfo counts alone, the model's formulas must print both debugfs files byte for
// byte; and the small cases pin the arithmetic's edges.

import Foundation
import MMCore
import MMText
import Testing
import KmemlabTestSupport

@Suite("oracle: unusable_index and extfrag_index from buddyinfo (mm/vmstat.c)")
struct FragmentationOracleTests {
    /// /proc/buddyinfo's rows: node, zone name, nr_free per order.
    static func buddyRows(_ text: String) -> [(node: NodeID, zone: String, nrFree: [UInt64])] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(whereSeparator: { $0 == " " || $0 == "," })
            guard f.count == 4 + maxOrder, f[0] == "Node", let n = Int32(f[1]) else { return nil }
            return (NodeID(n), String(f[3]), f[4...].compactMap { UInt64($0) })
        }
    }

    static var casesWithIndices: [String] {
        Fixtures.caseNames.filter {
            FileManager.default.fileExists(atPath: Fixtures.casePath($0, "debugfs-extfrag-unusable_index.txt"))
        }
    }

    /// The files were read moments after buddyinfo while the guest's /init ran, so only DMA,
    /// which nothing allocates from after boot, is the same free lists in both: its line must
    /// be equal byte for byte, in both files (`snapshots` compares every zone on snapshots read
    /// in one go).
    @Test("both debugfs files for every captured case: the DMA zone's lines",
          arguments: casesWithIndices)
    func debugfsFiles(_ name: String) {
        let rows = Self.buddyRows(Fixtures.text(Fixtures.casePath(name, "buddyinfo.txt")))
        #expect(!rows.isEmpty)
        let real = Fixtures.text(Fixtures.casePath(name, "debugfs-extfrag-unusable_index.txt")).split(separator: "\n")
        let realExtfrag = Fixtures.text(Fixtures.casePath(name, "debugfs-extfrag-extfrag_index.txt")).split(separator: "\n")
        #expect(real.count == rows.count && realExtfrag.count == rows.count)
        for (row, (r, e)) in zip(rows, zip(real, realExtfrag)) where row.zone == "DMA" {
            #expect(FragmentationText.unusableIndexLine(node: row.node, zone: row.zone, nrFree: row.nrFree) == String(r))
            #expect(FragmentationText.extfragIndexLine(node: row.node, zone: row.zone, nrFree: row.nrFree) == String(e))
        }
    }

    /// Snapshots a workload read with one `cat` of buddyinfo, both indices and buddyinfo
    /// again (Tests/Fixtures/oracle/frag: fragsnap.sh with churn between reads, and fragment
    /// leaving every other page of most of RAM allocated). Where the two buddyinfo reads agree,
    /// the indices belong to exactly those free lists.
    static func stableSnapshots(_ dir: String) -> [(buddy: [Substring], unusable: [Substring], extfrag: [Substring])] {
        let text = Fixtures.text(Fixtures.oracle.appendingPathComponent("frag/\(dir)/snapshots.txt").path)
        var out: [(buddy: [Substring], unusable: [Substring], extfrag: [Substring])] = []
        for snap in text.split(separator: "@@SNAP").dropFirst() {
            let rows = snap.split(separator: "\n").filter { $0.hasPrefix("Node ") }
            guard rows.count % 4 == 0, !rows.isEmpty else { continue }
            let n = rows.count / 4
            let before = Array(rows[0..<n]), after = Array(rows[(3 * n)...])
            if before == after { out.append((before, Array(rows[n..<(2 * n)]), Array(rows[(2 * n)..<(3 * n)]))) }
        }
        return out
    }

    @Test("every zone's indices, byte for byte, on snapshots read in one go",
          arguments: ["frag-1g", "frag-numa2-3g", "frag-full-512m", "frag-exhausted-512m"])
    func snapshots(_ dir: String) {
        let snaps = Self.stableSnapshots(dir)
        #expect(snaps.count >= 3, "\(dir): too few stable snapshots")
        for s in snaps {
            let rows = Self.buddyRows(s.buddy.joined(separator: "\n"))
            #expect(rows.count == s.buddy.count)
            #expect(rows.map { FragmentationText.unusableIndexLine(node: $0.node, zone: $0.zone, nrFree: $0.nrFree) } == s.unusable.map(String.init))
            #expect(rows.map { FragmentationText.extfragIndexLine(node: $0.node, zone: $0.zone, nrFree: $0.nrFree) } == s.extfrag.map(String.init))
        }
    }

    @Test("the edges: nothing free, one free page, a request that fails for fragmentation")
    func edges() {
        let none = [UInt64](repeating: 0, count: maxOrder)
        #expect(ContigPageInfo(nrFree: none, suitableOrder: 3).unusableFreeIndex(order: 3) == 1000)
        #expect(ContigPageInfo(nrFree: none, suitableOrder: 3).fragmentationIndex(order: 3) == 0)
        #expect(FragmentationText.extfragIndexLine(node: 0, zone: "DMA", nrFree: none)
                == "Node 0, zone      DMA " + String(repeating: " 0.000 ", count: maxOrder))
        // 64 free order-0 pages: order 0 is served (−1), order 6 would fail though 64 pages are
        // free: 1000 − (1000 + 64·1000/64)/64 = 969.
        var scattered = none
        scattered[0] = 64
        let six = ContigPageInfo(nrFree: scattered, suitableOrder: 6)
        #expect(six.fragmentationIndex(order: 6) == 969)
        #expect(six.unusableFreeIndex(order: 6) == 1000)
        #expect(ContigPageInfo(nrFree: scattered, suitableOrder: 0).fragmentationIndex(order: 0) == -1000)
        // One order-3 block asked at order 4: 1000 − (1000 + 8·1000/16)/1 = −500, which the
        // kernel's "%2d.%03d" prints as " 0.-500".
        var one = none
        one[3] = 1
        #expect(ContigPageInfo(nrFree: one, suitableOrder: 4).fragmentationIndex(order: 4) == -500)
        #expect(FragmentationText.extfragIndexLine(node: 0, zone: "DMA", nrFree: one).contains("-1.000  0.-500  0.-250  0.-125  0.-62  0.-31  0.-15  0.-07 "))
        // One order-10 block: nothing unusable at any order, and a zone score of 0.
        var whole = none
        whole[10] = 1
        #expect((0..<maxOrder).allSatisfy { ContigPageInfo(nrFree: whole, suitableOrder: $0).unusableFreeIndex(order: Order($0)) == 0 })
    }

    @Test("compaction's score and marks: extfrag at order 9, weighted by present pages")
    func score() {
        var info = [UInt64](repeating: 0, count: maxOrder)
        info[0] = 300; info[9] = 1; info[10] = 1   // 300 of 1836 free pages below order 9
        #expect(ContigPageInfo(nrFree: info, suitableOrder: 9).extfragPercent(order: 9) == 16)
        #expect(PGData.fragmentationScoreWmarks(proactiveness: 20) == (80, 90))
        #expect(PGData.fragmentationScoreWmarks(proactiveness: 100) == (5, 15))
        #expect(PGData.fragmentationScoreWmarks(proactiveness: 0) == (100, 100))
    }
}
