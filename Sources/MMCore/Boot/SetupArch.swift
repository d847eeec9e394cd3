// The boot, in the kernel's order, as far as kmemlab models it.
//
// Linux: arch/x86/kernel/setup.c — setup_arch(): early_reserve_memory(), e820__memory_setup(),
//        reserve_real_mode() (arch/x86/realmode/init.c), init_mem_mapping()'s first probe
//        (arch/x86/mm/init.c),
//        parse_setup_data(), parse_early_param(), e820__reserve_setup_data(),
//        e820__finish_early_params(), e820_add_kernel_range(), trim_bios_range(),
//        e820__end_of_ram_pfn(), mtrr_trim_uncached_memory(), find_smp_config(), reserve_brk(),
//        e820__memblock_setup(); arch/x86/kernel/ebda.c — reserve_bios_regions().
// Exact: the order of every e820 and memblock=debug line, and the resulting tables.
// Simplified: no real firmware is read: the Machine carries what the kernel would find.
// Reference: shared/reference/linux-6.1-mm.md §2.1, §2.2.

/// The boot stopped the way the kernel would have stopped.
public enum BootPanic: Error, Equatable, Sendable {
    /// Linux: panic("…") — the message after "Kernel panic - not syncing: ".
    case panic(String)
}

/// One simulated kernel booting one machine.
public struct Kernel: Sendable {
    public let machine: Machine
    public var log = KernelLog()
    public let commandLine: KernelCommandLine
    /// Linux: e820_table, e820_table_kexec, e820_table_firmware.
    public var e820 = E820Table()
    public var e820Kexec = E820Table()
    public var e820Firmware = E820Table()
    public var memblock = Memblock()
    /// Linux: max_pfn, max_low_pfn, max_possible_pfn.
    public var maxPfn = Pfn(0)
    public var maxLowPfn = Pfn(0)
    public var maxPossiblePfn = Pfn(0)
    /// Linux: userdef (a mem= or memmap= option changed the map).
    public var userDefinedMap = false
    /// Linux: movable_node_is_enabled().
    public var movableNode = false
    /// 5-level paging: the CPU has LA57 and `no5lvl` was not given.
    public var la57: Bool
    /// Where reserve_real_mode() put the AP trampoline (0: nowhere below 1 MiB).
    public var realModeTrampoline: PhysAddr = 0
    /// Linux: initrd_start − PAGE_OFFSET after relocate_initrd() moved the initrd (nil: in place).
    public var relocatedInitrd: PhysAddr?
    /// memory_map_top_down()'s real_end: the top of the first 2 MiB the direct map covers.
    public var directMapRealEnd: PhysAddr = 0

    // Direct map (arch/x86/mm/init.c).
    /// Linux: page_size_mask after probe_page_size_mask().
    public var pageSizeMask: PageSizeMask = []
    /// The direct map's page-table pages (an index; the entries are in physMem).
    public var directMap = PageTableShadow(base: 0, la57: false)
    /// Where head_64.S's tables are (init_top_pgt is the root of every walk).
    public var pgtRoots = KernelPageTableRoots()
    /// Linux: __default_kernel_pte_mask, set by probe_page_size_mask(): without PTI the
    /// kernel's pages are global; every modelled CPU has NX.
    public var defaultKernelPteMask: UInt64 = ~UInt64(0)
    /// Linux: direct_pages_count[PG_LEVEL_4K / 2M / 1G] (/proc/meminfo's DirectMap lines).
    public var directPagesCount: [UInt64] = [0, 0, 0]
    /// Table pages init_mem_mapping() allocated (from .brk and memblock).
    public var directMapTablePages = 0
    /// What only the boot needs (the .brk page-table buffer, the image-freeing cursor, a
    /// pending panic).
    public var scratch = BootScratch()
    /// Linux: min_pfn_mapped, max_pfn_mapped, pfn_mapped[] (merged [start, end) pfn ranges).
    public var minPfnMapped = Pfn(0), maxPfnMapped = Pfn(0)
    public var pfnMapped: [(UInt64, UInt64)] = []

    // NUMA (arch/x86/mm/numa.c).
    public var numa = NUMAState()

    // Memory model and zones.
    /// Linux: mem_section — the present sections, as runs of one node.
    public var sections = SparseState()
    /// Linux: dma_reserve (memblock_find_dma_reserve()).
    public var dmaReserve: UInt64 = 0
    /// Linux: NODE_DATA(nid) for every node that has one.
    public var nodes: [PGData] {
        _read { yield pageAlloc.nodes }
        _modify { yield &pageAlloc.nodes }
    }
    /// Linux: arch_zone_lowest_possible_pfn[], arch_zone_highest_possible_pfn[], zone_movable_pfn[].
    public var zoneBoundaries = ZoneBoundaries()
    /// Linux: nr_kernel_pages, nr_all_pages (the provisional counts free_area_init_core() makes).
    public var nrKernelPages: UInt64 = 0
    public var nrAllPages: UInt64 = 0
    /// Linux: the zonelists and policy_zone build_all_zonelists() leaves.
    public var zonelists: Zonelists {
        _read { yield pageAlloc.zonelists }
        _modify { yield &pageAlloc.zonelists }
    }

    // The page allocator.
    /// Linux: the vm.* sysctls.
    public var vm = VMTunables()
    /// Linux: _totalram_pages, totalreserve_pages.
    public var totalramPages: UInt64 = 0
    public var totalreservePages: UInt64 = 0
    /// Whether transparent huge pages came up enabled (hugepage_init()).
    public var thpEnabled = false
    /// The swiotlb bounce buffer (base, bytes), when there is one.
    public var swiotlb: (base: PhysAddr, size: UInt64)?
    /// Where each boot step began, for `boot --steps` and the explorer's timeline.
    public var bootSteps: [BootStep] = []
    /// Memory when boot() returned: the last step's end (what a shell or a replay does to the
    /// machine afterwards is not that step's).
    public internal(set) var bootEndMark: BootStep?
    /// The crash kernel's reservations (`crashkernel=`).
    public var crashkernel = CrashkernelReservation()
    /// Linux: the `efi` global's memory map and flags (EFI/).
    public var efi = EFIState()
    /// The per-cpu first chunk setup_per_cpu_areas() built.
    public var percpuFirstChunk: PcpuAllocInfo?
    /// Linux: nr_free_pages() just before mem_init_print_info() (the "Memory:" line's first figure).
    public var freePagesAtMemInit: UInt64 = 0
    /// The page allocator: nodes, zones, zonelists and the memmap. Boot code reaches its parts
    /// by Linux's global names (`nodes`, `zonelists`, `memmap`), which forward to it.
    public var pageAlloc = PageAllocator()
    /// Every page's descriptor and every pageblock's type (from memblock_free_all on).
    public var memmap: Memmap {
        _read { yield pageAlloc.memmap }
        _modify { yield &pageAlloc.memmap }
    }
    /// The contents of simulated RAM.
    public var physMem = PhysMemory()
    /// The slab allocator.
    public var slub = SlubState()
    /// vmalloc's areas.
    public var vmalloc = VmallocState()
    /// The caches `--slab-caches` asks for instead of the built-in boot table.
    public var slabCacheTable: [KmemCacheSpec]?
    /// Pages kmalloc took straight from the page allocator (Linux: part of NR_SLAB_UNRECLAIMABLE_B).
    public var largeKmallocPages = 0
    /// The direct map, vmalloc and vmemmap bases (randomised unless `nokaslr`).
    public var layout: KernelLayout
    /// The memory model the kernel is built with (`--memory-model`; Debian: VMEMMAP).
    public var memoryModel = MemoryModel.vmemmap
    /// The seed of everything random (KASLR offsets, s->random, freelist order, shuffle).
    public var seed: UInt64 = 0
    /// Linux: tainted_mask (kept with the log, whose reports print it).
    public var taint: UInt32 {
        get { log.taint }
        set { log.taint = newValue }
    }
    /// `init_on_alloc=` as parsed once (the page allocator asks on every allocation).
    let initOnAllocParam: Bool
    /// Linux: the WARN_ONCE of __ioremap_caller() has fired.
    var ioremapOnRAMWarned = false

    /// Apply the machine's logged memblock calls instead of the model's reservations
    /// (`--replay-memblock`); the model still runs, so both can be compared.
    public var replayMemblock = false

    /// Linux: log_buf_len (the static 128 KiB buffer until setup_log_buf() replaces it).
    public var logBufLen: UInt64 = 1 << 17


    /// The kernel build: Debian's amd64 (the whole model) or one of its i386 flavours (the boot
    /// as far as zones and highmem; Highmem/Init32.swift).
    public var arch = Arch.x86_64
    /// What a 32-bit boot computed (nil on x86-64).
    public var i386: I386State?

    /// The kernel this model follows, as its first log line names it.
    public static let banner = banner(flavour: "amd64")
    /// The banner of the same Debian build for a flavour (amd64, 686, 686-pae).
    public static func banner(flavour: String) -> String {
        "Linux version 6.1.0-56-\(flavour) (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"
    }

    public init(machine: Machine) {
        self.machine = machine
        self.commandLine = KernelCommandLine(machine.commandLine)
        self.la57 = machine.cpus.la57 && !commandLine.has("no5lvl")
        self.initOnAllocParam = commandLine.bool("init_on_alloc", default: true)
        self.layout = KernelLayout.fixed(la57: machine.cpus.la57 && !commandLine.has("no5lvl"))
    }

    /// Linux: MAX_PHYSMEM_BITS — 46 with 4-level paging, 52 with 5-level.
    public var maxPhysmemBits: UInt64 { la57 ? 52 : 46 }
    /// Linux: MAX_ARCH_PFN = MAXMEM >> PAGE_SHIFT.
    public var maxArchPfn: Pfn { Pfn(1 << (maxPhysmemBits - pageShift)) }

    /// Runs setup_arch(), then the rest of start_kernel() and kernel_init() (Boot/InitMain.swift).
    public mutating func boot() throws(BootPanic) {
        if arch.is32Bit { return try bootI386() }
        step("setup_arch: early_reserve_memory()", "arch/x86/kernel/setup.c")
        log.info(Kernel.banner)
        log.info("Command line: \(machine.commandLine)")
        earlyReserveMemory()
        step("e820__memory_setup()", "arch/x86/kernel/e820.c")
        e820MemorySetup()
        parseSetupDataExtended()
        step("parse_early_param(): mem=, memmap=, memblock=debug …", "init/main.c")
        parseEarlyParams()
        parseEFIOptions()
        efiMemblockX86ReserveRange()
        if movableNode { memblock.bottomUp = true }
        reserveSetupData()
        try finishEarlyParams()
        step("efi_init(): the EFI system table and memory map", "arch/x86/platform/efi/efi.c")
        efiInit()
        applyFirmwareEdits(.efiInit)
        efiSetSecureBoot()
        addKernelRange()
        trimBIOSRange()
        maxPfn = e820.endPfn(limit: maxArchPfn, type: .ram, maxArchPfn: maxArchPfn, log: &log)
        if mtrrTrim() {
            maxPfn = e820.endPfn(limit: maxArchPfn, type: .ram, maxArchPfn: maxArchPfn, log: &log)
        }
        maxPossiblePfn = maxPfn
        // From here the model writes RAM (page tables first): below max_pfn it is host memory.
        physMem.mapHostRAM(below: maxPfn.physAddr)
        if maxPfn.raw > (1 << (32 - pageShift)) {
            maxLowPfn = e820.endPfn(limit: Pfn(1 << (32 - pageShift)), type: .ram, maxArchPfn: maxArchPfn, log: &log)
        } else {
            maxLowPfn = maxPfn
        }
        step("kernel_randomize_memory(), find_smp_config(), the brk and head page tables", "arch/x86/mm/kaslr.c")
        kernelRandomizeMemory()
        findSMPConfig()
        earlyAllocPgtBuf()
        reserveBrk()
        setupHeadPageTables()   // (head_64.S's tables exist from the start; nothing reads them earlier)
        cleanupHighmap()
        memblock.currentLimit = 0x10_0000  // ISA_END_ADDRESS
        step("e820__memblock_setup(): RAM becomes memblock.memory", "arch/x86/kernel/e820.c")
        e820MemblockSetup()
        efiFindMirror()
        efiEsrtInit()
        applyFirmwareEdits(.efiEarlyReserve)
        efiReserveBootServices()
        step("reserve_real_mode(), init_mem_mapping(): the direct map", "arch/x86/mm/init.c")
        reserveRealMode()
        initMemMapping()
        if let p = scratch.pendingPanic { throw .panic(p) }
        memblock.currentLimit = maxPfnMapped.physAddr
        step("setup_log_buf(), reserve_initrd(), ACPI tables", "kernel/printk/printk.c")
        setupLogBuf(early: true)
        reserveInitrd()
        acpiReserveInitialTables()
        step("initmem_init(): NUMA nodes and NODE_DATA", "arch/x86/mm/numa.c")
        try initmemInit()
        step("reserve_crashkernel()", "arch/x86/kernel/setup.c")
        reserveCrashkernel()
        memblockFindDMAReserve()
        step("paging_init(): sparse_init(), the memmap, zones", "arch/x86/mm/init_64.c")
        pagingInit()
        setupArchLate()
        startKernel()
        bootEndMark = mark("end", bootSteps.last?.file ?? "")
        if let p = scratch.pendingPanic { throw .panic(p) }
    }

    // MARK: Steps

    /// Linux: early_reserve_memory(). Runs before `memblock=debug` is parsed, so it prints nothing.
    mutating func earlyReserveMemory() {
        let k = machine.kernel
        memblock.reserve(k.start, k.reserveEnd - k.start, log: &log)
        memblock.reserve(0, 64 * SZ_1K, log: &log)
        if let rd = machine.initrd, rd.addr != 0, rd.size != 0 {
            // Linux: early_reserve_initrd() reserves whole pages.
            memblock.reserve(rd.addr, roundUp(rd.addr + rd.size, pageSize) - rd.addr, log: &log)
        }
        for sd in machine.setupData {
            memblock.reserve(sd.addr, SetupData.headerSize + UInt64(sd.len), log: &log)
        }
        reserveBIOSRegions()
    }

    /// Linux: reserve_bios_regions() (arch/x86/kernel/ebda.c): [bios_start, 1 MiB) is reserved,
    /// bios_start being the BIOS's base-memory size, clamped to [128 KiB, 636 KiB] and lowered
    /// to the EBDA if that starts below it.
    mutating func reserveBIOSRegions() {
        let biosStartMin: UInt64 = 0x20000, biosStartMax: UInt64 = 0x9f000
        var biosStart = UInt64(machine.biosBaseMemoryKB) << 10
        if biosStart < biosStartMin || biosStart > biosStartMax { biosStart = biosStartMax }
        let ebda = machine.ebdaStart
        if ebda >= biosStartMin && ebda < biosStart { biosStart = ebda }
        memblock.reserve(biosStart, 0x10_0000 - biosStart, log: &log)
    }

    /// Linux: e820__memory_setup() with e820__memory_setup_default(): copy boot_params' table
    /// (at most 128 entries travel there; the rest come as SETUP_E820_EXT), or fake one from the
    /// BIOS's e801 size when it has fewer than two entries; sanitise; print.
    mutating func e820MemorySetup() {
        var who = "BIOS-e820"
        let boot = Array(machine.e820.prefix(128))
        var appended = false
        if boot.count >= 2 {
            appended = true
            for e in boot {
                if e.addr &+ e.size &- 1 < e.addr && e.size != 0 { appended = false; break }
                e820.add(e.addr, e.size, e.type, log: &log)
            }
        }
        if !appended {
            // The BIOS's e801 call reports RAM above 1 MiB; kmemlab derives it from the map.
            var aboveMB: UInt64 = 0
            for e in machine.e820 where e.type == .ram && e.end > 0x10_0000 {
                aboveMB += e.end - Swift.max(e.addr, 0x10_0000)
            }
            who = "BIOS-e801"
            e820.entries.removeAll()
            e820.add(0, 0x9f000, .ram, log: &log)          // LOWMEMSIZE()
            e820.add(0x10_0000, aboveMB, .ram, log: &log)  // HIGH_MEMORY
        }
        e820.sanitize()
        e820Kexec = e820
        e820Firmware = e820
        log.info("BIOS-provided physical RAM map:")
        e820.print(who: who, log: &log)
    }

    /// Linux: parse_setup_data() → e820__memory_setup_extended(): the entries beyond the first 128.
    mutating func parseSetupDataExtended() {
        guard machine.e820.count > 128 else { return }
        for e in machine.e820.dropFirst(128) { e820.add(e.addr, e.size, e.type, log: &log) }
        e820.sanitize()
        e820Kexec = e820
        e820Firmware = e820
        log.info("extended physical RAM map:")
        e820.print(who: "extended", log: &log)
    }

    /// Linux: parse_early_param() — the early parameters that touch memory setup, in order.
    mutating func parseEarlyParams() {
        for p in commandLine.params {
            switch p.name {
            case "mem":
                let r = e820.applyMemOption(p.value, log: &log)
                if r.userdef { userDefinedMap = true }
                if r.malformed { log.info("Malformed early option 'mem'") }
            case "kernelcore", "movablecore":
                // cmdline_parse_core(): a percentage over 100 trips its paranoid WARN_ON.
                if let v = p.value, v != "mirror" {
                    if Kernel.parseCore(v).percent > 100 {
                        warnOnce(file: "mm/page_alloc.c", line: 8419, function: "cmdline_parse_core")
                    }
                } else if p.value == nil {
                    log.info("Malformed early option '\(p.name)'")
                }
            case "memmap":
                if e820.applyMemmapOption(p.value, log: &log) { userDefinedMap = true }
            case "memblock":
                if let v = p.value, v.utf8.count >= 5, contains(v, "debug") { memblock.debug = true }
            case "movable_node":
                movableNode = true
                memblock.movableNode = true
            default:
                break
            }
        }
    }

    /// Linux: e820__reserve_setup_data(): each setup_data blob becomes RESERVED_KERN ("usable"
    /// in the printout, but no longer plain RAM), in the kexec table too unless kexec makes its own.
    mutating func reserveSetupData() {
        guard !machine.setupData.isEmpty else { return }
        for sd in machine.setupData {
            let size = SetupData.headerSize + UInt64(sd.len)
            e820.update(sd.addr, size, from: .ram, to: .reservedKern, log: &log)
            if !sd.kexecRecreates {
                e820Kexec.update(sd.addr, size, from: .ram, to: .reservedKern, log: &log)
            }
        }
        e820.sanitize()
        e820Kexec.sanitize()
        log.info("extended physical RAM map:")
        e820.print(who: "reserve setup_data", log: &log)
    }

    /// Linux: e820__finish_early_params().
    mutating func finishEarlyParams() throws(BootPanic) {
        guard userDefinedMap else { return }
        if !e820.sanitize() {
            log.info("Invalid user supplied memory map")
            throw .panic("Invalid user supplied memory map")
        }
        log.info("user-defined physical RAM map:")
        e820.print(who: "user", log: &log)
    }

    /// Linux: e820_add_kernel_range(): the kernel image must be RAM, whatever the map says.
    mutating func addKernelRange() {
        let k = machine.kernel
        if e820.mappedAll(k.start, k.end, type: .ram) { return }
        log.info(".text .data .bss are not marked as E820_TYPE_RAM!")
        e820.remove(k.start, k.end - k.start, type: .ram, checkType: false, log: &log)
        e820.add(k.start, k.end - k.start, .ram, log: &log)
    }

    /// Linux: trim_bios_range(): page 0 is reserved (BIOS data) and 640 KiB–1 MiB is not RAM.
    mutating func trimBIOSRange() {
        e820.update(0, pageSize, from: .ram, to: .reserved, log: &log)
        e820.remove(0xa0000, 0x60000, type: .ram, checkType: true, log: &log)
        e820.sanitize()
    }

    /// Linux: mtrr_trim_uncached_memory(), with the ranges the machine's MTRRs leave uncovered.
    /// Returns true when RAM was lost and max_pfn must be computed again.
    mutating func mtrrTrim() -> Bool {
        var trimmed: UInt64 = 0
        for edit in machine.firmwareEdits where edit.stage == .mtrrTrim {
            trimmed &+= apply(edit.op)   // total_trim_size: a u64 that wraps
        }
        guard trimmed != 0 else { return false }
        log.info("WARNING: BIOS bug: CPU MTRRs don't cover all of memory, losing \(trimmed >> 20)MB of RAM.")
        log.info("update e820 for mtrr")
        if e820.sanitize() {
            log.info("modified physical RAM map:")
            e820.print(who: "modified", log: &log)
        }
        return true
    }

    mutating func applyFirmwareEdits(_ stage: FirmwareEdit.Stage) {
        var any = false
        for edit in machine.firmwareEdits where edit.stage == stage {
            _ = apply(edit.op)
            any = true
        }
        if any { e820.sanitize() }
    }

    @discardableResult
    mutating func apply(_ op: FirmwareEdit.Op) -> UInt64 {
        switch op {
        case let .update(start, size, from, to):
            if from == to { return 0 }
            return e820.update(start, size, from: from, to: to, log: &log)
        case let .remove(start, size, type, checkType):
            return e820.remove(start, size, type: type, checkType: checkType, log: &log)
        }
    }

    /// Linux: find_smp_config() → smp_scan_config(): the MP floating pointer and its table.
    mutating func findSMPConfig() {
        guard let mp = machine.mpTable else { return }
        log.info("found SMP MP-table at [mem \(hexPadded(mp.floatingPointer, width: 10))-\(hexPadded(mp.floatingPointer + 15, width: 10))]")
        memblock.reserve(mp.floatingPointer, 16, caller: Caller("smp_scan_config+0xa7/0xff"), log: &log)
        memblock.reserve(mp.configTable, mp.configLength, caller: Caller("smp_scan_config+0xbe/0xff"), log: &log)
    }

    /// Linux: reserve_brk(): the used part of .brk (page tables for the early direct map, DMI).
    mutating func reserveBrk() {
        let k = machine.kernel
        if k.brkUsed != 0 {
            memblock.reserve(k.reserveEnd, k.brkUsed, caller: Caller("setup_arch+0x797/0xd4f"), log: &log)
        }
    }

    /// Linux: reserve_real_mode() (arch/x86/realmode/init.c): the AP trampoline must sit below
    /// 1 MiB; then the whole first MiB is reserved regardless, so no page of it ever reaches the
    /// buddy allocator.
    mutating func reserveRealMode() {
        // real_mode_size_needed() of Debian's 6.1.192 image, as every oracle boot shows it.
        let trampolineSize: UInt64 = 0x7000
        let mem = memblock.physAllocRange(size: trampolineSize, align: pageSize, start: 0, end: SZ_1M,
                                          caller: Caller("reserve_real_mode+0x50/0x89"), log: &log)
        if mem == 0 { log.info("No sub-1M memory is available for the trampoline") }
        realModeTrampoline = mem
        memblock.reserve(0, SZ_1M, caller: Caller("setup_arch+0x7e0/0xd4f"), log: &log)
    }

    /// Linux: reserve_initrd() and relocate_initrd(): the initrd was reserved at the very start;
    /// report where it is, and copy it into the direct map when it lies outside (above lowmem on
    /// i386, or above a `mem=` limit, which leaves it in memory the kernel does not map).
    mutating func reserveInitrd() {
        guard let rd = machine.initrd, rd.addr != 0, rd.size != 0 else { return }
        let end = roundUp(rd.addr + rd.size, pageSize)
        log.info("RAMDISK: [mem \(hexPadded(rd.addr, width: 10))-\(hexPadded(end - 1, width: 10))]")
        // pfn_range_is_mapped(): init_mem_mapping() mapped memblock's RAM up to max_pfn_mapped.
        let mapped = Pfn.down(end).raw <= maxPfnMapped.raw
            && memblock.memory.regions.contains { $0.base <= rd.addr && end <= $0.end }
        if mapped { return }
        let area = roundUp(rd.size, pageSize)
        let new = memblock.physAllocRange(size: area, align: pageSize, start: 0, end: maxPfnMapped.physAddr,
                                          caller: Caller("setup_arch+0x8da/0xd4f"), log: &log)
        if new == 0 {
            scratch.pendingPanic = "Cannot find place for new RAMDISK of size \(rd.size)"
            return
        }
        relocatedInitrd = new
        log.info("Allocated new RAMDISK: [mem \(hexPadded(new, width: 10))-\(hexPadded(new + rd.size - 1, width: 10))]")
        log.info("Move RAMDISK from [mem \(hexPadded(rd.addr, width: 10))-\(hexPadded(rd.addr + rd.size - 1, width: 10))] to [mem \(hexPadded(new, width: 10))-\(hexPadded(new + rd.size - 1, width: 10))]")
        _ = memblock.physFree(rd.addr, end - rd.addr, caller: Caller("setup_arch+0x964/0xd4f"), log: &log)
    }

    /// Linux: acpi_reserve_initial_tables() (drivers/acpi/tables.c): every table the firmware
    /// handed over is reserved, so nothing allocates over it before ACPI is done with it.
    mutating func acpiReserveInitialTables() {
        for t in machine.acpiTables where t.addr != 0 && t.length != 0 {
            // (The kernel prints the end with u64 arithmetic, wrapping; memblock caps the size.)
            log.info("ACPI: Reserving \(t.signature) table memory at [mem \(hex(t.addr))-\(hex(t.addr &+ t.length &- 1))]")
            memblock.reserve(t.addr, t.length, caller: Caller("acpi_reserve_initial_tables+0x51/0x61"), log: &log)
        }
    }

    /// Linux: memblock_find_dma_reserve() (arch/x86/mm/init.c): RAM pages below 16 MiB that are
    /// not free now; free_area_init_core() keeps them out of ZONE_DMA's managed estimate.
    mutating func memblockFindDMAReserve() {
        let saved = memblock.reserved
        if replayMemblock { applyReplayedReservations(count: machine.memblockLogZoneIndex) }
        defer { memblock.reserved = saved }
        let maxDMA: UInt64 = 16 * SZ_1M >> pageShift
        var nrPages: UInt64 = 0
        for r in memblock.pfnRanges() {
            nrPages += Swift.min(r.end, maxDMA) - Swift.min(r.start, maxDMA)
        }
        dmaReserve = nrPages - memblock.freePages(inPfns: 0, maxDMA)
    }

    /// Linux: e820__memblock_setup(): RAM (and RESERVED_KERN) becomes memblock memory, soft
    /// reserved memory is reserved, partial pages are trimmed away.
    mutating func e820MemblockSetup(physAddrBits: UInt64 = 64) {
        memblock.allowResize()
        let caller = Caller("e820__memblock_setup+0x65/0x7d")
        for e in e820.entries {
            // The kernel skips entries whose end overflows resource_size_t: 64 bits wide on
            // x86-64 and i386 with PAE, 32 bits on i386 without, where RAM above 4 GiB is lost.
            if physAddrBits < 64 && (e.end >> physAddrBits) != 0 { continue }
            if e.type == .softReserved { memblock.reserve(e.addr, e.size, caller: .unknownOffset("e820__memblock_setup"), log: &log) }
            if e.type != .ram && e.type != .reservedKern { continue }
            memblock.add(e.addr, e.size, caller: caller, log: &log)
        }
        memblock.trimMemory(align: pageSize)
        memblock.dumpAll(log: &log)
    }
}

/// Byte-wise substring test (strstr), usable without Foundation.
func contains(_ haystack: String, _ needle: String) -> Bool {
    let h = Array(haystack.utf8), n = Array(needle.utf8)
    if n.isEmpty { return true }
    if h.count < n.count { return false }
    for i in 0...(h.count - n.count) where Array(h[i..<(i + n.count)]) == n { return true }
    return false
}
