// memblock allocation: finding a free range (memory minus reserved) and reserving it.
//
// Linux: mm/memblock.c — __next_mem_range(), should_skip_region(),
//        __memblock_find_range_top_down(), __memblock_find_range_bottom_up(),
//        memblock_find_in_range_node(), memblock_alloc_range_nid(), memblock_alloc_internal(),
//        memblock_phys_alloc_range(), memblock_alloc_try_nid(_raw), memblock_alloc_exact_nid_raw();
//        include/linux/memblock.h (memblock_alloc, _from, _low, _node, memblock_phys_alloc).
// Exact: top-down returns round_down(range_end − size, align) of the highest free range that
//        fits; bottom-up the lowest round_up(range_start); the first page is never handed out;
//        a node request falls back to any node unless exact; memblock_alloc_internal drops a
//        non-zero lower limit when the first try fails. Only the base is aligned, never the size.
// Simplified: the contents of allocated memory are not modelled yet (zeroing vs _raw variants
//        differ only in what the kernel would find there).

/// A free range of physical memory and the node of the memory region it lies in.
public struct FreeRange: Equatable, Sendable {
    public var start: PhysAddr
    public var end: PhysAddr
    public var nid: Int32
}

extension Memblock {
    /// Linux: should_skip_region() for memblock.memory.
    func skips(_ m: MemblockRegion, nid: Int32, flags: MemblockFlags) -> Bool {
        if nid != numaNoNode && nid != m.nid { return true }
        if movableNode && m.flags.contains(.hotplug) && !flags.contains(.hotplug) { return true }
        if flags.contains(.mirror) && !m.flags.contains(.mirror) { return true }
        if !flags.contains(.nomap) && m.flags.contains(.nomap) { return true }
        if !flags.contains(.driverManaged) && m.flags.contains(.driverManaged) { return true }
        return false
    }

    /// Whole free pages inside the pfn range [lo, hi) (partial pages at a free range's ends do
    /// not count), as memblock_find_dma_reserve() and add_highpages_with_active_regions() count.
    public func freePages(inPfns lo: UInt64, _ hi: UInt64) -> UInt64 {
        var n: UInt64 = 0
        for f in freeRanges() {
            let s = Swift.min(Swift.max(Pfn.up(f.start).raw, lo), hi)
            let e = Swift.min(Swift.max(Pfn.down(f.end).raw, lo), hi)
            if s < e { n += e - s }
        }
        return n
    }

    /// Linux: for_each_free_mem_range(): memory regions of `nid` (or all) minus every
    /// reservation, in ascending order.
    public func freeRanges(nid: Int32 = numaNoNode, flags: MemblockFlags = []) -> [FreeRange] {
        var out: [FreeRange] = []
        let res = reserved.isEmpty ? [] : reserved.regions
        var j = 0
        for m in memory.regions where m.size != 0 && !skips(m, nid: nid, flags: flags) {
            var cursor = m.base
            let mEnd = m.end
            while j < res.count && res[j].end <= cursor { j += 1 }
            var k = j
            while cursor < mEnd {
                if k < res.count && res[k].base < mEnd {
                    if res[k].base > cursor { out.append(FreeRange(start: cursor, end: res[k].base, nid: m.nid)) }
                    cursor = Swift.max(cursor, res[k].end)
                    k += 1
                } else {
                    out.append(FreeRange(start: cursor, end: mEnd, nid: m.nid))
                    cursor = mEnd
                }
            }
        }
        return out
    }

    /// Linux: memblock_find_in_range_node(). Returns 0 when nothing fits.
    public func findInRangeNode(size: UInt64, align: UInt64, start: PhysAddr, end: PhysAddr,
                                nid: Int32, flags: MemblockFlags = []) -> PhysAddr {
        var end = end
        if end == Memblock.allocAccessible || end == Memblock.allocNoLeakTrace { end = currentLimit }
        let start = Swift.max(start, pageSize)
        end = Swift.max(start, end)
        let ranges = freeRanges(nid: nid, flags: flags)
        if bottomUp {
            for r in ranges {
                let s = Swift.min(Swift.max(r.start, start), end)
                let e = Swift.min(Swift.max(r.end, start), end)
                let cand = roundUp(s, align)
                if cand < e && e - cand >= size { return cand }
            }
        } else {
            for r in ranges.reversed() {
                let s = Swift.min(Swift.max(r.start, start), end)
                let e = Swift.min(Swift.max(r.end, start), end)
                if e < size { continue }
                let cand = roundDown(e - size, align)
                if cand >= s { return cand }
            }
        }
        return 0
    }

    /// Linux: memblock_find_in_range() (any node; mirror is never requested here).
    public func findInRange(start: PhysAddr, end: PhysAddr, size: UInt64, align: UInt64) -> PhysAddr {
        findInRangeNode(size: size, align: align, start: start, end: end, nid: numaNoNode)
    }

    /// Linux: memblock_alloc_range_nid(). Finds and reserves; 0 when nothing fits.
    public mutating func allocRangeNid(size: UInt64, align: UInt64, start: PhysAddr, end: PhysAddr,
                                       nid: Int32, exactNid: Bool, log: inout KernelLog) -> PhysAddr {
        var nid = nid
        if nid == maxNumNodes { nid = numaNoNode }
        let align = align == 0 ? smpCacheBytes : align
        var found = findInRangeNode(size: size, align: align, start: start, end: end, nid: nid)
        if found != 0 && reserve(found, size, caller: .allocRangeNid, log: &log) { return found }
        if nid != numaNoNode && !exactNid {
            found = findInRangeNode(size: size, align: align, start: start, end: end, nid: numaNoNode)
            if found != 0 && reserve(found, size, caller: .allocRangeNidFallback, log: &log) { return found }
        }
        return 0
    }

    /// Linux: memblock_alloc_internal(): clamp to the current limit, drop the lower limit on failure.
    mutating func allocInternal(size: UInt64, align: UInt64, minAddr: PhysAddr, maxAddr: PhysAddr,
                                nid: Int32, exactNid: Bool, log: inout KernelLog) -> PhysAddr {
        let maxAddr = Swift.min(maxAddr, currentLimit)
        var a = allocRangeNid(size: size, align: align, start: minAddr, end: maxAddr, nid: nid,
                              exactNid: exactNid, log: &log)
        if a == 0 && minAddr != 0 {
            a = allocRangeNid(size: size, align: align, start: 0, end: maxAddr, nid: nid,
                              exactNid: exactNid, log: &log)
        }
        return a
    }

    func allocLine(_ fn: String, _ size: UInt64, _ align: UInt64, nid: Int32?, _ minAddr: PhysAddr,
                   _ maxAddr: PhysAddr, _ caller: Caller) -> String {
        let nidText = nid.map { " nid=\($0)" } ?? ""
        return "\(fn): \(size) bytes align=\(hex(align))\(nidText) from=\(pa(minAddr)) max_addr=\(pa(maxAddr)) \(caller.symbol)"
    }

    /// Linux: memblock_phys_alloc_range().
    public mutating func physAllocRange(size: UInt64, align: UInt64, start: PhysAddr, end: PhysAddr,
                                        caller: Caller = .unknown, log: inout KernelLog) -> PhysAddr {
        if debug { log.info(allocLine("memblock_phys_alloc_range", size, align, nid: nil, start, end, caller)) }
        return allocRangeNid(size: size, align: align, start: start, end: end, nid: numaNoNode,
                             exactNid: false, log: &log)
    }

    /// Linux: memblock_phys_alloc() = memblock_phys_alloc_range(size, align, 0, ACCESSIBLE).
    public mutating func physAlloc(size: UInt64, align: UInt64, caller: Caller = .unknown, log: inout KernelLog) -> PhysAddr {
        physAllocRange(size: size, align: align, start: 0, end: Memblock.allocAccessible, caller: caller, log: &log)
    }

    /// Linux: memblock_phys_alloc_try_nid() (prints nothing of its own).
    public mutating func physAllocTryNid(size: UInt64, align: UInt64, nid: Int32, log: inout KernelLog) -> PhysAddr {
        allocRangeNid(size: size, align: align, start: 0, end: Memblock.allocAccessible, nid: nid,
                      exactNid: false, log: &log)
    }

    /// Linux: memblock_alloc_try_nid() (zeroed) — and, through it, memblock_alloc(),
    /// memblock_alloc_from(), memblock_alloc_low() and memblock_alloc_node().
    public mutating func allocTryNid(size: UInt64, align: UInt64, minAddr: PhysAddr = 0,
                                     maxAddr: PhysAddr = Memblock.allocAccessible, nid: Int32 = numaNoNode,
                                     caller: Caller = .unknown, log: inout KernelLog) -> PhysAddr {
        if debug { log.info(allocLine("memblock_alloc_try_nid", size, align, nid: nid, minAddr, maxAddr, caller)) }
        return allocInternal(size: size, align: align, minAddr: minAddr, maxAddr: maxAddr, nid: nid,
                             exactNid: false, log: &log)
    }

    /// Linux: memblock_alloc_try_nid_raw() (not zeroed).
    public mutating func allocTryNidRaw(size: UInt64, align: UInt64, minAddr: PhysAddr = 0,
                                        maxAddr: PhysAddr = Memblock.allocAccessible, nid: Int32 = numaNoNode,
                                        caller: Caller = .unknown, log: inout KernelLog) -> PhysAddr {
        if debug { log.info(allocLine("memblock_alloc_try_nid_raw", size, align, nid: nid, minAddr, maxAddr, caller)) }
        return allocInternal(size: size, align: align, minAddr: minAddr, maxAddr: maxAddr, nid: nid,
                             exactNid: false, log: &log)
    }

    /// Linux: memblock_alloc_exact_nid_raw(): never falls back to another node.
    public mutating func allocExactNidRaw(size: UInt64, align: UInt64, minAddr: PhysAddr = 0,
                                          maxAddr: PhysAddr = Memblock.allocAccessible, nid: Int32,
                                          caller: Caller = .unknown, log: inout KernelLog) -> PhysAddr {
        if debug { log.info(allocLine("memblock_alloc_exact_nid_raw", size, align, nid: nid, minAddr, maxAddr, caller)) }
        return allocInternal(size: size, align: align, minAddr: minAddr, maxAddr: maxAddr, nid: nid,
                             exactNid: true, log: &log)
    }

    /// Linux: memblock_alloc_low(): below ARCH_LOW_ADDRESS_LIMIT (4 GiB − 1 on x86-64).
    public mutating func allocLow(size: UInt64, align: UInt64, caller: Caller = .unknown, log: inout KernelLog) -> PhysAddr {
        allocTryNid(size: size, align: align, minAddr: 0, maxAddr: 0xffff_ffff, nid: numaNoNode, caller: caller, log: &log)
    }

    // MARK: memblock=debug dump

    /// Linux: memblock_dump_all() (prints only under memblock=debug).
    public func dumpAll(log: inout KernelLog) {
        guard debug else { return }
        log.info("MEMBLOCK configuration:")
        log.info(" memory size = \(pa(memory.totalSize)) reserved size = \(pa(reserved.totalSize))")
        dump(memory, log: &log)
        dump(reserved, log: &log)
    }

    func dump(_ type: MemblockType, log: inout KernelLog) {
        log.info(" \(type.name).cnt  = \(hex(UInt64(type.cnt)))")
        for (i, r) in type.regions.enumerated() {
            let node = r.nid != maxNumNodes ? " on node \(r.nid)" : ""
            log.info(" \(type.name)[\(hex(UInt64(i)))]\t[\(pa(r.base))-\(pa(r.base &+ r.size &- 1))], \(pa(r.size)) bytes\(node) flags: \(hex(UInt64(r.flags.rawValue)))")
        }
    }
}
