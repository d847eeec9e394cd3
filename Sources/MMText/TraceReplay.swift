// Replaying a kmem trace onto a booted model machine, as recorded (`kmemlab replay
// --as-recorded`): every page event is applied with the pfn the kernel chose, so the model's
// free lists follow the real kernel's; what the model's state cannot allow is refused and
// reported with its line, and the replay goes on.

import MMCore

public struct TraceReplay {
    /// What `boot --trace` replayed: the replay after the boot part, the events applied, the
    /// event that ended the boot (nil: the trace never reached it) and the events after it.
    public struct BootPart {
        public var replay: TraceReplay
        public var applied = 0
        public var after = 0
        public var end: TraceEvent?
        /// The pfn whose free ends the boot (Kernel.kernelInitLastFreedPfn).
        public var endPfn: Pfn?
    }

    /// The boot part of a trace recorded from the kernel command line, as recorded, onto
    /// `kernel` booted to trace_init(): every event up to the mm_page_free of the last page
    /// kernel_init() frees before it runs the first program (the rodata/data gap's end).
    /// What follows is the programs' and is only counted.
    public static func bootPart(_ path: String, _ kernel: Kernel) throws(InputError) -> BootPart {
        var part = BootPart(replay: TraceReplay(kernel: kernel), endPfn: kernel.kernelInitLastFreedPfn)
        var summary = TraceSummary(fileName: path)
        try TraceFile.forEachLine(path) { (line, number) throws(InputError) in
            guard let e = try summary.add(line, number: number) else { return }
            if part.end != nil { part.after += 1; return }
            part.replay.apply(e)
            part.applied += 1
            if e.kind == .mmPageFree, let pfn = e.pfn, pfn == part.endPfn { part.end = e }
        }
        if part.applied == 0 { throw InputError(file: path, field: "(file)", "no kmem events in the trace") }
        return part
    }

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
    var pendingTaken = Set<Pfn>()

    /// The rest of the boot, when the replay starts at trace_init().
    public private(set) var lateBoot: LateBoot?

    /// `kernel` booted to trace_init() (`stopAtTraceInit`), or to the end.
    public init(kernel: Kernel) {
        self.kernel = kernel
        if kernel.scratch.stopAtTraceInit { lateBoot = LateBoot(kernel) }
    }

    /// vmalloc's bulk allocation in progress (no mm_page_alloc events; the trace's refills of
    /// the CPU's list come between its pages): the CPU, the zone and the chunks still to take.
    var bulk: (cpu: Int, node: Int, zone: Int, chunks: [Int])?
    /// Pages the bulk allocator handed out, and bulk requests the model could not place.
    public private(set) var bulkPages = 0
    public private(set) var bulkShort = 0

    public mutating func apply(_ e: TraceEvent) {
        lateBoot?.observe(e, &kernel)
        continueBulk(after: e)
        if let n = e.vmallocPages { startBulk(e, pages: n) }
        // A page the boot still held at trace_init() (deferred, reserved) joins the buddy lists.
        if e.kind == .mmPageFree, lateBoot != nil, let pfn = e.pfn,
           kernel.freeBootPagesRecorded(pfn, order: Order(e.order ?? 0), cpu: Swift.min(e.cpu, kernel.pageAlloc.nrCPUIds - 1)) {
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
            let wanted = e.migrateType
            let fo = e.fallbackOrder ?? order, owned = e.changeOwnership ?? false
            extfrag.count(allocMigratetype: wanted, fallbackOrder: fo, changedOwnership: owned)
            refusal = kernel.pageAlloc.fallbackRecorded(pfn, fallbackOrder: Order(fo), mt: wanted, changeOwnership: owned)
        case .mmPageAllocZoneLocked:
            let mt = e.migrateType
            let refill = e.percpuRefill ?? false
            predict(e, kernel.pageAlloc.nextChoice(zoneOf: pfn, order: Order(order), mt: mt, cpu: e.cpu, fromPCP: false), buddy: true)
            refusal = kernel.pageAlloc.takeRecorded(pfn, order: Order(order), mt: mt, percpuRefill: refill, cpu: e.cpu)
            if refusal == nil && !refill { pendingTaken.insert(pfn) }
        case .mmPageAlloc:
            let taken = pendingTaken.remove(pfn) != nil
            if !taken, kernel.pageAlloc.zoneIndex(ofPfn: pfn) != nil, kernel.memmap.page(pfn).flags.contains(.pcp) {
                let mt = e.migrateType
                predict(e, kernel.pageAlloc.nextChoice(zoneOf: pfn, order: Order(order), mt: mt, cpu: e.cpu, fromPCP: true), buddy: false)
            }
            refusal = kernel.pageAlloc.allocRecorded(pfn, order: Order(order), gfp: e.gfp ?? [], cpu: e.cpu, takenAlready: taken,
                                                     &kernel.physMem)
        default:   // mm_page_free
            refusal = kernel.pageAlloc.freeRecorded(pfn, order: Order(order), cpu: e.cpu, &kernel.log)
        }
        if e.kind == .mmPageAllocZoneLocked, let b = bulk, b.cpu == e.cpu { takeBulk() }
        guard let refusal else { applied[e.kind, default: 0] += 1; return }
        refused[e.kind, default: 0] += 1
        if firstRefusals.count < 20 {
            firstRefusals.append("line \(e.line): \(e.kind.rawValue) pfn \(hex(pfn)) order \(order): \(TraceReplay.words(refusal))")
        }
    }

    /// A vmalloc area's page array was just kmalloc'd: its pages come next from the bulk
    /// allocator, in chunks of up to 100 (a chunk of one is an ordinary, traced allocation).
    mutating func startBulk(_ e: TraceEvent, pages: Int) {
        if let b = bulk, !b.chunks.isEmpty { bulkShort += 1 }
        bulk = nil
        let chunks = TraceReplay.bulkChunks(pages)
        if chunks.isEmpty { return }
        let gfp = TraceReplay.vmallocGFP
        guard let (n, z) = kernel.pageAlloc.bulkZone(gfp, count: chunks[0], cpu: e.cpu) else { bulkShort += 1; return }
        bulk = (e.cpu, n, z, chunks)
        takeBulk()
    }

    /// Linux: vm_area_alloc_pages()'s requests: min(100, left) pages at a time; a request of
    /// one page goes to alloc_pages() (traced), not to the bulk allocator.
    public static func bulkChunks(_ pages: Int) -> [Int] {
        var out: [Int] = [], left = pages
        while left > 0 {
            let c = Swift.min(vmallocBulkChunk, left)
            if c > 1 { out.append(c) }
            left -= c
        }
        return out
    }

    /// The gfp vmalloc's pages are asked with (__vmalloc_area_node() adds __GFP_NOWARN).
    public static let vmallocGFP = GFPFlags.gfpKernel.union(.nowarn)

    /// After a refill of the bulk CPU's list, the bulk allocation goes on; an mm_page_alloc, an
    /// mm_page_free or a slab event on that CPU ends it (and a request still short is counted).
    mutating func continueBulk(after e: TraceEvent) {
        guard let b = bulk, e.cpu == b.cpu else { return }
        if e.kind == .mmPageAllocZoneLocked && e.percpuRefill == true { return }   // applied first, then taken
        if e.kind == .mmPageAlloc || e.kind == .mmPageFree || !e.kind.isPageEvent {
            if !b.chunks.isEmpty { bulkShort += 1 }
            bulk = nil
        }
    }

    mutating func takeBulk() {
        while var b = bulk, let want = b.chunks.first {
            let got = kernel.pageAlloc.takeBulkRecorded(TraceReplay.vmallocGFP, count: want, cpu: b.cpu, node: b.node,
                                                        zone: b.zone, &kernel.physMem)
            bulkPages += got.count
            if got.count < want { b.chunks[0] = want - got.count; bulk = b; return }
            b.chunks.removeFirst()
            bulk = b.chunks.isEmpty ? nil : b
        }
    }

    /// The model's next choice on the state the trace left, against the kernel's: blocks taken
    /// from the buddy lists (mm_page_alloc_zone_locked) and pages from a CPU's list.
    public private(set) var buddyChoices = (asked: 0, same: 0)
    public private(set) var pcpChoices = (asked: 0, same: 0)
    public private(set) var firstOtherChoices: [String] = []

    mutating func predict(_ e: TraceEvent, _ choice: Pfn?, buddy: Bool) {
        let same = choice == e.pfn
        if buddy { buddyChoices.asked += 1; if same { buddyChoices.same += 1 } }
        else { pcpChoices.asked += 1; if same { pcpChoices.same += 1 } }
        if !same && firstOtherChoices.count < 5 {
            firstOtherChoices.append("line \(e.line): \(e.kind.rawValue) pfn \(e.pfn.map { hex($0) } ?? "0x0") order \(e.order ?? 0) on cpu \(e.cpu): the model's next choice was \(choice.map { hex($0) } ?? "none (a fallback or an empty list)")")
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
        out.append("vmalloc's bulk allocations (untraced): \(bulkPages) pages taken from the CPUs' lists" + (bulkShort > 0 ? ", \(bulkShort) requests short" : ""))
        out.append("inferred where the trace was silent: \(kernel.pageAlloc.inferredFallbacks) fallbacks (a block taken from another type's list), \(kernel.pageAlloc.inferredUntraced) pages taken ahead of the kernel's choice (on its CPU's list or the buddy lists)")
        out.append("the model's next choice on the kernel's state: \(buddyChoices.same) of \(buddyChoices.asked) blocks from the buddy lists, \(pcpChoices.same) of \(pcpChoices.asked) pages from a CPU's list")
        out += firstOtherChoices.map { "  " + $0 }
        if !firstRefusals.isEmpty { out.append("first refusals (the model's state is its own boot's, not the traced kernel's at trace_init):") }
        out += firstRefusals.map { "  " + $0 }
        return out
    }
}
