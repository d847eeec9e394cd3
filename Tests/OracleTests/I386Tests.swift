// i386 (issue 6): the 3G/1G layout, lowmem and highmem, zones, kmap and kmap_local.
//
// No QEMU oracle boots an i386 kernel, so the ground truth here is (1) a real Debian 686-pae
// boot log (Tests/Fixtures/i386/debian-686-pae-u400.dmesg: a Toshiba U400 with 5 GiB, kernel
// 6.0.12, whose memory-layout code equals 6.1's), (2) the numbers the kernel's documentation
// gives (Documentation/mm/highmem.rst, admin-guide/kernel-parameters.txt, arch/x86/Kconfig
// help), and (3) a 6.x x86_32 QEMU boot with 1 GiB quoted in a 2024 kernel patch mail.

import Testing
import MMCore
import MMText
import KmemlabTestSupport

private func bootU400(_ arch: Arch = .i386PAE) throws -> Kernel {
    let path = Fixtures.i386Path("debian-686-pae-u400.dmesg")
    var k = Kernel(machine: try DmesgParser(fileName: path).parse(Fixtures.text(path)))
    k.arch = arch
    try k.boot()
    return k
}

@Suite struct I386Tests {
    /// Every line the model prints about memory layout and zones equals the real 686-pae log,
    /// in the same order, and every such line of the log is printed.
    @Test func debian686PAELogLinesMatch() throws {
        let k = try bootU400()
        let real = Fixtures.messages(Fixtures.text(Fixtures.i386Path("debian-686-pae-u400.dmesg")))
        let kinds = ["MB HIGHMEM available.", "MB LOWMEM available.", "low ram: 0 - ", "Zone ranges:", "  DMA ", "  Normal ",
                     "  HighMem ", "Movable zone start", "Early memory node ranges", "  node ", "Initmem setup node",
                     "pages in unavailable ranges", "Built 1 zonelists", "Initializing HighMem", "Initializing Movable",
                     "last_pfn = ", "BIOS-e820: ", "e820: "]
        func relevant(_ l: String) -> Bool { kinds.contains { l.contains($0) } }
        let expected = real.filter(relevant)
        let actual = k.log.lines.filter(relevant)
        #expect(expected.count == 54)
        #expect(Fixtures.firstDifference(expected, actual) == nil)
        // The "Memory:" line's highmem figure: 3126532K free in ZONE_HIGHMEM.
        #expect(k.i386!.totalhighPages * 4 == 3_126_532)
        // Total pages = the zones' managed estimates; struct page is 40 bytes on i386.
        #expect(k.i386!.totalPages == 1_004_613)
    }

    /// The layout's constants, derived from the fixmap and cpu_entry_area as Debian configures
    /// them, end in the MAXMEM the real 686-pae boot printed ("low ram: 0 - 36ffe000").
    @Test func layoutConstants() throws {
        let pae = I386Layout(pae: true)
        #expect(pae.fixKmapBegin == 68 && pae.fixKmapEnd == 579 && pae.endOfPermanentFixed == 583)
        #expect(pae.fixBtmapEnd == 1024 && pae.endOfFixed == 1537)
        #expect(pae.fixaddrTotStart == 0xff9f_e000)
        #expect(pae.cpuEntryAreaBase == 0xff40_0000 && pae.ldtBase == 0xff20_0000)
        #expect(pae.pkmapBase == 0xff00_0000 && pae.vmallocEnd == 0xfeff_e000)
        #expect(pae.maxmem == 0x36ff_e000)
        let flat = I386Layout(pae: false)
        // 4 MiB PMDs round every area down further: 4 MiB less lowmem than PAE.
        #expect(flat.cpuEntryAreaBase == 0xff40_0000 && flat.ldtBase == 0xff00_0000)
        #expect(flat.pkmapBase == 0xfec0_0000 && flat.maxmem == 0x36bf_e000)
        // i386_defconfig (NR_CPUS=8, no PAE) gives the 879 MB of the 2024 patch mail's QEMU boot.
        var defconfig = I386Layout(pae: false)
        defconfig.nrCpus = 8
        #expect(defconfig.maxmem == 0x36ff_e000)
    }

    /// The numbers the kernel's documentation states.
    @Test func documentationNumbers() throws {
        for arch in [Arch.i386, .i386PAE] {
            let k = try bootPreset("", mem: 8 << 30, arch: arch)
            let l = k.i386!.layout
            // highmem.rst: "3GiB for userspace and the top 1GiB for kernel space".
            #expect(l.pageOffset == 0xc000_0000)
            // highmem.rst: the direct map is "typically ... less (usually around ~896MiB)".
            let lowMB = k.maxLowPfn.raw >> 8
            #expect(lowMB > 768 && lowMB < 896)
            // kernel-parameters.txt: vmalloc= "minimum size (128MB on x86)".
            #expect(l.vmallocReserve == 128 << 20)
            #expect(l.vmallocEnd - l.vmallocStart == 120 << 20)   // less the 8 MiB guard
            // pgtable_32_areas.h: LAST_PKMAP is one page table of slots.
            #expect(l.lastPkmap == (arch == .i386PAE ? 512 : 1024))
            // Kconfig: HIGHMEM4G reaches 4 GB of physical memory, HIGHMEM64G (PAE) 64 GB.
            if arch == .i386 {
                #expect(k.maxPfn.raw == 0xbffe0)   // RAM above 4 GiB is dropped (32-bit phys_addr_t)
            } else {
                #expect(k.maxPfn.raw == 0x240000) // 8 GiB: all of it
            }
            #expect(l.maxArchPfn << 12 == (arch == .i386PAE ? 64 << 30 : 4 << 30))
            // Everything between the direct map and 4 GiB fits: the order of the areas.
            #expect(l.highMemory < l.vmallocStart && l.vmallocEnd < l.pkmapBase && l.pkmapAddr(l.lastPkmap) <= l.ldtBase)
            #expect(l.ldtEnd <= l.cpuEntryAreaBase && l.cpuEntryAreaBase + (l.cpuEntryAreaPages + 1) * 4096 <= l.fixaddrTotStart)
        }
    }

    /// 1 GiB QEMU, 6.x x86_32: "143MB HIGHMEM available." and "879MB LOWMEM available.".
    @Test func qemu1GiB() throws {
        let k = try bootPreset("", mem: 1 << 30, arch: .i386PAE, quiet: false)
        #expect(k.log.lines.contains("143MB HIGHMEM available."))
        #expect(k.log.lines.contains("879MB LOWMEM available."))
        #expect(k.log.lines.contains("  mapped low ram: 0 - 36ffe000"))
    }

    /// highmem= and vmalloc= move the boundary as init_32.c and pgtable_32.c say.
    @Test func commandLineOptions() throws {
        var k = try bootPreset("vmalloc=256M", mem: 2 << 30, arch: .i386PAE, quiet: false)
        // 136 MiB more reserve (256 + 8 guard − 128) leaves 879 − 136 = 743 MB.
        #expect(k.log.lines.contains("743MB LOWMEM available."))
        k = try bootPreset("highmem=128M", mem: 512 << 20, arch: .i386, quiet: false)
        #expect(k.log.lines.contains("128MB HIGHMEM available."))
        #expect(k.maxLowPfn.raw == k.maxPfn.raw - 32768)
        k = try bootPreset("highmem=600M", mem: 512 << 20, arch: .i386, quiet: false)
        #expect(k.log.lines.contains("highmem size (600MB) is bigger than pages available (511MB)!"))
        #expect(k.log.lines.contains("0MB HIGHMEM available."))
        k = try bootPreset("highmem=480M", mem: 512 << 20, arch: .i386, quiet: false)
        #expect(k.log.lines.contains("highmem size (480MB) results in <64MB lowmem, ignoring it!"))
        k = try bootPreset("highmem=512M", mem: 1 << 30, arch: .i386PAE, quiet: false)
        #expect(k.log.lines.contains("only 143MB highmem pages available, ignoring highmem size of 512MB!"))
        k = try bootPreset("highmem=64M", mem: 2 << 30, arch: .i386PAE, quiet: false)
        #expect(k.log.lines.contains("64MB HIGHMEM available."))
        #expect(k.maxPfn.raw == 0x36ffe + 16384)   // max_pfn cut to MAXMEM + highmem
        k = try bootPreset("reservetop=16M", mem: 2 << 30, arch: .i386PAE, quiet: false)
        #expect(k.log.lines.contains("Reserving virtual address space above 0xff000000 (rounded to 0xff000000)"))
        #expect(k.i386!.layout.fixaddrTop == 0xfefff000)
        do {
            _ = try bootPreset("vmalloc=1G", mem: 2 << 30, arch: .i386PAE)
            Issue.record("vmalloc=1G booted")
        } catch {
            #expect(error as? BootPanic == .panic("vmalloc=1G leaves no room for the direct map"))
        }
    }

    /// kmap(): the round-robin scan from last_pkmap_nr, counts, flush on wrap, sleep when full.
    @Test func persistentKmap() throws {
        var k = try bootPreset("", mem: 4 << 30, arch: .i386PAE)
        let high = k.maxLowPfn + 100
        // A lowmem page is its direct-map address.
        #expect(try k.kmap(pfn: Pfn(0x1000)) == (0xc100_0000, .lowmem))
        // The first highmem kmap takes slot 1: the scan starts after last_pkmap_nr = 0.
        #expect(try k.kmap(pfn: high) == (0xff00_1000, .newSlot(slot: 1, flushed: 0)))
        #expect(try k.kmap(pfn: high) == (0xff00_1000, .alreadyMapped(slot: 1)))
        #expect(k.i386!.highmem.pkmapCount[1] == 3)
        try k.kunmap(pfn: high)
        try k.kunmap(pfn: high)
        #expect(k.i386!.highmem.pkmapCount[1] == 1)   // still mapped, reclaimable
        #expect(throws: KmapError.bug(line: 368, what: "kunmap_high")) { try k.kunmap(pfn: high) }
        #expect(throws: KmapError.bug(line: 358, what: "kunmap_high")) { try k.kunmap(pfn: high + 1) }
        // Hold slots 2…511 and then 0: the wrap flushes slot 1 (count 1) on the way to slot 0.
        for i in 2..<512 { _ = try k.kmap(pfn: high + UInt64(i)) }
        #expect(try k.kmap(pfn: high + 600).path == .newSlot(slot: 0, flushed: 1))
        #expect(k.i386!.highmem.flushes == 1)
        #expect(k.i386!.highmem.slot(ofPfn: high) == nil)
        // Slot 1 is free again; after it everything is held: the next caller would sleep.
        #expect(try k.kmap(pfn: high + 601).path == .newSlot(slot: 1, flushed: 0))
        #expect(throws: KmapError.wouldSleep) { _ = try k.kmap(pfn: high + 602) }
        try k.kunmap(pfn: high + 7)
        #expect(try k.kmap(pfn: high + 602) == (0xff00_7000, .newSlot(slot: 7, flushed: 1)))
    }

    /// kmap_local_page(): a per-CPU stack of fixmap slots, 15 deep, undone in reverse order.
    @Test func localKmap() throws {
        var k = try bootPreset("", mem: 4 << 30, arch: .i386)
        let high = k.maxLowPfn + 5
        // FIX_KMAP_BEGIN = 68: 0xfffff000 − 68 pages; slots grow downwards; CPU 1 is 16 below.
        #expect(try k.kmapLocal(pfn: high) == (0xfffb_b000, .localSlot(cpu: 0, depth: 0)))
        #expect(try k.kmapLocal(pfn: high + 1).vaddr == 0xfffb_a000)
        #expect(try k.kmapLocal(pfn: high, cpu: 1).vaddr == 0xfffb_b000 - 16 * 4096)
        #expect(try k.kmapLocal(pfn: Pfn(0x100)) == (0xc010_0000, .lowmem))
        try k.kunmapLocal(vaddr: 0xc010_0000)              // lowmem: nothing happens
        try k.kunmapLocal(vaddr: 0xfffb_a000)
        try k.kunmapLocal(vaddr: 0xfffb_b000)
        #expect(k.i386!.highmem.warnings.isEmpty)
        for i in 0..<15 { _ = try k.kmapLocal(pfn: high + UInt64(i)) }
        #expect(throws: KmapError.bug(line: 467, what: "__kmap_local_pfn_prot")) { _ = try k.kmapLocal(pfn: high) }
        // Out of order: WARN once, the top slot is the one cleared.
        try k.kunmapLocal(vaddr: 0xfffb_b000)
        try k.kunmapLocal(vaddr: 0xfffb_b000)
        #expect(k.i386!.highmem.warnings == ["WARNING: CPU: 0 PID: 1 at mm/highmem.c:610 kunmap_local_indexed"])
        #expect(k.i386!.highmem.localStack[0].count == 13)
    }

    /// `kmemlab layout --arch i386-pae` on the U400: the rows and the lowmem/highmem split.
    @Test func layoutTable() throws {
        let lines = Layout.lines32(try bootU400())
        #expect(lines.contains("  c0000000  |  f6ffdfff  | 879.9 MB | direct mapping of lowmem: physical 0-36ffdfff (high_memory ends it)"))
        #expect(lines.contains("  f77fe000  |  feffdfff  |   120 MB | vmalloc/ioremap space, modules (VMALLOC_START-VMALLOC_END)"))
        #expect(lines.contains("  ff000000  |  ff1fffff  |     2 MB | persistent kmap window: LAST_PKMAP = 512 slots (kmap)"))
        #expect(lines.contains { $0.hasPrefix("  highmem  0x036ffe000-0x13fffffff   4240 MB") })
        let bar = try #require(lines.first { $0.hasPrefix("  [") })
        #expect(bar.contains("[.LLLLLLLLL") && bar.contains(".H"))
    }
}

/// Debian's own 6.1.192 i386 kernels booted under QEMU 7.2 with crashkernel= (see
/// Tests/Fixtures/i386/README.md): the model, given only the QEMU preset and the command line,
/// prints the same e820, lowmem/highmem, crash kernel and zone lines, and frees the same
/// highmem the "Memory:" line reports.
@Suite struct I386QEMUTests {
    static let kinds = ["MB HIGHMEM available.", "MB LOWMEM available.", "low ram: 0 - ", "Zone ranges:", "  DMA ",
                        "  Normal ", "  HighMem ", "Movable zone start", "Early memory node ranges", "  node ",
                        "Initmem setup node", "pages in unavailable ranges", "Built 1 zonelists", "Initializing HighMem",
                        "last_pfn = ", "BIOS-e820: ", "e820: update", "e820: remove", "for crashkernel ("]

    @Test(arguments: [
        ("qemu-pc-2g-686-pae-crashkernel.dmesg", Arch.i386PAE, UInt64(2) << 30, "crashkernel=64M", 1_195_912),
        ("qemu-pc-3g-686-crashkernel-high.dmesg", Arch.i386, UInt64(3) << 30, "crashkernel=96M,high", 2_248_584),
    ])
    func presetMatchesLog(_ file: String, _ arch: Arch, _ mem: UInt64, _ crash: String, _ highmemK: Int) throws {
        let real = Fixtures.messages(Fixtures.text(Fixtures.i386Path(file)))
        let cmdline = "console=ttyS0 loglevel=8 memblock=debug no_hash_pointers log_buf_len=32M nokaslr " + crash
        let k = try bootPreset(cmdline, mem: mem, arch: arch, quiet: false)
        func relevant(_ l: String) -> Bool { Self.kinds.contains { l.contains($0) } }
        let expected = real.filter(relevant), actual = k.log.lines.filter(relevant)
        #expect(expected.count >= 25)
        #expect(expected.contains { $0.hasPrefix("Reserving ") })
        #expect(Fixtures.firstDifference(expected, actual) == nil, "\(Fixtures.firstDifference(expected, actual) ?? "")")
        // "Memory: …, NK highmem)": the pages set_highmem_pages_init() freed.
        #expect(real.contains { $0.hasSuffix(" \(highmemK)K highmem)") })
        #expect(Int(k.i386!.totalhighPages) * 4 == highmemK)
    }
}
