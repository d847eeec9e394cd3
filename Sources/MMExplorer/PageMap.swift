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
    case free0 = 16, free1, free2, free3, free4, free5, free6, free7, free8, free9, free10

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

    /// The most physical address space the map classifies page by page: 256 GiB (a byte per
    /// page while it is built). Larger machines need a per-block summary the map does not have yet.
    public static let maxPages: UInt64 = 1 << 26

    /// Why a machine cannot be mapped (nil when it can).
    public static func refusal(_ k: Kernel) -> String? {
        k.maxPfn.raw <= maxPages ? nil
            : "the page map covers up to \(maxPages >> 18) GiB of physical address space; this machine's RAM reaches \(k.maxPfn.raw >> 18) GiB"
    }

    /// Classifies every page of `k` (at most `maxPages`) and summarises them into at most
    /// `maxCells` cells.
    public init(_ k: Kernel, user: [UserPageExtent] = [], maxCells: Int = 1 << 20) {
        let end = roundUp(Swift.min(Swift.max(k.maxPfn.raw, 1), PageMap.maxPages), 1024)
        var ppc: UInt64 = 1
        while (end + ppc - 1) / ppc > UInt64(maxCells) { ppc *= 4 }
        let cells = (end + ppc - 1) / ppc
        var s = 1
        while UInt64(s) * UInt64(s) < cells { s *= 2 }
        self.init(k, start: 0, end: end, pagesPerCell: ppc, side: s, user: user)
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
        let end = roundUp(Swift.min(Swift.max(k.maxPfn.raw, 1), PageMap.maxPages), 1024)
        var ppc: UInt64 = 1
        while (end + ppc - 1) / ppc > 1 << 20 { ppc *= 4 }
        var s: UInt64 = 1
        while s * s < (end + ppc - 1) / ppc { s *= 2 }
        return s << ((ppc.trailingZeroBitCount) / 2)
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
        // Classified from the max-order block that holds `start`, so a compound slab that
        // begins before a tile is seen from its head page.
        let from = start & ~((1 << UInt64(maxOrder - 1)) - 1)
        var pages = PageMap.classify(k, from: from, end: Swift.min(end, PageMap.maxPages))
        // What a workload's processes hold, over what the allocator calls allocated.
        for u in user {
            let kind: PageKind = u.use == .anon ? .anon : u.use == .pageCache ? .pageCache : .pageTable
            let s = Swift.max(Swift.min(u.pfn.raw, end), from), e = Swift.max(Swift.min(u.pfn.raw &+ u.count, end), from)
            if s < e {
                for p in s..<e where Int(p - from) < pages.count && pages[Int(p - from)] == PageKind.allocated.rawValue {
                    pages[Int(p - from)] = kind.rawValue
                }
            }
        }
        kind.reserveCapacity(cells)
        var counts = [UInt64](repeating: 0, count: 32)
        for c in 0..<cells {
            let first = start + UInt64(c) * ppc
            let last = Swift.min(first + ppc, end)
            for i in counts.indices { counts[i] = 0 }
            for p in first..<last {
                let i = Int(p - from)
                counts[Int(i < pages.count ? pages[i] : PageKind.hole.rawValue)] += 1
            }
            var best = 0
            var distinct: UInt8 = 0
            for i in counts.indices where counts[i] > 0 {
                distinct += 1
                if counts[i] > counts[best] { best = i }
                totals[PageKind(rawValue: UInt8(i)) ?? .hole, default: 0] += counts[i]
            }
            kind.append(UInt8(best)); mixed.append(distinct)
            // A hole inside a zone's span has no page there: it belongs to no zone on the map.
            if best != Int(PageKind.hole.rawValue), let slot = k.memmap.zoneSlot(Pfn(first)) {
                // (Node ids past 254 share the last colour.)
                zone.append(UInt8(slot.zoneIndex) + 1); node.append(UInt8(Swift.min(slot.nid.number + 1, 255)))
                migratetype.append(k.memmap.pageblockMigratetype(Pfn(first)).rawValue)
            } else {
                zone.append(0); node.append(0); migratetype.append(255)
            }
        }
    }

    /// One kind per page of [`from`, `end`).
    static func classify(_ k: Kernel, from: UInt64, end: UInt64) -> [UInt8] {
        guard from < end else { return [] }
        var pages = [UInt8](repeating: PageKind.hole.rawValue, count: Int(end - from))
        func paint(_ start: UInt64, _ count: UInt64, _ kind: PageKind) {
            let s = Swift.max(Swift.min(start, end), from), e = Swift.max(Swift.min(start &+ count, end), from)
            if s < e { for p in s..<e { pages[Int(p - from)] = kind.rawValue } }
        }
        // RAM is allocated unless something below says otherwise; reservations and the image on top.
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
                // SLUB marks a slab's head page; a compound slab's tails follow it.
                let n: UInt64 = d.flags.contains(.head) ? 1 << UInt64(d.order) : 1
                paint(p, n, .slab)
                p += n
                continue
            }
            p += 1
        }
        k.pageAlloc.forEachFreeBlock { pfn, order, _ in paint(pfn.raw, order.pages, .free(order: order.raw)) }
        k.pageAlloc.forEachPcpBlock { pfn, order, _ in paint(pfn.raw, order.pages, .pcp) }
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
