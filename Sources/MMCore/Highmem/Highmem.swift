// Temporary mappings of highmem pages on i386: kmap() borrows one of LAST_PKMAP slots of the
// persistent window at PKMAP_BASE, shared by every CPU; kmap_local_page() pushes onto a stack
// of KM_MAX_IDX fixmap slots that belong to one CPU. Lowmem pages need neither: they are in the
// direct map already, and both calls return page_address().
//
// Linux: mm/highmem.c — kmap_high(), map_new_virtual(), flush_all_zero_pkmaps(), kunmap_high(),
//        __kmap_local_pfn_prot(), kunmap_local_indexed(); include/linux/highmem-internal.h —
//        kmap(), kunmap(), kmap_local_page(); arch/x86/include/asm/pgtable_32_areas.h
//        (LAST_PKMAP), include/asm-generic/kmap_size.h (KM_MAX_IDX).
// Exact: which slot and address each call gets, when the window is flushed, pkmap_count's
//        values, the BUG and WARN sites misuse hits.
// Simplified: no task ever sleeps: a kmap() that would wait for a free slot fails instead, and
//        the "task" of kmap_local is the CPU (each CPU runs one).

/// How a kmap() or kmap_local_page() was satisfied.
public enum KmapPath: Equatable, Sendable {
    /// A lowmem page: its direct-map address.
    case lowmem
    /// The page already had a persistent slot; its count went up.
    case alreadyMapped(slot: Int)
    /// A free slot, found by the round-robin scan; `flushed` slots were reclaimed on the way
    /// (the scan wrapped to slot 0 and flush_all_zero_pkmaps() ran).
    case newSlot(slot: Int, flushed: Int)
    /// kmap_local: a slot of the CPU's fixmap stack.
    case localSlot(cpu: Int, depth: Int)
}

/// Misuse of the kmap API, reported as Linux reports it.
public enum KmapError: Error, Equatable, Sendable {
    /// "kernel BUG at mm/highmem.c:N!" — Linux stops the task (the model leaves state unchanged).
    case bug(line: Int, what: String)
    /// Every persistent slot is in use: Linux would sleep until a kunmap().
    case wouldSleep
}

/// Linux: pkmap_count[], pkmap_page_table, last_pkmap_nr, page_address_htable, and each CPU's
/// kmap_ctrl stack.
public struct Highmem: Equatable, Sendable {
    public let layout: I386Layout
    /// Linux: pkmap_count[]: 0 free, 1 mapped but unused (reclaimable at the next flush),
    /// n > 1 mapped and held n − 1 times.
    public private(set) var pkmapCount: [Int32]
    /// The pfn each persistent slot's PTE maps (UInt64.max: none).
    public private(set) var pkmapPfn: [Pfn]
    /// Linux: last_pkmap_nr, where the next scan starts.
    public private(set) var lastPkmapNr = 0
    /// flush_tlb_kernel_range() calls over the window so far.
    public private(set) var flushes = 0
    /// Each CPU's kmap_local stack: the pfn in each slot, deepest last.
    public private(set) var localStack: [[Pfn]]
    /// WARN_ON_ONCE sites already fired (by line).
    var warned: [Int] = []
    /// Lines a WARN printed, for the caller to show.
    public private(set) var warnings: [String] = []

    /// Lines of mm/highmem.c's checks in Debian's 6.1 tree.
    static let kmapHighBug = 308, kunmapNotMappedBug = 358, kunmapUnbalancedBug = 368
    static let localPushBug = 467, localPopBug = 479, localUnmapWarn = 610, localLowWarn = 604

    public init(layout: I386Layout, cpus: Int) {
        self.layout = layout
        pkmapCount = Array(repeating: 0, count: Int(layout.lastPkmap))
        pkmapPfn = Array(repeating: .max, count: Int(layout.lastPkmap))
        localStack = Array(repeating: [], count: Swift.max(1, cpus))
    }

    /// Linux: page_address() of a highmem page: its persistent slot, if it has one.
    public func slot(ofPfn pfn: Pfn) -> Int? { pkmapPfn.firstIndex(of: pfn) }

    /// Linux: kmap_high(): the page's slot (count + 1), or a new one.
    public mutating func kmapHigh(pfn: Pfn) throws(KmapError) -> (vaddr: UInt64, path: KmapPath) {
        let path: KmapPath
        let nr: Int
        if let s = slot(ofPfn: pfn) {
            nr = s
            path = .alreadyMapped(slot: s)
        } else {
            let (s, flushed) = try mapNewVirtual(pfn: pfn)
            nr = s
            path = .newSlot(slot: s, flushed: flushed)
        }
        pkmapCount[nr] += 1
        if pkmapCount[nr] < 2 { throw .bug(line: Highmem.kmapHighBug, what: "kmap_high") }
        return (layout.pkmapAddr(UInt64(nr)), path)
    }

    /// Linux: map_new_virtual(): scan round-robin from last_pkmap_nr for a free slot; passing
    /// slot 0 reclaims every slot nobody holds.
    mutating func mapNewVirtual(pfn: Pfn) throws(KmapError) -> (Int, Int) {
        let mask = Int(layout.lastPkmap) - 1
        var count = Int(layout.lastPkmap)
        var flushed = 0
        var next = lastPkmapNr
        while true {
            next = (next + 1) & mask
            if next == 0 {
                flushed += flushAllZeroPkmaps()
                count = Int(layout.lastPkmap)
            }
            if pkmapCount[next] == 0 { break }
            count -= 1
            if count == 0 {
                lastPkmapNr = next
                throw .wouldSleep
            }
        }
        lastPkmapNr = next
        pkmapPfn[next] = pfn
        pkmapCount[next] = 1
        return (next, flushed)
    }

    /// Linux: flush_all_zero_pkmaps(): slots with count 1 lose their PTE and become free; one
    /// TLB flush covers the window if any did.
    mutating func flushAllZeroPkmaps() -> Int {
        var n = 0
        for i in pkmapCount.indices where pkmapCount[i] == 1 {
            pkmapCount[i] = 0
            pkmapPfn[i] = .max
            n += 1
        }
        if n > 0 { flushes += 1 }
        return n
    }

    /// Linux: kunmap_high(): drop one hold; the slot stays mapped (count 1) until a flush.
    public mutating func kunmapHigh(pfn: Pfn) throws(KmapError) {
        guard let nr = slot(ofPfn: pfn) else { throw .bug(line: Highmem.kunmapNotMappedBug, what: "kunmap_high") }
        if pkmapCount[nr] <= 1 { throw .bug(line: Highmem.kunmapUnbalancedBug, what: "kunmap_high") }
        pkmapCount[nr] -= 1
    }

    /// The fixmap address of kmap_local slot `idx` of `cpu` (FIX_KMAP_BEGIN + idx + KM_MAX_IDX·cpu).
    public func localAddress(cpu: Int, idx: Int) -> UInt64 {
        layout.fixToVirt(layout.fixKmapBegin + UInt64(idx) + I386Layout.kmMaxIdx * UInt64(cpu))
    }

    /// Linux: __kmap_local_pfn_prot(): push a slot on the CPU's stack.
    public mutating func kmapLocal(pfn: Pfn, cpu: Int) throws(KmapError) -> (vaddr: UInt64, path: KmapPath) {
        let depth = localStack[cpu].count
        if depth + 1 >= Int(I386Layout.kmMaxIdx) { throw .bug(line: Highmem.localPushBug, what: "__kmap_local_pfn_prot") }
        localStack[cpu].append(pfn)
        return (localAddress(cpu: cpu, idx: depth), .localSlot(cpu: cpu, depth: depth))
    }

    /// Linux: kunmap_local_indexed(): addresses outside the kmap fixmap are lowmem (nothing to
    /// do); otherwise the top of the stack is cleared and popped, and an address that is not the
    /// top's WARNs once (local mappings must be undone in reverse order).
    public mutating func kunmapLocal(vaddr: UInt64, cpu: Int) throws(KmapError) {
        let addr = vaddr & ~UInt64(0xfff)
        let lowest = layout.fixToVirt(layout.fixKmapEnd), highest = layout.fixToVirt(layout.fixKmapBegin)
        if addr < lowest || addr > highest {
            if addr < layout.pageOffset { warnOnce(Highmem.localLowWarn, "kunmap_local_indexed") }
            return
        }
        if localStack[cpu].isEmpty {
            // Nothing to unmap: the index goes below the stack's bottom (after the WARN).
            warnOnce(Highmem.localUnmapWarn, "kunmap_local_indexed")
            throw .bug(line: Highmem.localPopBug, what: "kunmap_local_indexed")
        }
        let idx = localStack[cpu].count - 1
        if addr != localAddress(cpu: cpu, idx: idx) { warnOnce(Highmem.localUnmapWarn, "kunmap_local_indexed") }
        localStack[cpu].removeLast()
    }

    mutating func warnOnce(_ line: Int, _ function: String) {
        if warned.contains(line) { return }
        warned.append(line)
        warnings.append("WARNING: CPU: 0 PID: 1 at mm/highmem.c:\(line) \(function)")
    }
}

extension Kernel {
    /// The direct-map address of a lowmem page (i386), or nil for a highmem page.
    func lowmemAddress(_ pfn: Pfn) -> UInt64? {
        guard let st = i386 else { return layout.pageOffsetBase &+ pfn.physAddr }
        return st.isHighmem(pfn: pfn.raw) ? nil : st.layout.pageOffset + pfn.physAddr
    }

    /// Linux: kmap(): lowmem pages are returned at their direct-map address, highmem pages get a
    /// persistent slot.
    public mutating func kmap(pfn: Pfn) throws(KmapError) -> (vaddr: UInt64, path: KmapPath) {
        if let va = lowmemAddress(pfn) { return (va, .lowmem) }
        return try i386!.highmem.kmapHigh(pfn: pfn)
    }

    /// Linux: kunmap().
    public mutating func kunmap(pfn: Pfn) throws(KmapError) {
        if lowmemAddress(pfn) != nil { return }
        try i386!.highmem.kunmapHigh(pfn: pfn)
    }

    /// Linux: kmap_local_page() on `cpu`.
    public mutating func kmapLocal(pfn: Pfn, cpu: Int = 0) throws(KmapError) -> (vaddr: UInt64, path: KmapPath) {
        if let va = lowmemAddress(pfn) { return (va, .lowmem) }
        return try i386!.highmem.kmapLocal(pfn: pfn, cpu: cpu)
    }

    /// Linux: kunmap_local() on `cpu`.
    public mutating func kunmapLocal(vaddr: UInt64, cpu: Int = 0) throws(KmapError) {
        guard i386 != nil else { return }
        try i386!.highmem.kunmapLocal(vaddr: vaddr, cpu: cpu)
    }
}
