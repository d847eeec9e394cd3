// The fault handler and its inverse: mapping a page at a touched address, and freeing the pages
// and page tables of what was unmapped.
//
// Linux: mm/memory.c (handle_mm_fault, __handle_mm_fault, do_anonymous_page, do_wp_page,
//        wp_page_copy, __pud_alloc, __pmd_alloc, __pte_alloc, unmap_vmas, zap_pte_range,
//        free_pgtables, free_pgd_range), mm/huge_memory.c (do_huge_pmd_anonymous_page,
//        vma_thp_gfp_mask, mm_get_huge_zero_page, __split_huge_pmd, zap_huge_pmd),
//        include/linux/huge_mm.h (transhuge_vma_suitable), mm/mmap.c (exit_mmap),
//        arch/x86/mm/pgtable.c (pgd_alloc, pgd_free).

/// The kernel-wide side of user faults: THP policy, the huge zero page, the counters.
public struct FaultContext: Sendable {
    public var stat = UserVMStat()
    /// Debian 12: CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS=y; defrag "madvise".
    public var thpEnabled: THPEnabled = .always
    public var thpDefrag: THPDefrag = .madvise
    /// /sys/kernel/mm/transparent_hugepage/use_zero_page (1).
    public var useHugeZeroPage = true
    public var hugeZeroPfn: Pfn? = nil
    /// The pfn of empty_zero_page (in the kernel image's bss).
    public var zeroPfn = Pfn(0)
    /// The CPU the faulting task runs on.
    public var cpu = 0
    /// Anonymous pages mapped more than once (after fork): pfn → the mappings beyond the
    /// first. A page not here has one mapping, so a write may reuse it.
    public var sharedPages: [Pfn: UInt32] = [:]
    /// Transparent huge pages by head pfn: how many PMDs and PTEs map them.
    public var folios: [Pfn: Folio] = [:]
    /// Files and their cached pages.
    public var pageCache = PageCache()
    public init() {}
}

/// A THP's mappings: whole (by a PMD) and by subpage (PTEs, after a split).
public struct Folio: Sendable, Hashable {
    public var pmd: UInt32
    public var pte: UInt32
}

extension GFPFlags {
    /// Linux: GFP_PGTABLE_USER (GFP_KERNEL | __GFP_ZERO | __GFP_ACCOUNT).
    public static var gfpPgtableUser: GFPFlags { [.reclaim, .io, .fs, .zero, .account] }
}

extension TaskMemory {
    /// handle_mm_fault() for a user access at `addr`: the page-table walk (allocating tables),
    /// THP for a suitable anonymous range, else the zero page for a read and a new page for a
    /// write (or a copy of the zero page it had).
    public mutating func handleFault<L: FaultListener>(_ addr: UInt64, write: Bool, _ c: inout FaultContext,
                                                       _ k: inout Kernel, _ l: inout L) -> FaultOutcome {
        guard let v = mm.vma(containing: addr) else { return .segv(mapErr: true) }
        if write ? !v.flags.contains(.write) : !v.flags.contains(.read) { return .segv(mapErr: false) }
        let huge = addr >> 21
        let hasHuge = !tables.pmds.isEmpty
        // The PTE as it stands, looked up once (nil with `pteKnown` false under a huge mapping,
        // whose split below rewrites the PTEs).
        var pte: UserPTE? = nil
        var pteKnown = false
        if hasHuge, let h = tables.pmds[huge] {
            if !write || h.writable { return .present }
        } else {
            pte = tables.ptes[addr >> 12]
            pteKnown = true
            if let e = pte, !write || e.writable { return .present }
        }
        l.fault(.fault(addr: addr, write: write))
        c.stat.pgfault += 1
        if tables.pgd == nil {
            guard let pfn = k.allocPages(.gfpPgtableUser, order: 0, cpu: c.cpu, listener: &l) else { return .oom }
            tables.pgd = pfn
            l.fault(.tablePage(level: 4, pfn: pfn))
        }
        if case .file(let fi) = v.backing {
            guard let f = fileOf[fi] else { return .notModelled }
            guard Self.upperTables(addr, &tables, &c, &k, &l) else { return .oom }
            return fileFault(addr, write: write, v, f, &c, &k, &l)
        }
        if hasHuge, let h = tables.pmds[huge], !h.zeroPage {
            // do_huge_pmd_wp_page(): the only mapping of the THP is made writable; a shared
            // one is split, and the PTE below copies the one page written.
            if let f = c.folios[h.pfn], f.pmd == 1, f.pte == 0 {
                tables.pmds[huge]!.writable = true
                return .reused(pfn: h.pfn)
            }
            splitHuge(huge, &c)
            pteKnown = false
        }
        if !pteKnown { pte = tables.ptes[addr >> 12] }
        if let e = pte, !e.zeroPage {
            return copyOnWrite(addr, e, &c, &k, &l)
        }
        // The tables of this span were all there last time: straight to the page (a PTE here
        // can only be the zero page's).
        if huge == tables.chain {
            return anonymousFault(addr, write: write, v.anonVMA == 0, wasZero: pte != nil, &c, &k, &l)
        }
        guard Self.upperTables(addr, &tables, &c, &k, &l) else { return .oom }
        if let h = tables.pmds[huge], h.zeroPage {
            // do_huge_pmd_wp_page() on the huge zero page: split it into zero-page PTEs.
            splitHugeZero(huge, &c, &l)
        } else if tables.pteTables[huge] == nil, thpAllowed(v, c), huge << 21 >= v.start, (huge + 1) << 21 <= v.end {
            prepareAnonVMA(addr)
            if let out = hugeAnonymousFault(huge, write: write, &c, &k, &l) { return out }
        }
        guard Self.tableFor(huge, level: 1, &tables.pteTables, &c, &k, &l) else { return .oom }
        tables.chain = huge
        return anonymousFault(addr, write: write, true, &c, &k, &l)
    }

    /// pud_alloc() then pmd_alloc() for `addr`: the PUD and PMD tables above its PTE table.
    static func upperTables<L: FaultListener>(_ addr: UInt64, _ t: inout UserPageTables, _ c: inout FaultContext,
                                              _ k: inout Kernel, _ l: inout L) -> Bool {
        tableFor(addr >> 39, level: 3, &t.pudTables, &c, &k, &l) && tableFor(addr >> 30, level: 2, &t.pmdTables, &c, &k, &l)
    }

    /// __pud_alloc/__pmd_alloc/__pte_alloc: a zeroed, accounted page for a table not yet there.
    static func tableFor<L: FaultListener>(_ key: UInt64, level: Int, _ table: inout [UInt64: Pfn], _ c: inout FaultContext,
                                             _ k: inout Kernel, _ l: inout L) -> Bool {
        if table[key] != nil { return true }
        guard let pfn = k.allocPages(.gfpPgtableUser, order: 0, cpu: c.cpu, listener: &l) else { return false }
        table[key] = pfn
        c.stat.nrPageTablePages += 1
        l.fault(.tablePage(level: level, pfn: pfn))
        return true
    }

    /// hugepage_vma_check() for an anonymous private area in a fault.
    func thpAllowed(_ v: VMA, _ c: FaultContext) -> Bool {
        guard v.isAnonymous, !v.flags.contains(.shared), !v.flags.contains(.noHugePage) else { return false }
        switch c.thpEnabled {
        case .always: return true
        case .madvise: return v.flags.contains(.hugePage)
        case .never: return false
        }
    }

    /// do_huge_pmd_anonymous_page(): nil when it falls back to base pages.
    mutating func hugeAnonymousFault<L: FaultListener>(_ huge: UInt64, write: Bool, _ c: inout FaultContext,
                                                       _ k: inout Kernel, _ l: inout L) -> FaultOutcome? {
        if !write, c.useHugeZeroPage {
            guard let table = k.allocPages(.gfpPgtableUser, order: 0, cpu: c.cpu, listener: &l) else { return .oom }
            if c.hugeZeroPfn == nil {
                var gfp = GFPFlags.gfpTranshuge
                gfp.insert(.zero)
                gfp.remove(.movable)
                if let z = k.allocPages(gfp, order: 9, cpu: c.cpu, listener: &l) {
                    c.hugeZeroPfn = z
                    c.stat.thpZeroPageAlloc += 1
                }
            }
            guard let z = c.hugeZeroPfn else {
                k.freePages(table, order: 0, cpu: c.cpu)
                return nil
            }
            tables.deposited[huge] = table
            c.stat.nrPageTablePages += 1
            tables.pmds[huge] = UserPTE(pfn: z, writable: false, zeroPage: true)
            return .hugeZeroPage(pfn: z)
        }
        var gfp: GFPFlags = .gfpTranshugeLight
        let madvised = mm.vma(containing: huge << 21)?.flags.contains(.hugePage) ?? false
        switch c.thpDefrag {
        case .always: gfp = GFPFlags.gfpTranshuge.union(madvised ? [] : .noretry)
        case .defer_: gfp.insert(.kswapdReclaim)
        case .deferMadvise: gfp.insert(madvised ? .directReclaim : .kswapdReclaim)
        case .madvise: if madvised { gfp.insert(.directReclaim) }
        case .never: break
        }
        guard let pfn = k.allocPages(gfp, order: 9, cpu: c.cpu, listener: &l) else {
            c.stat.thpFaultFallback += 1
            l.fault(.thpFallback(addr: huge << 21))
            return nil
        }
        guard let table = k.allocPages(.gfpPgtableUser, order: 0, cpu: c.cpu, listener: &l) else {
            k.freePages(pfn, order: 9, cpu: c.cpu)
            return .oom
        }
        tables.deposited[huge] = table
        c.stat.nrPageTablePages += 1
        tables.pmds[huge] = UserPTE(pfn: pfn, writable: true, zeroPage: false)
        c.folios[pfn] = Folio(pmd: 1, pte: 0)
        c.pageCache.addAnon(pfn, nr: 512, &k.memmap)
        rssAnon += 512
        c.stat.nrAnonPages += 512
        c.stat.nrAnonTransparentHugepages += 512
        c.stat.thpFaultAlloc += 1
        return .huge(pfn: pfn)
    }

    /// __split_huge_pmd() of the huge zero page: its deposited table becomes the PTE table,
    /// every entry the (small) zero page.
    mutating func splitHugeZero<L: FaultListener>(_ huge: UInt64, _ c: inout FaultContext, _ l: inout L) {
        tables.pmds[huge] = nil
        if let t = tables.deposited.removeValue(forKey: huge) { tables.pteTables[huge] = t }
        for i in 0..<UInt64(512) {
            tables.ptes[(huge << 9) + i] = UserPTE(pfn: c.zeroPfn, writable: false, zeroPage: true)
        }
        c.stat.thpSplitPmd += 1
        l.fault(.splitHugeZero(addr: huge << 21))
    }

    /// do_wp_page() on a page fork left shared: reused when no other mapping is left, else
    /// copied to a new page (GFP_HIGHUSER_MOVABLE, no zeroing: it is overwritten).
    mutating func copyOnWrite<L: FaultListener>(_ addr: UInt64, _ e: UserPTE, _ c: inout FaultContext,
                                                _ k: inout Kernel, _ l: inout L) -> FaultOutcome {
        let vpn = addr >> 12
        let head = e.pfn.alignedDown(.hpagePMD)
        let inFolio = c.folios[head] != nil
        if !inFolio, c.sharedPages[e.pfn] == nil {
            tables.ptes[vpn]!.writable = true
            return .reused(pfn: e.pfn)
        }
        guard let pfn = k.allocPages(.gfpHighuserMovable, order: 0, cpu: c.cpu, listener: &l) else { return .oom }
        tables.ptes[vpn] = UserPTE(pfn: pfn, writable: true, zeroPage: false)
        c.stat.nrAnonPages += 1
        c.pageCache.addAnon(pfn, nr: 1, &k.memmap)
        Self.dropPage(e.pfn, &c, &k)
        return .copyOnWrite(pfn: pfn)
    }

    /// One mapping of an anonymous page goes: a shared page loses a mapper, a THP subpage
    /// counts down its folio (freed with the last), any other page goes back to the allocator.
    static func dropPage(_ pfn: Pfn, _ c: inout FaultContext, _ k: inout Kernel) {
        let head = pfn.alignedDown(.hpagePMD)
        if var f = c.folios[head] {
            f.pte -= 1
            if f.pmd == 0, f.pte == 0 {
                c.folios[head] = nil
                c.pageCache.removeAnon(head, &k.memmap)
                k.freePages(head, order: 9, cpu: c.cpu)
                c.stat.nrAnonPages -= 512
            } else {
                c.folios[head] = f
            }
        } else if let n = c.sharedPages[pfn] {
            c.sharedPages[pfn] = n == 1 ? nil : n - 1
        } else {
            c.pageCache.removeAnon(pfn, &k.memmap)
            k.freePages(pfn, order: 0, cpu: c.cpu)
            c.stat.nrAnonPages -= 1
        }
    }

    /// do_anonymous_page() and, over a zero-page entry, wp_page_copy().
    /// `wasZero`: whether the zero page is mapped there, when the caller knows (nil: look).
    mutating func anonymousFault<L: FaultListener>(_ addr: UInt64, write: Bool, _ needsAnonVMA: Bool, wasZero known: Bool? = nil,
                                                   _ c: inout FaultContext, _ k: inout Kernel, _ l: inout L) -> FaultOutcome {
        let vpn = addr >> 12
        if !write {
            tables.ptes[vpn] = UserPTE(pfn: c.zeroPfn, writable: false, zeroPage: true)
            return .zeroPage
        }
        let wasZero = known ?? (tables.ptes[vpn]?.zeroPage ?? false)
        if needsAnonVMA { prepareAnonVMA(addr) }
        var gfp = GFPFlags.gfpHighuserMovable
        gfp.insert(.zero)
        guard let pfn = k.allocPages(gfp, order: 0, cpu: c.cpu, listener: &l) else { return .oom }
        tables.ptes[vpn] = UserPTE(pfn: pfn, writable: true, zeroPage: false)
        rssAnon += 1
        c.stat.nrAnonPages += 1
        c.pageCache.addAnon(pfn, nr: 1, &k.memmap)
        return wasZero ? .copyOnWrite(pfn: pfn) : .anonymous(pfn: pfn)
    }
}
