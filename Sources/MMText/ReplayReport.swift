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

    public mutating func apply(_ e: TraceEvent) {
        decided?.apply(e)
        recorded?.apply(e)
    }

    public var kernel: Kernel { decided?.kernel ?? recorded!.kernel }
    public var text: [String] { decided?.text ?? recorded!.text }
    /// The fallbacks: the model's own when it decides, the trace's when it follows.
    public var extfrag: ExtfragCounters { decided?.modelExtfrag ?? recorded!.extfrag }
}

public enum ReplayReport {
    public static let csvHeader = "events,node,zone,free_pages,largest_order,free_in_pageblock_blocks,score,unusable_index_9,extfrag_index_9"

    /// One row per populated zone.
    public static func csvRows(_ k: Kernel, events: Int) -> [String] {
        zones(k).map { z in
            let info = z.zone.contigPageInfo(order: compactionHPageOrder)
            return "\(events),\(z.node),\(z.zone.type.name),\(z.zone.freePages(inBlocksOfAtLeast: 0)),\(z.zone.largestFreeOrder ?? -1),"
                + "\(z.zone.freePages(inBlocksOfAtLeast: Int(pageblockOrder))),\(z.zone.fragmentationScore),"
                + "\(thousandths(info.unusableFreeIndex(order: compactionHPageOrder))),\(thousandths(info.fragmentationIndex(order: compactionHPageOrder)))"
        }
    }

    /// The figures of every zone and node as one JSON object.
    public static func json(_ k: Kernel, events: Int, extfrag: ExtfragCounters) -> String {
        "{\"events\":\(events),\(fragmentationFields(k, extfrag: extfrag))}"
    }

    static func fragmentationFields(_ k: Kernel, extfrag: ExtfragCounters) -> String {
        let zoneObjects = zones(k).map { z -> String in
            let zone = z.zone
            let unusable = (0..<maxOrder).map { thousandths(zone.contigPageInfo(order: $0).unusableFreeIndex(order: $0)) }
            let ext = (0..<maxOrder).map { thousandths(zone.contigPageInfo(order: $0).fragmentationIndex(order: $0)) }
            return "{\"node\":\(z.node),\"zone\":\"\(zone.type.name)\",\"free_pages\":\(zone.freePages(inBlocksOfAtLeast: 0)),"
                + "\"largest_order\":\(zone.largestFreeOrder.map { String($0) } ?? "null"),"
                + "\"free_in_pageblock_blocks\":\(zone.freePages(inBlocksOfAtLeast: Int(pageblockOrder))),"
                + "\"score\":\(zone.fragmentationScore),\"mixed_pageblocks\":\(k.mixedPageblockCounts(zone).reduce(0, +)),"
                + "\"nr_free\":[\(zone.nrFree.map { String($0) }.joined(separator: ","))],"
                + "\"unusable_index\":[\(unusable.joined(separator: ","))],\"extfrag_index\":[\(ext.joined(separator: ","))]}"
        }
        let nodes = k.nodes.filter { k.numa.nodeOnline.contains(UInt64($0.nodeId)) && $0.nodePresentPages > 0 }
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
                       "\"page_frees\":\(d.pageFrees)", "\"page_frees_refused\":\(d.pageFreesRefused)",
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

    static func zones(_ k: Kernel) -> [(node: Int32, zone: Zone)] {
        var out: [(node: Int32, zone: Zone)] = []
        for node in k.nodes where k.numa.nodeOnline.contains(UInt64(node.nodeId)) {
            for z in node.zones where z.isPopulated { out.append((node.nodeId, z)) }
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
