// The system calls that shape an address space: mmap, munmap, brk, mprotect, mremap.
//
// Linux: mm/mmap.c (do_mmap, mmap_region/__mmap_region, accountable_mapping, do_mas_munmap,
//        SYSCALL brk, do_brk_flags, do_brk_munmap, check_brk_limits), mm/mprotect.c
//        (do_mprotect_pkey, mprotect_fixup), mm/mremap.c (SYSCALL mremap, vma_to_resize,
//        vma_expandable, move_vma), mm/util.c (vm_mmap_pgoff).
//
// Each returns what the system call returns: an address, or an Errno the caller sees as -1.
// The areas they leave are Linux's, merges and splits included, so /proc/PID/maps prints the
// same lines. The pages behind the areas are the fault handler's business (Fault.swift):
// these calls report which ranges lost their pages, and the caller frees them.

extension MMStruct {
    /// do_mmap() for anonymous memory or a file at `pgoff` pages: the flags checks, the place
    /// (get_unmapped_area()), the unmapping of what MAP_FIXED covers, and mmap_region()'s merge
    /// with its neighbours. `unmapped` receives what a MAP_FIXED mapping replaced.
    public mutating func mmap(addr: UInt64, length: UInt64, prot: Prot, flags: MapFlags,
                              backing: VMABacking = .anonymous, pgoff: UInt64 = 0,
                              unmapped: inout [VMA]) throws(Errno) -> UInt64 {
        let sharing = flags.intersection([.shared, .private])
        if sharing.isEmpty || sharing == [.shared, .private] { throw .EINVAL }
        if length == 0 { throw .EINVAL }
        guard length <= UInt64.max - 0xfff else { throw .ENOMEM }
        let len = (length + 0xfff) & Self.pageMask
        let fixed = flags.contains(.fixed) || flags.contains(.fixedNoReplace)
        var hint = addr
        if !fixed, hint != 0, hint < mmapMinAddr { hint = (mmapMinAddr + 0xfff) & Self.pageMask }
        if vmas.count > maxMapCount { throw .ENOMEM }
        let start = try unmappedArea(hint: hint, len: len, fixed: fixed,
                                     alignTHP: backing == .anonymous && !flags.contains(.shared))
        if flags.contains(.fixedNoReplace), intersects(start, start + len) { throw .EEXIST }
        var vmFlags = VMFlags.prot(prot).union(.mayAll)
        if flags.contains(.growsDown) { vmFlags.insert(.growsDown) }
        if flags.contains(.locked) { vmFlags.insert(.locked) }
        var off = pgoff
        if flags.contains(.shared) {
            vmFlags.formUnion([.shared, .mayShare])
            if !prot.contains(.write), case .file = backing { vmFlags.remove(.mayWrite) }
            if backing == .anonymous { off = 0 }
        } else if backing == .anonymous {
            off = start >> 12
        }
        if flags.contains(.noReserve) { vmFlags.insert(.noReserve) }
        unmapped += detach(start, start + len)
        // accountable_mapping(): private writable memory is charged (VM_ACCOUNT).
        if vmFlags.intersection([.noReserve, .shared, .write]) == .write { vmFlags.insert(.account) }
        let i = attach(VMA(start: start, end: start + len, flags: vmFlags, pgoff: off, backing: backing))
        mergeNeighbours(i)
        return start
    }

    /// munmap(): the areas in [addr, addr + len) go, split where they straddle its ends.
    public mutating func munmap(addr: UInt64, length: UInt64, unmapped: inout [VMA]) throws(Errno) {
        if addr & 0xfff != 0 || addr > Self.taskSize || length > Self.taskSize - addr { throw .EINVAL }
        let len = (length + 0xfff) & Self.pageMask
        if len == 0 { throw .EINVAL }
        unmapped += detach(addr, addr + len)
    }

    /// brk(): the new break, or the old one when it cannot move (the system call never fails
    /// otherwise). Growing extends the heap's area (do_brk_flags()) or makes one; shrinking
    /// unmaps the freed pages.
    public mutating func setBrk(_ request: UInt64, unmapped: inout [VMA]) -> UInt64 {
        if request < startBrk { return brk }
        let newBrk = (request &+ 0xfff) & Self.pageMask
        let oldBrk = (brk + 0xfff) & Self.pageMask
        if newBrk < request { return brk }
        if oldBrk == newBrk { brk = request; return brk }
        if request <= brk {
            // do_brk_munmap(): only the heap's own area may shrink.
            let i = findIndex(newBrk)
            guard i < vmas.count, vmas[i].start < oldBrk else { return brk }
            brk = request
            unmapped += detach(newBrk, oldBrk)
            return brk
        }
        // check_brk_limits(): the new part must lie in the address space, and the next area
        // (with a stack's guard gap) must not start within a page of the new break.
        if newBrk > Self.taskSize { return brk }
        let next = findIndex(oldBrk)
        if next < vmas.count, vmas[next].start < newBrk - 1 + 4096 + stackGuardGap,
           newBrk + 4096 > vmas[next].startGap(stackGuardGap) { return brk }
        let flags: VMFlags = [.read, .write, .mayRead, .mayWrite, .mayExec, .account]
        if next > 0, vmas[next - 1].end == oldBrk, vmas[next - 1].start >= startBrk,
           vmas[next - 1].isAnonymous, vmas[next - 1].flags.subtracting(.softDirty) == flags {
            update(next - 1) { $0.end = newBrk; $0.flags.insert(.softDirty) }
        } else {
            attach(VMA(start: oldBrk, end: newBrk, flags: flags, pgoff: oldBrk >> 12))
        }
        brk = request
        return brk
    }

    /// mprotect(): every page of [addr, addr + len) must be mapped; each area's part gets the
    /// new protection (split where needed, merged again where it now matches a neighbour).
    /// Private memory that becomes writable is charged (VM_ACCOUNT), unless MAP_NORESERVE.
    public mutating func mprotect(addr: UInt64, length: UInt64, prot: Prot) throws(Errno) {
        if addr & 0xfff != 0 { throw .EINVAL }
        if prot.rawValue & ~7 != 0 { throw .EINVAL }
        let len = (length &+ 0xfff) & Self.pageMask
        if length != 0, len == 0 { throw .ENOMEM }
        let end = addr &+ len
        if end < addr { throw .ENOMEM }
        if end == addr { return }
        // Every page mapped, no holes.
        var cursor = addr
        var i = findIndex(addr)
        while cursor < end {
            guard i < vmas.count, vmas[i].start <= cursor else { throw .ENOMEM }
            cursor = vmas[i].end
            i += 1
        }
        split(at: addr)
        split(at: end)
        i = findIndex(addr)
        while i < vmas.count, vmas[i].start < end {
            update(i) { v in
                var f = v.flags.subtracting([.read, .write, .exec]).union(.prot(prot))
                if prot.contains(.write), !f.contains(.shared), !f.contains(.noReserve) { f.insert(.account) }
                v.flags = f
            }
            i = mergeNeighbours(i) + 1
        }
    }
}

/// mremap()'s flags.
@frozen
public struct MremapFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let mayMove = MremapFlags(rawValue: 1)
    public static let fixed = MremapFlags(rawValue: 2)
    public static let dontUnmap = MremapFlags(rawValue: 4)
}

extension MMStruct {
    /// mremap() without MREMAP_FIXED: shrinking unmaps the tail; growing extends the area in
    /// place when the space after it is free (vma_expandable(); no merge with what follows), or
    /// with MREMAP_MAYMOVE moves it to a new place found as mmap() finds one. A moved area keeps
    /// its page offset and anon_vma (copy_vma()), so it merges only with its own kind.
    public mutating func mremap(addr: UInt64, oldLength: UInt64, newLength: UInt64, flags: MremapFlags,
                                unmapped: inout [VMA]) throws(Errno) -> UInt64 {
        if flags.rawValue & ~7 != 0 || addr & 0xfff != 0 { throw .EINVAL }
        if flags.contains(.fixed) || flags.contains(.dontUnmap) { throw .EINVAL }
        let oldLen = (oldLength &+ 0xfff) & Self.pageMask
        let newLen = (newLength &+ 0xfff) & Self.pageMask
        if newLen == 0 || (newLength != 0 && newLen < newLength) { throw .EINVAL }
        if oldLen >= newLen {
            if oldLen > newLen { try munmap(addr: addr + newLen, length: oldLen - newLen, unmapped: &unmapped) }
            return addr
        }
        // vma_to_resize()
        let i = findIndex(addr)
        guard i < vmas.count, vmas[i].start <= addr else { throw .EFAULT }
        let vma = vmas[i]
        if oldLen > vma.end - addr { throw .EFAULT }
        if vma.flags.contains(.dontExpand) { throw .EFAULT }
        if oldLen == vma.end - addr {
            let newEnd = vma.end &+ (newLen - oldLen)
            if newEnd > vma.end, newEnd <= Self.taskSize, !intersects(vma.end, newEnd) {
                update(i) { $0.end = newEnd }
                return addr
            }
        }
        guard flags.contains(.mayMove) else { throw .ENOMEM }
        let pgoff = vma.pgoff + ((addr - vma.start) >> 12)
        let newAddr = try unmappedArea(hint: 0, len: newLen, fixed: false)
        var moved = vma
        moved.start = newAddr
        moved.end = newAddr + newLen
        moved.pgoff = pgoff
        // The old range goes first in the list's terms; its pages move with it (the caller
        // moves page-table entries from `addr` to `newAddr`).
        _ = detach(addr, addr + oldLen)
        let j = attach(moved)
        mergeNeighbours(j)
        return newAddr
    }
}
