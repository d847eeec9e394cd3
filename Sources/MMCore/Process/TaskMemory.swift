// The kernel's side of one process's memory: its mm_struct and the memory system calls it
// made, each recorded the way strace shows it.
//
// Linux: arch/x86/entry/syscalls/syscall_64.tbl (mmap 9, mprotect 10, munmap 11, brk 12,
//        mremap 25, madvise 28), mm/mmap.c (ksys_mmap_pgoff, SYSCALL munmap), mm/madvise.c
//        (SYSCALL madvise: MADV_NORMAL is accepted and does nothing; MADV_DONTNEED zaps).
//
// glibc's malloc (Glibc/) calls these methods the way it calls the kernel: it sees an address
// or a failure, never the areas. The record is what `kmemlab run --strace` prints; it costs
// nothing while `recording` is off.

/// madvise()'s advice, with Linux's numbers.
public enum Madvice: Int32, Sendable {
    case normal = 0, random = 1, sequential = 2, willNeed = 3, dontNeed = 4
    case free = 8, remove = 9, dontFork = 10, doFork = 11, mergeable = 12, unmergeable = 13
    case hugePage = 14, noHugePage = 15
}

/// One memory system call and what it returned (an address, 0, or -errno).
public enum SyscallRecord: Sendable, Equatable {
    case brk(addr: UInt64, result: UInt64)
    case mmap(addr: UInt64, length: UInt64, prot: Prot, flags: MapFlags, fd: Int32, offset: UInt64, result: Int64)
    case munmap(addr: UInt64, length: UInt64, result: Int64)
    case mprotect(addr: UInt64, length: UInt64, prot: Prot, result: Int64)
    case mremap(addr: UInt64, oldLength: UInt64, newLength: UInt64, flags: MremapFlags, result: Int64)
    case madvise(addr: UInt64, length: UInt64, advice: Madvice, result: Int64)
}

public struct TaskMemory: Sendable {
    public var mm: MMStruct
    /// Whether system calls are recorded.
    public var recording = false
    public private(set) var syscalls: [SyscallRecord] = []
    /// The areas the last calls unmapped, for the fault side to free their pages and tables.
    public var unmapped: [VMA] = []
    /// Ranges whose pages go but whose tables stay (MADV_DONTNEED).
    public var dontneed: [(UInt64, UInt64)] = []
    /// Mappings mremap() moved (old, new, length): their pages move with them.
    public var moved: [(UInt64, UInt64, UInt64)] = []
    /// The page tables and the pages they map.
    public var tables = UserPageTables()
    /// MM_ANONPAGES: anonymous pages mapped (RssAnon); MM_FILEPAGES (RssFile).
    public var rssAnon: UInt64 = 0
    public var rssFile: UInt64 = 0
    /// MM_SHMEMPAGES: tmpfs and shared anonymous pages mapped (RssShmem).
    public var rssShmem: UInt64 = 0
    /// Which page-cache file each file-backed area's file is (the struct file behind the fd).
    public var fileOf: [Int32: Int] = [:]
    /// Each open file's readahead state (file_ra_state), by page-cache file.
    public var readahead: [Int: ReadaheadState] = [:]

    public init(mm: MMStruct) { self.mm = mm }

    mutating func record(_ r: SyscallRecord) { if recording { syscalls.append(r) } }
    public mutating func clearRecord() { syscalls.removeAll(keepingCapacity: true) }

    /// brk(addr): the new break, or the old one when it could not move.
    public mutating func brk(_ addr: UInt64) -> UInt64 {
        let r = mm.setBrk(addr, unmapped: &unmapped)
        record(.brk(addr: addr, result: r))
        return r
    }

    /// mmap(): the address, or nil on failure.
    public mutating func mmap(_ addr: UInt64, _ length: UInt64, _ prot: Prot, _ flags: MapFlags,
                              backing: VMABacking = .anonymous, fd: Int32 = -1, offset: UInt64 = 0) -> UInt64? {
        var result: Int64
        var out: UInt64? = nil
        if offset & 0xfff != 0 {
            result = -Int64(Errno.EINVAL.rawValue)
        } else {
            do {
                let a = try mm.mmap(addr: addr, length: length, prot: prot, flags: flags, backing: backing,
                                    pgoff: offset >> 12, unmapped: &unmapped)
                out = a
                result = Int64(bitPattern: a)
            } catch {
                result = -Int64(error.rawValue)
            }
        }
        record(.mmap(addr: addr, length: length, prot: prot, flags: flags, fd: fd, offset: offset, result: result))
        return out
    }

    /// munmap(): whether it succeeded.
    @discardableResult
    public mutating func munmap(_ addr: UInt64, _ length: UInt64) -> Bool {
        var result: Int64 = 0
        do { try mm.munmap(addr: addr, length: length, unmapped: &unmapped) } catch { result = -Int64(error.rawValue) }
        record(.munmap(addr: addr, length: length, result: result))
        return result == 0
    }

    /// mprotect(): whether it succeeded.
    @discardableResult
    public mutating func mprotect(_ addr: UInt64, _ length: UInt64, _ prot: Prot) -> Bool {
        var result: Int64 = 0
        do { try mm.mprotect(addr: addr, length: length, prot: prot) } catch { result = -Int64(error.rawValue) }
        record(.mprotect(addr: addr, length: length, prot: prot, result: result))
        return result == 0
    }

    /// mremap(): the new address, or nil on failure.
    public mutating func mremap(_ addr: UInt64, _ oldLength: UInt64, _ newLength: UInt64, _ flags: MremapFlags) -> UInt64? {
        var result: Int64
        var out: UInt64? = nil
        do {
            let a = try mm.mremap(addr: addr, oldLength: oldLength, newLength: newLength, flags: flags, unmapped: &unmapped)
            if a != addr { moved.append((addr, a, min((oldLength + 0xfff) & ~0xfff, (newLength + 0xfff) & ~0xfff))) }
            out = a
            result = Int64(bitPattern: a)
        } catch {
            result = -Int64(error.rawValue)
        }
        record(.mremap(addr: addr, oldLength: oldLength, newLength: newLength, flags: flags, result: result))
        return out
    }

    /// madvise(): MADV_NORMAL with no range is the markers' no-op; a range must be mapped and
    /// page-aligned.
    @discardableResult
    public mutating func madvise(_ addr: UInt64, _ length: UInt64, _ advice: Madvice) -> Int64 {
        var result: Int64 = 0
        if addr & 0xfff != 0 {
            result = -Int64(Errno.EINVAL.rawValue)
        } else if length != 0 {
            let end = addr &+ ((length &+ 0xfff) & ~0xfff)
            if end < addr { result = -Int64(Errno.EINVAL.rawValue) }
            else if !mm.covers(addr, end) { result = -Int64(Errno.ENOMEM.rawValue) }
            else if advice == .dontNeed { dontneed.append((addr, end)) }
        }
        record(.madvise(addr: addr, length: length, advice: advice, result: result))
        return result
    }
}

extension MMStruct {
    /// Whether every page of [start, end) is mapped.
    public func covers(_ start: UInt64, _ end: UInt64) -> Bool {
        var cursor = start
        var i = findIndex(start)
        while cursor < end {
            guard i < vmas.count, vmas[i].start <= cursor else { return false }
            cursor = vmas[i].end
            i += 1
        }
        return true
    }
}
