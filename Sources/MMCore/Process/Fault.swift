// Page faults: how a touch of an address a process mapped becomes a page from the buddy
// allocator, and the page tables that hold it.
//
// Linux: mm/memory.c (handle_mm_fault, __handle_mm_fault, handle_pte_fault,
//        do_anonymous_page, do_wp_page, wp_page_copy, __pud_alloc, __pmd_alloc, __pte_alloc,
//        zap_pte_range, free_pgtables), mm/huge_memory.c (do_huge_pmd_anonymous_page,
//        __do_huge_pmd_anonymous_page, vma_thp_gfp_mask, mm_get_huge_zero_page,
//        do_huge_pmd_wp_page, __split_huge_pmd), include/linux/huge_mm.h
//        (transhuge_vma_suitable, hugepage_vma_check), arch/x86/mm/fault.c
//        (do_user_addr_fault, bad_area: SEGV_MAPERR and SEGV_ACCERR),
//        include/linux/gfp.h (GFP_PGTABLE_USER).
//
// A process's page tables are kept as maps from an address to what its entry holds; the
// page-table pages themselves are allocated from the buddy allocator, one per table, exactly
// when Linux allocates them, so PageTables and the free lists are right. Reverse maps, LRU
// lists and swap entries come with reclaim.

/// What a page-table entry maps.
public struct UserPTE: Sendable, Hashable {
    public var pfn: Pfn
    public var writable: Bool
    /// The shared zero page (a read of anonymous memory never written).
    public var zeroPage: Bool
    /// A page-cache page: its file (PageCache.files) and index; −1 for anonymous memory.
    public var file: Int32 = -1
    public var index: UInt64 = 0
    public init(pfn: Pfn, writable: Bool, zeroPage: Bool, file: Int32 = -1, index: UInt64 = 0) {
        self.pfn = pfn
        self.writable = writable
        self.zeroPage = zeroPage
        self.file = file
        self.index = index
    }
}

/// Transparent huge pages' policy (/sys/kernel/mm/transparent_hugepage/enabled and defrag).
public enum THPEnabled: Sendable { case always, madvise, never }
public enum THPDefrag: Sendable { case always, defer_, deferMadvise, madvise, never }

/// The counters faults move, as /proc/vmstat and /proc/meminfo name them (all in pages but the
/// event counts).
public struct UserVMStat: Sendable, Equatable {
    public var pgfault: UInt64 = 0
    public var thpFaultAlloc: UInt64 = 0
    public var thpFaultFallback: UInt64 = 0
    public var thpSplitPmd: UInt64 = 0
    public var thpZeroPageAlloc: UInt64 = 0
    public var nrAnonPages: UInt64 = 0
    public var nrAnonTransparentHugepages: UInt64 = 0
    public var nrPageTablePages: UInt64 = 0
    public init() {}
}

/// One process's page tables: leaf entries, 2 MiB mappings, and the table pages behind them.
public struct UserPageTables: Sendable {
    public var ptes = PTEStore()
    /// 2 MiB mappings by address >> 21: the head pfn (or the huge zero page's).
    public var pmds: [UInt64: UserPTE] = [:]
    /// The pfn of each table page, by the address range it maps: UserPTE tables by addr >> 21,
    /// PMD tables by addr >> 30, PUD tables by addr >> 39; and the PGD.
    public var pteTables: [UInt64: Pfn] = [:]
    public var pmdTables: [UInt64: Pfn] = [:]
    public var pudTables: [UInt64: Pfn] = [:]
    /// A THP mapping's deposited table (pgtable_trans_huge_deposit()), by addr >> 21.
    public var deposited: [UInt64: Pfn] = [:]
    public var pgd: Pfn? = nil
    /// The last 2 MiB span (addr >> 21) whose PUD, PMD and PTE tables were all found: the next
    /// fault there skips the walk. Freeing tables forgets it.
    var chain = UInt64.max
    public init() {}

    /// mm->pgtables_bytes / PAGE_SIZE: every table page but the PGD.
    public var tablePages: Int { pteTables.count + pmdTables.count + pudTables.count + deposited.count }
}

/// How a fault ended, for the caller and for `explain`.
public enum FaultOutcome: Sendable, Equatable {
    /// Already mapped as the access needs: no fault.
    case present
    case zeroPage
    case anonymous(pfn: Pfn)
    case copyOnWrite(pfn: Pfn)
    /// A write to a page fork had shared, now mapped only here: made writable again.
    case reused(pfn: Pfn)
    /// A page-cache page mapped (`major`: it had to be read from disk).
    case file(pfn: Pfn, major: Bool)
    /// The file-backed area has no page-cache file behind it (the loader's mappings).
    case notModelled
    case hugeZeroPage(pfn: Pfn)
    case huge(pfn: Pfn)
    /// SIGSEGV: no area there (SEGV_MAPERR) or the area forbids the access (SEGV_ACCERR).
    case segv(mapErr: Bool)
    /// SIGBUS: a file mapping touched past the end of its file.
    case sigbus
    /// VM_FAULT_OOM: no page could be had.
    case oom
}

/// Everything a fault reports on its way, when someone listens.
public enum FaultEvent: Sendable {
    case fault(addr: UInt64, write: Bool)
    case tablePage(level: Int, pfn: Pfn)
    case thpFallback(addr: UInt64)
    case splitHugeZero(addr: UInt64)
    /// Readahead read `count` pages of a file from `index` (sync or async), marking the page
    /// `mark` (PG_readahead) when there is one.
    case readahead(file: Int, index: UInt64, count: UInt64, mark: UInt64?, async: Bool)
    case page(PageAllocEvent)
}

public protocol FaultListener: PageAllocListener {
    mutating func fault(_ event: FaultEvent)
}

extension NoListener: FaultListener {
    @inline(__always) public mutating func fault(_ event: FaultEvent) {}
}

/// A process's leaf entries, a 512-entry table per 2 MiB (as the PTE pages hold them): one
/// lookup finds a table, the entry is an index. Empty slots have the pfn `Pfn.max`.
///
/// The tables sit in one array of slots; a dictionary maps a 2 MiB span to its slot, and the
/// span written last is remembered, so the run of faults one after another in a span (a
/// program touching its memory in order, an exit zapping it) finds its table without hashing.
public struct PTEStore: Sendable {
    struct Table: Sendable {
        var entries = [UserPTE](repeating: UserPTE(pfn: Pfn.max, writable: false, zeroPage: false), count: 512)
        var used = 0
    }
    /// The tables; a slot whose table emptied is on `freeSlots` until a span needs one.
    var slots: [Table] = []
    var freeSlots: [Int] = []
    /// The 2 MiB span (vpn >> 9) → its slot.
    var slotOf: [UInt64: Int] = [:]
    /// The span written last and its slot (`UInt64.max`: none).
    var lastSpan = UInt64.max
    var lastSlot = 0
    public private(set) var count = 0
    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// The slot of span `span`'s table, if it has one.
    @inline(__always)
    func slot(_ span: UInt64) -> Int? {
        if span == lastSpan { return lastSlot }
        return slotOf[span]
    }

    /// The slot of span `span`'s table, made (empty) when it has none; remembered as the last.
    @inline(__always)
    mutating func makeSlot(_ span: UInt64) -> Int {
        if let s = slot(span) { lastSpan = span; lastSlot = s; return s }
        let s: Int
        if let f = freeSlots.popLast() { s = f } else { s = slots.count; slots.append(Table()) }
        slotOf[span] = s
        lastSpan = span
        lastSlot = s
        return s
    }

    /// The entry for virtual page `vpn`.
    public subscript(vpn: UInt64) -> UserPTE? {
        get {
            guard let s = slot(vpn >> 9) else { return nil }
            let e = slots[s].entries[Int(vpn & 511)]
            return e.pfn == .max ? nil : e
        }
        set {
            guard let e = newValue else { removeValue(forKey: vpn); return }
            let s = makeSlot(vpn >> 9), i = Int(vpn & 511)
            if slots[s].entries[i].pfn == .max { slots[s].used += 1; count += 1 }
            slots[s].entries[i] = e
        }
    }

    @discardableResult
    public mutating func removeValue(forKey vpn: UInt64) -> UserPTE? {
        let span = vpn >> 9, i = Int(vpn & 511)
        guard let s = slot(span), slots[s].entries[i].pfn != .max else { return nil }
        let e = slots[s].entries[i]
        count -= 1
        slots[s].entries[i].pfn = .max
        slots[s].used -= 1
        if slots[s].used == 0 {
            slotOf[span] = nil
            freeSlots.append(s)
            if lastSpan == span { lastSpan = UInt64.max }
        } else {
            lastSpan = span
            lastSlot = s
        }
        return e
    }

    /// The virtual pages with entries, in no particular order.
    public var keys: [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(count)
        forEach { vpn, _ in out.append(vpn) }
        return out
    }

    /// Every entry with its virtual page.
    public func forEach(_ body: (UInt64, UserPTE) -> Void) {
        for (span, s) in slotOf {
            for i in 0..<512 where slots[s].entries[i].pfn != .max { body(span << 9 | UInt64(i), slots[s].entries[i]) }
        }
    }
}
