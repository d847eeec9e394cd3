// The report in a real browser: headless Chromium (Debian's `chromium`, which .ci/run installs)
// loads the page from disk, runs its script, and is checked on the DOM it builds and on the
// pixels of a screenshot where the zones lie.

import Foundation
import MMCore
import MMText
import MMExplorer
import ExplorerServer
import KmemlabTestSupport
import Testing

enum Browser {
    static let path = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs headless Chromium on `url` with `extra` arguments; returns stdout.
    static func run(_ url: String, _ extra: [String], virtualTime: Bool = true) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path!)
        p.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                       "--force-device-scale-factor=1", "--window-size=1280,1100"]
            + (virtualTime ? ["--virtual-time-budget=10000"] : []) + extra + [url]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The page at `url`: its DOM, a screenshot, and where the map lies on it (left, top, and
    /// pixels per cell), for tests that read a map cell's colour.
    static func shot(_ url: String, _ name: String) throws -> (dom: String, png: PNGImage, left: Int, top: Int, px: Int) {
        let dom = try run(url, ["--dump-dom"])
        guard let left = attribute(dom, "map-left"), let top = attribute(dom, "map-top"), let px = attribute(dom, "map-px") else {
            throw InputError(file: url, field: "map", "the page did not place its map")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kmemlab-\(name)-\(getpid()).png")
        defer { try? FileManager.default.removeItem(at: file) }
        _ = try run(url, ["--screenshot=\(file.path)"])
        return (dom, try PNGImage([UInt8](Data(contentsOf: file))), left, top, px)
    }

    /// A `data-NAME="value"` attribute of the dumped <body>.
    static func attribute(_ dom: String, _ name: String) -> Int? {
        guard let r = dom.range(of: "data-\(name)=\"") else { return nil }
        return Int(dom[r.upperBound...].prefix { $0.isNumber })
    }
}

@Suite("the report in headless Chromium", .enabled(if: Browser.path != nil), .serialized)
struct BrowserTests {
    static let report: (url: URL, kernel: Kernel) = {
        let k = try! bootPreset("console=ttyS0 loglevel=8 memblock=debug nokaslr", mem: 4 << 30, quiet: false)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kmemlab-report-\(getpid()).html")
        try! Report.html(k, title: "qemu-pc-4g").write(to: url, atomically: true, encoding: .utf8)
        return (url, k)
    }()

    @Test("the page builds every view")
    func dom() throws {
        let start = Date()
        let dom = try Browser.run(Self.report.url.absoluteString, ["--dump-dom"])
        print("browser: report loaded and drawn in \(Int(Date().timeIntervalSince(start) * 1000)) ms (headless Chromium, 4 GiB)")
        // The page's own clock (virtual under --virtual-time-budget, so measured again without it).
        let real = try Browser.run(Self.report.url.absoluteString, ["--dump-dom"], virtualTime: false)
        let mapMs = try #require(Browser.attribute(real, "map-drawn-ms")), allMs = try #require(Browser.attribute(real, "first-paint-ms"))
        print("browser: 4 GiB page map drawn \(mapMs) ms after navigation began, every view \(allMs) ms")
        #expect(dom.contains("data-ready=\"1\""))
        #expect(dom.contains("<footer id=\"status\">ready</footer>"))
        for zone in ["Node 0 DMA", "Node 0 DMA32", "Node 0 Normal"] { #expect(dom.contains("<td class=\"l\">\(zone)</td>")) }
        // Every slab cache is a row of the sortable table; the legend names the kinds with sizes.
        let k = Self.report.kernel
        let slabSection = try #require(dom.range(of: "<div id=\"slab\">"))
        let rows = dom[slabSection.upperBound...].prefix { _ in true }.components(separatedBy: "</tbody>")[0]
            .components(separatedBy: "<tr class=\"pick\">").count - 1
        #expect(rows == k.slabCachesNewestFirst.count)
        #expect(dom.contains("kernel image — "))
        // The virtual layout as a diagram: a bar per region, the direct map at this boot's base.
        #expect(dom.contains("id=\"layout-svg\""))
        #expect(dom.contains("<title>direct mapping of all physical memory (page_offset_base): 0x\(String(k.layout.pageOffsetBase, radix: 16))–"))
        #expect(dom.contains("Linux version 6.1.0-56-amd64"))
        // The buddy view carries the kernel's fragmentation indices, computed as debugfs does.
        let dma = k.nodes[0].zones[ZoneType.dma.rawValue]
        let unusable = (0..<maxOrder).map { o -> String in
            let i = dma.contigPageInfo(order: Order(o)).unusableFreeIndex(order: Order(o))
            return "<td>\(i / 1000).\(padLeftZero(String(i % 1000), 3))</td>"
        }.joined()
        #expect(dom.contains(">unusable_index</td>" + unusable))
        #expect(dom.contains(">extfrag_index</td>"))
        #expect(dom.contains("Fragmentation score (proactive compaction, order 9): \(dma.fragmentationScore)."))
    }

    @Test("a cache's slabs: where each is and how full, from #slab= or a click")
    func slabDrillDown() throws {
        let k = Self.report.kernel
        // The cache with the most slabs after boot.
        let id = try #require(k.slabCachesNewestFirst.max { k.slub.slabs(of: $0).count < k.slub.slabs(of: $1).count })
        let name = k.slub.caches[id].name
        let live = k.slub.slabs(of: id)
        try #require(live.count > 1)
        let allocated = live.map { k.slub.allocatedObjects($0) }.reduce(0, +)
        let objects = live.map { Int(k.slub.slabs[$0].objects) }.reduce(0, +)
        let hash = "#slab=" + name.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let dom = try Browser.run(Self.report.url.absoluteString + hash, ["--dump-dom"])
        #expect(dom.contains("<h3 id=\"slab-detail-title\">\(name): \(live.count) slabs ("))
        #expect(dom.contains(", \(allocated) of \(objects) objects allocated</h3>"))
        for sid in live { #expect(dom.contains("<td class=\"l\">\(hex(k.slub.slabs[sid].pfn))</td>")) }
        #expect(dom.contains("<tr class=\"pick\"><td class=\"l\">\(name)</td>"))
    }

    @Test("a screenshot shows each zone's colour where that zone lies")
    func zonesOnScreen() throws {
        let (_, png, left, top, px) = try Browser.shot(Self.report.url.absoluteString + "#colour=zone", "zones")
        let map = PageMap(Self.report.kernel)
        func colour(atPfn pfn: UInt64) -> String {
            let (x, y) = PageMap.hilbert(Int(pfn / map.pagesPerCell), side: map.side)
            let p = png.pixel(left + x * px + px / 2, top + y * px + px / 2)
            return String(format: "#%02x%02x%02x", p.r, p.g, p.b)
        }
        #expect(colour(atPfn: 0x10) == ExplorerData.zoneColors[1])       // DMA
        #expect(colour(atPfn: 0x8_0000) == ExplorerData.zoneColors[2])   // DMA32, 2 GiB
        #expect(colour(atPfn: 0xd_0000) == ExplorerData.zoneColors[0])   // the PCI hole, in no zone
        #expect(colour(atPfn: 0x12_0000) == ExplorerData.zoneColors[3])  // Normal, above 4 GiB
    }

    @Test("the close-up: #zoom=PFN,LEVEL draws the aligned block on the same curve, each zone where it lies")
    func closeUp() throws {
        // Level 7: pfns 0–0x3fff, DMA's 4096 pages a quadrant of it and DMA32 the rest. The
        // report holds cells of 4 pages (4 GiB), so the close-up says serve zooms further.
        let (dom, png, _, _, _) = try Browser.shot(Self.report.url.absoluteString + "#colour=zone&zoom=0x2345,7", "closeup")
        #expect(Browser.attribute(dom, "zoom-level") == 7 && Browser.attribute(dom, "zoom-start") == 0)
        #expect(dom.contains("pfns 0x0–0x3fff (65,536 KiB), one page a cell (the report holds cells of 4 pages: kmemlab serve zooms to single pages)"))
        let left = try #require(Browser.attribute(dom, "zoom-left")), top = try #require(Browser.attribute(dom, "zoom-top"))
        let px = try #require(Browser.attribute(dom, "zoom-px"))
        #expect(px == 3)
        let sidePages = Int(PageMap.wholeSidePages(Self.report.kernel))
        func colour(atPfn pfn: Int) -> String {
            // The block's own corner on the whole curve, then the page's place from it.
            let origin = PageMap.hilbert(0, side: sidePages >> 7)
            let (x, y) = PageMap.hilbert(pfn, side: sidePages)
            let p = png.pixel(left + (x - origin.x * 128) * px + px / 2, top + (y - origin.y * 128) * px + px / 2)
            return String(format: "#%02x%02x%02x", p.r, p.g, p.b)
        }
        #expect(colour(atPfn: 0x800) == ExplorerData.zoneColors[1])   // DMA
        #expect(colour(atPfn: 0xfff) == ExplorerData.zoneColors[1])
        #expect(colour(atPfn: 0x1000) == ExplorerData.zoneColors[2])  // DMA32
        #expect(colour(atPfn: 0x3ffe) == ExplorerData.zoneColors[2])
        #expect(colour(atPfn: 0xa0) == ExplorerData.zoneColors[0])    // the legacy VGA hole
    }

    @Test("after a workload: each process's status and maps, as /proc prints them")
    func processes() throws {
        let k = try bootPreset("console=ttyS0 nokaslr", mem: 1 << 30, quiet: false)
        var r = WorkloadRunner(kernel: k)
        try r.run(try Workload(parsing: "spawn app\nmalloc p 8M\ntouch p\nspawn idle\nexit\n", file: "(test)"))
        let live = r.processes.filter { $0.exitStatus == nil }
        try #require(live.count == 1 && live[0].comm == "app")
        let views = live.map { ExplorerData.ProcessView(comm: $0.comm, pid: $0.pid, status: r.statusLines($0), maps: ProcMaps.lines($0)) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kmemlab-procs-\(getpid()).html")
        defer { try? FileManager.default.removeItem(at: url) }
        try Report.html(r.kernel!, title: "workload", user: r.userPages, processes: views).write(to: url, atomically: true, encoding: .utf8)
        let dom = try Browser.run(url.absoluteString, ["--dump-dom"])
        #expect(Browser.attribute(dom, "processes") == 1)
        #expect(dom.contains("<h3>app (pid \(live[0].pid))</h3>"))
        let rss = try #require(views[0].status.first { $0.hasPrefix("RssAnon:") })
        #expect(dom.contains(rss))
        // Every VMA is a row: its start, end and permissions, the mapping's name last.
        for line in views[0].maps {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            let range = f[0].split(separator: "-")
            #expect(dom.contains("<td class=\"l\">\(range[0])</td><td>\(range[1])</td><td>\(f[1])</td>"), "\(line)")
        }
        #expect(views[0].maps.contains { $0.hasSuffix("[heap]") || $0.contains("rw-p 00000000 00:00 0") })
    }

    @Test("i386: the 3G/1G split drawn, each region at this boot's addresses, lowmem and highmem with their zones")
    func i386Layout() throws {
        let k = try bootPreset("console=ttyS0 nokaslr", mem: 2 << 30, arch: .i386, quiet: false)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kmemlab-i386-\(getpid()).html")
        defer { try? FileManager.default.removeItem(at: url) }
        try Report.html(k, title: "qemu-pc-2g-i386").write(to: url, atomically: true, encoding: .utf8)
        let dom = try Browser.run(url.absoluteString, ["--dump-dom"])
        #expect(dom.contains("data-ready=\"1\""))
        #expect(dom.contains("id=\"layout32-svg\""))
        #expect(dom.contains("3 GB user space (0 – 0xbfffffff)"))
        func hex8(_ v: UInt64) -> String { "0x" + padLeftZero(String(v, radix: 16), 8) }
        let regions = Layout.regions32(k)
        #expect(regions.count >= 10)
        for r in regions {
            let size = r.end - r.start
            let mb = size >= 1 << 30 && size % (1 << 30) == 0 ? "\(size >> 30) GB"
                : size >= 1 << 20 ? "\(Int((Double(size) / 1048576).rounded())) MB" : "\(Int((Double(size) / 1024).rounded())) kB"
            #expect(dom.contains("<title>\(r.what): \(hex8(r.start))–\(hex8(r.end - 1)) (\(mb))</title>"), "\(r.what)")
        }
        // Physical memory split where max_low_pfn is: lowmem mapped for good, highmem through kmap.
        let low = k.maxLowPfn.raw << 12
        #expect(dom.contains("<title>lowmem: physical 0 – \(hex8(low - 1))"))
        #expect(dom.contains("<title>highmem: physical \(hex8(low)) – "))
        #expect(dom.contains("kmap() puts a page in one of the 1024 slots of this window (4 MB)"))
        for z in k.i386!.zones where z.spannedPages > 0 {
            #expect(dom.contains("<td class=\"l\">\(z.type.name)</td><td>\(hex(z.startPfn))</td>"))
        }
        #expect(dom.contains("every page of RAM is still memblock's"))
        // The map, by zone: lowmem's DMA and Normal, then HighMem from max_low_pfn.
        let map = PageMap(k)
        #expect(map.totals[.memblockFree, default: 0] > 0 && map.totals[.kernelImage, default: 0] > 0)
        #expect(map.totals[.free0] == nil && map.totals[.slab] == nil)
        let (_, png, left, top, px) = try Browser.shot(url.absoluteString + "#colour=zone", "i386")
        func colour(atPfn pfn: UInt64) -> String {
            let (x, y) = PageMap.hilbert(Int(pfn / map.pagesPerCell), side: map.side)
            let p = png.pixel(left + x * px + px / 2, top + y * px + px / 2)
            return String(format: "#%02x%02x%02x", p.r, p.g, p.b)
        }
        #expect(colour(atPfn: 0x800) == ExplorerData.zoneColors[1])                     // DMA
        #expect(colour(atPfn: 0x2_0000) == ExplorerData.zoneColors[2])                  // Normal
        #expect(colour(atPfn: k.i386!.highstartPfn + 0x1_0000) == ExplorerData.zoneColors[3])  // HighMem
    }

    @Test("the boot stepper: ▶ up to memblock_free_all, its lines and what it did; a step's reservations lit up on the map")
    func bootStepper() throws {
        let k = Self.report.kernel
        let changes = BootStepsText.changes(k)
        let i = try #require(changes.firstIndex { $0.step.function.contains("memblock_free_all") })
        let dom = try Browser.run(Self.report.url.absoluteString + "#step=memblock_free_all", ["--dump-dom"])
        #expect(Browser.attribute(dom, "step") == i)
        let (step, next, _) = changes[i]
        #expect(dom.contains("<h3 id=\"step-title\">\(i + 1) of \(changes.count): \(ExplorerAssets.escape(step.function))  [\(step.file)]</h3>"))
        let summary = BootStepsText.summary(step, next)
        #expect(summary.contains("free pages +") && dom.contains("<p id=\"step-summary\">⇒ \(summary)</p>"))
        let lines = k.log.lines[step.firstLine..<next.firstLine]
        #expect(!lines.isEmpty && dom.contains("<pre id=\"step-lines\">" + ExplorerAssets.escape(lines.joined(separator: "\n")) + "</pre>"))

        // paging_init(), which reserves the memmap: a cell inside what it reserved is its zone's
        // colour blended with gold (a quarter and three quarters).
        let r = try #require(changes.firstIndex { $0.step.function.hasPrefix("paging_init") })
        let map = PageMap(k)
        let range = try #require(changes[r].change.reserved.max { $0.count < $1.count })
        try #require(range.count >= 3 * Int(map.pagesPerCell))
        let pfn = (range.lowerBound / map.pagesPerCell + 1) * map.pagesPerCell
        let url = Self.report.url.absoluteString + "#colour=zone&step=paging_init"
        let (dom2, png, left, top, px) = try Browser.shot(url, "step")
        #expect(Browser.attribute(dom2, "step") == r)
        let (x, y) = PageMap.hilbert(Int(pfn / map.pagesPerCell), side: map.side)
        let p = png.pixel(left + x * px + px / 2, top + y * px + px / 2)
        let zone = try #require(k.memmap.zoneSlot(Pfn(pfn)))
        let base = ExplorerData.zoneColors[zone.zoneIndex + 1]
        func channel(_ hex: String, _ i: Int) -> Int { Int(hex.dropFirst(1 + 2 * i).prefix(2), radix: 16)! }
        let gold = "#ffd700"
        for (c, got) in [p.r, p.g, p.b].enumerated() {
            #expect(Int(got) == (channel(base, c) + 3 * channel(gold, c)) >> 2, "channel \(c) at pfn \(pfn)")
        }
    }

    @Test("the replay timeline: each zone's figures along a trace, a sample picked with the slider (#sample=)")
    func replayTimeline() throws {
        // The oracle trace's machine at trace_init(), the first 60,000 events decided by the model.
        let m = try DmesgParser(fileName: "dmesg.txt").parse(Fixtures.text(Fixtures.casePath("pc-2g-trace", "dmesg.txt")))
        var k = Kernel(machine: m)
        k.scratch.stopAtTraceInit = true
        try k.boot()
        var run = ReplayRun(kernel: k, asRecorded: false)
        var t = ReplayTimeline(mode: "decide", every: 10_000)
        var summary = TraceSummary(fileName: "trace")
        var events = 0
        t.sample(k, events: 0, timeUS: nil)
        try TraceFile.forEachLine(Fixtures.casePath("pc-2g-trace", "trace.txt.gz")) { (line, n) throws(InputError) in
            guard events < 60_000, let e = try summary.add(line, number: n) else { return }
            run.apply(e)
            events += 1
            t.maybeSample(run.kernel, events: events, timeUS: e.timeUS)
        }
        #expect(t.samples.count == 7 && t.zoneNames == ["node 0 DMA", "node 0 DMA32"])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kmemlab-timeline-\(getpid()).html")
        defer { try? FileManager.default.removeItem(at: url) }
        try Report.html(run.kernel, title: "timeline", timeline: t).write(to: url, atomically: true, encoding: .utf8)
        let dom = try Browser.run(url.absoluteString + "#sample=2", ["--dump-dom"])
        #expect(Browser.attribute(dom, "sample") == 2)
        let s = t.samples[2]
        let time = s.timeUS.map { String(format: ", t = %.6f s", Double($0) / 1e6) } ?? ""
        #expect(dom.contains("<span id=\"timeline-at\">after 20,000 events\(time)</span>"))
        // The picked sample's DMA32 row: free pages, then nr_free of every order.
        let z = s.zones[1]
        func n(_ v: UInt64) -> String { v.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US"))) }
        let cells = ["<td class=\"l\">node 0 DMA32</td>", "<td>\(n(z.freePages))</td>"]
        #expect(dom.contains(cells.joined()))
        #expect(dom.contains(z.nrFree.map { "<td>\(n($0))</td>" }.joined() + "</tr>"))
        // Four charts, a line per zone in each.
        #expect(dom.components(separatedBy: "data-metric=").count - 1 == 4)
        #expect(dom.components(separatedBy: "<polyline").count - 1 == 8)
    }
}

/// The served page in Chromium: it runs an allocation through the server and shows its path.
@Suite("the served explorer in headless Chromium", .enabled(if: Browser.path != nil), .serialized)
struct ServedBrowserTests {
    @Test("an allocation from the page: its path text, and the views drawn again")
    func allocationFromThePage() async throws {
        let k = try bootPreset("console=ttyS0 nokaslr", mem: 1 << 30, quiet: false)
        let port = 20000 + Int(getpid() % 20000)
        let server = Task { try await ExplorerServer.run(ExplorerState(kernel: k, title: "served"), host: "127.0.0.1", port: port) }
        defer { server.cancel() }
        // Wait for the socket.
        var up = false
        for _ in 0..<50 where !up {
            try await Task.sleep(nanoseconds: 100_000_000)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            p.arguments = ["-s", "-o", "/dev/null", "http://127.0.0.1:\(port)/api/machine"]
            try p.run(); p.waitUntilExit()
            up = p.terminationStatus == 0
        }
        #expect(up)
        let url = "http://127.0.0.1:\(port)/#run=" + "alloc GFP_KERNEL 2".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let start = Date()
        let dom = try Browser.run(url, ["--dump-dom"])
        print("browser: served page, one allocation and a redraw in \(Int(Date().timeIntervalSince(start) * 1000)) ms")
        #expect(dom.contains("data-commands=\"1\""))
        #expect(dom.contains("pcp hit on cpu 0") || dom.contains("rmqueue"))
        #expect(dom.contains("alloc GFP_KERNEL order 2: pfn 0x"))
        #expect(dom.contains("<footer id=\"status\">ready</footer>"))

        // The close-up from the server's tiles: single pages, where the report's cells stop.
        let zoomed = try Browser.run("http://127.0.0.1:\(port)/#zoom=0x1234,3", ["--dump-dom"])
        #expect(Browser.attribute(zoomed, "zoom-level") == 3 && Browser.attribute(zoomed, "zoom-start") == 0x1200)
        #expect(zoomed.contains("pfns 0x1200–0x123f (256 KiB), one page a cell</span>"))

        // What if: the same machine with min_free_kbytes raised, side by side, the changes marked.
        let (_, rows) = try RequestBoot.whatIf(k, append: nil, sysctls: "vm.min_free_kbytes=65536")
        let whatIf = try Browser.run("http://127.0.0.1:\(port)/#whatif=vm.min_free_kbytes%3D65536", ["--dump-dom"])
        #expect(whatIf.contains("data-whatif=\"1\""))
        #expect(whatIf.contains("<p id=\"whatif-count\">\(rows.filter(\.changed).count) of \(rows.count) figures differ."))
        let min = try #require(rows.first { $0.what == "vm.min_free_kbytes" })
        #expect(whatIf.contains("<tr class=\"changed\"><td class=\"l\">vm.min_free_kbytes</td><td>\(min.base)</td><td>65536</td></tr>"))
        #expect(whatIf.contains("<tr><td class=\"l\">command line</td>"), "unchanged rows are not marked")
    }
}
