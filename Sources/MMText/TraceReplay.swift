// Replaying a kmem trace onto a booted model machine, as recorded (`kmemlab replay
// --as-recorded`): every page event is applied with the pfn the kernel chose, so the model's
// free lists follow the real kernel's; what the model's state cannot allow is refused and
// reported with its line, and the replay goes on.

import MMCore

public struct TraceReplay {
    public var kernel: Kernel
    public private(set) var applied: [TraceEvent.Kind: Int] = [:]
    public private(set) var refused: [TraceEvent.Kind: Int] = [:]
    /// Events this replay does not apply yet (slab objects, pcp drains).
    public private(set) var notReplayed: [TraceEvent.Kind: Int] = [:]
    /// The first refusals, in words, with their lines.
    public private(set) var firstRefusals: [String] = []
    /// The trace's fallbacks (mm_page_alloc_extfrag), counted as the kernel split them.
    public private(set) var extfrag = ExtfragCounters()
    /// Blocks mm_page_alloc_zone_locked took for a caller whose mm_page_alloc comes next.
    var pendingTaken = Set<UInt64>()

    /// The rest of the boot, when the replay starts at trace_init().
    public private(set) var lateBoot: LateBoot?

    /// `kernel` booted to trace_init() (`stopAtTraceInit`), or to the end.
    public init(kernel: Kernel) {
        self.kernel = kernel
        if kernel.scratch.stopAtTraceInit { lateBoot = LateBoot(kernel) }
    }

    public mutating func apply(_ e: TraceEvent) {
        lateBoot?.observe(e, &kernel)
        // A page the boot still held at trace_init() (deferred, reserved) joins the buddy lists.
        if e.kind == .mmPageFree, lateBoot != nil, let pfn = e.pfn,
           kernel.freeBootPagesRecorded(pfn, order: e.order ?? 0, cpu: Swift.min(e.cpu, kernel.pageAlloc.nrCPUIds - 1)) {
            applied[e.kind, default: 0] += 1
            return
        }
        // mm_page_free_batched marks a page whose mm_page_free was applied just before.
        if e.kind == .mmPageFreeBatched { applied[e.kind, default: 0] += 1; return }
        guard e.kind.isPageEvent, e.kind != .mmPagePcpuDrain, let pfn = e.pfn else {
            notReplayed[e.kind, default: 0] += 1
            return
        }
        let order = e.order ?? 0
        let refusal: RecordedPageRefusal?
        switch e.kind {
        case .mmPageAllocExtfrag:
            let wanted = MigrateType(rawValue: UInt8(truncatingIfNeeded: e.migratetype ?? 0)) ?? .unmovable
            let fo = e.fallbackOrder ?? order, owned = e.changeOwnership ?? false
            extfrag.count(allocMigratetype: wanted, fallbackOrder: fo, changedOwnership: owned)
            refusal = kernel.pageAlloc.fallbackRecorded(pfn, fallbackOrder: fo, mt: wanted, changeOwnership: owned)
        case .mmPageAllocZoneLocked:
            let mt = MigrateType(rawValue: UInt8(truncatingIfNeeded: e.migratetype ?? 0)) ?? .unmovable
            let refill = e.percpuRefill ?? false
            refusal = kernel.pageAlloc.takeRecorded(pfn, order: order, mt: mt, percpuRefill: refill, cpu: e.cpu)
            if refusal == nil && !refill { pendingTaken.insert(pfn) }
        case .mmPageAlloc:
            let taken = pendingTaken.remove(pfn) != nil
            refusal = kernel.pageAlloc.allocRecorded(pfn, order: order, gfp: e.gfp ?? [], cpu: e.cpu, takenAlready: taken,
                                                     &kernel.physMem)
        default:   // mm_page_free
            refusal = kernel.pageAlloc.freeRecorded(pfn, order: order, cpu: e.cpu, &kernel.log)
        }
        guard let refusal else { applied[e.kind, default: 0] += 1; return }
        refused[e.kind, default: 0] += 1
        if firstRefusals.count < 20 {
            firstRefusals.append("line \(e.line): \(e.kind.rawValue) pfn \(hex(pfn)) order \(order): \(TraceReplay.words(refusal))")
        }
    }

    static func words(_ r: RecordedPageRefusal) -> String {
        switch r {
        case .noZone: return "no zone of this machine holds it"
        case .noCPU: return "no such CPU on this machine"
        case .notFree: return "not free in the model"
        case .notOnPCPList: return "neither on a CPU's list nor free in the model"
        case .badFree(let reason): return "the model refuses the free (Bad page state: \(reason.dumpReason))"
        }
    }

    /// What `kmemlab replay --as-recorded` prints.
    public var text: [String] {
        var out: [String] = []
        for k in TraceEvent.Kind.allCases {
            let a = applied[k] ?? 0, r = refused[k] ?? 0, n = notReplayed[k] ?? 0
            if a + r + n == 0 { continue }
            out.append("\(k.rawValue): \(a) applied, \(r) refused" + (n > 0 ? ", \(n) not replayed yet" : ""))
        }
        if let l = lateBoot { out.append(l.text) }
        if !firstRefusals.isEmpty { out.append("first refusals (the model's state is its own boot's, not the traced kernel's at trace_init):") }
        out += firstRefusals.map { "  " + $0 }
        return out
    }
}
