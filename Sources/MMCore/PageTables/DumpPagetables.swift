// The kernel page tables of the booted machine, printed as /sys/kernel/debug/page_tables/kernel
// prints them (`kmemlab pagetables`), and the W+X check boot runs over them.
//
// Linux: arch/x86/mm/dump_pagetables.c (address_markers, note_page(), effective_prot(),
//        printk_prot()), mm/ptdump.c and mm/pagewalk.c (the walk: holes at the depth they are
//        found, large entries as leaves, every PTE of a present PTE page reported).
// Debian's kernel is built without CONFIG_PTDUMP_DEBUGFS, so no oracle case has this file; the
// format and grouping follow the source. The W+X check's verdict is in every oracle dmesg.
// The walk takes a table stored as a linear frame (evenly spaced leaves) in one step, so that a
// 4 PiB direct map of 2 MiB pages is checked in millions of steps, not billions.

public enum PageTableDump {
    public struct Marker { public var start: UInt64; public var name: String; public var maxLines: Int = 0 }

    /// Linux: address_markers[] for x86-64 as Debian configures it (MODIFY_LDT_SYSCALL,
    /// ESPFIX64, EFI; no KASAN), with pt_dump_init()'s run-time bases.
    public static func markers(_ k: Kernel) -> [Marker] {
        [Marker(start: 0, name: "User Space"),
         Marker(start: 1 << 63, name: "Kernel Space"),
         Marker(start: k.ldtBase, name: "LDT remap"),
         Marker(start: k.pageOffset, name: "Low Kernel Mapping"),
         Marker(start: k.vmallocStart, name: "vmalloc() Area"),
         Marker(start: k.vmemmapBase, name: "Vmemmap"),
         Marker(start: Kernel.cpuEntryAreaBase, name: "CPU entry Area"),
         Marker(start: Kernel.espfixBase, name: "ESPfix Area", maxLines: 16),
         Marker(start: Kernel.efiVAEnd, name: "EFI Runtime Services"),
         Marker(start: Kernel.startKernelMap, name: "High Kernel Mapping"),
         Marker(start: Kernel.modulesVaddr, name: "Modules"),
         Marker(start: Kernel.modulesEnd, name: "End Modules"),
         Marker(start: Kernel.fixaddrStart, name: "Fixmap Area"),
         Marker(start: UInt64.max, name: "")]
    }

    /// The walk's state (Linux: struct pg_state).
    struct State {
        var level = -1
        var currentProt: UInt64 = 0, effectiveProt: UInt64 = 0
        var protLevels = [UInt64](repeating: 0, count: 5)
        var startAddress: UInt64 = 0
        var marker = 0
        var lines = 0
        var out: [String] = []
        var printing = true
        var shortcut = true
        var wxPages: UInt64 = 0
        var markers: [Marker]
    }

    static let flagsMask = ~PTE.pfnMask

    /// Linux: printk_prot().
    static func prot(_ pr: UInt64, level: Int) -> String {
        let names = ["pgd", "p4d", "pud", "pmd", "pte"]
        var s = ""
        if pr & PTE.present == 0 {
            s = String(repeating: " ", count: 30)
        } else {
            s += pr & PTE.user != 0 ? "USR " : "    "
            s += pr & PTE.rw != 0 ? "RW " : "ro "
            s += pr & PTE.pwt != 0 ? "PWT " : "    "
            s += pr & PTE.pcd != 0 ? "PCD " : "    "
            s += level <= 3 && pr & PTE.pse != 0 ? "PSE " : "    "
            let pat = (level == 4 && pr & PTE.pse != 0) || ((level == 3 || level == 2) && pr & PTE.patLarge != 0)
            s += pat ? "PAT " : "    "
            s += pr & PTE.global != 0 ? "GLB " : "    "
            s += pr & PTE.nx != 0 ? "NX " : "x  "
        }
        return s + names[level]
    }

    /// Linux: effective_prot().
    static func effective(_ st: inout State, _ level: Int, _ val: UInt64) {
        let prot = val & flagsMask
        if level > 0 {
            let higher = st.protLevels[level - 1]
            st.protLevels[level] = (higher & prot & (PTE.user | PTE.rw)) | ((higher | prot) & PTE.nx)
        } else {
            st.protLevels[level] = prot
        }
    }

    /// Linux: note_page().
    static func note(_ st: inout State, _ addr: UInt64, _ level: Int, _ val: UInt64) {
        let newProt = val & flagsMask
        let newEff = val == 0 || level < 0 ? 0 : st.protLevels[level]
        if st.level == -1 {
            st.currentProt = newProt; st.effectiveProt = newEff; st.level = level
            st.marker = 0; st.lines = 0
            if st.printing { st.out.append("---[ \(st.markers[0].name) ]---") }
            return
        }
        let next = st.markers[st.marker + 1].start
        guard newProt != st.currentProt || newEff != st.effectiveProt || level != st.level || addr >= next else { return }
        if st.effectiveProt & PTE.rw != 0 && st.effectiveProt & PTE.nx == 0 {
            st.wxPages &+= (addr &- st.startAddress) / pageSize
        }
        let m = st.markers[st.marker]
        if st.printing && (m.maxLines == 0 || st.lines < m.maxLines) {
            var delta = addr &- st.startAddress
            let units = Array("BKMGTPE")
            var u = 0
            while delta & 1023 == 0 && u < units.count - 1 { delta >>= 10; u += 1 }
            st.out.append("0x\(hex16(st.startAddress))-0x\(hex16(addr))   \(padLeft(String(delta), 9))\(units[u]) "
                          + prot(st.currentProt, level: st.level))
        }
        st.lines += 1
        if addr >= next {
            if st.printing && m.maxLines > 0 && st.lines > m.maxLines {
                let skipped = st.lines - m.maxLines
                st.out.append("... \(skipped) entr\(skipped == 1 ? "y" : "ies") skipped ... ")
            }
            st.marker += 1
            st.lines = 0
            if st.printing { st.out.append("---[ \(st.markers[st.marker].name) ]---") }
        }
        st.startAddress = addr
        st.currentProt = newProt; st.effectiveProt = newEff; st.level = level
    }

    public static func hex16(_ v: UInt64) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: 16 - h.count) + h
    }

    /// The depth a level reports at (Linux: the level index of note_page()).
    static func depth(_ l: PageTableLevel) -> Int { l.rawValue }

    /// Notes a run of equal entries [addr, end), `step` bytes each, at one level: one
    /// note_page() at its start, and one wherever the kernel's per-entry calls would cross a
    /// marker (at the marker's entry, or at the next entry for a marker already reached).
    static func noteRun(_ st: inout State, _ addr: UInt64, _ end: UInt64, _ step: UInt64, _ level: Int, _ val: UInt64) {
        note(&st, addr, level, val)
        var at = addr
        while st.marker + 1 < st.markers.count {
            let m = st.markers[st.marker + 1].start
            let hit = m > at ? roundUp(m, step) : at &+ step
            guard hit > at && hit &- 1 < end &- 1 else { break }
            note(&st, hit, level, val)
            at = hit
        }
    }

    /// Walks [start, end) of the table at `table`, one level (Linux: walk_pgd_range() and
    /// below, with ptdump's callbacks).
    static func walk(_ k: Kernel, _ st: inout State, table: PhysAddr, levelIndex: Int, start: UInt64, end: UInt64) {
        let levels = k.pageTableLevels
        let l = levels[levelIndex]
        let shift = k.levelShift(l)
        let size = UInt64(1) << shift
        let d = depth(l)
        if st.shortcut && l != .pgd && l != .p4d, let p = k.physMem.linearPattern(table >> pageShift), l.mapsPage(p.first) {
            // Evenly spaced leaves, zero around them.
            let base = start & ~((size << 9) &- 1)
            let runStart = base &+ UInt64(p.from) << shift, runEnd = base &+ UInt64(p.to) << shift
            let lo = Swift.max(start, runStart), hi = Swift.min(end, runEnd)
            if lo >= hi {
                holeRun(&st, start, end, l, size)
            } else {
                if start < lo { holeRun(&st, start, lo, l, size) }
                effective(&st, d, p.first)
                noteRun(&st, lo, hi, size, d, p.first)
                if hi < end { holeRun(&st, hi, end, l, size) }
            }
            return
        }
        var addr = start
        while true {
            let next = (addr & ~(size &- 1)) &+ size
            let stop = next &- 1 >= end &- 1 ? end : next
            let v = k.physMem.readWord(table + ((addr >> shift) & 511) * 8)
            switch l {
            case .pte:
                effective(&st, 4, v)
                note(&st, addr, 4, v)
            case .pgd, .p4d:
                if v == 0 {
                    // A hole reports at the depth it is found: 0 under folding.
                    note(&st, addr, k.la57 ? d : 0, 0)
                } else {
                    effective(&st, d, v)
                    if !k.la57 { effective(&st, 1, v) }   // the folded P4D sees the same entry
                    if v & PTE.present != 0 {
                        walk(k, &st, table: v & PTE.pfnMask, levelIndex: levelIndex + 1, start: addr, end: stop)
                    }
                }
            case .pud, .pmd:
                if v == 0 {
                    note(&st, addr, d, 0)
                } else {
                    effective(&st, d, v)
                    if l.mapsPage(v) {
                        note(&st, addr, d, v)
                    } else if v & PTE.present != 0 {
                        walk(k, &st, table: v & PTE.pfnMask, levelIndex: levelIndex + 1, start: addr, end: stop)
                    }
                }
            }
            if stop == end { break }
            addr = next
        }
    }

    /// Empty entries over [start, end) of one table.
    static func holeRun(_ st: inout State, _ start: UInt64, _ end: UInt64, _ l: PageTableLevel, _ size: UInt64) {
        if l == .pte { effective(&st, 4, 0) }
        noteRun(&st, start, end, size, depth(l), 0)
    }

    /// The dump's lines, and the W+X pages ptdump_walk_pgd_level_checkwx() counts.
    public static func dump(_ k: Kernel, lines: Bool = true, linearShortcut: Bool = true) -> (lines: [String], wxPages: UInt64) {
        var st = State(markers: markers(k))
        st.printing = lines
        st.shortcut = linearShortcut
        let userEnd: UInt64 = k.la57 ? 1 << 56 : 1 << 47
        // Linux: ptdump skips the guard hole (GUARD_HOLE_END_ADDR: 16 top-level entries past the
        // kernel half's start).
        let guardHoleEnd: UInt64 = (k.la57 ? 0xff00_0000_0000_0000 : 0xffff_8000_0000_0000) &+ (16 << k.pgdShift)
        walk(k, &st, table: k.pgtRoots.initTopPgt, levelIndex: 0, start: 0, end: userEnd)
        walk(k, &st, table: k.pgtRoots.initTopPgt, levelIndex: 0, start: guardHoleEnd, end: UInt64.max)
        note(&st, 0, -1, 0)
        return (st.out, st.wxPages)
    }
}

extension Kernel {
    /// Linux: debug_checkwx() → ptdump_walk_pgd_level_checkwx(): after mark_rodata_ro(), no
    /// kernel page may be both writable and executable.
    mutating func debugCheckWX() {
        let wx = PageTableDump.dump(self, lines: false).wxPages
        if wx == 0 {
            log.info("x86/mm: Checked W+X mappings: passed, no W+X pages found.")
        } else {
            log.info("x86/mm: Checked W+X mappings: FAILED, \(wx) W+X pages found.")
        }
    }
}
