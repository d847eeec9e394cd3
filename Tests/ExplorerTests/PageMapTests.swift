// The page map and the explorer's data against the model's own accounting.

import Foundation
import MMCore
import MMText
import MMExplorer
import KmemlabTestSupport
import Testing

@Suite("the explorer's page map")
struct PageMapTests {
    @Test("Hilbert cells: a bijection onto the square, neighbours adjacent")
    func hilbert() {
        let side = 16
        var seen = Set<Int>()
        var prev = PageMap.hilbert(0, side: side)
        for d in 0..<(side * side) {
            let p = PageMap.hilbert(d, side: side)
            #expect(p.x >= 0 && p.x < side && p.y >= 0 && p.y < side)
            seen.insert(p.y * side + p.x)
            if d > 0 { #expect(abs(p.x - prev.x) + abs(p.y - prev.y) == 1) }
            prev = p
        }
        #expect(seen.count == side * side)
        // An aligned run of 4^k cells is a square: cells 16…31 fill one 4×4 quadrant.
        let q = (16..<32).map { PageMap.hilbert($0, side: side) }
        #expect(Set(q.map { $0.x / 4 }).count == 1 && Set(q.map { $0.y / 4 }).count == 1)
    }

    @Test("one page per cell on 1 GiB: free pages equal the zones' free counts")
    func kindsMatchAccounting() throws {
        let k = try bootPreset("console=ttyS0 nokaslr", mem: 1 << 30)
        let map = PageMap(k)
        #expect(map.pagesPerCell == 1)
        let freeFromMap = PageKind.allCases.compactMap { $0.freeOrder == nil ? nil : map.totals[$0] }.reduce(0, +)
        let zoneFree = k.nodes.flatMap { $0.zones }.reduce(UInt64(0)) { $0 + $1.freePages }
        #expect(freeFromMap == zoneFree)
        let pcpFromMap = map.totals[.pcp] ?? 0
        let pcp = k.nodes.flatMap { $0.zones }.flatMap { $0.pcp }.reduce(UInt64(0)) { $0 + $1.count }
        #expect(pcpFromMap == pcp)
        // pfn 0 is no RAM (e820 gives it to the BIOS), the rest of the first MiB is
        // memblock-reserved, and the kernel image's text (16 MiB + 8 MiB) stays reserved.
        #expect(map.kind[0] == PageKind.hole.rawValue)
        #expect(map.kind[1] == PageKind.reserved.rawValue)
        #expect(map.kind[Int(Pfn.down(k.machine.kernel.start + (8 << 20)).raw)] == PageKind.kernelImage.rawValue)
        // Slab pages: every slab's pages.
        let slabPages = k.slub.caches.reduce(UInt64(0)) { $0 + UInt64($1.pages) }
        #expect(map.totals[.slab] == slabPages)
    }

    @Test("after a workload: its anonymous pages, page cache and page tables are on the map, page for page")
    func workload() throws {
        let k = try bootPreset("console=ttyS0", mem: 1 << 30)
        var r = WorkloadRunner(kernel: k)
        try r.run(try Workload(parsing: "create f 1M\nspawn app\nmalloc p 8M\ntouch p\nread f 0 1M\n", file: "(test)"))
        let map = PageMap(r.kernel!, user: r.userPages)
        #expect(map.pagesPerCell == 1)
        #expect(map.totals[.anon] == r.faults.stat.nrAnonPages)
        #expect(map.totals[.pageCache] == r.faults.pageCache.stat.nrFilePages)
        #expect(map.totals[.pageTable] == r.faults.stat.nrPageTablePages + 1, "and the PGD")
    }

    @Test("large machines are summarised into at most 2^20 cells")
    func levelOfDetail() throws {
        let k = try bootPreset("console=ttyS0 nokaslr", mem: 16 << 30)
        let map = PageMap(k)
        // 4.25 M pages (to 17 GiB: the PCI hole moves 1 GiB up) need 16 pages a cell.
        #expect(k.maxPfn.raw == 0x44_0000)
        #expect(map.pagesPerCell == 16 && map.kind.count == 0x44_0000 / 16 && map.side == 1024)
        #expect(map.kind.count <= 1 << 20)
    }

    @Test("the map's runs (lists and descriptors, no byte per page) equal the page-by-page classification, after slab, pcp and user pages")
    func runsEqualPageByPage() throws {
        let k = try bootPreset("console=ttyS0", mem: 1 << 30)
        var shell = AllocShell(kernel: k, source: "test")
        for command in ["alloc GFP_KERNEL 0 x300", "alloc GFP_KERNEL 3 x40", "cache_create big 6000",
                        "kmalloc 5000", "kmalloc 9000", "kmalloc 100"] + (0..<50).map { _ in "cache_alloc big" } {
            _ = try shell.run(command, line: 1)
        }
        var r = WorkloadRunner(kernel: shell.kernel)
        try r.run(try Workload(parsing: "create f 1M\nspawn app\nmalloc p 8M\ntouch p\nread f 0 1M\n", file: "(test)"))
        let after = r.kernel!, end = after.maxPfn.raw
        #expect(PageMap.kinds(after, from: 0, end: end, user: r.userPages) == PageMap.kindsPageByPage(after, from: 0, end: end, user: r.userPages))
        // From inside a compound slab: its tail pages are still slab.
        let slab = try #require(after.slub.slabs.first { $0.order > 0 && $0.pfn != .max })
        let from = slab.pfn.raw + 1
        #expect(PageMap.kinds(after, from: from, end: from + 64) == Array(PageMap.kindsPageByPage(after, from: 0, end: end)[Int(from)..<Int(from) + 64]))
        #expect(PageMap(after, tileHolding: from, level: 1).kind.allSatisfy { $0 == PageKind.slab.rawValue })
    }

    @Test("a free page the lists hold in a hole (a replayed trace's free of pfn 0xa0) is drawn free, as page by page")
    func freeInAHole() throws {
        var k = Kernel(machine: QEMUPreset(type: .pc, memBytes: 256 << 20, cpus: 2).machine())
        k.log.enabled = false
        k.scratch.stopAtTraceInit = true
        try k.boot()
        var summary = TraceSummary(fileName: "(test)")
        var replay = TraceReplay(kernel: k)
        let line = Array("x-1 [000] .... 1.0: mm_page_free: page=ffffea0000002800 pfn=0xa0 order=0".utf8)
        let event = try line.withUnsafeBufferPointer { b throws(InputError) in try summary.add(TraceLine(bytes: b), number: 1) }
        replay.apply(try #require(event))
        let after = replay.kernel, end = after.maxPfn.raw
        let reference = PageMap.kindsPageByPage(after, from: 0, end: end)
        try #require(reference[0xa0] == PageKind.free0.rawValue, "the replay put pfn 0xa0, in the e820 hole, on a free list")
        #expect(PageMap.kinds(after, from: 0, end: end) == reference)
        #expect(PageMap.kinds(after, from: 0xa0, end: 0xa1) == [PageKind.free0.rawValue])
    }

    @Test("tiles: the aligned block of 4^L pages around a pfn, down to single pages, exactly as a page-by-page map")
    func tiles() throws {
        let k = try bootPreset("console=ttyS0 nokaslr", mem: 16 << 30)
        // The whole map: 1024 × 1024 cells of 16 pages, a square 4096 pages a side (level 12).
        #expect(PageMap.wholeSidePages(k) == 4096 && PageMap.topLevel(k) == 12)
        let fine = PageMap(k, maxCells: 1 << 23)
        try #require(fine.pagesPerCell == 1)
        // The reference: every page classified one by one, a byte each.
        let reference = PageMap.kindsPageByPage(k, from: 0, end: 0x44_0000)
        #expect(fine.kind == reference)
        for (pfn, level) in [(UInt64(0x10_0000 + 12345), 8), (0x1234, 5), (0x43_ffff, 0), (0x9f, 3)] {
            let t = PageMap(k, tileHolding: pfn, level: level)
            let pages = 1 << (2 * level), start = Int(pfn) & ~(pages - 1)
            #expect(t.startPfn == UInt64(start) && t.pagesPerCell == 1 && t.side == 1 << level)
            #expect(t.kind == Array(reference[start..<start + pages]))
            #expect(t.zone == Array(fine.zone[start..<start + pages]))
            #expect(t.migratetype == Array(fine.migratetype[start..<start + pages]))
        }
        // A tile above level 8 has 256 × 256 cells; the top one is the whole map, holes past
        // the last pfn included.
        let top = PageMap(k, tileHolding: 0, level: 12)
        #expect(top.pagesPerCell == 256 && top.side == 256 && top.kind.count == 1 << 16)
        for kind in PageKind.allCases where kind != .hole { #expect(top.totals[kind] == fine.totals[kind]) }
        #expect(top.totals.values.reduce(0, +) == 4096 * 4096)
        // What cannot be a tile.
        #expect(PageMap.tileRefusal(k, pfn: 0, level: 12) == nil)
        #expect(PageMap.tileRefusal(k, pfn: 0, level: 13) == "level: 13 is not in 0…12 (a tile at level L is an aligned block of 4^L pages)")
        #expect(PageMap.tileRefusal(k, pfn: 4096 * 4096, level: 0) == "pfn: 0x1000000 is beyond the map's last pfn 0xffffff")
    }

    @Test("the report is one HTML page with its data inline and no external resource")
    func report() throws {
        let k = try bootPreset("console=ttyS0 nokaslr", mem: 1 << 30, quiet: false)
        let html = Report.html(k, title: "test")
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<script id=\"machine-data\" type=\"application/json\">"))
        #expect(!html.contains("src=\"http") && !html.contains("href=\"http"))
        let start = try #require(html.range(of: "type=\"application/json\">"))
        let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        let json = try JSONSerialization.jsonObject(with: Data(html[start.upperBound..<end.lowerBound].utf8)) as? [String: Any]
        let zones = try #require(json?["zones"] as? [[String: Any]])
        #expect(zones.map { $0["name"] as? String } == ["DMA", "DMA32"])
        let slab = try #require(json?["slab"] as? [[String: Any]])
        #expect(slab.count == k.slub.caches.count { !$0.name.isEmpty })
        // Each cache's drill-down lists every live slab once, with its allocated objects.
        for c in slab {
            let name = try #require(c["name"] as? String)
            let id = try #require(k.slub.find(name))
            let list = try #require(c["list"] as? [[Int]])
            #expect(list.count == k.slub.slabs(of: id).count, "\(name)")
            #expect(Set(list.map { $0[0] }).count == list.count, "\(name): a slab listed twice")
            let live = k.slub.slabs(of: id)
            let listed: Int = list.map { $0[4] }.reduce(0, +)
            let model: Int = live.map { k.slub.allocatedObjects($0) }.reduce(0, +)
            #expect(listed == model, "\(name)")
            let sound = list.allSatisfy { (r: [Int]) -> Bool in r[2] >= 0 && r[2] <= 3 && r[4] <= r[5] }
            #expect(sound, "\(name)")
            // A cpu slab is named with its CPU; node lists and full slabs with none.
            let cpus = list.allSatisfy { (r: [Int]) -> Bool in (r[2] <= 1) == (r[3] >= 0) }
            #expect(cpus, "\(name)")
        }
        // The layout diagram's regions: address order, this boot's direct-map base, sizes as log2.
        let regions = try #require(json?["layoutRegions"] as? [[String: Any]])
        let starts = regions.compactMap { ($0["start"] as? String).flatMap { UInt64($0.dropFirst(2), radix: 16) } }
        #expect(starts.count == regions.count && starts == starts.sorted())
        let direct = try #require(regions.first { ($0["what"] as? String)?.hasPrefix("direct mapping") == true })
        #expect(direct["start"] as? String == "0x" + String(k.layout.pageOffsetBase, radix: 16))
        #expect(direct["sizeLog2"] as? Int == 46 && direct["size"] as? String == "64 TB")
        let cpuSlabs = slab.compactMap { $0["list"] as? [[Int]] }.map { l in l.filter { $0[2] == 0 }.count }.reduce(0, +)
        let modelCPUSlabs = k.slub.caches.indices.map { i in
            k.slub.cpuSlabs(of: CacheID(index: i)).filter { !$0.slab.isNone }.count
        }.reduce(0, +)
        #expect(cpuSlabs == modelCPUSlabs && cpuSlabs > 0)
    }
}
