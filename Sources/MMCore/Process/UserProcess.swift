// A user process as the memory system sees it: its address space after exec and the dynamic
// loader, and the C library's malloc inside it.
//
// Linux: fs/binfmt_elf.c (load_elf_binary: the program's segments, the bss, start_brk),
//        fs/exec.c (setup_arg_pages: the stack area), arch/x86/entry/vdso/vma.c (the [vvar]
//        and [vdso] special mappings), mm/mmap.c (the areas they make).
//
// The image is that of a small dynamically linked C program on Debian 12 after ld.so has
// mapped libc and before main() runs, with ASLR off (`setarch -R`), taken from such a program's
// /proc/self/maps on the oracle's host: the program's five segments at 0x555555554000, its bss
// up to the break (which a program's static arrays move), libc's five, ld.so's five, the
// loader's anonymous areas and the stack. main()'s own system calls start from there, so an
// anonymous mmap lands where the real one did.

/// A file a process maps: its path, device and inode as /proc/PID/maps prints them.
public struct MappedFile: Sendable, Hashable {
    public var path: String
    public var major: UInt32
    public var minor: UInt32
    public var inode: UInt64
    public init(path: String, major: UInt32, minor: UInt32, inode: UInt64) {
        self.path = path
        self.major = major
        self.minor = minor
        self.inode = inode
    }
}

public struct UserProcess: Sendable {
    public var pid: Int32
    public var comm: String
    public var task: TaskMemory
    public var libc: GlibcMalloc
    public var files: [MappedFile]
    /// Set when the process has ended (glibc abort, segfault, exit).
    public var exitStatus: Int32? = nil
    /// Its threads' stacks (the main thread's is the process's stack).
    public var stacks = ThreadStacks()

    /// The first address past the program's data: where the bss of a program without large
    /// static arrays ends and its break starts.
    public static let defaultBrk: UInt64 = 0x5555_5555_9000
    /// The highest break a spawned program may start at: below the mmap area's libraries.
    public static let maxBrk: UInt64 = 0x7000_0000_0000

    /// A dynamically linked C program named `comm` whose break starts at `brk` (page-aligned,
    /// at or above `defaultBrk`; a higher one means a larger bss).
    public init(pid: Int32, comm: String, brk: UInt64 = UserProcess.defaultBrk) {
        self.pid = pid
        self.comm = comm
        var mm = MMStruct()
        let prog = MappedFile(path: "/usr/bin/" + comm, major: 0xfe, minor: 0, inode: 1_000_000 + UInt64(pid))
        let libcFile = MappedFile(path: "/usr/lib/x86_64-linux-gnu/libc.so.6", major: 0xfe, minor: 0, inode: 333151)
        let ld = MappedFile(path: "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", major: 0xfe, minor: 0, inode: 332717)
        files = [prog, libcFile, ld]
        let r: VMFlags = [.read, .mayRead, .mayWrite, .mayExec]
        let rx: VMFlags = [.read, .exec, .mayRead, .mayWrite, .mayExec]
        let rw: VMFlags = [.read, .write, .mayRead, .mayWrite, .mayExec, .account]
        let segments: [(UInt64, UInt64, VMFlags, Int32, UInt64)] = [
            (0x5555_5555_4000, 0x5555_5555_5000, r, 0, 0), (0x5555_5555_5000, 0x5555_5555_6000, rx, 0, 1),
            (0x5555_5555_6000, 0x5555_5555_7000, r, 0, 2), (0x5555_5555_7000, 0x5555_5555_8000, r, 0, 2),
            (0x5555_5555_8000, 0x5555_5555_9000, rw, 0, 3),
            (0x7fff_f7dc_f000, 0x7fff_f7dd_2000, rw, -1, 0),
            (0x7fff_f7dd_2000, 0x7fff_f7df_8000, r, 1, 0), (0x7fff_f7df_8000, 0x7fff_f7f4_e000, rx, 1, 0x26),
            (0x7fff_f7f4_e000, 0x7fff_f7fa_1000, r, 1, 0x17c), (0x7fff_f7fa_1000, 0x7fff_f7fa_5000, r, 1, 0x1cf),
            (0x7fff_f7fa_5000, 0x7fff_f7fa_7000, rw, 1, 0x1d3), (0x7fff_f7fa_7000, 0x7fff_f7fb_4000, rw, -1, 0),
            (0x7fff_f7fc_0000, 0x7fff_f7fc_2000, rw, -1, 0),
            (0x7fff_f7fc_a000, 0x7fff_f7fc_b000, r, 2, 0), (0x7fff_f7fc_b000, 0x7fff_f7ff_1000, rx, 2, 1),
            (0x7fff_f7ff_1000, 0x7fff_f7ff_b000, r, 2, 0x27), (0x7fff_f7ff_b000, 0x7fff_f7ff_d000, r, 2, 0x31),
            (0x7fff_f7ff_d000, 0x7fff_f7ff_f000, rw, 2, 0x33),
        ]
        for (start, end, flags, file, pgoff) in segments {
            let backing: VMABacking = file < 0 ? .anonymous : .file(file)
            mm.attach(VMA(start: start, end: end, flags: flags, pgoff: file < 0 ? start >> 12 : pgoff, backing: backing))
        }
        let special: VMFlags = [.read, .mayRead, .dontExpand]
        // The host's [vvar] and [vvar_vclock] (six pages; 6.1's [vvar] has four, and its vDSO sits
        // above the stack): the image keeps the host's, so that the gaps below are the same.
        mm.attach(VMA(start: 0x7fff_f7fc_2000, end: 0x7fff_f7fc_8000, flags: special, pgoff: 0, backing: .vvar))
        mm.attach(VMA(start: 0x7fff_f7fc_8000, end: 0x7fff_f7fc_a000,
                      flags: [.read, .exec, .mayRead, .mayExec, .dontExpand], pgoff: 0, backing: .vdso))
        mm.attach(VMA(start: 0x7fff_fffd_e000, end: 0x7fff_ffff_f000,
                      flags: [.read, .write, .mayRead, .mayWrite, .mayExec, .growsDown, .account], pgoff: 0x7fff_fffd_e))
        let start = max((min(brk, Self.maxBrk) + 0xfff) & ~0xfff, Self.defaultBrk)
        if start > Self.defaultBrk {
            mm.attach(VMA(start: Self.defaultBrk, end: start, flags: rw, pgoff: Self.defaultBrk >> 12))
        }
        mm.startBrk = start
        mm.brk = start
        mm.startStack = 0x7fff_ffff_e000
        task = TaskMemory(mm: mm)
        libc = GlibcMalloc()
    }
}
