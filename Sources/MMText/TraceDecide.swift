// Replaying a kmem trace with the model making every choice itself (`kmemlab replay`, decide
// mode): each mm_page_alloc asks the model's page allocator for what the kernel was asked (order,
// gfp flags, the CPU it ran on), and the replay counts how often the model's pfn is the one the
// kernel chose. The trace's pages are then known by their recorded pfn and mapped to the model's
// own choice, so every free finds its allocation whatever the model chose.
//
// Events that are consequences of others are not applied: mm_page_alloc_zone_locked (each block
// __rmqueue_smallest() takes), mm_page_pcpu_drain (free_pcppages_bulk()), mm_page_alloc_extfrag
// (__rmqueue_fallback()) and mm_page_free_batched (free_unref_page_list()'s second loop, after
// the same page's mm_page_free). The model's own consequences are counted beside the recorded
// ones.

import MMCore

/// Hears the model's own consequences, and keeps the path of the current call while the first
/// divergence still has to be explained.
struct DecideListener: PageAllocListener {
    /// Blocks __rmqueue_smallest() took (Linux: mm_page_alloc_zone_locked).
    var zoneLocked = 0
    /// Pages free_pcppages_bulk() moved (Linux: the pages of the mm_page_pcpu_drain events).
    var drainedPages = 0
    var extfrag = ExtfragCounters()
    var recording = true
    var path: [PageAllocEvent] = []

    mutating func pageAlloc(_ e: PageAllocEvent) {
        switch e {
        case .split: zoneLocked += 1
        case let .pcpDrain(_, _, pages): drainedPages += pages
        case let .fallback(_, _, foundOrder, wanted, _, claimed):
            extfrag.count(allocMigratetype: wanted, fallbackOrder: foundOrder.raw, changedOwnership: claimed)
        default: break
        }
        if recording { path.append(e) }
    }

    mutating func slab(_ event: SlabEvent) {}
}

/// The boot's steps a trace cannot show, applied at the first event that proves each happened,
/// for a replay that starts at trace_init() (Boot/TraceInit.swift).
public struct LateBoot: Sendable {
    /// The lines where the per-cpu pagesets and the initcalls' watermarks were applied.
    public private(set) var pagesetsAt: Int?
    public private(set) var initcallsAt: Int?
    var sawDeferredInit = false
    var refillCPU = -1, refillRun = 0
    /// No node has deferred pages: no pgdatinit thread frees anything to watch for.
    let nothingDeferred: Bool
    /// The initrd's pages, freed by populate_rootfs() (a rootfs initcall, after the postcore and
    /// subsys ones).
    let initrd: Range<UInt64>?

    public init(_ k: Kernel) {
        nothingDeferred = k.nodes.allSatisfy { $0.firstDeferredPfn == .max }
        if let rd = k.machine.initrd, rd.size != 0 {
            let base = k.relocatedInitrd ?? rd.addr
            initrd = (base >> 12)..<((base &+ rd.size &+ 4095) >> 12)
        } else {
            initrd = nil
        }
    }

    /// Call before the event is applied.
    /// - setup_per_cpu_pageset(): the first mm_page_alloc whose CPU list was refilled with more
    ///   than one block (the boot pageset's batch is 1).
    /// - init_per_zone_wmark_min() and hugepage_init(): pid 1 waits in page_alloc_init_late()
    ///   until the pgdatinit threads are done, so its first event after theirs comes after
    ///   deferred init; the initcalls follow (a little later: the model applies them there).
    ///   Without deferred pages: the initrd's first freed page, which comes after them; without
    ///   an initrd, the first free of a reserved page (possibly too early: the SMP
    ///   alternatives and memblock's arrays are freed before the initcalls).
    public mutating func observe(_ e: TraceEvent, _ k: inout Kernel) {
        if e.deferredInit { sawDeferredInit = true }
        switch e.kind {
        case .mmPageAllocZoneLocked where e.percpuRefill == true:
            if e.cpu == refillCPU { refillRun += 1 } else { refillCPU = e.cpu; refillRun = 1 }
        case .mmPageAlloc:
            if pagesetsAt == nil && refillRun > 1 && refillCPU == e.cpu { pagesets(e, &k) }
            refillRun = 0
            refillCPU = -1
        default: break
        }
        guard initcallsAt == nil else { return }
        let afterDeferred = sawDeferredInit && e.pid == 1 && !e.deferredInit
        let bootFree = nothingDeferred && e.kind == .mmPageFree
            && e.pfn.map { pfn in
                guard k.pageAlloc.zoneIndex(ofPfn: pfn) != nil, k.memmap.page(pfn).flags.contains(.reserved) else { return false }
                return initrd.map { $0.contains(pfn.raw) } ?? true
            } == true
        if afterDeferred || bootFree {
            if pagesetsAt == nil { pagesets(e, &k) }
            k.traceInitcalls()
            initcallsAt = e.line
        }
    }

    mutating func pagesets(_ e: TraceEvent, _ k: inout Kernel) {
        k.traceSetupPerCPUPageset()
        pagesetsAt = e.line
    }

    public var text: String {
        "boot after trace_init(): per-cpu pagesets at line \(pagesetsAt.map { String($0) } ?? "-"), initcall watermarks at line \(initcallsAt.map { String($0) } ?? "-")"
    }
}

public struct DecideReplay {
    public var kernel: Kernel
    /// Page allocations asked of the model, and how many got the kernel's pfn.
    public private(set) var pageAllocs = 0
    public private(set) var pageAllocMatches = 0
    /// Allocations the model could not serve, or could not be asked (unknown gfp flag, no such CPU).
    public private(set) var pageAllocFailed = 0
    public private(set) var pageAllocSkipped = 0
    /// Frees of pages the trace allocated (through the map), of pages allocated before tracing
    /// (the same pfn, when the model holds it allocated too), and frees the model could not do.
    public private(set) var pageFrees = 0
    public private(set) var pageFreesUntraced = 0
    public private(set) var pageFreesRefused = 0
    /// Recorded consequences (counted, not applied) and the model's own.
    public private(set) var recordedZoneLocked = 0
    public private(set) var recordedDrainedPages = 0
    public private(set) var recordedExtfrag = ExtfragCounters()
    public private(set) var recordedBatched = 0
    /// Slab events, not replayed yet.
    public private(set) var objectEvents = 0
    /// The first allocation whose pfn differs, explained.
    public private(set) var firstDivergence: [String] = []
    /// The first frees the model refused, with their lines.
    public private(set) var firstRefusals: [String] = []
    var listener = DecideListener()
    /// Recorded pfn → the model's pfn, for pages the trace allocated and has not freed.
    var pageMap = U64Map<Pfn>()
    /// The model pfns the map points to (a free of an untraced page must not take one of them).
    var mapped = U64Map<Bool>()

    /// The rest of the boot, when the replay starts at trace_init().
    public private(set) var lateBoot: LateBoot?
    /// Frees of pages the boot still held at trace_init() (deferred, reserved).
    public private(set) var pageFreesBoot = 0

    /// `kernel` booted to trace_init() (`stopAtTraceInit`), or to the end.
    public init(kernel: Kernel) {
        self.kernel = kernel
        if kernel.scratch.stopAtTraceInit { lateBoot = LateBoot(kernel) }
    }

    /// The model's counts of its own consequences.
    public var modelZoneLocked: Int { listener.zoneLocked }
    public var modelDrainedPages: Int { listener.drainedPages }
    public var modelExtfrag: ExtfragCounters { listener.extfrag }

    /// Pages vmalloc's bulk allocator handed out (untraced: the model takes them itself, and
    /// names each by its own pfn, the kernel's if their lists agreed).
    public private(set) var bulkPages = 0

    public mutating func apply(_ e: TraceEvent) {
        lateBoot?.observe(e, &kernel)
        if let n = e.vmallocPages { bulk(e, pages: n) }
        switch e.kind {
        case .mmPageAlloc: alloc(e)
        case .mmPageFree: free(e)
        case .mmPageFreeBatched: recordedBatched += 1
        case .mmPageAllocZoneLocked: recordedZoneLocked += 1
        case .mmPagePcpuDrain: recordedDrainedPages += 1 << (e.order ?? 0)
        case .mmPageAllocExtfrag:
            let wanted = e.migrateType
            recordedExtfrag.count(allocMigratetype: wanted, fallbackOrder: e.fallbackOrder ?? 0,
                                  changedOwnership: e.changeOwnership ?? false)
        default: objectEvents += 1
        }
    }

    mutating func bulk(_ e: TraceEvent, pages: Int) {
        guard e.cpu < kernel.pageAlloc.nrCPUIds else { return }
        listener.recording = false
        for chunk in TraceReplay.bulkChunks(pages) {
            let got = kernel.pageAlloc.allocPagesBulk(TraceReplay.vmallocGFP, count: chunk, cpu: e.cpu, &kernel.physMem, listener: &listener)
            bulkPages += got.count
            for p in got where pageMap[p.raw] == nil {
                pageMap[p.raw] = p
                mapped[p.raw] = true
            }
        }
    }

    mutating func alloc(_ e: TraceEvent) {
        guard let pfn = e.pfn, let gfp = e.gfp, e.cpu < kernel.pageAlloc.nrCPUIds else {
            pageAllocSkipped += 1
            return
        }
        let order = e.order ?? 0
        listener.recording = firstDivergence.isEmpty
        listener.path.removeAll(keepingCapacity: true)
        let before = firstDivergence.isEmpty ? whereIs(pfn) : ""
        pageAllocs += 1
        guard let got = kernel.pageAlloc.allocPages(gfp, order: Order(order), cpu: e.cpu, &kernel.physMem, listener: &listener) else {
            pageAllocFailed += 1
            return
        }
        if got == pfn { pageAllocMatches += 1 }
        else if firstDivergence.isEmpty {
            firstDivergence = ["line \(e.line): mm_page_alloc order \(order) \(gfp.description) on cpu \(e.cpu): the kernel gave pfn \(hex(pfn)), the model \(hex(got))",
                               "  the kernel's page in the model before the call: \(before)",
                               "  the model's path:"]
                + listener.path.map { "    " + AllocShell.describe($0) }
        }
        // A recorded page allocated twice without a free between lost its free to the trace.
        if let old = pageMap.updateValue(got, forKey: pfn.raw) { mapped.removeValue(forKey: old.raw) }
        mapped[got.raw] = true
    }

    mutating func free(_ e: TraceEvent) {
        guard let pfn = e.pfn else { return }
        let order = e.order ?? 0
        listener.recording = false
        var target = pfn
        if let m = pageMap.removeValue(forKey: pfn.raw) {
            target = m
            mapped.removeValue(forKey: m.raw)
        } else if lateBoot != nil, kernel.freeBootPagesRecorded(pfn, order: Order(order), cpu: Swift.min(e.cpu, kernel.pageAlloc.nrCPUIds - 1)) {
            pageFreesBoot += 1
            return
        } else {
            // Allocated before tracing began: free the same page if the model holds it too.
            guard kernel.pageAlloc.zoneIndex(ofPfn: pfn) != nil, !mapped.contains(pfn.raw), kernel.memmap.page(pfn).refcount > 0,
                  !kernel.memmap.page(pfn).flags.contains(.pcp), kernel.memmap.buddyOrder(pfn) == nil
            else {
                refuse(e, "allocated before tracing began, and not allocated in the model")
                return
            }
            pageFreesUntraced += 1
        }
        let outcome = kernel.pageAlloc.freePages(target, order: Order(order), cpu: Swift.min(e.cpu, kernel.pageAlloc.nrCPUIds - 1),
                                                 &kernel.log, listener: &listener)
        if outcome == .freed { pageFrees += 1 } else { refuse(e, "the model refuses the free of \(hex(target))") }
    }

    mutating func refuse(_ e: TraceEvent, _ why: String) {
        pageFreesRefused += 1
        if firstRefusals.count < 10 { firstRefusals.append("line \(e.line): mm_page_free pfn \(e.pfn.map { hex($0) } ?? "0x0") order \(e.order ?? 0): \(why)") }
    }

    /// Where a page is in the model: free in a buddy block, on a CPU's list, or allocated.
    func whereIs(_ pfn: Pfn) -> String {
        guard let (n, z) = kernel.pageAlloc.zoneIndex(ofPfn: pfn) else { return "in no zone of this machine" }
        if let (head, bo) = kernel.nodes[n].zones[z].freeBlock(containing: pfn, atLeast: 0, kernel.memmap) {
            return "free, in an order-\(bo) block \(hex(head)) on the \(kernel.memmap.pageblockMigratetype(head).name) list"
        }
        let d = kernel.memmap.page(pfn)
        if d.flags.contains(.pcp) { return "on a CPU's per-cpu list" }
        if mapped.contains(pfn.raw) { return "allocated by an earlier replayed call" }
        return d.refcount > 0 || d.flags.contains(.tail) ? "allocated (by the model's boot)" : "reserved or not free"
    }

    /// `page_alloc_pfn_match`: the share of mm_page_alloc events given the kernel's pfn.
    public var matchRate: Double { pageAllocs == 0 ? 0 : Double(pageAllocMatches) / Double(pageAllocs) }

    public var text: [String] {
        var out = ["mm_page_alloc: \(pageAllocs) asked of the model, \(pageAllocMatches) got the kernel's pfn (\(FragmentationText.percent(UInt64(pageAllocMatches), of: UInt64(pageAllocs)))), \(pageAllocFailed) failed, \(pageAllocSkipped) not asked (failed in the kernel, or an unknown gfp flag or CPU)",
                   "mm_page_free: \(pageFrees + pageFreesBoot) freed (\(pageFreesBoot) the boot still held at trace_init(), \(pageFreesUntraced) other pages allocated before tracing), \(pageFreesRefused) refused",
                   "consequences, recorded / model: mm_page_alloc_zone_locked \(recordedZoneLocked) / \(modelZoneLocked), pcp drains \(recordedDrainedPages) / \(modelDrainedPages) pages, mm_page_alloc_extfrag \(recordedExtfrag.events) / \(modelExtfrag.events) (mm_page_free_batched \(recordedBatched): markers of frees already counted)"]
        if let l = lateBoot { out.append(l.text) }
        out.append("vmalloc's bulk allocations (untraced): \(bulkPages) pages, each named by the model's own pfn")
        if objectEvents > 0 { out.append("slab events: \(objectEvents), not replayed yet (their pages are replayed as the page allocations they were)") }
        if !firstDivergence.isEmpty { out.append("first divergence:") }
        out += firstDivergence.map { "  " + $0 }
        if !firstRefusals.isEmpty { out.append("first refused frees:") }
        out += firstRefusals.map { "  " + $0 }
        return out
    }

}
