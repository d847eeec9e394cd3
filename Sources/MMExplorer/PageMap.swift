// The page map: every page of physical memory, what it is, laid out along a Hilbert curve.
//
// A booted machine's pages are classified once (hole, memblock-reserved, kernel image, free in a
// block of order k, on a pcp list, slab, otherwise allocated), then summarised into cells of
// 4^k pages so that any machine fits a fixed number of cells. Cells are stored in pfn order,
// which is the curve's order: cell d covers pfns [d·n, (d+1)·n). Drawn along a Hilbert curve,
// every aligned block of 4^j cells is a square, so a buddy block of even order is a square
// and one of odd order two squares side by side.

import MMCore
import MMText

/// What a page is, as the map colours it. Free pages carry their block's order.
public enum PageKind: UInt8, CaseIterable, Sendable {
    case hole = 0, reserved, kernelImage, pcp, slab, allocated
    /// User memory (after a workload): anonymous pages, the page cache, page tables.
    case anon, pageCache, pageTable
    /// RAM memblock still holds (i386, whose model stops before memblock_free_all()).
    case memblockFree
    case free0 = 16, free1, free2, free3, free4, free5, free6, free7, free8, free9, free10

    /// What a workload's page is used for, as the map colours it.
    public init(_ use: UserPageExtent.Use) {
        switch use {
        case .anon: self = .anon
        case .pageCache: self = .pageCache
        case .pageTable: self = .pageTable
        }
    }

    public static func free(order: Int) -> PageKind { PageKind(rawValue: 16 + UInt8(order)) ?? .free10 }
    public var freeOrder: Int? { rawValue >= 16 ? Int(rawValue - 16) : nil }

    public var label: String {
        if let o = freeOrder { return "free, order \(o)" }
        switch self {
        case .hole: return "hole (no RAM)"
        case .reserved: return "memblock-reserved"
        case .kernelImage: return "kernel image"
        case .pcp: return "per-cpu list"
        case .slab: return "slab"
        case .allocated: return "allocated"
        case .anon: return "anonymous (processes)"
        case .pageCache: return "page cache"
        case .pageTable: return "page tables"
        case .memblockFree: return "RAM memblock still holds (not yet given to the buddy allocator)"
        default: return "?"
        }
    }
}

/// The classified map of a booted machine, or of one tile of it, summarised into cells.
public struct PageMap: Sendable {
    /// The first pfn the map covers (0 for the whole machine; a tile's first page otherwise).
    public let startPfn: UInt64
    /// Pages in each cell (a power of 4).
    public let pagesPerCell: UInt64
    /// Cells per side of the square the curve fills (a power of 2).
    public let side: Int
    /// One past the last pfn the map covers.
    public let endPfn: UInt64
    /// Per cell, in pfn order: the kind of most of its pages.
    public var kind: [UInt8]
    /// Per cell: how many distinct kinds its pages have (1 = uniform).
    public var mixed: [UInt8]
    /// Per cell: zone type + 1 of its first page (0: in no zone).
    public var zone: [UInt8]
    /// Per cell: node id + 1 of its first page (0: in no zone).
    public var node: [UInt8]
    /// Per cell: the pageblock migratetype of its first page (255: in no zone).
    public var migratetype: [UInt8]
    /// Pages of each kind over what the map covers.
    public var totals: [PageKind: UInt64]

    /// The most physical address space the map covers: 4 TiB. (It keeps no byte per page: the
    /// cost is the free blocks and the allocated pages, so 1 TiB draws about as fast as 4 GiB.)
    public static let maxPages: UInt64 = 1 << 30

    /// Why a machine cannot be mapped (nil when it can).
    public static func refusal(_ k: Kernel) -> String? {
        return k.maxPfn.raw <= maxPages ? nil
            : "the page map covers up to \(maxPages >> 28) TiB of physical address space; this machine's RAM reaches \(k.maxPfn.raw >> 18) GiB"
    }

    /// Classifies every page of `k` (at most `maxPages`) and summarises them into at most
    /// `maxCells` cells.
    public init(_ k: Kernel, user: [UserPageExtent] = [], maxCells: Int = 1 << 20) {
        let g = PageMap.geometry(k, maxCells: maxCells)
        self.init(k, start: 0, end: g.end, pagesPerCell: g.pagesPerCell, side: g.side, user: user)
    }

    /// The whole map's shape: the pfns it covers (to a multiple of 1024), the pages in a cell
    /// (the least power of 4 that fits `maxCells`), and the cells per side of its square.
    static func geometry(_ k: Kernel, maxCells: Int = 1 << 20) -> (end: UInt64, pagesPerCell: UInt64, side: Int) {
        let end = roundUp(Swift.min(Swift.max(k.maxPfn.raw, 1), PageMap.maxPages), 1024)
        var ppc: UInt64 = 1
        while (end + ppc - 1) / ppc > UInt64(maxCells) { ppc *= 4 }
        let cells = (end + ppc - 1) / ppc
        var s = 1
        while UInt64(s) * UInt64(s) < cells { s *= 2 }
        return (end, ppc, s)
    }

    /// The cells a tile holds at most: 256 × 256.
    public static let tileCellsLog4 = 8

    /// The largest tile level a machine has: the level whose one tile covers the whole map
    /// (the square `PageMap(k)` fills, in pages).
    public static func topLevel(_ k: Kernel) -> Int {
        let whole = PageMap.wholeSidePages(k)
        return whole.trailingZeroBitCount
    }

    /// The whole map's side in pages (a power of 2): its cells per side times a cell's side.
    public static func wholeSidePages(_ k: Kernel) -> UInt64 {
        let g = geometry(k)
        return UInt64(g.side) << (g.pagesPerCell.trailingZeroBitCount / 2)
    }

    /// Why a tile cannot be drawn (nil when it can): its level must be 0…topLevel, and the
    /// page it holds must lie in the map.
    public static func tileRefusal(_ k: Kernel, pfn: UInt64, level: Int) -> String? {
        if let r = refusal(k) { return r }
        let top = topLevel(k)
        guard level >= 0 && level <= top else { return "level: \(level) is not in 0…\(top) (a tile at level L is an aligned block of 4^L pages)" }
        let side = wholeSidePages(k)
        guard pfn < side * side else { return "pfn: \(hex(pfn)) is beyond the map's last pfn \(hex(side * side - 1))" }
        return nil
    }

    /// A tile: the aligned block of 4^`level` pages that holds `pfn` (a square on the curve),
    /// classified page by page and summarised into at most 256 × 256 cells, so that a view can
    /// zoom from the whole machine down to single pages. Check `tileRefusal` first.
    public init(_ k: Kernel, tileHolding pfn: UInt64, level: Int) {
        let pages: UInt64 = 1 << (2 * UInt64(level))
        let start = pfn & ~(pages - 1)
        let cellLog4 = Swift.max(0, level - PageMap.tileCellsLog4)
        self.init(k, start: start, end: start + pages, pagesPerCell: 1 << (2 * UInt64(cellLog4)),
                  side: 1 << Swift.min(level, PageMap.tileCellsLog4), user: [])
    }

    init(_ k: Kernel, start: UInt64, end: UInt64, pagesPerCell ppc: UInt64, side s: Int, user: [UserPageExtent]) {
        let cells = Int((end - start + ppc - 1) / ppc)
        startPfn = start; pagesPerCell = ppc; side = s; endPfn = end
        kind = []; mixed = []; zone = []; node = []; migratetype = []
        totals = [:]
        let runs = k.arch.is32Bit ? PageMap.runs32(k, from: start, end: end) : PageMap.runs(k, from: start, end: end, user: user)
        kind.reserveCapacity(cells)
        var counts = [UInt64](repeating: 0, count: 32)
        var totalCounts = [UInt64](repeating: 0, count: 32)
        var r = 0
        while r < runs.count && runs[r].end <= start { r += 1 }
        for c in 0..<cells {
            let first = start + UInt64(c) * ppc
            let last = Swift.min(first + ppc, end)
            for i in counts.indices { counts[i] = 0 }
            // The runs that meet this cell (a run may span many cells; pages no run holds are holes).
            var covered: UInt64 = 0
            var i = r
            while i < runs.count && runs[i].start < last {
                let a = Swift.max(runs[i].start, first), b = Swift.min(runs[i].end, last)
                if a < b { counts[Int(runs[i].kind)] += b - a; covered += b - a }
                i += 1
            }
            counts[Int(PageKind.hole.rawValue)] += (last - first) - covered
            while r < runs.count && runs[r].end <= last { r += 1 }
            var best = 0
            var distinct: UInt8 = 0
            for i in counts.indices where counts[i] > 0 {
                distinct += 1
                if counts[i] > counts[best] { best = i }
                totalCounts[i] += counts[i]
            }
            kind.append(UInt8(best)); mixed.append(distinct)
            // A hole inside a zone's span has no page there: it belongs to no zone on the map.
            if k.arch.is32Bit {
                // i386's zones (DMA, Normal, HighMem) as free_area_init() sized them; one node.
                let z = best == Int(PageKind.hole.rawValue) ? nil : k.i386?.zones.first { first >= $0.startPfn && first < $0.endPfn }
                zone.append(z.map { UInt8($0.type.rawValue) + 1 } ?? 0); node.append(z == nil ? 0 : 1); migratetype.append(255)
            } else if best != Int(PageKind.hole.rawValue), let slot = k.memmap.zoneSlot(Pfn(first)) {
                // (Node ids past 254 share the last colour.)
                zone.append(UInt8(slot.zoneIndex) + 1); node.append(UInt8(Swift.min(slot.nid.number + 1, 255)))
                migratetype.append(k.memmap.pageblockMigratetype(Pfn(first)).rawValue)
            } else {
                zone.append(0); node.append(0); migratetype.append(255)
            }
        }
        for i in totalCounts.indices where totalCounts[i] > 0 { totals[PageKind(rawValue: UInt8(i)) ?? .hole] = totalCounts[i] }
    }

    /// A run of pages of one kind: pfns [start, end).
    struct Run: Equatable {
        var start: UInt64
        var end: UInt64
        var kind: UInt8

        /// Appends [a, b) of `kind` to sorted runs, joining it to the last run when they meet.
        static func append(_ out: inout [Run], _ a: UInt64, _ b: UInt64, _ kind: PageKind) {
            guard a < b else { return }
            if let last = out.last, last.end == a, last.kind == kind.rawValue { out[out.count - 1].end = b; return }
            out.append(Run(start: a, end: b, kind: kind.rawValue))
        }
    }

    /// What the pages of [`from`, `end`) are, as sorted runs (pages in no run are holes), found
    /// without a byte per page: RAM is memblock.memory; the free and per-cpu blocks are the
    /// allocator's lists; only the pages between them are looked at one by one, and of those
    /// only in sections whose descriptors exist (a section never materialised is reserved
    /// wherever its max-order blocks are not free). So a tile of a 1 TiB machine costs about
    /// what its free blocks and its allocated pages cost, not its size.
    static func runs(_ k: Kernel, from wanted: UInt64, end: UInt64, user: [UserPageExtent]) -> [Run] {
        guard wanted < end else { return [] }
        // Looked at from the max-order block that holds `wanted`, so a compound slab that begins
        // before it is seen from its head page; the runs are cut at `wanted` at the end.
        let from = wanted & ~((1 << UInt64(maxOrder - 1)) - 1)
        // The blocks on the free lists and the per-cpu lists, in pfn order.
        var blocks: [Run] = []
        func addBlock(_ pfn: Pfn, _ order: Order, _ kind: PageKind) {
            let a = pfn.raw, b = pfn.raw &+ order.pages
            if a < end && b > from { blocks.append(Run(start: Swift.max(a, from), end: Swift.min(b, end), kind: kind.rawValue)) }
        }
        k.pageAlloc.forEachFreeBlock { pfn, order, _ in addBlock(pfn, order, .free(order: order.raw)) }
        k.pageAlloc.forEachPcpBlock { pfn, order, _ in addBlock(pfn, order, .pcp) }
        blocks.sort { $0.start < $1.start }

        var out: [Run] = []
        func emit(_ a: UInt64, _ b: UInt64, _ kind: PageKind) { Run.append(&out, a, b, kind) }
        let image = (Pfn.down(k.machine.kernel.start).raw, Pfn.up(k.machine.kernel.end).raw)
        func reserved(_ a: UInt64, _ b: UInt64) {
            // The kernel image is reserved too; it is drawn apart.
            let ia = Swift.min(Swift.max(image.0, a), b), ib = Swift.min(Swift.max(image.1, a), b)
            emit(a, ia, .reserved); emit(ia, ib, .kernelImage); emit(ib, b, .reserved)
        }
        let memmapEnd = k.memmap.endPfn.raw
        // The pages of [a, b) that are on no list: reserved, slab, or allocated.
        func inUse(_ a: UInt64, _ b: UInt64) {
            var p = a
            while p < b {
                guard p < memmapEnd else { reserved(p, b); return }
                if !k.memmap.isMaterialised(Pfn(p)) {
                    let sectionEnd = Swift.min(Pfn.first(ofSection: Pfn(p).section + 1).raw, b)
                    reserved(p, sectionEnd)
                    p = sectionEnd
                    continue
                }
                let d = k.memmap.page(Pfn(p))
                if d.flags.contains(.reserved) {
                    reserved(p, p + 1)
                    p += 1
                } else if d.flags.contains(.slab) {
                    // SLUB marks a slab's head page; a compound slab's tails follow it.
                    let n: UInt64 = d.flags.contains(.head) ? 1 << UInt64(d.order) : 1
                    emit(p, Swift.min(p + n, b), .slab)
                    p += n
                } else {
                    emit(p, p + 1, .allocated)
                    p += 1
                }
            }
        }
        var bi = 0
        // Blocks the lists hold outside memblock.memory (a replayed trace may free a page in
        // a hole inside a zone's span) are drawn as what the lists say, as page by page.
        func gap(_ a: UInt64, _ b: UInt64) {
            while bi < blocks.count && blocks[bi].start < b {
                let s = Swift.max(blocks[bi].start, a), e = Swift.min(blocks[bi].end, b)
                if s < e { emit(s, e, PageKind(rawValue: blocks[bi].kind) ?? .hole) }
                if blocks[bi].end <= b { bi += 1 } else { break }
            }
        }
        var cursor = from
        for region in k.memblock.memory.regions where region.size > 0 {
            var p = Swift.max(Pfn.up(region.base).raw, from)
            let q = Swift.min(Pfn.down(region.end).raw, end)
            if cursor < Swift.min(p, end) { gap(cursor, Swift.min(p, end)) }
            cursor = Swift.max(cursor, q)
            while p < q {
                while bi < blocks.count && blocks[bi].end <= p { bi += 1 }
                if bi < blocks.count && blocks[bi].start <= p {
                    let e = Swift.min(blocks[bi].end, q)
                    emit(p, e, PageKind(rawValue: blocks[bi].kind) ?? .hole)
                    p = e
                } else {
                    let e = bi < blocks.count ? Swift.min(blocks[bi].start, q) : q
                    inUse(p, e)
                    p = e
                }
            }
        }
        if cursor < end { gap(cursor, end) }
        let before = out.firstIndex { $0.end > wanted } ?? out.count
        out.removeFirst(before)
        if !out.isEmpty && out[0].start < wanted { out[0].start = wanted }
        guard !user.isEmpty else { return out }
        // What a workload's processes hold, over what the allocator calls allocated. Extents
        // overlap only on the same pages (a shared page, a tmpfs page mapped by a PTE): the
        // one listed first wins, as page by page.
        let extents = user.enumerated().sorted { ($0.element.pfn, $0.offset) < ($1.element.pfn, $1.offset) }.map { $0.element }
        var result: [Run] = []
        result.reserveCapacity(out.count)
        var ei = 0
        for run in out {
            guard run.kind == PageKind.allocated.rawValue else { result.append(run); continue }
            var c = run.start
            while ei < extents.count && extents[ei].pfn.raw &+ extents[ei].count <= c { ei += 1 }
            var j = ei
            while j < extents.count && extents[j].pfn.raw < run.end {
                let e = extents[j]
                let a = Swift.max(e.pfn.raw, c), b = Swift.min(e.pfn.raw &+ e.count, run.end)
                if a < b {
                    if c < a { result.append(Run(start: c, end: a, kind: run.kind)) }
                    result.append(Run(start: a, end: b, kind: PageKind(e.use).rawValue))
                    c = b
                }
                j += 1
            }
            if c < run.end { result.append(Run(start: c, end: run.end, kind: run.kind)) }
        }
        return result
    }

    /// i386: the model stops before memblock_free_all(), so every page of RAM is still
    /// memblock's: reserved (the kernel image drawn apart) or waiting for the buddy allocator.
    static func runs32(_ k: Kernel, from: UInt64, end: UInt64) -> [Run] {
        guard from < end else { return [] }
        // [start, end) pfn ranges of RAM and of reservations, each sorted and disjoint.
        func ranges(_ t: MemblockType, inner: Bool) -> [(UInt64, UInt64)] {
            t.regions.filter { $0.size > 0 }.map { r in
                inner ? (Pfn.up(r.base).raw, Pfn.down(r.end).raw) : (Pfn.down(r.base).raw, Pfn.up(r.end).raw)
            }
        }
        let ram = ranges(k.memblock.memory, inner: true), reserved = ranges(k.memblock.reserved, inner: false)
        let image = (Pfn.down(k.machine.kernel.start).raw, Pfn.up(k.machine.kernel.end).raw)
        var out: [Run] = []
        func emit(_ a: UInt64, _ b: UInt64, _ kind: PageKind) { Run.append(&out, a, b, kind) }
        var ri = 0
        for (rs, re) in ram {
            var p = Swift.max(rs, from)
            let q = Swift.min(re, end)
            while p < q {
                while ri < reserved.count && reserved[ri].1 <= p { ri += 1 }
                if ri < reserved.count && reserved[ri].0 <= p {
                    let e = Swift.min(reserved[ri].1, q)
                    let ia = Swift.min(Swift.max(image.0, p), e), ib = Swift.min(Swift.max(image.1, p), e)
                    emit(p, ia, .reserved); emit(ia, ib, .kernelImage); emit(ib, e, .reserved)
                    p = e
                } else {
                    let e = ri < reserved.count ? Swift.min(reserved[ri].0, q) : q
                    emit(p, e, .memblockFree)
                    p = e
                }
            }
        }
        return out
    }

    /// The same classification page by page, as the map first did it (a byte per page): the
    /// reference the tests hold `runs` to.
    public static func kindsPageByPage(_ k: Kernel, from: UInt64, end: UInt64, user: [UserPageExtent] = []) -> [UInt8] {
        guard from < end else { return [] }
        var pages = [UInt8](repeating: PageKind.hole.rawValue, count: Int(end - from))
        func paint(_ start: UInt64, _ count: UInt64, _ kind: PageKind) {
            let s = Swift.max(Swift.min(start, end), from), e = Swift.max(Swift.min(start &+ count, end), from)
            if s < e { for p in s..<e { pages[Int(p - from)] = kind.rawValue } }
        }
        for r in k.memblock.memory.regions where r.size > 0 {
            paint(Pfn.up(r.base).raw, Pfn.down(r.end).raw &- Pfn.up(r.base).raw, .allocated)
        }
        let image = (Pfn.down(k.machine.kernel.start).raw, Pfn.up(k.machine.kernel.end).raw)
        var p = from
        while p < end {
            guard pages[Int(p - from)] == PageKind.allocated.rawValue else { p += 1; continue }
            let d = k.memmap.page(Pfn(p))
            if d.flags.contains(.reserved) {
                pages[Int(p - from)] = (p >= image.0 && p < image.1 ? PageKind.kernelImage : PageKind.reserved).rawValue
            } else if d.flags.contains(.slab) {
                let n: UInt64 = d.flags.contains(.head) ? 1 << UInt64(d.order) : 1
                paint(p, n, .slab)
                p += n
                continue
            }
            p += 1
        }
        k.pageAlloc.forEachFreeBlock { pfn, order, _ in paint(pfn.raw, order.pages, .free(order: order.raw)) }
        k.pageAlloc.forEachPcpBlock { pfn, order, _ in paint(pfn.raw, order.pages, .pcp) }
        for u in user {
            let kind = PageKind(u.use)
            let s = Swift.max(Swift.min(u.pfn.raw, end), from), e = Swift.max(Swift.min(u.pfn.raw &+ u.count, end), from)
            if s < e { for p in s..<e where pages[Int(p - from)] == PageKind.allocated.rawValue { pages[Int(p - from)] = kind.rawValue } }
        }
        return pages
    }

    /// The kind of each page of [`from`, `end`) from the runs (for tests and `kmemlab pfn`-like answers).
    public static func kinds(_ k: Kernel, from: UInt64, end: UInt64, user: [UserPageExtent] = []) -> [UInt8] {
        var pages = [UInt8](repeating: PageKind.hole.rawValue, count: Int(end - from))
        for r in runs(k, from: from, end: end, user: user) {
            for p in r.start..<r.end { pages[Int(p - from)] = r.kind }
        }
        return pages
    }

    /// Linux has no counterpart: the Hilbert curve's cell d in a side × side square, as (x, y).
    public static func hilbert(_ d: Int, side: Int) -> (x: Int, y: Int) {
        var x = 0, y = 0, t = d
        var s = 1
        while s < side {
            let rx = 1 & (t / 2)
            let ry = 1 & (t ^ rx)
            if ry == 0 {
                if rx == 1 { x = s - 1 - x; y = s - 1 - y }
                swap(&x, &y)
            }
            x += s * rx; y += s * ry
            t /= 4
            s *= 2
        }
        return (x, y)
    }
}
