// `kmemlab layout`: the kernel's virtual memory map of the booted machine, tabled as
// Documentation/x86/x86_64/mm.rst tables it, with the bases this boot chose.
//
// Linux: arch/x86/include/asm/pgtable_64_types.h, page_64_types.h (the regions' bounds),
//        arch/x86/mm/kaslr.c (the randomised bases).

import MMCore

public enum Layout {
    struct Row { var start: UInt64?; var end: UInt64?; var what: String; var startText: String? = nil; var sizeText: String? = nil }

    static let tb: UInt64 = 1 << 40

    /// The rows for x86-64 with 4- or 5-level paging.
    static func rows(_ k: Kernel) -> [Row] {
        let l = k.layout
        let la57 = k.la57
        let directTB = l.sizesTB?[0] ?? (la57 ? 32 * 1024 : 64)
        let vmallocTB: UInt64 = la57 ? 12800 : 32
        let vmemmapTB = l.sizesTB?[2] ?? (la57 ? 512 : 1)
        var r: [Row] = []
        if la57 {
            r.append(Row(start: 0, end: 0x00ff_ffff_ffff_ffff, what: "user-space virtual memory, different per mm"))
            r.append(Row(start: 0x0100_0000_0000_0000, end: 0xfeff_ffff_ffff_ffff, what: "... huge, still almost 64 bits wide hole of non-canonical virtual memory addresses", sizeText: "~16K PB"))
            r.append(Row(start: 0xff00_0000_0000_0000, end: 0xff0f_ffff_ffff_ffff, what: "... guard hole, also reserved for hypervisor"))
            r.append(Row(start: 0xff10_0000_0000_0000, end: 0xff10_ffff_ffff_ffff, what: "LDT remap for PTI"))
        } else {
            r.append(Row(start: 0, end: 0x0000_7fff_ffff_ffff, what: "user-space virtual memory, different per mm"))
            r.append(Row(start: 0x0000_8000_0000_0000, end: 0xffff_7fff_ffff_ffff, what: "... huge, almost 64 bits wide hole of non-canonical virtual memory addresses", sizeText: "~16M TB"))
            r.append(Row(start: 0xffff_8000_0000_0000, end: 0xffff_87ff_ffff_ffff, what: "... guard hole, also reserved for hypervisor"))
            r.append(Row(start: 0xffff_8800_0000_0000, end: 0xffff_887f_ffff_ffff, what: "LDT remap for PTI"))
        }
        // The three KASLR regions in address order, with the holes between them.
        let regions: [(UInt64, UInt64, String)] = [
            (l.pageOffsetBase, directTB * tb, "direct mapping of all physical memory (page_offset_base)"),
            (l.vmallocBase, vmallocTB * tb, "vmalloc/ioremap space (vmalloc_base)"),
            (l.vmemmapBase, vmemmapTB * tb, "virtual memory map (vmemmap_base)"),
        ]
        var cursor = r.last!.end! &+ 1
        for (base, size, what) in regions {
            if base > cursor { r.append(Row(start: cursor, end: base - 1, what: "... unused hole")) }
            r.append(Row(start: base, end: base &+ size &- 1, what: what))
            cursor = base &+ size
        }
        let kasan: UInt64 = la57 ? 0xffdf_0000_0000_0000 : 0xffff_ec00_0000_0000
        if !l.randomized && cursor < kasan {
            r.append(Row(start: cursor, end: kasan - 1, what: "... unused hole"))
            cursor = kasan
        }
        r.append(Row(start: cursor, end: 0xffff_fbff_ffff_ffff, what: l.randomized ? "... unused hole (KASLR range)" : "KASAN shadow memory (not built into Debian's kernel: unused)"))
        r.append(Row(start: 0xffff_fc00_0000_0000, end: 0xffff_fdff_ffff_ffff, what: "... unused hole"))
        r.append(Row(start: nil, end: nil, what: "vaddr_end for KASLR"))
        r.append(Row(start: 0xffff_fe00_0000_0000, end: 0xffff_fe7f_ffff_ffff, what: "cpu_entry_area mapping"))
        r.append(Row(start: 0xffff_fe80_0000_0000, end: 0xffff_feff_ffff_ffff, what: "... unused hole"))
        r.append(Row(start: 0xffff_ff00_0000_0000, end: 0xffff_ff7f_ffff_ffff, what: "%esp fixup stacks"))
        r.append(Row(start: 0xffff_ff80_0000_0000, end: 0xffff_ffee_ffff_ffff, what: "... unused hole"))
        r.append(Row(start: 0xffff_ffef_0000_0000, end: 0xffff_fffe_ffff_ffff, what: "EFI region mapping space"))
        r.append(Row(start: 0xffff_ffff_0000_0000, end: 0xffff_ffff_7fff_ffff, what: "... unused hole"))
        // Debian builds RANDOMIZE_BASE: KERNEL_IMAGE_SIZE is 1 GiB (512 MiB without it).
        r.append(Row(start: 0xffff_ffff_8000_0000, end: 0xffff_ffff_bfff_ffff, what: "kernel text mapping, mapped to physical address 0 (1 GiB: RANDOMIZE_BASE)"))
        r.append(Row(start: 0xffff_ffff_c000_0000, end: 0xffff_ffff_feff_ffff, what: "module mapping space"))
        r.append(Row(start: nil, end: 0xffff_ffff_ff5f_ffff, what: "kernel-internal fixmap range, variable size and offset", startText: "FIXADDR_START", sizeText: "~0.5 MB"))
        r.append(Row(start: 0xffff_ffff_ff60_0000, end: 0xffff_ffff_ff60_0fff, what: "legacy vsyscall ABI"))
        r.append(Row(start: 0xffff_ffff_ffe0_0000, end: 0xffff_ffff_ffff_ffff, what: "... unused hole"))
        return r
    }

    /// The x86-64 map's regions that have both bounds, in address order (the fixmap from
    /// FIXADDR_START, which mm.rst leaves open), for a drawing of the layout.
    /// `size` is mm.rst's size column (its own text where it gives one).
    public static func regions(_ k: Kernel) -> [(start: UInt64, end: UInt64, size: String, what: String)] {
        rows(k).compactMap { r in
            guard let end = r.end else { return nil }
            let start = r.start ?? (r.startText == "FIXADDR_START" ? Kernel.fixaddrStart : nil)
            guard let start else { return nil }
            let size = r.sizeText ?? Layout.size(end &- start &+ 1)
            return (start, end, String(size.drop { $0 == " " }), r.what)
        }
    }

    /// A byte count the way mm.rst writes it: the largest unit that gives a short number.
    static func size(_ bytes: UInt64) -> String {
        // Whole units, except that TB and PB also take quarters ("0.5 TB", "3.75 PB").
        let units: [(UInt64, String, Bool)] = [(1 << 50, "PB", true), (1 << 40, "TB", true), (1 << 30, "GB", false),
                                               (1 << 20, "MB", false), (1 << 10, "kB", false)]
        for (u, name, quarters) in units {
            if bytes % u == 0 && bytes / u < 10000 { return padLeft(String(bytes / u), 4) + " " + name }
            if quarters && bytes >= u / 4 && (bytes * 4) % u == 0 && bytes / u < 100 {
                let whole = bytes / u, q = (bytes % u) * 4 / u
                return padLeft("\(whole)." + (q == 2 ? "5" : "\(q * 25)"), 4) + " " + name
            }
        }
        return approximate(bytes)
    }

    /// "~3.8 PB", "~9991 GB": for the randomised holes, whose sizes are no round number.
    static func approximate(_ bytes: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 50, "PB"), (1 << 40, "TB"), (1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB")]
        for (u, name) in units where bytes >= u {
            let tenths = bytes / (u / 10)
            return tenths < 100 ? "~\(tenths / 10).\(tenths % 10) \(name)" : "~\(bytes / u) \(name)"
        }
        return "\(bytes) B"
    }

    /// The offset column: from 0 for user space, from the top of the address space otherwise.
    static func offset(_ addr: UInt64) -> String {
        let negative = addr >= 1 << 63
        let mag = negative ? (0 &- addr) : addr
        let units: [(UInt64, String)] = [(1 << 50, "PB"), (1 << 40, "TB"), (1 << 30, "GB"), (1 << 20, "MB")]
        if mag == 0 { return "   0      " }
        for (u, name) in units where mag >= u || u == 1 << 20 {
            let whole = mag / u, frac = mag % u
            if whole > 9999 { continue }
            let fracText: String
            if frac == 0 { fracText = "" }
            else if frac * 4 % u == 0 { fracText = (frac * 4 / u == 2 ? ".5" : ".\(frac * 4 / u * 25)") }
            else if whole < 100 { continue } else { fracText = "" }
            if whole < 1 && u > 1 << 20 { continue }
            let sign = negative ? "-" : "+"
            let head = padLeft(sign + String(whole), 4)
            return head + padRight(fracText, 4) + name
        }
        return "~" + (negative ? "-" : "+") + approximate(mag).dropFirst()
    }

    public static func lines(_ k: Kernel) -> [String] {
        var out = ["x86-64 with \(k.la57 ? "5" : "4")-level page tables, " + (k.layout.randomized ? "memory KASLR (seed \(k.seed))" : "nokaslr"),
                   "",
                   "    Start addr    |   Offset   |     End addr     |  Size   | VM area description",
                   " ===================================================================================================="]
        for row in rows(k) {
            guard let end = row.end else {
                out.append("                  |            |                  |         | \(row.what)")
                continue
            }
            let startText = row.startText.map { padLeft($0, 17) } ?? " " + ptr(row.start!)
            let off = row.start.map { offset($0) } ?? "~-11    MB"
            let sz = row.sizeText ?? size(end &- row.start! &+ 1)
            out.append("\(startText) | \(padRight(off, 10)) | \(ptr(end)) | \(padLeft(sz, 7)) | \(row.what)")
        }
        return out
    }
}

extension Layout {
    /// "3 GB", "879 MB", "8 kB": a 32-bit size, exact when whole, else with one decimal in MB.
    static func size32(_ bytes: UInt64) -> String {
        for (u, name) in [(UInt64(1) << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB")] where bytes >= u && bytes % u == 0 {
            if u == 1 << 10 && bytes >= 100 << 20 { break }
            return "\(bytes / u) \(name)"
        }
        if bytes >= 1 << 20 { let t = bytes * 10 / (1 << 20); return "\(t / 10).\(t % 10) MB" }
        return "\(bytes / 1024) kB"
    }

    /// The i386 map from the top gigabyte's areas, and the physical memory each reaches: why
    /// highmem exists.
    /// i386's virtual address space, region by region in address order: [start, end) and what
    /// it is, for this boot (the 3G/1G split, or the one CONFIG_VMSPLIT and vmalloc= make).
    public static func regions32(_ k: Kernel) -> [(start: UInt64, end: UInt64, what: String)] {
        guard let st = k.i386 else { return [] }
        let l = st.layout
        let pae = k.arch == .i386PAE
        var rows: [(start: UInt64, end: UInt64, what: String)] = []
        func add(_ s: UInt64, _ e: UInt64, _ what: String) { if e > s { rows.append((s, e, what)) } }
        let lowBytes = k.maxLowPfn.raw << pageShift
        add(0, l.pageOffset, "user-space virtual memory, different per mm")
        add(l.pageOffset, l.highMemory, "direct mapping of lowmem: physical 0-\(hex08(lowBytes &- 1)) (high_memory ends it)")
        add(l.highMemory, l.vmallocStart, "guard hole (VMALLOC_OFFSET)")
        add(l.vmallocStart, l.vmallocEnd, "vmalloc/ioremap space, modules (VMALLOC_START-VMALLOC_END)")
        add(l.vmallocEnd, l.pkmapBase, "guard hole (2 pages)")
        let pkmapEnd = l.pkmapAddr(l.lastPkmap)
        add(l.pkmapBase, pkmapEnd, "persistent kmap window: LAST_PKMAP = \(l.lastPkmap) slots (kmap)")
        add(pkmapEnd, l.ldtBase, "... unused hole")
        add(l.ldtBase, l.ldtEnd, pae ? "LDT remap for PTI" : "LDT remap (reserved; PTI needs PAE)")
        add(l.ldtEnd, l.cpuEntryAreaBase, "... unused hole")
        let ceaEnd = l.cpuEntryAreaBase + (l.cpuEntryAreaPages + 1) * UInt64(pageSize)
        add(l.cpuEntryAreaBase, ceaEnd, "cpu_entry_area: \(l.nrCpus) CPUs x \(I386Layout.cpuEntryAreaPagesPerCPU) pages, IDT page")
        add(ceaEnd, l.fixaddrTotStart, "... unused hole")
        add(l.fixaddrTotStart, l.fixaddrStart, "fixmap, boot time: early_ioremap slots, WP test page")
        add(l.fixaddrStart, l.fixaddrTop + UInt64(pageSize), "fixmap: APIC, I/O APICs, kmap_local (\(I386Layout.kmMaxIdx) slots per CPU), PCIe MCFG, GHES")
        add(l.fixaddrTop + UInt64(pageSize), 1 << 32, "reserved (reservetop=)")
        return rows
    }

    public static func lines32(_ k: Kernel) -> [String] {
        guard let st = k.i386 else { return [] }
        let l = st.layout
        let pae = k.arch == .i386PAE
        let rows = regions32(k)
        let lowBytes = k.maxLowPfn.raw << pageShift
        var out = ["i386 \(pae ? "with PAE (Debian 686-pae: HIGHMEM64G, 3-level page tables, 2 MB large pages)" : "(Debian 686: HIGHMEM4G, 2-level page tables, 4 MB large pages)"), NR_CPUS \(l.nrCpus)",
                   "",
                   " Start addr |  End addr  |   Size   | VM area description",
                   " ======================================================================================================="]
        for (s, e, what) in rows {
            out.append("  \(hex08(s))  |  \(hex08(e - 1))  | \(padLeft(size32(e - s), 8)) | \(what)")
        }
        let maxmem = l.maxmem ?? 0
        out += ["",
                "MAXMEM = VMALLOC_END - PAGE_OFFSET - __VMALLOC_RESERVE = \(hex(l.vmallocEnd)) - \(hex(l.pageOffset)) - \(size32(l.vmallocReserve)) = \(hex(maxmem)) (\(maxmem >> 20) MB): the most RAM the kernel can map permanently.",
                ""]
        // Physical memory: which part is reachable through the direct map.
        let maxPfn = k.maxPfn.raw
        let highBytes = (st.highendPfn - st.highstartPfn) << pageShift
        out.append("Physical memory up to max_pfn \(hex(maxPfn)) (\(maxPfn >> 8) MB):")
        out.append("  lowmem   \(hexPadded(0, width: 11))-\(hexPadded(lowBytes &- 1, width: 11))  \(padLeft("\(lowBytes >> 20) MB", 8))  always mapped at \(hex08(l.pageOffset))-\(hex08(l.highMemory - 1)): the kernel reads it directly (ZONE_DMA, ZONE_NORMAL)")
        if highBytes > 0 {
            out.append("  highmem  \(hexPadded(lowBytes, width: 11))-\(hexPadded((maxPfn << pageShift) - 1, width: 11))  \(padLeft("\(highBytes >> 20) MB", 8))  never mapped: reached through kmap() (\(l.lastPkmap) slots, \(size32(l.lastPkmap << pageShift)) at a time) or kmap_local_page() (\(I386Layout.kmMaxIdx - 1) nested per CPU) (ZONE_HIGHMEM)")
        } else {
            out.append("  highmem  none: all RAM fits in the direct map")
        }
        let width = 64
        var bar = ""
        let span = Swift.max(maxPfn, 1)
        let ram = k.memPfnRanges()
        for i in 0..<width {
            let pfn = span * UInt64(i) / UInt64(width)
            let isRAM = ram.contains { pfn >= $0.start && pfn < $0.end }
            bar += !isRAM ? "." : pfn < k.maxLowPfn.raw ? "L" : "H"
        }
        out.append("  [\(bar)]  L lowmem, H highmem, . no RAM (one mark per 1/\(width) of the physical addresses)")
        return out
    }
}
