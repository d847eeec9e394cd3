// What `kmemlab replay` prints for scripts: the fragmentation figures of every zone as CSV rows
// or JSON (every N events with --every), and one JSON summary at the end.

import MMCore

/// A replay in either mode: the model deciding, or following the kernel's pfns.
public struct ReplayRun {
    public var decided: DecideReplay?
    public var recorded: TraceReplay?

    public init(kernel: Kernel, asRecorded: Bool) {
        if asRecorded { recorded = TraceReplay(kernel: kernel) } else { decided = DecideReplay(kernel: kernel) }
    }

    /// vm sysctls to write once the boot's initcalls have set the watermarks (a replay from
    /// trace_init() gets those later from the trace; written earlier they would be recomputed).
    public var pendingSysctls: [(name: String, value: String)] = []

    public mutating func apply(_ e: TraceEvent) {
        decided?.apply(e)
        recorded?.apply(e)
        if !pendingSysctls.isEmpty, (decided?.lateBoot ?? recorded?.lateBoot)?.initcallsAt != nil { writePending() }
    }

    /// Writes the pending sysctls now (they were checked when the replay began).
    public mutating func writePending() {
        for (name, value) in pendingSysctls {
            try? decided?.kernel.writeSysctl(name, value)
            try? recorded?.kernel.writeSysctl(name, value)
        }
        pendingSysctls = []
    }

    public var kernel: Kernel { decided?.kernel ?? recorded!.kernel }
    public var text: [String] { decided?.text ?? recorded!.text }
    /// The fallbacks: the model's own when it decides, the trace's when it follows.
    public var extfrag: ExtfragCounters { decided?.modelExtfrag ?? recorded!.extfrag }
}

public enum ReplayReport {
    public static let csvHeader = "events,time_s,node,zone,free_pages,largest_order,free_in_pageblock_blocks,score,unusable_index_9,extfrag_index_9"

    /// One row per populated zone.
    public static func csvRows(_ k: Kernel, events: Int, timeUS: Int64? = nil) -> [String] {
        FragmentationText.populatedZones(k).map { z in
            let f = ZoneFragmentation(z.zone)
            return "\(events),\(seconds(timeUS)),\(z.node),\(z.zone.type.name),\(f.freePages),\(f.largestOrder ?? -1),"
                + "\(f.freeInPageblocks),\(f.score),"
                + "\(thousandths(f.unusableIndex[compactionHPageOrder])),\(thousandths(f.fragmentationIndex[compactionHPageOrder]))"
        }
    }

    /// The figures of every zone and node as one JSON object.
    public static func json(_ k: Kernel, events: Int, timeUS: Int64? = nil, extfrag: ExtfragCounters) -> String {
        "{\"events\":\(events),\"time_s\":\(timeUS == nil ? "null" : seconds(timeUS)),\(fragmentationFields(k, extfrag: extfrag))}"
    }

    /// Microseconds of trace time as "S.UUUUUU" (empty when the line had no timestamp).
    static func seconds(_ us: Int64?) -> String {
        guard let us else { return "" }
        return "\(us / 1_000_000).\(padLeftZero(String(us % 1_000_000), 6))"
    }

    static func fragmentationFields(_ k: Kernel, extfrag: ExtfragCounters) -> String {
        let zoneObjects = FragmentationText.populatedZones(k).map { z -> String in
            let zone = z.zone, f = ZoneFragmentation(zone)
            return "{\"node\":\(z.node),\"zone\":\"\(zone.type.name)\",\"free_pages\":\(f.freePages),"
                + "\"largest_order\":\(f.largestOrder.map { String($0) } ?? "null"),"
                + "\"free_in_pageblock_blocks\":\(f.freeInPageblocks),"
                + "\"score\":\(f.score),\"mixed_pageblocks\":\(k.mixedPageblockCounts(zone).reduce(0, +)),"
                + "\"nr_free\":[\(zone.nrFree.map { String($0) }.joined(separator: ","))],"
                + "\"unusable_index\":[\(f.unusableIndex.map(thousandths).joined(separator: ","))],"
                + "\"extfrag_index\":[\(f.fragmentationIndex.map(thousandths).joined(separator: ","))]}"
        }
        let nodes = k.nodes.filter { k.numa.nodeOnline.contains(UInt64($0.nodeId.raw)) && $0.nodePresentPages > 0 }
            .map { "{\"node\":\($0.nodeId),\"score\":\($0.fragmentationScore)}" }
        return "\"zones\":[\(zoneObjects.joined(separator: ","))],\"nodes\":[\(nodes.joined(separator: ","))],"
            + "\"extfrag\":{\"events\":\(extfrag.events),\"fragmenting\":\(extfrag.fragmenting),"
            + "\"fragmenting_unmovable\":\(extfrag.fragmentingUnmovable),\"change_ownership\":\(extfrag.changeOwnership)}"
    }

    /// The end-of-replay object `--json` prints.
    public static func summaryJSON(_ run: ReplayRun, summary s: TraceSummary, events: Int, seconds: Double) -> String {
        let skipped = s.reader.skipped.values.reduce(0, +)
        var fields = ["\"events\":\(events)", "\"skipped\":\(skipped)", "\"mode\":\"\(run.decided != nil ? "decide" : "as-recorded")\""]
        if let d = run.decided {
            fields += ["\"page_allocs\":\(d.pageAllocs)", "\"page_alloc_pfn_match\":\(fraction(d.pageAllocMatches, d.pageAllocs))",
                       "\"page_allocs_failed\":\(d.pageAllocFailed)", "\"page_allocs_not_asked\":\(d.pageAllocSkipped)",
                       "\"page_frees\":\(d.pageFrees + d.pageFreesBoot)", "\"page_frees_boot\":\(d.pageFreesBoot)", "\"page_frees_refused\":\(d.pageFreesRefused)",
                       "\"zone_locked\":{\"recorded\":\(d.recordedZoneLocked),\"model\":\(d.modelZoneLocked)}",
                       "\"recorded_extfrag\":\(d.recordedExtfrag.events)"]
        }
        if let r = run.recorded {
            let applied = r.applied.values.reduce(0, +), refused = r.refused.values.reduce(0, +)
            fields += ["\"page_allocs\":\(s.pageAllocs)", "\"page_alloc_pfn_match\":null",
                       "\"applied\":\(applied)", "\"refused\":\(refused)"]
        }
        fields += ["\"object_alloc_match\":null", "\"objects_replayed\":false",
                   "\"events_per_s\":\(seconds > 0 ? Int(Double(events) / seconds) : 0)"]
        return "{" + fields.joined(separator: ",") + "," + fragmentationFields(run.kernel, extfrag: run.extfrag) + "}"
    }

    /// `--vs`: the same trace replayed on two machines, figure by figure; a star marks each
    /// figure that differs.
    public static func sideBySide(_ a: ReplayRun, _ b: ReplayRun, vsLabel: String) -> [String] {
        var rows: [(String, String, String)] = []
        func row(_ name: String, _ x: String, _ y: String) { rows.append((name, x, y)) }
        if let da = a.decided, let db = b.decided {
            row("mm_page_alloc given the kernel's pfn", "\(da.pageAllocMatches)", "\(db.pageAllocMatches)")
            row("mm_page_alloc the model could not serve", "\(da.pageAllocFailed)", "\(db.pageAllocFailed)")
            row("blocks taken from the buddy lists", "\(da.modelZoneLocked)", "\(db.modelZoneLocked)")
        }
        let ea = a.extfrag, eb = b.extfrag
        row("fallbacks (mm_page_alloc_extfrag)", "\(ea.events)", "\(eb.events)")
        row("  fragmenting", "\(ea.fragmenting)", "\(eb.fragmenting)")
        row("  fragmenting, unmovable", "\(ea.fragmentingUnmovable)", "\(eb.fragmentingUnmovable)")
        row("  pageblocks changing owner", "\(ea.changeOwnership)", "\(eb.changeOwnership)")
        let za = FragmentationText.populatedZones(a.kernel), zb = FragmentationText.populatedZones(b.kernel)
        for x in za {
            guard let y = zb.first(where: { $0.node == x.node && $0.zone.type == x.zone.type }) else { continue }
            let name = "node \(x.node) \(x.zone.type.name)"
            func figures(_ z: Zone) -> [String] {
                let f = ZoneFragmentation(z)
                return ["\(f.freePages)", f.largestOrder.map { String($0) } ?? "-",
                        FragmentationText.percent(f.freeInPageblocks, of: f.freePages), "\(f.score)",
                        thousandths(f.unusableIndex[compactionHPageOrder]), "\(z.minWmark)/\(z.lowWmark)/\(z.highWmark)"]
            }
            let labels = ["free pages", "largest free order", "free in 2 MiB blocks or larger", "compaction score",
                          "unusable_index at order 9", "watermarks min/low/high"]
            for (l, (p, q)) in zip(labels, zip(figures(x.zone), figures(y.zone))) { row("\(name): \(l)", p, q) }
        }
        for n in a.kernel.nodes where n.nodePresentPages > 0 {
            guard let m = b.kernel.nodes.first(where: { $0.nodeId == n.nodeId }) else { continue }
            row("node \(n.nodeId): fragmentation score", "\(n.fragmentationScore)", "\(m.fragmentationScore)")
        }
        let w0 = Swift.max(40, rows.map { $0.0.count }.max() ?? 0), w1 = 14
        var out = [padRight("", w0) + "  " + padRight("this machine", w1) + "  " + vsLabel]
        for (name, x, y) in rows {
            out.append(padRight(name, w0) + "  " + padRight(x, w1) + "  " + y + (x == y ? "" : "  *"))
        }
        return out
    }

    /// 1234 → "1.234", −1000 → "-1.000": the debugfs figure as a JSON number.
    static func thousandths(_ v: Int) -> String {
        (v < 0 ? "-" : "") + "\(abs(v) / 1000).\(padLeftZero(String(abs(v) % 1000), 3))"
    }

    static func fraction(_ a: Int, _ b: Int) -> String {
        guard b > 0 else { return "null" }
        let t = a * 1_000_000 / b
        return "\(t / 1_000_000).\(padLeftZero(String(t % 1_000_000), 6))"
    }
}
