// `kmemlab translate`: one virtual address walked through the kernel page tables, level by
// level, with each entry's flags by their Linux names.
//
// Linux: the x86 MMU's walk; arch/x86/include/asm/pgtable_types.h (the _PAGE_* names).

import MMCore

public enum PageTableText {
    /// `kmemlab translate`: one address, walked.
    public static func translate(_ k: Kernel, _ va: UInt64) -> [String] {
        var out = ["\(ptr(va)): \(region(k, va))"]
        let w = k.pageWalk(va)
        for s in w.steps {
            let entryAddr = s.table + UInt64(s.index) * 8
            var line = "  \(s.level.name)[\(padLeft(String(s.index), 3))] at \(pa(entryAddr)) = \(hex16Prefixed(s.entry))  \(flagNames(s.entry, s.level))"
            if let page = s.leafPage {
                line += "  → \(sizeName(page.size)) page at \(pa(page.base))"
            } else if s.entry & PTE.present != 0 {
                line += "  → table at \(pa(s.entry & PTE.pfnMask))"
            }
            out.append(line)
        }
        switch w.end {
        case .mapped(let phys, let size):
            out.append("= physical \(pa(phys)) (pfn \(hex(phys >> pageShift)), in a \(sizeName(size)) page)")
            if va >= k.pageOffset && va &- k.pageOffset < (k.maxPfn.raw << pageShift) {
                out.append("  __pa(\(ptr(va))) = \(ptr(va)) − page_offset_base \(ptr(k.pageOffset)) = \(pa(va &- k.pageOffset))")
            }
        case .notPresent(let level):
            out.append("= not mapped: the \(level.name) entry is not present (an access would page-fault)")
        case .nonCanonical:
            let bits = k.la57 ? 57 : 48
            out.append("= non-canonical: bits 63…\(bits - 1) are not all equal (an access raises #GP before any walk)")
        }
        return out
    }

    static func hex16Prefixed(_ v: UInt64) -> String { "0x" + PageTableDump.hex16(v) }

    static func sizeName(_ size: UInt64) -> String {
        size >= 1 << 30 ? "\(size >> 30) GiB" : size >= 1 << 20 ? "\(size >> 20) MiB" : "\(size >> 10) KiB"
    }

    /// The set bits of an entry, by their Linux names.
    public static func flagNames(_ v: UInt64, _ level: PageTableLevel) -> String {
        if v == 0 { return "(none)" }
        var n: [String] = []
        let bits: [(UInt64, String)] = [(PTE.present, "PRESENT"), (PTE.rw, "RW"), (PTE.user, "USER"), (PTE.pwt, "PWT"),
                                        (PTE.pcd, "PCD"), (PTE.accessed, "ACCESSED"), (PTE.dirty, "DIRTY"),
                                        (PTE.pse, level == .pte ? "PAT" : "PSE"), (PTE.global, "GLOBAL"), (PTE.nx, "NX")]
        for (b, name) in bits where v & b != 0 { n.append(name) }
        if (level == .pud || level == .pmd) && v & PTE.pse != 0 && v & PTE.patLarge != 0 { n.append("PAT_LARGE") }
        return n.joined(separator: "|")
    }

    /// Which part of the layout an address is in.
    public static func region(_ k: Kernel, _ va: UInt64) -> String {
        let m = PageTableDump.markers(k)
        var name = "User Space"
        for i in 0..<(m.count - 1) where va >= m[i].start { name = m[i].name }
        let canonicalBits: UInt64 = k.la57 ? 56 : 47
        if va >> canonicalBits != 0 && va >> canonicalBits != UInt64.max >> canonicalBits { return "non-canonical hole" }
        if va >= 1 << 63 && va < k.ldtBase { name = "guard hole" }
        return name
    }
}
