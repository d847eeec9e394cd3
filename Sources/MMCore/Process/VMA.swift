// A process's virtual memory areas: what one vm_area_struct says, and when two may be one.
//
// Linux: include/linux/mm_types.h (struct vm_area_struct), include/linux/mm.h (VM_* flags,
//        vm_start_gap), mm/mmap.c (is_mergeable_vma, is_mergeable_anon_vma,
//        can_vma_merge_before/after, calc_vm_prot_bits, calc_vm_flag_bits), mm/util.c (errno
//        values the system calls return).

/// A vm_area_struct's vm_flags, with Linux's bit values (so a dump can be compared).
@frozen
public struct VMFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let read = VMFlags(rawValue: 0x1)
    public static let write = VMFlags(rawValue: 0x2)
    public static let exec = VMFlags(rawValue: 0x4)
    public static let shared = VMFlags(rawValue: 0x8)
    public static let mayRead = VMFlags(rawValue: 0x10)
    public static let mayWrite = VMFlags(rawValue: 0x20)
    public static let mayExec = VMFlags(rawValue: 0x40)
    public static let mayShare = VMFlags(rawValue: 0x80)
    public static let growsDown = VMFlags(rawValue: 0x100)
    public static let locked = VMFlags(rawValue: 0x2000)
    public static let dontExpand = VMFlags(rawValue: 0x40000)
    public static let account = VMFlags(rawValue: 0x100000)
    public static let noReserve = VMFlags(rawValue: 0x200000)
    public static let softDirty = VMFlags(rawValue: 0x8000000)
    public static let hugePage = VMFlags(rawValue: 0x20000000)
    public static let noHugePage = VMFlags(rawValue: 0x40000000)

    /// The PROT_* bits as VM_READ/WRITE/EXEC (calc_vm_prot_bits).
    @inlinable public static func prot(_ prot: Prot) -> VMFlags { VMFlags(rawValue: UInt64(prot.rawValue & 7)) }
    /// The flags mmap() gives every mapping: VM_MAY* (mm->def_flags is empty).
    public static let mayAll: VMFlags = [.mayRead, .mayWrite, .mayExec]
}

/// mmap()'s and mprotect()'s PROT_* argument.
@frozen
public struct Prot: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let read = Prot(rawValue: 1)
    public static let write = Prot(rawValue: 2)
    public static let exec = Prot(rawValue: 4)
    public static let none: Prot = []
    public static let readWrite: Prot = [.read, .write]
}

/// mmap()'s MAP_* argument, with x86-64's values.
@frozen
public struct MapFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let shared = MapFlags(rawValue: 0x01)
    public static let `private` = MapFlags(rawValue: 0x02)
    public static let fixed = MapFlags(rawValue: 0x10)
    public static let anonymous = MapFlags(rawValue: 0x20)
    public static let growsDown = MapFlags(rawValue: 0x100)
    public static let denyWrite = MapFlags(rawValue: 0x800)
    public static let locked = MapFlags(rawValue: 0x2000)
    public static let noReserve = MapFlags(rawValue: 0x4000)
    public static let populate = MapFlags(rawValue: 0x8000)
    public static let stack = MapFlags(rawValue: 0x20000)
    public static let fixedNoReplace = MapFlags(rawValue: 0x100000)
    public static let privateAnonymous: MapFlags = [.private, .anonymous]
}

/// The error numbers the modelled system calls return, with Linux's values (asm-generic/errno).
public enum Errno: Int32, Error, Sendable {
    case EPERM = 1, ENOENT = 2, EINTR = 4, EBADF = 9, EAGAIN = 11, ENOMEM = 12, EACCES = 13
    case EFAULT = 14, EEXIST = 17, EINVAL = 22, EFBIG = 27, ENOSPC = 28, EOVERFLOW = 75
}

/// What a mapping maps, beyond its flags: nothing (anonymous memory), a file (an index into the
/// process's file table), or one of the kernel's special mappings.
public enum VMABacking: Sendable, Hashable {
    case anonymous
    case file(Int32)
    case vdso
    case vvar
}

/// One vm_area_struct: [start, end) with its flags, its offset in what it maps (in pages; for
/// anonymous memory, the address's own page number, as do_mmap() sets it), and its anon_vma (0:
/// none yet — the first write fault gives it one).
public struct VMA: Sendable, Hashable {
    public var start: UInt64
    public var end: UInt64
    public var flags: VMFlags
    public var pgoff: UInt64
    public var backing: VMABacking
    public var anonVMA: UInt32

    public init(start: UInt64, end: UInt64, flags: VMFlags, pgoff: UInt64, backing: VMABacking = .anonymous, anonVMA: UInt32 = 0) {
        self.start = start
        self.end = end
        self.flags = flags
        self.pgoff = pgoff
        self.backing = backing
        self.anonVMA = anonVMA
    }

    @inlinable public var pages: UInt64 { (end - start) >> 12 }
    public var isAnonymous: Bool { backing == .anonymous }

    /// vm_start_gap(): a stack keeps stack_guard_gap free below it.
    func startGap(_ guardGap: UInt64) -> UInt64 {
        guard flags.contains(.growsDown) else { return start }
        return start >= guardGap ? start - guardGap : 0
    }

    /// Whether `a` followed by `b` may be one area (vma_merge()'s tests: equal flags but for
    /// soft-dirty, the same file at consecutive offsets, compatible anon_vmas; special mappings
    /// never merge).
    static func mergeable(_ a: VMA, _ b: VMA) -> Bool {
        guard a.end == b.start, a.backing == b.backing else { return false }
        switch a.backing {
        case .vdso, .vvar: return false
        case .anonymous, .file: break
        }
        if (a.flags.rawValue ^ b.flags.rawValue) & ~VMFlags.softDirty.rawValue != 0 { return false }
        if a.flags.contains(.dontExpand) { return false }
        guard a.pgoff &+ a.pages == b.pgoff else { return false }
        return a.anonVMA == 0 || b.anonVMA == 0 || a.anonVMA == b.anonVMA
    }
}
