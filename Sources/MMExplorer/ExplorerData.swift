// The explorer's data: one booted machine as JSON, the same for the self-contained report and
// for the server's API. Every number comes from the model's state after boot; nothing is parsed
// back from text.

import Foundation
import MMCore
import MMText

/// A tiny JSON writer: objects keep their keys in the order written, so output is byte-stable.
public struct JSONWriter {
    public private(set) var text = ""
    var needsComma = [false]

    public init() {}

    mutating func comma() {
        if needsComma[needsComma.count - 1] { text += "," }
        needsComma[needsComma.count - 1] = true
    }

    mutating func key(_ k: String?) {
        comma()
        if let k { text += JSONWriter.quote(k) + ":" }
    }

    public mutating func object(_ k: String? = nil, _ body: (inout JSONWriter) -> Void) {
        key(k); text += "{"; needsComma.append(false); body(&self); needsComma.removeLast(); text += "}"
    }

    public mutating func array(_ k: String? = nil, _ body: (inout JSONWriter) -> Void) {
        key(k); text += "["; needsComma.append(false); body(&self); needsComma.removeLast(); text += "]"
    }

    public mutating func value(_ k: String? = nil, _ v: String) { key(k); text += JSONWriter.quote(v) }
    public mutating func value(_ k: String? = nil, _ v: UInt64) { key(k); text += String(v) }
    public mutating func value(_ k: String? = nil, _ v: Int) { key(k); text += String(v) }
    public mutating func value(_ k: String? = nil, _ v: Bool) { key(k); text += v ? "true" : "false" }
    public mutating func null(_ k: String? = nil) { key(k); text += "null" }
    public mutating func numbers<T: BinaryInteger>(_ k: String? = nil, _ v: [T]) {
        key(k); text += "[" + v.map { String($0) }.joined(separator: ",") + "]"
    }

    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<": out += "\\u003c"  // so that the JSON can sit inside a <script> element
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

public enum ExplorerData {
    /// Colours for each page kind, zone, migratetype (the legend and the canvas share them).
    public static let kindColors: [(PageKind, String)] = [
        (.hole, "#1b1b1b"), (.reserved, "#8c564b"), (.kernelImage, "#d62728"), (.pcp, "#ff9f1c"),
        (.slab, "#9467bd"), (.allocated, "#1f77b4"),
        (.anon, "#e377c2"), (.pageCache, "#17becf"), (.pageTable, "#bcbd22"), (.memblockFree, "#9edae5"),
        (.free0, "#e5f5e0"), (.free1, "#d3eecd"), (.free2, "#c0e6ba"), (.free3, "#abdda5"), (.free4, "#94d390"),
        (.free5, "#7bc87c"), (.free6, "#60ba6c"), (.free7, "#44ab5e"), (.free8, "#2e984e"), (.free9, "#19843d"),
        (.free10, "#006d2c"),
    ]
    public static let zoneColors = ["#1b1b1b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#aec7e8"]
    public static let nodeColors = ["#1b1b1b", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                    "#e377c2", "#7f7f7f", "#bcbd22"]
    public static let migratetypeColors = ["#d62728", "#2ca02c", "#1f77b4", "#ff7f0e", "#7f7f7f"]

    /// The whole machine as one JSON document.
    /// The replay timeline (`report --trace`): per sample the events, the trace time in
    /// microseconds (null when the lines had none) and per zone [free pages, largest order,
    /// score, unusable index at order 9 in thousandths, nr_free per order].
    static func replayTimeline(_ w: inout JSONWriter, _ t: ReplayTimeline) {
        w.object("timeline") { w in
            w.value("mode", t.mode)
            w.array("zones") { w in for z in t.zoneNames { w.value(nil, z) } }
            w.array("samples") { w in
                for s in t.samples {
                    w.object { w in
                        w.value("events", s.events)
                        if let us = s.timeUS { w.value("timeUS", Int(us)) } else { w.null("timeUS") }
                        w.array("zones") { w in
                            for z in s.zones {
                                w.array { w in
                                    w.value(nil, z.freePages); w.value(nil, z.largestOrder); w.value(nil, z.score)
                                    w.value(nil, z.unusable9); w.numbers(nil, z.nrFree)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// A process after a workload, as the page's Processes view shows it: its name and pid,
    /// /proc/PID/status's memory lines and /proc/PID/maps.
    public struct ProcessView: Sendable {
        public var comm: String
        public var pid: Int32
        public var status: [String]
        public var maps: [String]
        public init(comm: String, pid: Int32, status: [String], maps: [String]) {
            self.comm = comm; self.pid = pid; self.status = status; self.maps = maps
        }
    }

    public static func json(_ k: Kernel, title: String, map: PageMap, timeline: ReplayTimeline? = nil,
                            processes: [ProcessView] = []) -> String {
        var w = JSONWriter()
        w.object { w in
            w.value("title", title)
            if let timeline { replayTimeline(&w, timeline) }
            if !processes.isEmpty {
                w.array("processes") { w in
                    for p in processes {
                        w.object { w in
                            w.value("comm", p.comm); w.value("pid", Int(p.pid))
                            w.array("status") { w in for l in p.status { w.value(nil, l) } }
                            w.array("maps") { w in for l in p.maps { w.value(nil, l) } }
                        }
                    }
                }
            }
            machine(&w, k)
            pageMap(&w, map)
            legend(&w)
            zones(&w, k)
            firmware(&w, k)
            slab(&w, k)
            w.array("layout") { w in for l in Layout.lines(k) { w.value(nil, l) } }
            // The regions for the diagram: 64-bit bounds as hex text (a JavaScript number holds
            // 53 bits), and each size's log2 for the scale.
            w.array("layoutRegions") { w in
                if k.arch.is32Bit { return }
                for r in Layout.regions(k) {
                    w.object { w in
                        w.value("start", "0x" + String(r.start, radix: 16)); w.value("end", "0x" + String(r.end, radix: 16))
                        w.value("sizeLog2", 64 - (r.end &- r.start).leadingZeroBitCount)
                        w.value("size", r.size); w.value("what", r.what)
                    }
                }
            }
            w.array("log") { w in for l in k.log.lines { w.value(nil, l) } }
            // The boot stepper: each step's log lines (indices into log), its summary, and what
            // it did to memory as pfn ranges [start, end) (at most 2,048 of each kind).
            w.array("steps") { w in
                for (s, next, c) in BootStepsText.changes(k) {
                    w.object { w in
                        w.value("function", s.function)
                        w.value("file", s.file)
                        w.value("firstLine", s.firstLine)
                        w.value("endLine", Swift.min(next.firstLine, k.log.lines.count))
                        w.value("summary", BootStepsText.summary(s, next))
                        for (key, ranges) in [("reserved", c.reserved), ("unreserved", c.unreserved),
                                              ("memory", c.memory), ("freed", c.freed)] {
                            w.array(key) { w in for r in ranges.prefix(2048) { w.numbers(nil, [r.lowerBound, r.upperBound]) } }
                        }
                    }
                }
            }
        }
        return w.text
    }

    /// An i386 machine (the model boots it as far as zones and highmem: no memmap, no buddy
    /// lists, no slab), as the same document with an empty map and `arch32`: the 3G/1G split
    /// region by region, lowmem and highmem in physical memory, and the zones as
    /// free_area_init() sized them.
    public static func json32(_ k: Kernel, title: String) -> String {
        var w = JSONWriter()
        w.object { w in
            w.value("title", title)
            w.object("machine") { w in
                w.value("name", k.machine.name)
                w.value("kernel", Kernel.banner)
                w.value("cmdline", k.commandLine.raw)
                w.value("cpus", k.machine.cpus.present)
                w.value("nodes", 1)
                w.value("memTotalKiB", 0)
                w.value("memoryLine", k.log.lines.first { $0.hasPrefix("Memory: ") } ?? "")
            }
            // Every page as memblock holds it (the model stops before memblock_free_all()),
            // coloured by i386's zones.
            pageMap(&w, PageMap(k))
            legend(&w, zoneNames: I386ZoneType.allCases.map { $0.name })
            if let st = k.i386 {
                let l = st.layout
                w.object("arch32") { w in
                    w.value("pae", k.arch == .i386PAE)
                    w.value("pageOffset", l.pageOffset)
                    w.value("highMemory", l.highMemory)
                    w.value("pkmapBase", l.pkmapBase)
                    w.value("lastPkmap", l.lastPkmap)
                    w.value("maxPfn", k.maxPfn.raw)
                    w.value("maxLowPfn", k.maxLowPfn.raw)
                    w.array("regions") { w in
                        for r in Layout.regions32(k) {
                            w.object { w in w.value("start", r.start); w.value("end", r.end); w.value("what", r.what) }
                        }
                    }
                    w.array("zones") { w in
                        for z in st.zones where z.spannedPages > 0 {
                            w.object { w in
                                w.value("name", z.type.name); w.value("startPfn", z.startPfn)
                                w.value("spanned", z.spannedPages); w.value("present", z.presentPages)
                                w.value("managed", z.managedPages)
                            }
                        }
                    }
                }
            }
            w.array("zones") { _ in }
            firmware(&w, k)
            w.array("slab") { _ in }
            w.array("layout") { w in for l in Layout.lines32(k) { w.value(nil, l) } }
            w.array("layoutRegions") { _ in }
            w.array("log") { w in for l in k.log.lines { w.value(nil, l) } }
            w.array("steps") { _ in }
        }
        return w.text
    }

    static func machine(_ w: inout JSONWriter, _ k: Kernel) {
        w.object("machine") { w in
            w.value("name", k.machine.name)
            w.value("kernel", Kernel.banner)
            w.value("cmdline", k.commandLine.raw)
            w.value("cpus", k.machine.cpus.present)
            w.value("nodes", k.nodes.count)
            w.value("memTotalKiB", k.totalramPages * 4)
            w.value("memoryLine", k.log.lines.first { $0.hasPrefix("Memory: ") } ?? "")
        }
    }

    /// A tile of the page map (`GET /api/tile`): the map's cell fields for the aligned block
    /// of 4^`level` pages that holds a pfn.
    public static func tileJSON(_ m: PageMap, level: Int) -> String {
        var w = JSONWriter()
        w.object { w in
            w.value("level", level)
            w.value("startPfn", m.startPfn)
            pageMapFields(&w, m)
        }
        return w.text
    }

    static func pageMap(_ w: inout JSONWriter, _ m: PageMap) {
        w.object("map") { w in pageMapFields(&w, m) }
    }

    static func pageMapFields(_ w: inout JSONWriter, _ m: PageMap) {
        w.value("side", m.side)
        w.value("pagesPerCell", m.pagesPerCell)
        w.value("endPfn", m.endPfn)
        w.value("kind", Data(m.kind).base64EncodedString())
        w.value("mixed", Data(m.mixed).base64EncodedString())
        w.value("zone", Data(m.zone).base64EncodedString())
        w.value("node", Data(m.node).base64EncodedString())
        w.value("migratetype", Data(m.migratetype).base64EncodedString())
        w.object("totals") { w in
            for (kind, _) in kindColors { w.value(String(kind.rawValue), m.totals[kind] ?? 0) }
        }
    }

    static func legend(_ w: inout JSONWriter, zoneNames: [String] = ZoneType.allCases.map { $0.name }) {
        w.array("kinds") { w in
            for (kind, color) in kindColors {
                w.object { w in w.value("id", Int(kind.rawValue)); w.value("label", kind.label); w.value("color", color) }
            }
        }
        w.array("zoneNames") { w in
            w.value(nil, "none")
            for z in zoneNames { w.value(nil, z) }
        }
        w.array("migratetypeNames") { w in for mt in MigrateType.allCases { w.value(nil, mt.name) } }
        w.array("zoneColors") { w in for c in zoneColors { w.value(nil, c) } }
        w.array("nodeColors") { w in for c in nodeColors { w.value(nil, c) } }
        w.array("migratetypeColors") { w in for c in migratetypeColors { w.value(nil, c) } }
    }

    static func zones(_ w: inout JSONWriter, _ k: Kernel) {
        w.array("zones") { w in
            for node in k.nodes {
                for (zi, z) in node.zones.enumerated() where z.spannedPages > 0 {
                    w.object { w in
                        w.value("node", node.nodeId.number)
                        w.value("name", z.type.name)
                        w.value("startPfn", z.zoneStartPfn.raw)
                        w.value("spanned", z.spannedPages)
                        w.value("present", z.presentPages)
                        w.value("managed", z.managedPages)
                        w.value("free", z.freePages)
                        w.value("min", z.minWmark); w.value("low", z.lowWmark); w.value("high", z.highWmark)
                        w.value("boost", z.watermarkBoost)
                        w.numbers("protection", z.lowmemReserve)
                        w.value("pcpHigh", z.pagesetHigh); w.value("pcpBatch", z.pagesetBatch)
                        w.numbers("pcpCount", z.pcp.map { $0.count })
                        w.numbers("nrFree", Array(z.nrFree.prefix(maxOrder)))
                        // debugfs extfrag/unusable_index and extfrag_index (thousandths), and the
                        // proactive compaction score.
                        let f = ZoneFragmentation(z)
                        w.numbers("unusableIndex", f.unusableIndex)
                        w.numbers("extfragIndex", f.fragmentationIndex)
                        w.value("fragScore", f.score)
                        w.object("byType") { w in
                            for mt in MigrateType.allCases {
                                w.numbers(mt.name, (0..<maxOrder).map { z.freeLists[Zone.listIndex(Order($0), mt)].count })
                            }
                        }
                        w.value("index", zi)
                    }
                }
            }
        }
    }

    static func firmware(_ w: inout JSONWriter, _ k: Kernel) {
        w.array("e820") { w in
            for e in k.e820.entries {
                w.object { w in w.value("start", e.addr); w.value("end", e.end); w.value("type", e.type.printName) }
            }
        }
        w.object("memblock") { w in
            for (name, type) in [("memory", k.memblock.memory), ("reserved", k.memblock.reserved)] {
                w.array(name) { w in
                    for r in type.regions where r.size > 0 {
                        w.object { w in
                            w.value("base", r.base); w.value("size", r.size)
                            w.value("nid", r.nid == maxNumNodes ? -1 : Int(r.nid))
                        }
                    }
                }
            }
        }
    }

    /// Where a slab is, for the drill-down (the page's `slabPlaces`).
    enum SlabListPlace: Int { case cpuSlab = 0, cpuPartial, nodePartial, full }

    /// A cache's slabs, each `[pfn, order, place, cpu (−1: none), allocated, objects, node]`:
    /// every CPU's cpu slab and cpu partial list, then each node's partial list, then the full
    /// slabs (on no list without SLAB_STORE_USER) in slab-table order.
    static func slabList(_ w: inout JSONWriter, _ slub: SlubState, _ id: CacheID) {
        var rows: [[Int]] = []
        var listed = Set<SlabID>()
        func add(_ sid: SlabID, _ place: SlabListPlace, cpu: Int) {
            guard !sid.isNone, listed.insert(sid).inserted else { return }
            let s = slub.slabs[sid]
            rows.append([Int(s.pfn.raw), Int(s.order), place.rawValue, cpu, slub.allocatedObjects(sid), Int(s.objects), s.nid.number])
        }
        for cpu in 0..<slub.possibleCPUs {
            let c = slub.cpuSlab(id, cpu: cpu)
            add(c.slab, .cpuSlab, cpu: cpu)
            var p = c.partial
            while !p.isNone && !listed.contains(p) { add(p, .cpuPartial, cpu: cpu); p = slub.nextCPUPartial(p) }
        }
        for nid in slub.caches[id].node.indices where slub.caches[id].node[nid].present {
            for sid in slub.nodePartialSlabs(id, nid: nid) { add(sid, .nodePartial, cpu: -1) }
        }
        for sid in slub.slabs(of: id) { add(sid, .full, cpu: -1) }
        w.array("list") { w in for r in rows { w.numbers(nil, r) } }
    }

    static func slab(_ w: inout JSONWriter, _ k: Kernel) {
        w.array("slab") { w in
            for id in k.slabCachesNewestFirst {
                let c = k.slub.caches[id]
                let i = k.slub.slabInfo(id)
                w.object { w in
                    w.value("name", c.name)
                    w.value("active", UInt64(i.activeObjs)); w.value("total", UInt64(i.numObjs))
                    w.value("objsize", Int(c.size)); w.value("perSlab", Int(c.objects))
                    w.value("pagesPerSlab", 1 << Int(c.order)); w.value("slabs", UInt64(i.numSlabs))
                    slabList(&w, k.slub, id)
                }
            }
        }
    }
}
