// `kmemlab replay --kmem-stat`: the tables of `perf kmem stat --slab --page --caller --alloc`,
// from a text trace.
//
// perf: tools/perf/builtin-kmem.c — evsel__process_alloc_event(), evsel__process_free_event(),
//       evsel__process_page_alloc_event(), evsel__process_page_free_event(),
//       __print_slab_result(), print_slab_summary(), __print_page_alloc_result(),
//       print_page_summary(); default sorts "frag,hit,bytes" (slab) and "bytes,hit" (page).
// Same figures as perf: hits, bytes requested and allocated, internal fragmentation, ping-pong
// (freed on another CPU than the one that allocated), cross-node allocations (a node asked
// for that is not the CPU's), and the page allocator's order × migratetype grid.
// Different on purpose: perf's migratetype names are those of kernels before 2.6.37's reorder
// (index 1 printed as RECLAIM, 2 as MOVABLE); on 6.1 index 1 is MOVABLE and 2 RECLAIMABLE, and
// kmemlab labels them so. Call sites print as the trace names them (no symbol lookup); a page
// allocation has no call site in a text trace.

import MMCore

public struct KmemStat {
    struct Slab { var bytesAlloc = 0, bytesReq = 0, hit = 0, pingpong = 0, lastAlloc = 0, allocCPU = -1, callSite = "" }
    struct Page { var allocBytes = 0, hits = 0, order = 0, migratetype = 0, gfp = "" }

    var byCaller: [String: Slab] = [:]
    var byPtr: [UInt64: Slab] = [:]
    var totalRequested = 0, totalAllocated = 0, totalFreed = 0, allocs = 0, crossAllocs = 0
    /// Page allocations by (pfn, order, gfp, migratetype), as perf keys them.
    var byPage: [String: (pfn: Pfn, stat: Page)] = [:]
    var livePages: [Pfn: Int] = [:]
    var pageAllocs = 0, pageAllocBytes = 0, pageFrees = 0, pageFreeBytes = 0
    var pageNomatch = 0, pageNomatchBytes = 0, pageFails = 0, pageFailBytes = 0
    var orderStats = [[Int]](repeating: [Int](repeating: 0, count: migrateTypes), count: maxOrder)
    /// The CPU → node map of the traced machine (perf's cpu__get_node()).
    let cpuToNode: [NodeID]

    public init(cpuToNode: [NodeID]) { self.cpuToNode = cpuToNode }

    /// `names`: the reader that read `e` (its call site and gfp texts are that reader's ids).
    public mutating func add(_ e: TraceEvent, names: TraceReader) {
        switch e.kind {
        case .kmalloc, .kmallocNode, .kmemCacheAlloc, .kmemCacheAllocNode: slabAlloc(e, site: names.name(e.callSiteID) ?? "?")
        case .kfree, .kmemCacheFree: slabFree(e)
        case .mmPageAlloc: pageAlloc(e, gfp: e.gfp?.description ?? names.name(e.gfpTextID) ?? "?")
        case .mmPageFree: pageFree(e)
        default: break
        }
    }

    mutating func slabAlloc(_ e: TraceEvent, site: String) {
        guard let ptr = e.ptr else { return }
        // The reader caps sizes at 2^40: sums of a few million stay far inside Int.
        let req = e.bytesReq ?? 0, alloc = e.bytesAlloc ?? 0
        var p = byPtr[ptr] ?? Slab()
        p.bytesAlloc &+= alloc; p.bytesReq &+= req; p.hit += 1
        p.lastAlloc = alloc; p.allocCPU = e.cpu; p.callSite = site
        byPtr[ptr] = p
        byCaller[site, default: Slab()].bytesAlloc &+= alloc
        byCaller[site]!.bytesReq &+= req
        byCaller[site]!.hit += 1
        totalRequested &+= req
        totalAllocated &+= alloc
        allocs += 1
        let cpuNode = e.cpu < cpuToNode.count ? cpuToNode[e.cpu] : 0
        if let node = e.node, node != -1, NodeID(Int32(truncatingIfNeeded: node)) != cpuNode { crossAllocs += 1 }
    }

    mutating func slabFree(_ e: TraceEvent) {
        guard let ptr = e.ptr, var p = byPtr[ptr] else { return }
        totalFreed &+= p.lastAlloc
        if e.cpu != p.allocCPU {
            p.pingpong += 1
            byCaller[p.callSite]?.pingpong += 1
        }
        p.allocCPU = -1
        byPtr[ptr] = p
    }

    mutating func pageAlloc(_ e: TraceEvent, gfp: String) {
        let order = e.order ?? 0
        guard order < maxOrder else { return }   // no such allocation in 6.1
        let bytes = 4096 << order
        pageAllocs += 1
        pageAllocBytes += bytes
        guard let pfn = e.pfn else { pageFails += 1; pageFailBytes += bytes; return }
        let mt = e.migratetype ?? 0
        let key = "\(pfn)/\(order)/\(gfp)/\(mt)"
        var s = byPage[key]?.stat ?? Page(order: order, migratetype: mt, gfp: gfp)
        s.hits += 1
        s.allocBytes += bytes
        byPage[key] = (pfn, s)
        livePages[pfn] = order
        if order < maxOrder && mt < migrateTypes { orderStats[order][mt] += 1 }
    }

    mutating func pageFree(_ e: TraceEvent) {
        guard let pfn = e.pfn, (e.order ?? 0) < maxOrder else { return }
        let bytes = 4096 << (e.order ?? 0)
        pageFrees += 1
        pageFreeBytes += bytes
        if livePages.removeValue(forKey: pfn) == nil { pageNomatch += 1; pageNomatchBytes += bytes }
    }

    static let dots = String(repeating: "-", count: 105)

    /// perf's fragmentation(): the share of allocated bytes not requested, in percent.
    static func fragmentation(_ req: Int, _ alloc: Int) -> Double {
        alloc == 0 ? 0 : 100 - 100 * Double(req) / Double(alloc)
    }

    /// The slab tables (by call site, by pointer: `lines` rows each, sorted frag, hit, bytes)
    /// and the slab summary.
    public func slabText(lines: Int) -> [String] {
        var out: [String] = []
        func table(_ title: String, _ rows: [(String, Slab)]) {
            out.append(KmemStat.dots)
            out.append(" " + padRight(title, 34) + " | Total_alloc/Per | Total_req/Per   | Hit      | Ping-pong | Frag")
            out.append(KmemStat.dots)
            let sorted = rows.sorted { a, b in
                let fa = KmemStat.fragmentation(a.1.bytesReq, a.1.bytesAlloc), fb = KmemStat.fragmentation(b.1.bytesReq, b.1.bytesAlloc)
                if fa != fb { return fa > fb }
                if a.1.hit != b.1.hit { return a.1.hit > b.1.hit }
                if a.1.bytesAlloc != b.1.bytesAlloc { return a.1.bytesAlloc > b.1.bytesAlloc }
                return a.0 < b.0
            }
            for (name, d) in sorted.prefix(lines) {
                let frag = KmemStat.fragmentation(d.bytesReq, d.bytesAlloc)
                out.append(" " + padRight(name, 34) + " | " + padLeft(String(d.bytesAlloc), 9) + "/" + padRight(String(d.bytesAlloc / d.hit), 5)
                           + " | " + padLeft(String(d.bytesReq), 9) + "/" + padRight(String(d.bytesReq / d.hit), 5)
                           + " | " + padLeft(String(d.hit), 8) + " | " + padLeft(String(d.pingpong), 9) + " | "
                           + padLeft(KmemStat.fixed(frag, 3), 6) + "%")
            }
            if sorted.count > lines {
                out.append(" ...                                | ...             | ...             | ...      | ...       | ...   ")
            }
            out.append(KmemStat.dots)
        }
        table("Callsite", byCaller.map { ($0.key, $0.value) })
        table("Alloc Ptr", byPtr.map { ("0x" + String($0.key, radix: 16), $0.value) })
        out += ["", "SUMMARY (SLAB allocator)", "========================",
                "Total bytes requested: \(grouped(totalRequested))",
                "Total bytes allocated: \(grouped(totalAllocated))",
                "Total bytes freed:     \(grouped(totalFreed))"]
        if totalAllocated > totalFreed { out.append("Net total bytes allocated: \(grouped(totalAllocated - totalFreed))") }
        out.append("Total bytes wasted on internal fragmentation: \(grouped(totalAllocated - totalRequested))")
        out.append("Internal fragmentation: \(KmemStat.fixed(KmemStat.fragmentation(totalRequested, totalAllocated), 6))%")
        out.append("Cross CPU allocations: \(grouped(crossAllocs))/\(grouped(allocs))")
        return out
    }

    /// The page table (by pfn, `lines` rows, sorted bytes, hit) and the page summary with the
    /// order × migratetype grid, labelled as 6.1 numbers the types.
    public func pageText(lines: Int) -> [String] {
        let gfpLen = Swift.max(9, byPage.values.map { $0.stat.gfp.count }.max() ?? 0)
        var out = ["", KmemStat.dots,
                   " " + padRight("PFN", 16) + " | Total alloc (KB) | Hits      | Order | Mig.type | " + padRight("GFP flags", gfpLen) + " | Callsite",
                   KmemStat.dots]
        let sorted = byPage.values.sorted { a, b in
            if a.stat.allocBytes != b.stat.allocBytes { return a.stat.allocBytes > b.stat.allocBytes }
            if a.stat.hits != b.stat.hits { return a.stat.hits > b.stat.hits }
            return a.pfn < b.pfn
        }
        for d in sorted.prefix(lines) {
            out.append(" " + padLeft(String(d.pfn.raw), 16) + " | " + padLeft(grouped(d.stat.allocBytes / 1024), 16) + " | "
                       + padLeft(grouped(d.stat.hits), 9) + " | " + padLeft(String(d.stat.order), 5) + " | "
                       + padLeft(KmemStat.typeName(d.stat.migratetype), 8) + " | " + padRight(d.stat.gfp, gfpLen) + " | -")
        }
        if sorted.count > lines {
            out.append(" ...              | ...              | ...       | ...   | ...      | " + padRight("...", gfpLen) + " | ...")
        }
        out.append(KmemStat.dots)
        func line(_ name: String, _ n: Int, _ bytes: Int) -> String {
            padRight(name, 30) + ": " + padLeft(grouped(n), 16) + "   [ " + padLeft(grouped(bytes / 1024), 16) + " KB ]"
        }
        let allocFreed = pageFrees - pageNomatch, allocFreedBytes = pageFreeBytes - pageNomatchBytes
        out += ["", "SUMMARY (page allocator)", "========================",
                line("Total allocation requests", pageAllocs, pageAllocBytes),
                line("Total free requests", pageFrees, pageFreeBytes), "",
                line("Total alloc+freed requests", allocFreed, allocFreedBytes),
                line("Total alloc-only requests", pageAllocs - allocFreed, pageAllocBytes - allocFreedBytes),
                line("Total free-only requests", pageNomatch, pageNomatchBytes), "",
                line("Total allocation failures", pageFails, pageFailBytes), ""]
        out.append(padLeft("Order", 5) + (0..<migrateTypes).map { "  " + padLeft(KmemStat.gridName($0), 12) }.joined())
        out.append(String(repeating: "-", count: 5) + String(repeating: "  " + String(repeating: "-", count: 12), count: migrateTypes))
        for o in 0..<maxOrder {
            out.append(padLeft(String(o), 5) + orderStats[o].map { "  " + padLeft($0 == 0 ? "." : grouped($0), 12) }.joined())
        }
        return out
    }

    /// 6.1's migratetypes, in perf's eight-character style.
    static func typeName(_ mt: Int) -> String {
        ["UNMOVABL", "MOVABLE", "RECLAIM", "HIGHATOM", "ISOLATE"].indices.contains(mt) ? ["UNMOVABL", "MOVABLE", "RECLAIM", "HIGHATOM", "ISOLATE"][mt] : "UNKNOWN"
    }

    static func gridName(_ mt: Int) -> String {
        ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"][mt]
    }

    /// printf's %'d: thousands grouped with commas (perf runs with the user's locale; kmemlab
    /// prints the en_US grouping).
    func grouped(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A fixed-point rendering of `v` with `places` decimals (printf %.Nf, rounded half up).
    public static func fixed(_ v: Double, _ places: Int) -> String {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        guard v.isFinite, abs(v) < 1e12 else { return v.isNaN ? "nan" : (v < 0 ? "-" : "") + "inf" }
        let n = Int((abs(v) * scale).rounded())
        let whole = n / Int(scale), frac = n % Int(scale)
        return (v < 0 && n != 0 ? "-" : "") + "\(whole)." + padLeftZero(String(frac), places)
    }
}
