// memblock: the boot-time allocator. Two sorted arrays of physical ranges — the memory the
// machine has and the parts of it already reserved — from which early boot carves its
// allocations, until memblock_free_all() hands what is left to the buddy allocator.
//
// Linux: mm/memblock.c — memblock_add_range(), memblock_isolate_range(), memblock_remove_range(),
//        memblock_merge_regions(), memblock_double_array(), memblock_set_node(),
//        memblock_trim_memory(), memblock_dump_all(); include/linux/memblock.h.
// Exact: region arrays (the {0, 0} dummy of an empty array, merging only equal nid and flags,
//        doubling past 128 regions with the new array carved from memblock itself), total_size
//        bookkeeping (memblock_trim_memory does not update it, so neither do we), every
//        memblock=debug line.
// Invariants (checkInvariants): regions sorted, disjoint, non-empty unless the lone dummy;
//        neighbours with equal nid and flags are merged; total_size is the sum of sizes except
//        for what trim removed without accounting.
// Reference: shared/reference/linux-6.1-mm.md §2.7, §8.

/// Linux: enum memblock_flags.
@frozen
public struct MemblockFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Linux: MEMBLOCK_HOTPLUG — hotpluggable memory (SRAT); skipped under movable_node.
    public static let hotplug = MemblockFlags(rawValue: 0x1)
    /// Linux: MEMBLOCK_MIRROR — mirrored memory, preferred for kernel allocations.
    public static let mirror = MemblockFlags(rawValue: 0x2)
    /// Linux: MEMBLOCK_NOMAP — not added to the direct map.
    public static let nomap = MemblockFlags(rawValue: 0x4)
    /// Linux: MEMBLOCK_DRIVER_MANAGED — added by a driver, never allocated from.
    public static let driverManaged = MemblockFlags(rawValue: 0x8)
}

/// Linux: MAX_NUMNODES (NODES_SHIFT 10); a region's nid before NUMA setup tags it.
public let maxNumNodes: Int32 = 1024
/// Linux: NUMA_NO_NODE.
public let numaNoNode: Int32 = -1

@frozen
public struct MemblockRegion: Equatable, Sendable {
    public var base: PhysAddr
    public var size: UInt64
    public var flags: MemblockFlags
    public var nid: Int32
    @inlinable public init(base: PhysAddr, size: UInt64, flags: MemblockFlags = [], nid: Int32 = maxNumNodes) {
        self.base = base; self.size = size; self.flags = flags; self.nid = nid
    }
    @inlinable public var end: PhysAddr { base &+ size }
}

/// Linux: struct memblock_type. `regions` always holds at least one entry, as the kernel's
/// cnt is never 0: an empty array is the single dummy region {0, 0}.
public struct MemblockType: Equatable, Sendable {
    public let name: String
    public internal(set) var regions: [MemblockRegion]
    /// Capacity before the array must double (INIT_MEMBLOCK_REGIONS = 128 initially).
    public internal(set) var max: Int
    public internal(set) var totalSize: UInt64
    /// Where the array lives once it was doubled (nil: the static initial array).
    public internal(set) var dynamicArray: (base: PhysAddr, size: UInt64)?

    public static let initRegions = 128

    init(name: String) {
        self.name = name
        regions = [MemblockRegion(base: 0, size: 0)]
        max = MemblockType.initRegions
        totalSize = 0
        dynamicArray = nil
    }

    /// Linux: type->cnt.
    public var cnt: Int { regions.count }
    /// True when only the dummy region is there.
    public var isEmpty: Bool { regions.count == 1 && regions[0].size == 0 }

    public static func == (a: MemblockType, b: MemblockType) -> Bool {
        a.name == b.name && a.regions == b.regions && a.max == b.max && a.totalSize == b.totalSize
            && a.dynamicArray?.base == b.dynamicArray?.base && a.dynamicArray?.size == b.dynamicArray?.size
    }

    mutating func insert(at idx: Int, base: PhysAddr, size: UInt64, nid: Int32, flags: MemblockFlags) {
        mmAssert(regions.count < max, "memblock insert beyond max")
        regions.insert(MemblockRegion(base: base, size: size, flags: flags, nid: nid), at: idx)
        totalSize &+= size
    }

    /// Linux: memblock_remove_region(); an emptied array gets its dummy back.
    mutating func removeRegion(at r: Int) {
        totalSize &-= regions[r].size
        regions.remove(at: r)
        if regions.isEmpty {
            regions = [MemblockRegion(base: 0, size: 0)]
        }
    }

    /// Linux: memblock_merge_regions().
    mutating func mergeRegions() {
        var i = 0
        while i < regions.count - 1 {
            let this = regions[i], next = regions[i + 1]
            if this.base &+ this.size != next.base || this.nid != next.nid || this.flags != next.flags {
                mmAssert(this.base &+ this.size <= next.base, "memblock regions overlap")
                i += 1
                continue
            }
            regions[i].size += next.size
            regions.remove(at: i + 1)
        }
    }

    public func checkInvariants() {
        guard mmChecksEnabled else { return }
        if isEmpty { return }
        for i in regions.indices {
            mmAssert(regions[i].size != 0, "empty memblock region")
            if i > 0 {
                let p = regions[i - 1], r = regions[i]
                mmAssert(p.base &+ p.size <= r.base, "memblock regions unsorted or overlapping")
                mmAssert(!(p.base &+ p.size == r.base && p.nid == r.nid && p.flags == r.flags),
                         "memblock neighbours not merged")
            }
        }
        mmAssert(regions.count <= max, "memblock array beyond its capacity")
    }
}

/// A call site as `%pS` prints it ("e820__memblock_setup+0x65/0x7d"): memblock=debug names the
/// caller of each operation. kmemlab uses the symbol offsets of Debian's 6.1.192 build where the
/// oracle shows them, so its lines match the kernel's byte for byte.
@frozen
public struct Caller: Equatable, Sendable {
    public var symbol: String
    @inlinable public init(_ symbol: String) { self.symbol = symbol }
    public static let unknown = Caller("0x0")
    /// memblock_alloc_range_nid's own call of memblock_reserve.
    public static let allocRangeNid = Caller("memblock_alloc_range_nid+0xb0/0x13d")
    /// The same, after a node's own memory could not hold the request and any node was tried.
    public static let allocRangeNidFallback = Caller("memblock_alloc_range_nid+0xee/0x13d")
    /// memblock_double_array's own calls. No oracle boot doubled an array, so the offset is
    /// unknown and printed as +0x0/0x0 (docs/DIVERGENCES.md).
    public static let doubleArray = Caller.unknownOffset("memblock_double_array")
    /// A call site whose offset no oracle log shows: printed as "fn+0x0/0x0".
    public static func unknownOffset(_ function: String) -> Caller { Caller(function + "+0x0/0x0") }
}

/// Linux: struct memblock (the `memblock` global), with the allocator's policy knobs.
public struct Memblock: Equatable, Sendable {
    public internal(set) var memory = MemblockType(name: "memory")
    public internal(set) var reserved = MemblockType(name: "reserved")
    /// Linux: memblock.bottom_up (memblock_set_bottom_up()).
    public var bottomUp = false
    /// Linux: memblock.current_limit; MEMBLOCK_ALLOC_ANYWHERE (all ones) until x86 lowers it.
    public var currentLimit: PhysAddr = Memblock.allocAnywhere
    /// Linux: memblock_can_resize, set by memblock_allow_resize().
    public var canResize = false
    /// Linux: memblock_debug (`memblock=debug`).
    public var debug = false
    /// Linux: movable_node_is_enabled(): hotpluggable regions are not allocated from.
    public var movableNode = false
    /// Linux: SMP_CACHE_BYTES, the alignment used when a caller passes 0 (64 on x86-64; the
    /// kernel's user-space memblock tests build with 32).
    public var smpCacheBytes: UInt64 = 64

    /// Linux: MEMBLOCK_ALLOC_ANYWHERE.
    public static let allocAnywhere: PhysAddr = .max
    /// Linux: MEMBLOCK_ALLOC_ACCESSIBLE — "up to current_limit".
    public static let allocAccessible: PhysAddr = 0
    /// Linux: MEMBLOCK_ALLOC_NOLEAKTRACE.
    public static let allocNoLeakTrace: PhysAddr = 1

    public init() {}

    /// Linux: memblock_cap_size(): a size that would run past PHYS_ADDR_MAX is cut there.
    @inlinable static func capSize(_ base: PhysAddr, _ size: UInt64) -> UInt64 {
        Swift.min(size, physAddrMax &- base)
    }

    // MARK: Adding and removing

    /// Linux: memblock_add_range(). Inserts the parts of [base, base+size) not already covered
    /// (existing regions are never changed), then merges neighbours.
    @discardableResult
    mutating func addRange(_ which: MemblockTypeKind, _ base: PhysAddr, _ size: UInt64,
                           nid: Int32, flags: MemblockFlags, log: inout KernelLog) -> Bool {
        let size = Memblock.capSize(base, size)
        if size == 0 { return true }
        let end = base + size
        if self[which].regions[0].size == 0 {
            mmAssert(self[which].regions.count == 1 && self[which].totalSize == 0, "memblock dummy not alone")
            self[which].regions[0] = MemblockRegion(base: base, size: size, flags: flags, nid: nid)
            self[which].totalSize = size
            return true
        }
        // Count the new pieces first, so the array can double before anything is inserted; a
        // doubling of `reserved` reserves the new array, so the pieces are counted again after it.
        var pieces: [(PhysAddr, UInt64)] = []
        while true {
            pieces.removeAll(keepingCapacity: true)
            var cursor = base
            for r in self[which].regions {
                if r.base >= end { break }
                if r.end <= cursor { continue }
                if r.base > cursor { pieces.append((cursor, r.base - cursor)) }
                cursor = Swift.max(cursor, Swift.min(r.end, end))
            }
            if cursor < end { pieces.append((cursor, end - cursor)) }
            if pieces.isEmpty { return true }
            if self[which].regions.count + pieces.count <= self[which].max { break }
            if !doubleArray(which, newAreaStart: base, newAreaSize: size, log: &log) { return false }
        }
        for (b, s) in pieces {
            let idx = self[which].regions.firstIndex { $0.base > b } ?? self[which].regions.count
            self[which].insert(at: idx, base: b, size: s, nid: nid, flags: flags)
        }
        self[which].mergeRegions()
        self[which].checkInvariants()
        return true
    }

    /// Linux: memblock_double_array(). The new array (twice the regions, page-aligned) is found
    /// in memblock itself — above the range being added when growing `reserved`, anywhere below
    /// the current limit otherwise — and then reserved, which can itself need a slot.
    mutating func doubleArray(_ which: MemblockTypeKind, newAreaStart: PhysAddr, newAreaSize: UInt64,
                              log: inout KernelLog) -> Bool {
        if !canResize { return false }
        let regionBytes: UInt64 = 24  // sizeof(struct memblock_region) with CONFIG_NUMA
        let oldSize = UInt64(self[which].max) * regionBytes
        let newSize = oldSize << 1
        let oldAllocSize = roundUp(oldSize, pageSize)
        let newAllocSize = roundUp(newSize, pageSize)
        var areaStart = newAreaStart, areaSize = newAreaSize
        if which != .reserved { areaStart = 0; areaSize = 0 }
        var addr = findInRange(start: areaStart &+ areaSize, end: currentLimit, size: newAllocSize, align: pageSize)
        if addr == 0 && areaSize != 0 {
            addr = findInRange(start: 0, end: Swift.min(areaStart, currentLimit), size: newAllocSize, align: pageSize)
        }
        if addr == 0 {
            log.info("memblock: Failed to double \(self[which].name) array from \(self[which].max) to \(self[which].max * 2) entries !")
            return false
        }
        if debug {
            // The kernel's format has no newline here; the next record starts a line anyway.
            log.info("memblock: \(self[which].name) is doubled to \(self[which].max * 2) at [\(pa(addr))-\(pa(addr + newSize - 1))]")
        }
        let old = self[which].dynamicArray
        self[which].max <<= 1
        self[which].dynamicArray = (addr, newAllocSize)
        if let old { physFree(old.base, oldAllocSize, caller: .doubleArray, log: &log) }
        reserve(addr, newAllocSize, caller: .doubleArray, log: &log)
        return true
    }

    /// Linux: memblock_isolate_range(). Splits regions at base and base+size and returns the
    /// index range of the regions inside.
    mutating func isolateRange(_ which: MemblockTypeKind, _ base: PhysAddr, _ size: UInt64,
                               log: inout KernelLog) -> Range<Int>? {
        let size = Memblock.capSize(base, size)
        if size == 0 { return 0..<0 }
        let end = base + size
        while self[which].regions.count + 2 > self[which].max {
            if !doubleArray(which, newAreaStart: base, newAreaSize: size, log: &log) { return nil }
        }
        var startRgn = 0, endRgn = 0
        var idx = 0
        while idx < self[which].regions.count {
            let r = self[which].regions[idx]
            let rbase = r.base, rend = r.end
            if rbase >= end { break }
            if rend <= base { idx += 1; continue }
            if rbase < base {
                // The region crosses the bottom: the part below base becomes its own region.
                self[which].regions[idx].base = base
                self[which].regions[idx].size -= base - rbase
                self[which].totalSize -= base - rbase
                self[which].insert(at: idx, base: rbase, size: base - rbase, nid: r.nid, flags: r.flags)
            } else if rend > end {
                // The region crosses the top: the part below end becomes its own region, which
                // the next turn of the loop sees again (it is now inside).
                self[which].regions[idx].base = end
                self[which].regions[idx].size -= end - rbase
                self[which].totalSize -= end - rbase
                self[which].insert(at: idx, base: rbase, size: end - rbase, nid: r.nid, flags: r.flags)
                continue
            } else {
                if endRgn == 0 { startRgn = idx }
                endRgn = idx + 1
            }
            idx += 1
        }
        return startRgn..<endRgn
    }

    /// Linux: memblock_remove_range().
    mutating func removeRange(_ which: MemblockTypeKind, _ base: PhysAddr, _ size: UInt64,
                              log: inout KernelLog) -> Bool {
        guard let range = isolateRange(which, base, size, log: &log) else { return false }
        for i in range.reversed() { self[which].removeRegion(at: i) }
        self[which].checkInvariants()
        return true
    }

    func rangeLine(_ fn: String, _ base: PhysAddr, _ size: UInt64, _ caller: Caller) -> String {
        "\(fn): [\(pa(base))-\(pa(base &+ size &- 1))] \(caller.symbol)"
    }

    /// Linux: memblock_add().
    @discardableResult
    public mutating func add(_ base: PhysAddr, _ size: UInt64, caller: Caller = .unknown, log: inout KernelLog) -> Bool {
        if debug { log.info(rangeLine("memblock_add", base, size, caller)) }
        return addRange(.memory, base, size, nid: maxNumNodes, flags: [], log: &log)
    }

    /// Linux: memblock_add_node().
    @discardableResult
    public mutating func addNode(_ base: PhysAddr, _ size: UInt64, nid: Int32, flags: MemblockFlags,
                                 caller: Caller = .unknown, log: inout KernelLog) -> Bool {
        if debug {
            log.info("memblock_add_node: [\(pa(base))-\(pa(base &+ size &- 1))] nid=\(nid) flags=\(String(flags.rawValue, radix: 16)) \(caller.symbol)")
        }
        return addRange(.memory, base, size, nid: nid, flags: flags, log: &log)
    }

    /// Linux: memblock_remove().
    @discardableResult
    public mutating func remove(_ base: PhysAddr, _ size: UInt64, caller: Caller = .unknown, log: inout KernelLog) -> Bool {
        if debug { log.info(rangeLine("memblock_remove", base, size, caller)) }
        return removeRange(.memory, base, size, log: &log)
    }

    /// Linux: memblock_reserve().
    @discardableResult
    public mutating func reserve(_ base: PhysAddr, _ size: UInt64, caller: Caller = .unknown, log: inout KernelLog) -> Bool {
        if debug { log.info(rangeLine("memblock_reserve", base, size, caller)) }
        return addRange(.reserved, base, size, nid: maxNumNodes, flags: [], log: &log)
    }

    /// Linux: memblock_phys_free() (and memblock_free() of its virtual address).
    @discardableResult
    public mutating func physFree(_ base: PhysAddr, _ size: UInt64, caller: Caller = .unknown, log: inout KernelLog) -> Bool {
        if debug { log.info(rangeLine("memblock_phys_free", base, size, caller)) }
        return removeRange(.reserved, base, size, log: &log)
    }

    /// Linux: memblock_set_node(). Tags the regions of [base, base+size) with `nid`.
    @discardableResult
    public mutating func setNode(_ base: PhysAddr, _ size: UInt64, in which: MemblockTypeKind, nid: Int32,
                                 log: inout KernelLog) -> Bool {
        guard let range = isolateRange(which, base, size, log: &log) else { return false }
        for i in range { self[which].regions[i].nid = nid }
        self[which].mergeRegions()
        self[which].checkInvariants()
        return true
    }

    /// Linux: memblock_setclr_flag() through memblock_mark_hotplug() / _clear_hotplug() etc.
    @discardableResult
    public mutating func setFlag(_ base: PhysAddr, _ size: UInt64, _ flag: MemblockFlags, _ set: Bool,
                                 log: inout KernelLog) -> Bool {
        guard let range = isolateRange(.memory, base, size, log: &log) else { return false }
        for i in range {
            if set { memory.regions[i].flags.insert(flag) } else { memory.regions[i].flags.remove(flag) }
        }
        memory.mergeRegions()
        return true
    }

    /// Linux: memblock_trim_memory(). Rounds each memory region inward to `align` and drops the
    /// ones that vanish. Like the kernel, it leaves memory.total_size as it was for the rounding
    /// (only a dropped region is subtracted): the dump right after shows the untrimmed total.
    public mutating func trimMemory(align: UInt64) {
        var i = 0
        while i < memory.regions.count {
            let r = memory.regions[i]
            let start = roundUp(r.base, align)
            let end = roundDown(r.end, align)
            if start == r.base && end == r.end { i += 1; continue }
            if start < end {
                memory.regions[i].base = start
                memory.regions[i].size = end - start
                i += 1
            } else {
                memory.removeRegion(at: i)
                if memory.isEmpty { break }
            }
        }
    }

    /// Linux: memblock_allow_resize().
    public mutating func allowResize() { canResize = true }

    // MARK: Queries

    /// Linux: memblock_start_of_DRAM().
    public var startOfDRAM: PhysAddr { memory.regions[0].base }
    /// Linux: memblock_end_of_DRAM().
    public var endOfDRAM: PhysAddr { memory.regions[memory.regions.count - 1].end }
    /// Linux: memblock_phys_mem_size().
    public var physMemSize: UInt64 { memory.totalSize }
    /// Linux: memblock_reserved_size().
    public var reservedSize: UInt64 { reserved.totalSize }

    /// Linux: memblock_is_region_memory(): [base, base+size) inside one memory region.
    public func isRegionMemory(_ base: PhysAddr, _ size: UInt64) -> Bool {
        let end = base &+ Memblock.capSize(base, size)
        for r in memory.regions where r.size != 0 && r.base <= base && end <= r.end { return true }
        return false
    }

    /// Linux: memblock_overlaps_region(): any region of `which` overlaps [base, base+size).
    public func overlapsRegion(_ which: MemblockTypeKind, _ base: PhysAddr, _ size: UInt64) -> Bool {
        let end = base &+ Memblock.capSize(base, size)
        for r in self[which].regions where r.size != 0 && r.base < end && base < r.end { return true }
        return false
    }

    /// Linux: memblock_is_region_reserved(): any overlap with a reservation.
    public func isRegionReserved(_ base: PhysAddr, _ size: UInt64) -> Bool {
        overlapsRegion(.reserved, base, size)
    }

    /// Linux: for_each_mem_pfn_range(i, nid, …): the whole pages of each memory region of `nid`
    /// (MAX_NUMNODES: every region), ascending, empty ones skipped; nid as the region has it.
    public func pfnRanges(nid: Int32 = maxNumNodes) -> [PfnRange] {
        var out: [PfnRange] = []
        for r in memory.regions where r.size != 0 && (nid == maxNumNodes || r.nid == nid) {
            let s = Pfn.up(r.base).raw, e = Pfn.down(r.end).raw
            if s < e { out.append(PfnRange(start: s, end: e, nid: r.nid)) }
        }
        return out
    }
}

/// One memblock pfn range (for_each_mem_pfn_range): [start, end) on node nid.
public struct PfnRange: Equatable, Sendable {
    public var start: UInt64
    public var end: UInt64
    public var nid: Int32
}

/// Which of memblock's two arrays an operation works on.
public enum MemblockTypeKind: Sendable {
    case memory, reserved
}

extension Memblock {
    subscript(kind: MemblockTypeKind) -> MemblockType {
        get { kind == .memory ? memory : reserved }
        _modify {
            if kind == .memory { yield &memory } else { yield &reserved }
        }
    }
}
