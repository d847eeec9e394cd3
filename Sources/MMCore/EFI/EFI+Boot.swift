// What the kernel does with the EFI memory map while it boots: keep the map, reserve what the
// firmware may still touch, and give boot-services memory back once that is safe.
//
// Linux: arch/x86/platform/efi/efi.c — efi_memblock_x86_reserve_range(), efi_init(),
//        efi_clean_memmap(), efi_print_memmap();
//        drivers/firmware/efi/efi.c — efi_systab_report_header(), efi_config_parse_tables(),
//        efi_find_mirror(), efi_mem_reserve(), parse_efi_cmdline();
//        drivers/firmware/efi/memattr.c — efi_memattr_init();
//        drivers/firmware/efi/efi-bgrt.c — efi_bgrt_init();
//        drivers/firmware/efi/secureboot.c — efi_set_secure_boot();
//        arch/x86/platform/efi/quirks.c — efi_reserve_boot_services(), efi_arch_mem_reserve(),
//        efi_unmap_boot_services(), efi_free_boot_services().

/// The kernel's EFI state: `efi.memmap` and the efi.flags bits memory setup reads.
public struct EFIState: Equatable, Sendable {
    /// Linux: efi.memmap — the descriptors the kernel works on. It rewrites them: a kept
    /// boot-services region gains EFI_MEMORY_RUNTIME, efi_mem_reserve() splits one.
    public var memmap: [EFIMemoryDescriptor] = []
    /// Linux: efi.memmap.nr_map. Equal to `memmap.count` unless the machine came from a log that
    /// showed only some descriptors.
    public var nrMap = 0
    /// Linux: EFI_MEMMAP — set by efi_memblock_x86_reserve_range(), cleared when runtime
    /// services are disabled.
    public var memmapEnabled = false
    /// Linux: EFI_DBG (`efi=debug`): print the map, and keep boot-services memory for debugfs.
    public var debug = false
    /// Linux: !disable_runtime (`noefi`, `efi=noruntime`).
    public var runtime = true
    /// Linux: EFI_MEM_NO_SOFT_RESERVE (`efi=nosoftreserve`).
    public var noSoftReserve = false
    /// The memblock copy of the map efi_arch_mem_reserve() installed (EFI_MEMMAP_MEMBLOCK), which
    /// the next installation frees.
    public var memblockCopy: PhysRange? = nil
    /// Bytes efi_free_boot_services() handed to the page allocator.
    public var bootServicesFreed: UInt64 = 0
    public init() {}

    /// Linux: efi_mem_desc_lookup(): the descriptor holding `addr`.
    public func descriptorIndex(containing addr: PhysAddr) -> Int? {
        memmap.firstIndex { $0.physAddr <= addr && addr < $0.end }
    }
    public func type(at addr: PhysAddr) -> EFIMemoryType? { descriptorIndex(containing: addr).flatMap { memmap[$0].type } }
}

extension Kernel {
    /// Linux: parse_efi_cmdline() and setup_noefi(), early parameters.
    mutating func parseEFIOptions() {
        for p in commandLine.params {
            if p.name == "noefi" { efi.runtime = false }
            guard p.name == "efi" else { continue }
            guard let v = p.value, !v.isEmpty else {
                log.info("efi: need at least one option")
                log.info("Malformed early option 'efi'")
                continue
            }
            let options = v.split(separator: ",")
            if options.contains("debug") { efi.debug = true }
            if options.contains("noruntime") { efi.runtime = false }
            if options.contains("runtime") { efi.runtime = true }
            if options.contains("nosoftreserve") { efi.noSoftReserve = true }
        }
    }

    /// Linux: efi_memblock_x86_reserve_range(), right after parse_early_param(): the map the
    /// stub left in boot-services memory becomes efi.memmap, and its bytes are reserved.
    mutating func efiMemblockX86ReserveRange() {
        guard let f = machine.efi else { return }
        efi.memmap = f.memoryMap
        efi.nrMap = f.mapEntries
        efi.memmapEnabled = true
        // do_efi_soft_reserve(): conventional memory marked specific-purpose.
        if commandLine.has("add_efi_memmap")
            || (!efi.noSoftReserve && f.memoryMap.contains { $0.type == .conventional && $0.attribute.contains(.sp) }) {
            doAddEFIMemmap()
        }
        if efi.nrMap > 0 && f.mapAddress != 0 {
            _ = memblock.reserve(f.mapAddress, UInt64(efi.nrMap) &* f.descriptorSize,
                                 caller: Caller("efi_memblock_x86_reserve_range+0x1fc/0x22a"), log: &log)
        }
    }

    /// Linux: do_add_efi_memmap(): the EFI map added to e820 again, the kernel's own way (RAM
    /// only when write-back cacheable; soft-reserved kept apart).
    mutating func doAddEFIMemmap() {
        for d in efi.memmap where d.isValid {
            guard let type = d.e820Type(softReserve: !efi.noSoftReserve, kernelRule: true) else { continue }
            e820.add(d.physAddr, d.size, type, log: &log)
        }
        _ = e820.sanitize()
    }

    /// Linux: efi_init() on x86: the system table's header, the configuration tables (and the
    /// memory attributes table they point at), then the map is cleaned and, with `efi=debug`,
    /// printed.
    mutating func efiInit() {
        guard let f = machine.efi else { return }
        log.info("efi: EFI v\(f.revisionText) by \(f.vendor)")
        var line = "efi: "
        for t in f.configTables { line += "\(t.name)=\(hex(t.address)) " }
        log.info(line)
        if efi.memmapEnabled, let attr = f.table("MEMATTR"), f.memattrSize != 0 {
            _ = memblock.reserve(attr, f.memattrSize, caller: Caller("efi_memattr_init+0x73/0x97"), log: &log)
        }
        guard efi.runtime else {
            // efi_memmap_unmap(): without runtime services the map is dropped, and nothing
            // later reserves or frees boot-services memory.
            efi.memmapEnabled = false
            return
        }
        efiCleanMemmap()
        if efi.debug { efiPrintMemmap() }
    }

    /// Linux: efi_clean_memmap(): descriptors that run past 2^64 are reported and dropped.
    mutating func efiCleanMemmap() {
        var kept: [EFIMemoryDescriptor] = []
        var removed = 0
        for (i, d) in efi.memmap.enumerated() {
            if d.isValid { kept.append(d); continue }
            if removed == 0 { log.info("efi: [Firmware Bug]: Invalid EFI memory map entries:") }
            removed += 1
            log.info("efi: " + d.invalidLine(index: i))
        }
        guard removed > 0 else { return }
        log.info("efi: Removing \(removed) invalid memory map entries.")
        efi.memmap = kept
        efi.nrMap -= removed
    }

    /// Linux: efi_print_memmap(), `efi=debug`.
    mutating func efiPrintMemmap() {
        for (i, d) in efi.memmap.enumerated() { log.info("efi: " + d.debugLine(index: i)) }
    }

    /// Linux: efi_set_secure_boot(): the mode the stub found, one line.
    mutating func efiSetSecureBoot() {
        guard let f = machine.efi else { return }
        switch f.secureBoot {
        case .notShown: return
        case .unset: log.info("secureboot: Secure boot could not be determined (mode 0)")
        case .unknown: log.info("secureboot: Secure boot could not be determined (mode 1)")
        case .disabled: log.info("secureboot: Secure boot disabled")
        case .enabled: log.info("secureboot: Secure boot enabled")
        }
    }

    /// Linux: efi_find_mirror(): the share of mirrored memory. (memblock_mark_mirror() acts only
    /// with kernelcore=mirror, which kmemlab does not model.)
    mutating func efiFindMirror() {
        guard efi.memmapEnabled else { return }
        var mirror: UInt64 = 0, total: UInt64 = 0
        for d in efi.memmap {
            total &+= d.size
            if d.attribute.contains(.moreReliable) { mirror &+= d.size }
        }
        if mirror != 0 { log.info("efi: Memory: \(mirror >> 20)M/\(total >> 20)M mirrored memory") }
    }

    /// Linux: efi_esrt_init(): the ESRT is kept (efi_mem_reserve()) when it lies in boot-services
    /// data, which would otherwise be freed.
    mutating func efiEsrtInit() {
        guard efi.memmapEnabled, let f = machine.efi, let esrt = f.esrt, esrt.size != 0 else { return }
        log.info("esrt: Reserving ESRT space from \(pa(esrt.start)) to \(pa(esrt.end)).")
        // A log's partial map lacks the ESRT's region (it was reserved before the boot-services
        // regions, so none of them was printed): what the log showed decides then.
        let inBootData = !f.mapComplete ? f.esrtInBootServicesData
            : efi.type(at: esrt.start) == .bootServicesData
        if inBootData { efiMemReserve(esrt.start, esrt.size) }
    }

    /// Linux: efi_mem_reserve(): keep a range of boot-services memory for good.
    mutating func efiMemReserve(_ addr: PhysAddr, _ size: UInt64) {
        if !memblock.isRegionReserved(addr, size) {
            _ = memblock.reserve(addr, size, caller: Caller.unknownOffset("efi_mem_reserve"), log: &log)
        }
        efiArchMemReserve(addr, size)
    }

    /// Linux: efi_reserve_boot_services(): every boot-services region nobody has reserved yet
    /// is reserved now, and owned — to be freed after boot — unless it touches the kernel image
    /// or is not all RAM in e820. A region someone else had reserved, or one the kernel cannot
    /// own, is tagged EFI_MEMORY_RUNTIME so that it is never freed.
    mutating func efiReserveBootServices() {
        guard efi.memmapEnabled else { return }
        let text = machine.kernel.start, end = machine.kernel.end
        for i in efi.memmap.indices {
            let d = efi.memmap[i]
            guard let t = d.type, t.isBootServices else { continue }
            let start = d.physAddr, size = d.size
            if !memblock.isRegionReserved(start, size) {
                _ = memblock.reserve(start, size, caller: Caller("efi_reserve_boot_services+0x7d/0xcf"), log: &log)
                let touchesImage = start &+ size > text && start <= end
                if !touchesImage && e820.mappedAll(start, start &+ size, type: .ram) { continue }
            }
            efi.memmap[i].attribute.insert(.runtime)
        }
    }

    /// Linux: efi_bgrt_init() → efi_mem_reserve(): the boot logo stays reserved for
    /// /sys/firmware/acpi/bgrt, which efi_arch_mem_reserve() records by splitting its
    /// boot-services descriptor into a copy of the map (a memblock allocation) and by marking
    /// the range reserved in e820.
    mutating func efiBgrtInit() {
        guard let f = machine.efi, let image = f.bgrtImage, image.size != 0,
              machine.acpiTables.contains(where: { $0.signature == "BGRT" }),
              !commandLine.has("bgrt_disable"), commandLine.last("acpi") != "off", efi.memmapEnabled else { return }
        guard f.mapUnknown || efi.type(at: image.start) == .bootServicesData else {
            log.info("efi_bgrt: Ignoring BGRT: invalid image address")
            return
        }
        efiMemReserve(image.start, image.size)
    }

    /// Linux: efi_arch_mem_reserve(). With the map unknown only its e820 edit is made (the
    /// log showed it); the map's copy, a small memblock allocation, is not.
    mutating func efiArchMemReserve(_ addr: PhysAddr, _ size: UInt64) {
        // A log's partial map holds only the boot-services regions the kernel reserved itself; a
        // range it does not cover (an ESRT reserved before them) is handled as with no map.
        let found = efi.descriptorIndex(containing: addr)
        let start = roundDown(addr, pageSize)
        let length = roundUp(size + addr % pageSize, pageSize)
        if machine.efi?.mapUnknown ?? true || (found == nil && !(machine.efi?.mapComplete ?? false)) {
            e820.update(start, length, from: .ram, to: .reserved, log: &log)
            _ = e820.sanitize()
            return
        }
        guard let i = found, efi.memmap[i].type == .bootServicesData else {
            log.info("efi: Failed to lookup EFI memory descriptor for \(pa(addr))")
            return
        }
        let md = efi.memmap[i]
        guard size <= md.end - addr else {
            log.info("efi: Region spans EFI memory descriptors, \(pa(addr))")
            return
        }
        let last = start + length - 1
        let entries = efi.nrMap + md.splitCount(start: start, last: last)
        let descSize = machine.efi?.descriptorSize ?? 48
        let newMap = memblock.physAllocRange(size: UInt64(entries) * descSize, align: memblock.smpCacheBytes, start: 0,
                                             end: Memblock.allocAccessible, caller: Caller("efi_memmap_alloc+0xb5/0xcc"),
                                             log: &log)
        guard newMap != 0 else {
            log.info("efi: Could not allocate boot services memmap")
            return
        }
        // efi_memmap_insert(): the descriptor becomes up to three, the middle one runtime.
        var pieces: [EFIMemoryDescriptor] = []
        func piece(_ from: PhysAddr, _ to: PhysAddr, _ attr: EFIMemoryAttribute) {
            guard to > from else { return }
            pieces.append(EFIMemoryDescriptor(rawType: md.rawType, physAddr: from, numPages: (to - from) >> 12, attribute: attr))
        }
        let cut = Swift.min(last + 1, md.end)
        piece(md.physAddr, Swift.max(md.physAddr, start), md.attribute)
        piece(Swift.max(md.physAddr, start), cut, md.attribute.union(.runtime))
        piece(cut, md.end, md.attribute)
        efi.memmap.replaceSubrange(i...i, with: pieces)
        efi.nrMap = entries
        // efi_memmap_install(): the previous copy, if memblock made it, is given back.
        if let old = efi.memblockCopy {
            _ = memblock.physFree(old.start, old.size, caller: Caller.unknownOffset("__efi_memmap_free"), log: &log)
        }
        efi.memblockCopy = PhysRange(start: newMap, size: UInt64(entries) * descSize)
        e820.update(start, length, from: .ram, to: .reserved, log: &log)
        _ = e820.sanitize()
    }

    /// Linux: efi_unmap_boot_services() (from efi_enter_virtual_mode()) picks the boot-services
    /// regions the kernel owns — not tagged runtime, above 1 MiB — and efi_free_boot_services(),
    /// an arch_initcall in this 6.1 stable kernel, frees them with free_reserved_area(). With
    /// `efi=debug` they are kept for /sys/kernel/debug/efi.
    mutating func efiFreeBootServices() {
        guard efi.memmapEnabled, efi.runtime, !efi.debug else { return }
        var freed: UInt64 = 0
        for d in efi.memmap {
            guard let t = d.type, t.isBootServices, !d.attribute.contains(.runtime) else { continue }
            var start = d.physAddr, size = d.size
            if start &+ size < 0x10_0000 { continue }
            if start < 0x10_0000 { size -= 0x10_0000 - start; start = 0x10_0000 }
            // (The pages are in memory: the kernel reserved them in memblock.memory.)
            let first = Pfn.up(start), last = Swift.min(Pfn.down(start &+ size), maxPfn)
            if first < last { freeReservedPages(first, last) }
            freed &+= size
        }
        efi.bootServicesFreed = freed
        if freed != 0 { log.info("efi: Freeing EFI boot services memory: \(freed >> 10)K") }
    }
}
