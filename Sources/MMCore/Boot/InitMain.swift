// (init/main.c; not "Main.swift", which would make MMCore an executable target.)
// start_kernel() after setup_arch(), to the end of boot: the hand-over to the page allocator and
// the moments the reserves are computed.
//
// Linux: init/main.c — start_kernel(), mm_init(), kernel_init_freeable(), kernel_init();
//        arch/x86/mm/init_64.c — mem_init(), preallocate_vmalloc_pages(), free_initmem(),
//        mark_rodata_ro(); mm/page_alloc.c — mem_init_print_info(), page_alloc_init_late(),
//        free_reserved_area(); arch/x86/kernel/alternative.c — the SMP alternatives free.
// Exact: the order. Watermarks, lowmem_reserve and pcp limits are computed from managed_pages
//        as it is at postcore and subsys initcall time: after deferred init and the SMP
//        alternatives, before the initrd and the kernel's init sections are given back. A model
//        that computed them from the final counts would be off by hundreds of pages.

extension Kernel {
    /// Linux: num_online_cpus() once smp_init() is done: the present CPUs, or fewer under
    /// `nosmp`, `maxcpus=` or `nr_cpus=`.
    public var onlineCPUs: Int {
        var n = Swift.max(1, machine.cpus.present)
        if commandLine.has("nosmp") { return 1 }
        for name in ["maxcpus", "nr_cpus"] {
            if let v = commandLine.last(name), let m = Int(v) { n = Swift.min(n, Swift.max(1, m)) }
        }
        return n
    }

    /// Linux: setup_max_cpus (`maxcpus=`, 0 under `nosmp`).
    var setupMaxCPUs: Int {
        if commandLine.has("nosmp") { return 0 }
        if let v = commandLine.last("maxcpus"), let m = Int(v) { return m }
        return Int.max
    }

    /// start_kernel() from build_all_zonelists() on, then kernel_init() to the end of boot.
    mutating func startKernel() {
        step("setup_per_cpu_areas(): the per-cpu first chunk", "mm/percpu.c")
        setupCommandLine()
        setupPerCPUAreas()
        step("build_all_zonelists()", "mm/page_alloc.c")
        buildAllZonelists()
        log.info("Kernel command line: \(machine.commandLine)")
        setupSlubParams()
        printUnknownBootoptions()
        step("setup_log_buf(), vfs_caches_init_early(): hash tables", "fs/dcache.c")
        setupLogBuf(early: false)
        vfsCachesInitEarly()
        if scratch.pendingPanic != nil { return }  // boot() reports it; nothing after it ran
        trapInit()
        // mm_init()
        step("mem_init(): memblock_free_all() hands memory to the buddy allocator", "arch/x86/mm/init_64.c")
        reportMeminit()
        memInit()
        memInitPrintInfo()
        step("kmem_cache_init(): SLUB bootstraps itself", "mm/slub.c")
        kmemCacheInit()
        // ftrace_init(), early_trace_init(), sched_init() … rcu_init(), then trace_init(): a
        // traced boot's first event. (A boot that does not stop there models neither yet.)
        if scratch.stopAtTraceInit {
            ftraceInit()
            earlyTraceInit()
            return
        }
        step("setup_per_cpu_pageset()", "mm/page_alloc.c")
        setupPerCPUPageset()
        // arch_cpu_finalize_init() → alternative_instructions(): the lock-prefix table is kept
        // only while the kernel is patched for one CPU and more could still arrive.
        step("arch_cpu_finalize_init(): alternative_instructions()", "arch/x86/kernel/alternative.c")
        let uniprocPatched = !commandLine.has("noreplace-smp") && (machine.cpus.present <= 1 || setupMaxCPUs <= 1)
        if !uniprocPatched || machine.cpus.possible <= 1 {
            freeImagePart("SMP alternatives", machine.kernel.smpAlternativesSize)
        }
        step("vfs_caches_init()", "fs/dcache.c")
        vfsCachesInit()
        // kernel_init_freeable(): smp_init(), then page_alloc_init_late().
        step("page_alloc_init_late(): deferred struct pages", "mm/page_alloc.c")
        deferredInitMemmap()
        memblockDiscard()
        // do_basic_setup(): the initcalls that matter here, by level.
        step("do_initcalls(): futex, min_free_kbytes, THP, slab caches, networking", "init/main.c")
        futexInit()                      // core
        initPerZoneWmarkMin()            // postcore
        efiFreeBootServices()            // arch
        hugepageInit()                   // subsys
        createBootSlabCaches()           // the named caches, made across boot
        dquotInit()                      // fs
        inetInit()                       // fs
        step("populate_rootfs(): free_initrd_mem()", "init/initramfs.c")
        freeInitrdMem()                  // rootfs (populate_rootfs)
        // kernel_init(): free_initmem(), mark_readonly().
        step("kernel_init(): free_initmem(), mark_readonly()", "init/main.c")
        freeImagePart("unused decrypted", machine.kernel.unusedDecryptedSize)
        freeImagePart("unused kernel image (initmem)", machine.kernel.initSize)
        markRodataRO()
    }

    /// Linux: setup_command_line(): saved_command_line and static_command_line, each the
    /// command line and its terminator.
    mutating func setupCommandLine() {
        let len = UInt64(machine.commandLine.utf8.count) + 1
        _ = memblock.allocTryNid(size: len, align: 64, caller: Caller("start_kernel+0x14f/0x70f"), log: &log)
        _ = memblock.allocTryNid(size: len, align: 64, caller: Caller("start_kernel+0x17c/0x70f"), log: &log)
    }

    /// Linux: print_unknown_bootoptions(): the message is assembled in a memblock buffer that is
    /// freed right after.
    mutating func printUnknownBootoptions() {
        let unknown = commandLine.unknownParameters()
        guard !unknown.isEmpty else { return }
        var len: UInt64 = 1
        for p in unknown { len += 1 + UInt64(p.utf8.count) }
        let buf = memblock.allocTryNid(size: len, align: 64, caller: Caller("start_kernel+0x2f8/0x70f"), log: &log)
        log.info("Unknown kernel command line parameters \"\(unknown.joined(separator: " "))\", will be passed to user space.")
        if buf != 0 { memblock.physFree(buf, len, caller: Caller("start_kernel+0x381/0x70f"), log: &log) }
    }

    /// Linux: trap_init() → setup_cpu_entry_areas(): the CPU entry areas' page tables (a PUD, a
    /// PMD and one PTE page per 2 MiB they span), through spp_getpage().
    mutating func trapInit() {
        // Each CPU's entry area (GDT, entry stack, TSS, exception stacks, debug store and its
        // buffers) is 56 pages; a read-only IDT page comes first.
        let bytes = pageSize + UInt64(nrCPUIds) * 56 * pageSize
        let pages = 2 + (bytes + 2 * SZ_1M - 1) / (2 * SZ_1M)
        for _ in 0..<pages {
            _ = memblock.allocTryNid(size: pageSize, align: pageSize, caller: Caller("spp_getpage+0x4e/0x97"), log: &log)
        }
    }

    /// Linux: report_meminit() (Debian: INIT_STACK_ALL_ZERO, INIT_ON_ALLOC_DEFAULT_ON). The two
    /// heap switches are independent (init_mem_debugging_and_hardening()).
    mutating func reportMeminit() {
        let free = initOnFree
        let alloc = initOnAlloc
        log.info("mem auto-init: stack:all(zero), heap alloc:\(alloc ? "on" : "off"), heap free:\(free ? "on" : "off")")
        if free { log.info("mem auto-init: clearing system memory may take some time...") }
    }

    /// Linux: x86 mem_init(): pci_iommu_alloc(), memblock_free_all(), then
    /// preallocate_vmalloc_pages().
    mutating func memInit() {
        pciIOMMUAlloc()
        if replayMemblock { applyReplayedReservations(count: machine.memblockLog.count) }
        memblockFreeAll()
        preallocateVmallocPages()
        var free: UInt64 = 0
        forEachZone { free += $0.freePages }
        freePagesAtMemInit = free
    }

    /// Pages the kernel allocates for itself at boot (GFP_KERNEL masked by gfp_allowed_mask's
    /// boot value, which takes away reclaim, I/O and FS), order 0, on the boot CPU.
    mutating func takeKernelPages(_ count: UInt64) {
        for _ in 0..<count {
            if allocPages([], order: 0, cpu: 0) == nil { break }
        }
    }

    /// Linux: preallocate_vmalloc_pages(): the P4D (5-level) or PUD (4-level) page under every
    /// top-level entry of [VMALLOC_START, VMALLOC_END], linked into init_top_pgt.
    mutating func preallocateVmallocPages() {
        var addr = vmallocStart
        for _ in 0..<vmallocPreallocatedPages {
            guard let pfn = allocPages([.zero], order: 0, cpu: 0) else { break }
            populate(entryAddress(pgtRoots.initTopPgt, addr, .pgd), pfn.physAddr)
            addr = roundUp(addr &+ 1, UInt64(1) << pgdShift)
        }
    }

    /// Linux: preallocate_vmalloc_pages(): one page-table page under every top-level entry the
    /// vmalloc area spans (PUD pages with 4-level paging, P4D pages with 5-level), so that the
    /// kernel half of the page tables never changes and need not be synced into every process.
    /// Without KASLR the area starts on a top-level boundary; with it, it almost never does.
    public var vmallocPreallocatedPages: UInt64 {
        let shift: UInt64 = la57 ? 48 : 39
        let size: UInt64 = (la57 ? 12800 : 32) << 40
        let slots = size >> shift
        return kaslrMemoryEnabled ? slots + 1 : slots
    }

    /// Linux: mem_init_print_info(): the "Memory:" line.
    mutating func memInitPrintInfo() {
        let k = machine.kernel
        let physpages = physPages
        let reserved = physpages - Swift.min(physpages, totalramPages)
        log.info("Memory: \(freePagesAtMemInit << 2)K/\(physpages << 2)K available (\(k.textSize >> 10)K kernel code, \(k.rwdataSize >> 10)K rwdata, \(k.rodataSize >> 10)K rodata, \(k.initSize >> 10)K init, \(k.bssSize >> 10)K bss, \(reserved << 2)K reserved, 0K cma-reserved)")
    }

    /// Linux: get_num_physpages(): every online node's present pages.
    public var physPages: UInt64 {
        var n: UInt64 = 0
        for node in nodes where numa.nodeOnline.contains(UInt64(node.nodeId.raw)) { n += node.nodePresentPages }
        return n
    }

    /// Linux: free_reserved_area() for pages of the kernel image: they become managed pages of
    /// the zone the image lies in, and count as RAM from now on.
    mutating func freeImagePart(_ what: String, _ size: UInt64) {
        let pages = size >> pageShift
        guard pages != 0 else { return }
        let start = Pfn.down(machine.kernel.start) + scratch.imageFreeCursor
        scratch.imageFreeCursor += pages
        freeReservedPages(start, start + pages)
        log.info("Freeing \(what) memory: \(pages << (pageShift - 10))K")
    }

    /// Linux: free_initrd_mem() (x86): the initrd's pages, its partial last page included —
    /// the early reservation already rounded it up to a page.
    mutating func freeInitrdMem() {
        guard let rd = machine.initrd, rd.addr != 0, rd.size != 0 else { return }
        // Where it is now: relocate_initrd() may have copied it into the direct map.
        let addr = relocatedInitrd ?? rd.addr
        let start = Pfn.up(addr), end = Pfn.up(addr + rd.size)
        guard start < end else { return }
        freeReservedPages(start, end)
        log.info("Freeing initrd memory: \((end - start) << (pageShift - 10))K")
    }
}
