// The boot from trace_init() on, driven by a kmem trace recorded from the kernel command line.
//
// Linux: init/main.c — start_kernel() (trace_init() comes after mm_init(), before
//        setup_per_cpu_pageset()), kernel_init_freeable(); mm/page_alloc.c —
//        setup_per_cpu_pageset(), page_alloc_init_late() and deferred_free_range(),
//        __free_pages_core(), free_reserved_page(), init_per_zone_wmark_min(); mm/memblock.c —
//        memblock_free_late(); mm/huge_memory.c — hugepage_init().
//
// A trace made with trace_event= begins at trace_init(). Everything the rest of the boot frees
// is in it as mm_page_free events (the deferred pages from the pgdatinit threads, memblock's
// arrays, the SMP alternatives, the initrd, the init sections), so the replay gives those pages
// to the buddy allocator where and when the trace does, instead of the model's own boot. What
// the trace cannot show — the per-cpu pagesets replacing the boot pageset, the watermarks of
// the postcore and subsys initcalls — the replay applies at the first event that proves it
// happened (Sources/MMText/TraceDecide.swift says which).
// Simplified: the allocations between mm_init() and trace_init() (sched_init(), the early
// workqueues, rcu_init()) are not modelled.

extension Kernel {
    /// Linux: Debian 6.1.192's mcount call sites ("ftrace: allocating 40521 entries in 159
    /// pages"), 16-byte struct dyn_ftrace records.
    static let ftraceEntries = 40521
    static let ftraceEntriesPerPage = Int(pageSize) / 16

    /// Linux: ftrace_init() → ftrace_allocate_pages(): the records in groups, each as large a
    /// power-of-two run of pages as the remaining entries fill (order fls(pages) − 1), each
    /// group's struct ftrace_page kzalloc'd before it. Untraced: it runs before trace_init().
    mutating func ftraceInit() {
        var left = Kernel.ftraceEntries
        _ = kzalloc(24, .gfpKernel)
        while left > 0 {
            let pages = (left + Kernel.ftraceEntriesPerPage - 1) / Kernel.ftraceEntriesPerPage
            let order = Swift.min(maxOrder - 1, Int(fls(UInt64(pages))) - 1)
            _ = allocPages(GFPFlags.gfpKernel.union(.zero), order: Order(order))
            left -= Swift.min(left, (Int(pageSize) << order) / 16)
            if left > 0 { _ = kzalloc(24, .gfpKernel) }
        }
        log.info("ftrace: allocating \(Kernel.ftraceEntries) entries in \((Kernel.ftraceEntries + Kernel.ftraceEntriesPerPage - 1) / Kernel.ftraceEntriesPerPage) pages")
    }

    /// Linux: early_trace_init() → tracer_alloc_buffers() → allocate_trace_buffers(): the boot
    /// CPU's ring buffer — trace_buf_size bytes when trace_event= expanded it, else the least —
    /// in 4080-byte data pages (at least two), after a reader page; each page's struct
    /// buffer_page (64 bytes) kzalloc'd before it. Then the snapshot buffer at its least.
    /// Untraced: tracing starts at trace_init(), just after.
    mutating func earlyTraceInit() {
        let expanded = commandLine.has("trace_event")
        var size: UInt64 = 1_441_792   // TRACE_BUF_SIZE_DEFAULT
        if let v = commandLine.last("trace_buf_size"), let n = memparseWhole(v) { size = n }
        for bytes in [expanded ? size : 1, 1] {
            let dataPage = pageSize - 16   // BUF_PAGE_SIZE
            let pages = Swift.max(2, bytes / dataPage + (bytes % dataPage == 0 ? 0 : 1))
            // __rb_allocate_pages() gives up when si_mem_available() is short, and at the first
            // page it cannot get (the boot goes on without a buffer).
            var free: UInt64 = 0
            forEachZone { z in free &+= z.freePages }
            guard pages < free else { continue }
            _ = kzalloc(64, .gfpKernel)
            _ = allocPages(.gfpKernel, order: 0)
            let flags = GFPFlags.gfpKernel.union(.retryMayfail)
            for _ in 0..<pages {
                _ = kzalloc(64, flags)
                if allocPages(flags, order: 0) == nil { break }
            }
        }
    }

    /// Linux: setup_per_cpu_pageset(): the zones leave the boot pageset (high 0, batch 1) for
    /// their own per-cpu lists.
    public mutating func traceSetupPerCPUPageset() {
        setupPerCPUPageset()
    }

    /// Linux: init_per_zone_wmark_min() (postcore) and hugepage_init()'s
    /// set_recommended_min_free_kbytes() (subsys): the watermarks, lowmem_reserve and the vmstat
    /// thresholds, from the managed pages deferred init left.
    public mutating func traceInitcalls() {
        initPerZoneWmarkMin()
        hugepageInit()
    }

    /// A page the boot had not yet given to the buddy allocator when tracing began, freed as
    /// the kernel frees it. A free page above first_deferred_pfn: deferred_free_range() —
    /// its pageblock turns MOVABLE when the run starts one, and __free_pages_core() puts it at
    /// the list's tail. Otherwise a reserved page: memblock_free_late() for memblock's own
    /// arrays, free_reserved_page() (through the CPU's list) for the init sections, the initrd
    /// and the SMP alternatives. False when the block is neither, and nothing changed.
    public mutating func freeBootPagesRecorded(_ pfn: Pfn, order: Order, cpu: Int) -> Bool {
        guard order.isBuddyOrder, let (n, z) = zoneIndex(ofPfn: pfn),
              cpu >= 0, cpu < pageAlloc.nrCPUIds else { return false }
        let count = order.pages
        // Deferred init runs in pgdatinit and its padata helpers: any free memblock page above
        // first_deferred_pfn that the model has not initialised yet.
        if pfn >= nodes[n].firstDeferredPfn && !memblock.isRegionReserved(pfn.physAddr, count << pageShift) {
            // Not yet initialised: the model's memmap shows such a page as reserved.
            guard pfn.isAligned(order) else { return false }
            for p in pfn..<(pfn + count) {
                guard let (pn, pz) = zoneIndex(ofPfn: p), pn == n, pz == z else { return false }
                let d = memmap.page(p)
                if !d.flags.contains(.reserved) || d.refcount != 0 || memmap.buddyOrder(p) != nil { return false }
            }
            if pfn.isAligned(.pageblock) { memmap.setPageblockMigratetype(pfn, .movable) }
            freePagesCore(node: n, zone: z, pfn, order: order)
            return true
        }
        guard order == 0, memmap.page(pfn).flags.contains(.reserved), memmap.buddyOrder(pfn) == nil else { return false }
        if isMemblockArray(pfn) {
            freePagesCore(node: n, zone: z, pfn, order: 0)
            totalramPages += 1
        } else {
            freeReservedPages(pfn, pfn + 1, cpu: cpu, boot: false)
        }
        return true
    }

    /// Whether the page holds one of memblock's doubled region arrays (memblock_discard()
    /// frees those with memblock_free_late()).
    func isMemblockArray(_ pfn: Pfn) -> Bool {
        for t in [memblock.reserved, memblock.memory] {
            guard let a = t.dynamicArray else { continue }
            if pfn >= Pfn.down(a.base) && pfn < Pfn.up(a.base &+ a.size) { return true }
        }
        return false
    }
}
