// fork(): a copy of the address space whose anonymous pages are shared, write-protected, until
// one side writes.
//
// Linux: kernel/fork.c (dup_mm, dup_mmap), mm/memory.c (copy_page_range, vma_needs_copy,
//        copy_pte_range, copy_present_pte: private writable pages write-protected in both),
//        mm/huge_memory.c (copy_huge_pmd: the THP shared, a page table deposited for the
//        child), mm/rmap.c (anon_vma_prepare, find_mergeable_anon_vma).

extension TaskMemory {
    /// anon_vma_prepare() for the area holding `addr`: the anon_vma of a neighbour it could
    /// merge with (find_mergeable_anon_vma()), else a new one.
    mutating func prepareAnonVMA(_ addr: UInt64) {
        let i = mm.findIndex(addr)
        guard i < mm.vmas.count, mm.vmas[i].anonVMA == 0 else { return }
        var id: UInt32 = 0
        var probe = mm.vmas[i]
        if i > 0, mm.vmas[i - 1].anonVMA != 0 {
            probe.anonVMA = mm.vmas[i - 1].anonVMA
            if VMA.mergeable(mm.vmas[i - 1], probe) { id = probe.anonVMA }
        }
        if id == 0, i + 1 < mm.vmas.count, mm.vmas[i + 1].anonVMA != 0 {
            probe.anonVMA = mm.vmas[i + 1].anonVMA
            if VMA.mergeable(probe, mm.vmas[i + 1]) { id = probe.anonVMA }
        }
        if id == 0 { id = mm.newAnonVMA() }
        mm.update(i) { $0.anonVMA = id }
    }

    /// dup_mmap(): the child's areas are the parent's; copy_page_range() copies the entries of
    /// every area with an anon_vma, in address order, allocating the child's tables as it goes.
    /// Both sides' writable entries become read-only: the first write copies (or reuses).
    public mutating func fork(_ c: inout FaultContext, _ k: inout Kernel) -> TaskMemory? {
        settle(&c, &k)
        var child = TaskMemory(mm: mm)
        child.recording = recording
        child.fileOf = fileOf
        var l = NoListener()
        guard let pgd = k.allocPages(.gfpPgtableUser, order: 0, cpu: c.cpu, listener: &l) else { return nil }
        child.tables.pgd = pgd
        for v in mm.vmas where v.anonVMA != 0 {
            let hs = tables.pmds.keys.filter { $0 << 21 >= v.start && $0 << 21 < v.end }
            let ps = tables.ptes.keys.filter { $0 << 12 >= v.start && $0 << 12 < v.end }
            // Entries in address order: a 2 MiB mapping sorts at its first page.
            let order = (hs.map { ($0 << 9, true) } + ps.map { ($0, false) }).sorted { $0.0 < $1.0 }
            for (vpn, isHuge) in order {
                let addr = vpn << 12
                guard Self.upperTables(addr, &child.tables, &c, &k, &l) else { return nil }
                if isHuge {
                    guard let table = k.allocPages(.gfpPgtableUser, order: 0, cpu: c.cpu, listener: &l) else { return nil }
                    let h = addr >> 21
                    var e = tables.pmds[h]!
                    child.tables.deposited[h] = table
                    c.stat.nrPageTablePages += 1
                    if !e.zeroPage {
                        e.writable = false
                        tables.pmds[h] = e
                        c.folios[e.pfn, default: Folio(pmd: 0, pte: 0)].pmd += 1
                        child.rssAnon += 512
                    }
                    child.tables.pmds[h] = e
                } else {
                    guard Self.tableFor(addr >> 21, level: 1, &child.tables.pteTables, &c, &k, &l) else { return nil }
                    var e = tables.ptes[vpn]!
                    if e.file >= 0 {
                        c.pageCache.mapped(Int(e.file), e.index)
                        child.countMapped(Int(e.file), 1, c)
                    } else if !e.zeroPage {
                        e.writable = false
                        tables.ptes[vpn] = e
                        if c.folios[e.pfn.alignedDown(.hpagePMD)] != nil {
                            c.folios[e.pfn.alignedDown(.hpagePMD)]!.pte += 1
                        } else {
                            c.sharedPages[e.pfn, default: 0] += 1
                        }
                        child.rssAnon += 1
                    }
                    child.tables.ptes[vpn] = e
                }
            }
        }
        return child
    }
}

/// The anonymous part of /proc/PID/smaps_rollup, in bytes (fs/proc/task_mmu.c:
/// smaps_account(): a page mapped n times counts 1/n to Pss and as shared).
public struct SmapsRollup: Sendable, Equatable {
    public var rss: UInt64 = 0
    public var pss: UInt64 = 0
    public var sharedDirty: UInt64 = 0
    public var privateDirty: UInt64 = 0
    public var anonymous: UInt64 = 0
    public var anonHugePages: UInt64 = 0
}

extension TaskMemory {
    /// smaps_rollup of the process's anonymous memory: every mapped page, how many map it.
    public func smapsRollup(_ c: FaultContext) -> SmapsRollup {
        var r = SmapsRollup()
        func account(_ bytes: UInt64, _ mapcount: UInt64) {
            r.rss += bytes
            r.anonymous += bytes
            r.pss += bytes / max(mapcount, 1)
            if mapcount >= 2 { r.sharedDirty += bytes } else { r.privateDirty += bytes }
        }
        for (_, e) in tables.pmds where !e.zeroPage {
            let f = c.folios[e.pfn] ?? Folio(pmd: 1, pte: 0)
            account(2 << 20, UInt64(f.pmd) + (f.pte > 0 ? 1 : 0))
            r.anonHugePages += 2 << 20
        }
        tables.ptes.forEach { _, e in
            guard !e.zeroPage else { return }
            if let f = c.folios[e.pfn.alignedDown(.hpagePMD)] {
                account(4096, UInt64(f.pmd) + 1)
            } else {
                account(4096, UInt64(c.sharedPages[e.pfn] ?? 0) + 1)
            }
        }
        return r
    }
}
