// A process's address space: its areas in address order, where new mappings go, and the
// counters /proc/PID/status prints.
//
// Linux: include/linux/mm_types.h (struct mm_struct), arch/x86/mm/mmap.c (arch_pick_mmap_layout,
//        mmap_base), arch/x86/kernel/sys_x86_64.c (arch_get_unmapped_area_topdown,
//        arch_get_unmapped_area), mm/mmap.c (find_vma, unmapped_area_topdown, get_unmapped_area,
//        __split_vma, vma_merge, vm_stat_account).
//
// Linux keeps the areas in a maple tree; here they are one sorted array. Processes have tens to
// a few thousand areas, and a binary search finds one as fast as the tree's walk.

public struct MMStruct: Sendable {
    /// TASK_SIZE of a 64-bit process with 4-level paging (DEFAULT_MAP_WINDOW).
    public static let taskSize: UInt64 = 0x7fff_ffff_f000
    static let pageMask: UInt64 = ~0xfff

    /// The areas, sorted, never overlapping.
    public private(set) var vmas: [VMA] = []
    /// mm->mmap_base: where the top-down search for free space starts.
    public var mmapBase: UInt64
    public var startBrk: UInt64 = 0
    public var brk: UInt64 = 0
    public var startStack: UInt64 = 0
    /// stack_guard_gap (256 pages unless the command line says otherwise).
    public var stackGuardGap: UInt64 = 256 << 12
    /// vm.mmap_min_addr: hints below it are raised to it (Debian: 65536).
    public var mmapMinAddr: UInt64 = 65536
    /// vm.max_map_count.
    public var maxMapCount = 65530
    /// Kernels since 6.7 (not 6.1) place a private anonymous mapping without a hint whose
    /// length is a multiple of 2 MiB at a 2 MiB boundary (__thp_get_unmapped_area()). The
    /// glibc oracle's logs were recorded on such a kernel (6.18).
    public var thpAlignAnonymous = false
    /// total_vm, data_vm, exec_vm and stack_vm, in pages (vm_stat_account()).
    public private(set) var totalVM: UInt64 = 0
    public private(set) var dataVM: UInt64 = 0
    public private(set) var execVM: UInt64 = 0
    public private(set) var stackVM: UInt64 = 0
    var nextAnonVMA: UInt32 = 1

    /// arch_pick_mmap_layout() for a 64-bit process: top-down, mmap_base below the stack by its
    /// rlimit and guard gap (at least 128 MiB, at most 5/6 of the space), less the random
    /// offset (`randomPages` pages; 0 with ASLR off) and, with ASLR on, the stack's own random
    /// range.
    public init(rlimitStack: UInt64 = 8 << 20, aslr: Bool = false, randomPages: UInt64 = 0) {
        let stackRandom: UInt64 = aslr ? 0x3f_ffff << 12 : 0
        var gap = rlimitStack
        let pad = stackRandom + (256 << 12)
        if gap &+ pad > gap { gap += pad }
        gap = min(max(gap, 128 << 20), Self.taskSize / 6 * 5)
        mmapBase = (Self.taskSize - gap - (randomPages << 12) + 0xfff) & Self.pageMask
    }

    /// find_vma(): the index of the first area that ends above `addr` (vmas.count if none).
    public func findIndex(_ addr: UInt64) -> Int {
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].end > addr { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// The area holding `addr`, if any.
    public func vma(containing addr: UInt64) -> VMA? {
        let i = findIndex(addr)
        return i < vmas.count && vmas[i].start <= addr ? vmas[i] : nil
    }

    /// Whether any area meets [start, end).
    func intersects(_ start: UInt64, _ end: UInt64) -> Bool {
        let i = findIndex(start)
        return i < vmas.count && vmas[i].start < end
    }

    // MARK: Where a new mapping goes

    /// get_unmapped_area() for an anonymous or file mapping of `len` bytes with x86-64's
    /// top-down policy: MAP_FIXED takes the address as given; a hint is used when the space there
    /// is free; otherwise the highest gap below mmap_base that fits (keeping a stack's guard gap),
    /// and bottom-up from a third of the space when the top-down search fails.
    func unmappedArea(hint: UInt64, len: UInt64, fixed: Bool, alignTHP: Bool = false) throws(Errno) -> UInt64 {
        if len > Self.taskSize { throw .ENOMEM }
        var addr = hint
        if !fixed, hint == 0, alignTHP, thpAlignAnonymous, len & 0x1f_ffff == 0, len <= Self.taskSize - (2 << 20),
           let padded = topDown(len + (2 << 20)) {
            // Search with 2 MiB of slack, then round up to the boundary (a top-down search
            // already on one moves a whole 2 MiB up).
            let sub = (0 &- padded) & 0x1f_ffff
            return sub == 0 ? padded + (2 << 20) : padded + sub
        }
        if !fixed {
            if addr != 0 {
                addr &= Self.pageMask
                if addr <= Self.taskSize - len, addr >= mmapMinAddr {
                    let i = findIndex(addr)
                    if i == vmas.count || addr + len <= vmas[i].startGap(stackGuardGap) { return addr }
                }
            }
            addr = topDown(len) ?? bottomUp(len) ?? UInt64.max
            if addr == UInt64.max { throw .ENOMEM }
        }
        if addr > Self.taskSize - len { throw .ENOMEM }
        if addr & 0xfff != 0 { throw .EINVAL }
        return addr
    }

    /// unmapped_area_topdown(): the highest gap in [PAGE_SIZE, mmap_base) of `len` bytes.
    func topDown(_ len: UInt64) -> UInt64? {
        var high = mmapBase
        let low: UInt64 = 4096
        while high > low {
            // Walk the gaps from the top: the gap below area i ends at vmas[i].start.
            var i = findIndex(high - 1)
            var found: UInt64? = nil
            var gapEnd = high
            while true {
                let prevEnd = i > 0 ? vmas[i - 1].end : 0
                let top = i < vmas.count ? min(vmas[i].start, high) : high
                gapEnd = top
                let bottom = max(prevEnd, low)
                if top > bottom, top - bottom >= len { found = top - len; break }
                if i == 0 { break }
                i -= 1
            }
            guard let gap = found else { return nil }
            // A stack above the gap wants its guard gap kept free.
            if i < vmas.count, vmas[i].flags.contains(.growsDown), vmas[i].startGap(stackGuardGap) <= gapEnd - 1 {
                high = vmas[i].startGap(stackGuardGap)
                continue
            }
            return gap
        }
        return nil
    }

    /// arch_get_unmapped_area(): the lowest gap from TASK_UNMAPPED_BASE up.
    func bottomUp(_ len: UInt64) -> UInt64? {
        var addr = (Self.taskSize / 3 + 0xfff) & Self.pageMask
        var i = findIndex(addr)
        while addr + len <= Self.taskSize {
            if i == vmas.count || addr + len <= vmas[i].startGap(stackGuardGap) { return addr }
            addr = max(addr, vmas[i].end)
            i += 1
        }
        return nil
    }

    // MARK: Editing the list

    /// __split_vma(): an area that straddles `addr` becomes two, the second at the offset that
    /// continues the first.
    mutating func split(at addr: UInt64) {
        let i = findIndex(addr)
        guard i < vmas.count, vmas[i].start < addr else { return }
        var tail = vmas[i]
        tail.pgoff += (addr - tail.start) >> 12
        tail.start = addr
        vmas[i].end = addr
        vmas.insert(tail, at: i + 1)
    }

    /// Takes every area inside [start, end) out of the list (splitting those that straddle its
    /// ends) and returns them, counters already reduced.
    mutating func detach(_ start: UInt64, _ end: UInt64) -> [VMA] {
        split(at: start)
        split(at: end)
        let first = findIndex(start)
        var last = first
        while last < vmas.count, vmas[last].start < end { last += 1 }
        let gone = Array(vmas[first..<last])
        vmas.removeSubrange(first..<last)
        for v in gone { account(v.flags, -Int64(v.pages)) }
        return gone
    }

    /// Puts an area into the list at its place and counts it; returns its index.
    @discardableResult
    mutating func attach(_ v: VMA) -> Int {
        let i = findIndex(v.start)
        vmas.insert(v, at: i)
        account(v.flags, Int64(v.pages))
        return i
    }

    /// vma_merge() as it ends: the area at `i` joins its neighbours where they may be one area.
    /// Returns the index the area now has.
    @discardableResult
    mutating func mergeNeighbours(_ i: Int) -> Int {
        var i = i
        if i + 1 < vmas.count, VMA.mergeable(vmas[i], vmas[i + 1]) {
            let next = vmas.remove(at: i + 1)
            vmas[i].end = next.end
            if vmas[i].anonVMA == 0 { vmas[i].anonVMA = next.anonVMA }
        }
        if i > 0, VMA.mergeable(vmas[i - 1], vmas[i]) {
            let cur = vmas.remove(at: i)
            i -= 1
            vmas[i].end = cur.end
            if vmas[i].anonVMA == 0 { vmas[i].anonVMA = cur.anonVMA }
        }
        return i
    }

    /// Changes the area at `i` in place (its end, its flags), keeping the counters right.
    mutating func update(_ i: Int, _ change: (inout VMA) -> Void) {
        account(vmas[i].flags, -Int64(vmas[i].pages))
        change(&vmas[i])
        account(vmas[i].flags, Int64(vmas[i].pages))
    }

    /// vm_stat_account(): total_vm, and exec_vm, stack_vm or data_vm by the area's kind.
    mutating func account(_ flags: VMFlags, _ pages: Int64) {
        let n = UInt64(bitPattern: pages)
        totalVM &+= n
        if flags.contains(.exec), !flags.contains(.write), !flags.contains(.growsDown) {
            execVM &+= n
        } else if flags.contains(.growsDown) {
            stackVM &+= n
        } else if flags.intersection([.write, .shared, .growsDown]) == .write {
            dataVM &+= n
        }
    }

    /// A new anon_vma's identity (anon_vma_prepare()).
    mutating func newAnonVMA() -> UInt32 {
        defer { nextAnonVMA += 1 }
        return nextAnonVMA
    }

    /// The invariants: sorted, non-empty, non-overlapping, page-aligned areas.
    public func check() -> Bool {
        var prevEnd: UInt64 = 0
        for v in vmas {
            if v.start < prevEnd || v.end <= v.start || (v.start | v.end) & 0xfff != 0 { return false }
            prevEnd = v.end
        }
        return true
    }
}
