// The kernel's page tables: real entries in simulated physical memory, and the walk the MMU
// does through them.
//
// Linux: arch/x86/include/asm/pgtable_types.h (the _PAGE_* bits, _PAGE_TABLE, __PAGE_KERNEL*),
//        pgtable_64_types.h (PGDIR/P4D/PUD/PMD shifts), arch/x86/kernel/head_64.S (init_top_pgt,
//        level4/3/2_kernel_pgt, level2/1_fixmap_pgt), head64.c (__startup_64,
//        x86_64_start_kernel), arch/x86/mm/init_64.c (cleanup_highmap), init.c
//        (probe_page_size_mask: __default_kernel_pte_mask).
// Exact: entry formats and flags; which table pages exist and which physical page each one is;
//        the image mapping head_64.S builds and cleanup_highmap() trims.
// Simplified: the statically linked tables (init_top_pgt and the image's tables) sit at the start
//        of the image's .data after the init task's stack; the real offsets come from the
//        linker and are not in any log. The image's virtual address is the unrandomised one.
//
// Two records of the same tables are kept on purpose. The entries in simulated memory are what
// a walk reads, what `kmemlab translate` shows and what ptdump prints. The per-region bitsets
// (PageTableShadow) answer "does this slot already have a table" during boot without hashing
// into simulated memory, which matters when a 4 PiB machine's vmemmap has 32 M sections to
// populate. Boot keeps both in step; the page-walk test checks the entries against the model's
// own __pa().

/// Linux: PGDIR_SHIFT (4-level: 39, 5-level: 48), P4D_SHIFT, PUD_SHIFT, PMD_SHIFT.
public let p4dShift: UInt64 = 39
public let pudShift: UInt64 = 30
public let pmdShift: UInt64 = 21
public let pmdSize: UInt64 = 1 << pmdShift
public let pudSize: UInt64 = 1 << pudShift

/// Linux: the _PAGE_* bits of an x86-64 page-table entry.
public enum PTE {
    public static let present: UInt64 = 1 << 0
    public static let rw: UInt64 = 1 << 1
    public static let user: UInt64 = 1 << 2
    public static let pwt: UInt64 = 1 << 3
    public static let pcd: UInt64 = 1 << 4
    public static let accessed: UInt64 = 1 << 5
    public static let dirty: UInt64 = 1 << 6
    /// A large page at the PUD and PMD levels; the PAT bit in a PTE.
    public static let pse: UInt64 = 1 << 7
    public static let global: UInt64 = 1 << 8
    /// The PAT bit of a large page.
    public static let patLarge: UInt64 = 1 << 12
    public static let nx: UInt64 = 1 << 63
    /// Linux: PTE_PFN_MASK (52 physical address bits).
    public static let pfnMask: UInt64 = 0x000f_ffff_ffff_f000
    /// Linux: _PAGE_TABLE — what pgd/p4d/pud/pmd_populate() write above a table page.
    public static let table: UInt64 = present | rw | user | accessed | dirty
    /// Linux: _KERNPG_TABLE (head_64.S's level3_kernel_pgt → level2_kernel_pgt).
    public static let kernTable: UInt64 = present | rw | accessed | dirty
    /// Linux: __PAGE_KERNEL (before __default_kernel_pte_mask) and __PAGE_KERNEL_LARGE_EXEC.
    public static let kernel: UInt64 = present | rw | accessed | dirty | global | nx
    public static let kernelLargeExec: UInt64 = present | rw | accessed | dirty | pse | global
}

/// The levels of a walk, top down. With 4-level paging the P4D is folded into the PGD.
public enum PageTableLevel: Int, Sendable, CaseIterable {
    case pgd, p4d, pud, pmd, pte
    public var name: String {
        switch self {
        case .pgd: return "pgd"
        case .p4d: return "p4d"
        case .pud: return "pud"
        case .pmd: return "pmd"
        case .pte: return "pte"
        }
    }
}

/// Linux: PG_LEVEL_2M / PG_LEVEL_1G bits of a map_range's page_size_mask.
public struct PageSizeMask: OptionSet, Sendable, Equatable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let size2M = PageSizeMask(rawValue: 1 << 0)
    public static let size1G = PageSizeMask(rawValue: 1 << 1)
}

/// Which slots of one region (the direct map, the vmemmap) already have a table page below
/// them: a fast index over the entries in simulated memory (see the file comment).
public struct PageTableShadow: Sendable, Equatable {
    /// Virtual address of the region's first byte (page_offset_base, vmemmap_base).
    public let base: UInt64
    /// 5-level paging: the top level (PGD) points to P4D pages; otherwise the P4D is folded.
    public let la57: Bool
    /// Top-level (PGD) entries that point to a table.
    public var pgd = Bitset()
    /// P4D entries that point to a PUD page (5-level only).
    public var p4d = Bitset()
    /// PUD entries that point to a PMD page, and PUD entries that map 1 GiB.
    public var pudTable = Bitset()
    public var pudLarge = Bitset()
    /// PMD entries that point to a PTE page (few: only the 4 KiB-mapped edges of RAM), sorted.
    public var pmdTable: [UInt64] = []

    public init(base: UInt64, la57: Bool) { self.base = base; self.la57 = la57 }

    /// Linux: PGDIR_SHIFT.
    public var pgdShift: UInt64 { la57 ? 48 : 39 }

    /// Slot index of `offset` (bytes from the region's start) at the level of `shift`, counted
    /// from the region's first slot so that the bitsets stay small.
    @inlinable public func slot(_ offset: UInt64, _ shift: UInt64) -> UInt64 {
        ((base &+ offset) >> shift) &- (base >> shift)
    }

    /// The region offset where the slot at `shift` holding `offset` ends.
    @inlinable public func slotEnd(_ offset: UInt64, _ shift: UInt64) -> UInt64 {
        let va = base &+ offset
        return ((va >> shift) &+ 1) << shift &- base
    }

    public func hasPTETable(_ slot2M: UInt64) -> Bool { pteIndex(slot2M).found }

    func pteIndex(_ slot2M: UInt64) -> (index: Int, found: Bool) {
        var lo = 0, hi = pmdTable.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if pmdTable[mid] < slot2M { lo = mid + 1 } else { hi = mid }
        }
        return (lo, lo < pmdTable.count && pmdTable[lo] == slot2M)
    }

    mutating func insertPTETable(_ slot2M: UInt64) {
        let (i, found) = pteIndex(slot2M)
        if !found { pmdTable.insert(slot2M, at: i) }
    }
}

/// The statically linked tables of head_64.S, by physical address.
public struct KernelPageTableRoots: Sendable, Equatable {
    /// Linux: init_top_pgt (swapper_pg_dir), the kernel's top-level table.
    public var initTopPgt: PhysAddr = 0
    /// Linux: level4_kernel_pgt (5-level only), level3_kernel_pgt, level2_kernel_pgt,
    /// level2_fixmap_pgt, level1_fixmap_pgt (FIXMAP_PMD_NUM = 2 pages).
    public var level4Kernel: PhysAddr = 0
    public var level3Kernel: PhysAddr = 0
    public var level2Kernel: PhysAddr = 0
    public var level2Fixmap: PhysAddr = 0
    public var level1Fixmap: PhysAddr = 0
    public init() {}
}

extension PageTableLevel {
    /// The size an entry at this level maps (the PGD's depends on the paging mode: not a leaf).
    public var pageSize: UInt64 {
        switch self {
        case .pte: return 1 << pageShift
        case .pmd: return pmdSize
        case .pud: return pudSize
        case .p4d, .pgd: return 0
        }
    }

    /// Whether a present `entry` at this level maps memory rather than a table: every PTE, and a
    /// PUD or PMD with _PAGE_PSE (Linux: pud_large(), pmd_large()).
    public func mapsPage(_ entry: UInt64) -> Bool {
        self == .pte || ((self == .pud || self == .pmd) && entry & PTE.pse != 0)
    }
}

/// One step of a page walk: the table read, the index in it and the entry found.
public struct PageWalkStep: Sendable, Equatable {
    public var level: PageTableLevel
    public var table: PhysAddr
    public var index: Int
    public var entry: UInt64

    /// The page a present leaf entry maps: its base and size (a large entry's bit 12 is its PAT
    /// bit, not address). nil for a table pointer or a non-present entry.
    public var leafPage: (base: PhysAddr, size: UInt64)? {
        guard entry & PTE.present != 0, level.mapsPage(entry) else { return nil }
        return (entry & PTE.pfnMask & ~(level.pageSize - 1), level.pageSize)
    }
}

/// Where a walk ended.
public enum PageWalkEnd: Sendable, Equatable {
    /// A present leaf: the physical address and the size of the page that maps it.
    case mapped(phys: PhysAddr, pageSize: UInt64)
    /// An entry at this level is not present.
    case notPresent(PageTableLevel)
    /// The address is outside the canonical halves (the MMU faults before any walk).
    case nonCanonical
}

public struct PageWalk: Sendable, Equatable {
    public var va: UInt64
    public var steps: [PageWalkStep]
    public var end: PageWalkEnd
}

extension Kernel {
    /// Linux: __START_KERNEL_map, KERNEL_IMAGE_SIZE (1 GiB with RANDOMIZE_BASE),
    /// LOAD_PHYSICAL_ADDR (CONFIG_PHYSICAL_START).
    public static let startKernelMap: UInt64 = 0xffff_ffff_8000_0000
    public static let kernelImageSize: UInt64 = 1 << 30
    public static let loadPhysicalAddr: UInt64 = 0x100_0000

    /// Linux: LDT_BASE_ADDR (LDT_PGD_ENTRY = −240 top-level entries), ESPFIX_BASE_ADDR,
    /// EFI_VA_END, MODULES_VADDR, MODULES_END.
    public var ldtBase: UInt64 { (0 &- 240) << pgdShift }
    public static let espfixBase: UInt64 = (0 &- 2) << p4dShift
    public static let efiVAEnd: UInt64 = 0 &- (68 << 30)
    public static let modulesVaddr: UInt64 = startKernelMap + kernelImageSize
    public static let modulesEnd: UInt64 = 0xffff_ffff_ff00_0000
    /// Linux: FIXADDR_TOP (the page below the vsyscall PMD's end) and FIXADDR_START. Debian's
    /// permanent fixmap slots: VSYSCALL_PAGE (511), DBGP, EARLYCON, APIC, 128 IO-APICs,
    /// PARAVIRT_BOOTMAP and the two APEI GHES slots, so __end_of_permanent_fixed_addresses = 646.
    public static let fixaddrTop: UInt64 = 0xffff_ffff_ff7f_f000
    public static let fixaddrStart: UInt64 = fixaddrTop - (646 << pageShift)

    /// Linux: phys_base — how far the image was moved from where it was linked.
    public var physBase: UInt64 { machine.kernel.start &- Kernel.loadPhysicalAddr }
    /// Linux: the virtual address of _text in the high kernel mapping.
    public var kernelTextVirt: UInt64 { Kernel.startKernelMap &+ Kernel.loadPhysicalAddr }
    /// Linux: __pa_symbol(): a high-mapping address to its physical address.
    public func paSymbol(_ va: UInt64) -> PhysAddr { va &- Kernel.startKernelMap &+ physBase }
    /// The high-mapping address of a physical address inside the image (its inverse).
    public func imageVirt(_ phys: PhysAddr) -> UInt64 { phys &- physBase &+ Kernel.startKernelMap }

    /// Linux: PGDIR_SHIFT for the paging mode in use.
    @inlinable public var pgdShift: UInt64 { la57 ? 48 : 39 }

    /// The levels in use, top down.
    public var pageTableLevels: [PageTableLevel] { la57 ? [.pgd, .p4d, .pud, .pmd, .pte] : [.pgd, .pud, .pmd, .pte] }

    /// The address bits a level's index is taken from.
    @inlinable public func levelShift(_ level: PageTableLevel) -> UInt64 {
        switch level {
        case .pgd: return pgdShift
        case .p4d: return p4dShift
        case .pud: return pudShift
        case .pmd: return pmdShift
        case .pte: return pageShift
        }
    }


    /// Linux: X86_FEATURE_PTI — the CPU is vulnerable to Meltdown (the machine says so) and
    /// `nopti` / `pti=off` do not turn it off; `pti=on` forces it.
    public var ptiEnabled: Bool {
        var on = machine.cpus.pti
        for p in commandLine.params {
            if p.name == "nopti" { on = false }
            if p.name == "pti" { on = p.value == "on" ? true : p.value == "off" ? false : on }
            if p.name == "mitigations" && p.value == "off" { on = false }
        }
        return on
    }

    /// Linux: PAGE_KERNEL and PAGE_KERNEL_LARGE.
    @inlinable public var pageKernel: UInt64 { PTE.kernel & defaultKernelPteMask }
    @inlinable public var pageKernelLarge: UInt64 { pageKernel | PTE.pse }

    /// The address of the entry for `va` in the table at `table` at `level`.
    @inlinable func entryAddress(_ table: PhysAddr, _ va: UInt64, _ level: PageTableLevel) -> PhysAddr {
        table &+ ((va >> levelShift(level)) & 511) &* 8
    }

    /// The table page an entry points to.
    @inlinable func tableBelow(_ entryAddr: PhysAddr) -> PhysAddr { physMem.readWord(entryAddr) & PTE.pfnMask }

    /// The entry for `va` at `level`, following the tables above it from init_top_pgt; nil when
    /// one of them is missing or maps a large page.
    public func entryAddress(_ va: UInt64, at level: PageTableLevel) -> PhysAddr? {
        var table = pgtRoots.initTopPgt
        for l in pageTableLevels {
            let e = entryAddress(table, va, l)
            if l == level { return e }
            let v = physMem.readWord(e)
            if v & PTE.present == 0 || l.mapsPage(v) { return nil }
            table = v & PTE.pfnMask
        }
        return nil
    }

    /// Points the entry at `entryAddr` to a new table page.
    @inlinable mutating func populate(_ entryAddr: PhysAddr, _ table: PhysAddr, _ flags: UInt64 = PTE.table) {
        if table != 0 { physMem.writeWord(entryAddr, table | flags) }
    }

    /// Linux: the MMU's walk from init_top_pgt (CR3 of every kernel thread).
    public func pageWalk(_ va: UInt64) -> PageWalk {
        let canonicalBits: UInt64 = la57 ? 56 : 47
        let top = va >> canonicalBits
        guard top == 0 || top == (UInt64.max >> canonicalBits) else { return PageWalk(va: va, steps: [], end: .nonCanonical) }
        var steps: [PageWalkStep] = []
        var table = pgtRoots.initTopPgt
        for l in pageTableLevels {
            let index = Int((va >> levelShift(l)) & 511)
            let v = physMem.readWord(table + UInt64(index) * 8)
            let step = PageWalkStep(level: l, table: table, index: index, entry: v)
            steps.append(step)
            if v & PTE.present == 0 { return PageWalk(va: va, steps: steps, end: .notPresent(l)) }
            if let page = step.leafPage {
                return PageWalk(va: va, steps: steps, end: .mapped(phys: page.base | (va & (page.size - 1)), pageSize: page.size))
            }
            table = v & PTE.pfnMask
        }
        return PageWalk(va: va, steps: steps, end: .notPresent(.pte))
    }

    /// The physical address `va` maps to through the page tables, or nil.
    public func translate(_ va: UInt64) -> PhysAddr? {
        if case .mapped(let phys, _) = pageWalk(va).end { return phys }
        return nil
    }

    /// Linux: head_64.S's tables as x86_64_start_kernel() leaves them: init_top_pgt cleared
    /// except its last entry (the image), level3_kernel_pgt pointing at the image's PMD page and
    /// the fixmap's, level2_kernel_pgt mapping the image with 2 MiB pages from phys_base, the
    /// fixmap's two PTE pages linked in. They sit in the image's .data: the init task's stack
    /// comes first there; init_top_pgt is PTI-aligned (8 KiB, two pages: kernel and user PGD).
    mutating func setupHeadPageTables() {
        let data = machine.kernel.dataStart
        var r = KernelPageTableRoots()
        r.initTopPgt = roundUp(data + 4 * pageSize, 2 * pageSize)
        var next = r.initTopPgt + 2 * pageSize + 2 * pageSize   // + level3/level2_ident_pgt (XEN_PV, PVH)
        if la57 { r.level4Kernel = next; next += pageSize }
        r.level3Kernel = next; next += pageSize
        r.level2Kernel = next; next += pageSize
        r.level2Fixmap = next; next += pageSize
        r.level1Fixmap = next
        pgtRoots = r
        let image = Kernel.startKernelMap
        if la57 {
            populate(entryAddress(r.initTopPgt, image, .pgd), r.level4Kernel)
            populate(entryAddress(r.level4Kernel, image, .p4d), r.level3Kernel)
        } else {
            populate(entryAddress(r.initTopPgt, image, .pgd), r.level3Kernel)
        }
        populate(entryAddress(r.level3Kernel, image, .pud), r.level2Kernel, PTE.kernTable)
        populate(r.level3Kernel + 511 * 8, r.level2Fixmap)
        // FIXMAP_PMD_TOP = 507: the two fixmap PTE pages are entries 506 and 507.
        populate(r.level2Fixmap + 506 * 8, r.level1Fixmap)
        populate(r.level2Fixmap + 507 * 8, r.level1Fixmap + pageSize)
        // PMDS(0, __PAGE_KERNEL_LARGE_EXEC, 512) moved by phys_base; entries below _text lose
        // _PAGE_PRESENT here and are zeroed by cleanup_highmap().
        let first = Int((kernelTextVirt - image) >> pmdShift)
        physMem.writeRun(r.level2Kernel >> pageShift, index: first, count: 512 - first,
                         first: (physBase &+ UInt64(first) &* pmdSize) | PTE.kernelLargeExec, step: pmdSize)
    }

    /// Linux: cleanup_highmap(): the image's PMD entries beyond the 2 MiB holding _brk_end are
    /// zeroed, so that only the image itself stays mapped.
    mutating func cleanupHighmap() {
        let endVirt = roundUp(imageVirt(machine.kernel.brkEnd), pmdSize) - 1
        var va = Kernel.startKernelMap
        for i in 0..<512 {
            if va < kernelTextVirt || va > endVirt { physMem.writeWord(pgtRoots.level2Kernel + UInt64(i) * 8, 0) }
            va &+= pmdSize
        }
    }
}
