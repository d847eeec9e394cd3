// Taking pages away: what munmap, brk, madvise(MADV_DONTNEED), mremap and exit do to the
// pages and page tables behind the areas.
//
// Linux: mm/memory.c (unmap_vmas, zap_pmd_range, zap_pte_range, free_pgtables,
//        free_pgd_range, move_page_tables in mm/mremap.c), mm/huge_memory.c (zap_huge_pmd,
//        __split_huge_pmd, move_huge_pmd), mm/mmap.c (exit_mmap), mm/swap.c (release_pages:
//        the order pages go back to the allocator), arch/x86/mm/pgtable.c (pgd_free).
//
// Pages go back in address order, as zap_pte_range() gathers them; a table goes once no area
// is left in the span it maps (free_pgtables() between the neighbouring areas).

extension TaskMemory {
    /// Frees what the system calls since the last call unmapped, dropped or moved.
    public mutating func settle(_ c: inout FaultContext, _ k: inout Kernel) {
        for (from, to, len) in moved { movePages(from, to, len, &c, &k) }
        moved.removeAll()
        for (s, e) in dontneed { zap(s, e, &c, &k) }
        dontneed.removeAll()
        guard !unmapped.isEmpty else { return }
        let gone = unmapped
        unmapped.removeAll()
        for v in gone { zap(v.start, v.end, &c, &k) }
        for v in gone { freeTables(v.start, v.end, &c, &k) }
    }

    /// exit_mmap(): every page and table, and the PGD.
    public mutating func exitMmap(_ c: inout FaultContext, _ k: inout Kernel) {
        settle(&c, &k)
        for v in mm.vmas { zap(v.start, v.end, &c, &k) }
        freeTables(0, MMStruct.taskSize, &c, &k, everything: true)
        if let pgd = tables.pgd { k.freePages(pgd, order: 0, cpu: c.cpu) }
        tables.pgd = nil
    }

    /// zap_page_range(): the pages mapped in [start, end) go back; a 2 MiB mapping the range
    /// only partly covers is split first.
    mutating func zap(_ start: UInt64, _ end: UInt64, _ c: inout FaultContext, _ k: inout Kernel) {
        guard start < end else { return }
        var h = start >> 21
        while h <= (end - 1) >> 21 {
            if let e = tables.pmds[h] {
                if start <= h << 21, (h + 1) << 21 <= end {
                    tables.pmds[h] = nil
                    if !e.zeroPage {
                        rssAnon -= 512
                        var f = c.folios[e.pfn] ?? Folio(pmd: 1, pte: 0)
                        f.pmd -= 1
                        if f.pmd == 0 { c.stat.nrAnonTransparentHugepages -= 512 }
                        if f.pmd == 0, f.pte == 0 {
                            c.folios[e.pfn] = nil
                            c.pageCache.removeAnon(e.pfn, &k.memmap)
                            k.freePages(e.pfn, order: 9, cpu: c.cpu)
                            c.stat.nrAnonPages -= 512
                        } else {
                            c.folios[e.pfn] = f
                        }
                    }
                    if let t = tables.deposited.removeValue(forKey: h) {
                        k.freePages(t, order: 0, cpu: c.cpu)
                        c.stat.nrPageTablePages -= 1
                    }
                } else {
                    splitHuge(h, &c)
                }
            }
            h += 1
        }
        if tables.ptes.isEmpty { return }
        var vpn = start >> 12
        let last = end >> 12
        // A sparse table: walk the range or the entries, whichever is shorter.
        if UInt64(tables.ptes.count) < last - vpn {
            let keys = tables.ptes.keys.filter { $0 >= vpn && $0 < last }.sorted()
            for key in keys { zapPTE(key, &c, &k) }
            return
        }
        while vpn < last {
            if tables.ptes[vpn] != nil { zapPTE(vpn, &c, &k) }
            vpn += 1
        }
    }

    mutating func zapPTE(_ vpn: UInt64, _ c: inout FaultContext, _ k: inout Kernel) {
        guard let e = tables.ptes.removeValue(forKey: vpn), !e.zeroPage else { return }
        if e.file >= 0 {
            countMapped(Int(e.file), -1, c)
            c.pageCache.unmapped(Int(e.file), e.index)
            return
        }
        rssAnon -= 1
        Self.dropPage(e.pfn, &c, &k)
    }

    /// __split_huge_pmd(): a 2 MiB mapping becomes 512 entries in its deposited table; the
    /// huge page itself stays until its last entry goes.
    mutating func splitHuge(_ h: UInt64, _ c: inout FaultContext) {
        guard let e = tables.pmds.removeValue(forKey: h) else { return }
        if let t = tables.deposited.removeValue(forKey: h) { tables.pteTables[h] = t }
        for i in 0..<UInt64(512) {
            tables.ptes[(h << 9) + i] = UserPTE(pfn: e.zeroPage ? c.zeroPfn : e.pfn + i, writable: e.writable, zeroPage: e.zeroPage)
        }
        if !e.zeroPage, var f = c.folios[e.pfn] {
            f.pmd -= 1
            f.pte += 512
            if f.pmd == 0 { c.stat.nrAnonTransparentHugepages -= 512 }
            c.folios[e.pfn] = f
        }
        c.stat.thpSplitPmd += 1
    }

    /// free_pgtables(): the tables of [start, end)'s spans that no area still needs.
    mutating func freeTables(_ start: UInt64, _ end: UInt64, _ c: inout FaultContext, _ k: inout Kernel, everything: Bool = false) {
        tables.chain = UInt64.max
        func drop(_ table: inout [UInt64: Pfn], shift: UInt64, _ c: inout FaultContext, _ k: inout Kernel, _ mm: MMStruct) {
            let lo = start >> shift, hi = (end - 1) >> shift
            let keys = table.keys.filter { $0 >= lo && $0 <= hi }.sorted()
            for key in keys where everything || !mm.intersects(key << shift, (key + 1) << shift) {
                if let pfn = table.removeValue(forKey: key) {
                    k.freePages(pfn, order: 0, cpu: c.cpu)
                    c.stat.nrPageTablePages -= 1
                }
            }
        }
        let m = mm
        drop(&tables.pteTables, shift: 21, &c, &k, m)
        drop(&tables.pmdTables, shift: 30, &c, &k, m)
        drop(&tables.pudTables, shift: 39, &c, &k, m)
    }

    /// move_page_tables(): the entries of [from, from + len) move to `to`; the pages stay.
    /// Whole 2 MiB mappings move when both ends are aligned; others are split first.
    mutating func movePages(_ from: UInt64, _ to: UInt64, _ len: UInt64, _ c: inout FaultContext, _ k: inout Kernel) {
        var l = NoListener()
        var off: UInt64 = 0
        while off < len {
            let h = (from + off) >> 21
            if let e = tables.pmds[h] {
                if (from + off) & 0x1f_ffff == 0, (to + off) & 0x1f_ffff == 0, len - off >= 1 << 21 {
                    _ = Self.upperTables(to + off, &tables, &c, &k, &l)
                    tables.pmds[h] = nil
                    tables.pmds[(to + off) >> 21] = e
                    if let t = tables.deposited.removeValue(forKey: h) { tables.deposited[(to + off) >> 21] = t }
                    off += 1 << 21
                    continue
                }
                splitHuge(h, &c)
            }
            let vpn = (from + off) >> 12
            if let e = tables.ptes.removeValue(forKey: vpn) {
                let dst = to + off
                _ = Self.upperTables(dst, &tables, &c, &k, &l)
                _ = Self.tableFor(dst >> 21, level: 1, &tables.pteTables, &c, &k, &l)
                tables.ptes[dst >> 12] = e
            }
            off += 4096
        }
        freeTables(from, from + len, &c, &k)
    }
}
