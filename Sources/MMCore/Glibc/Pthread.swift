// Thread stacks: what pthread_create() and a thread's end do to the address space.
//
// Linux: none (user space). It calls mmap (MAP_STACK), mprotect (the guard page stays
//        PROT_NONE) and madvise (MADV_DONTNEED). glibc 2.36: nptl/allocatestack.c
//        (allocate_stack, get_cached_stack, advise_stack_range), nptl/nptl-stack.c
//        (__nptl_deallocate_stack, queue_stack, __nptl_free_stacks: the 40 MiB stack cache),
//        nptl/pthread_create.c (start_thread: the stack advised away at the thread's end).
//
// The default stack is RLIMIT_STACK (8 MiB) plus a guard page: one PROT_NONE mapping of
// 8392704 bytes, all but the guard made writable. A thread's end gives the stack's unused part
// back (MADV_DONTNEED: everything below the frame start_thread runs in, less PTHREAD_STACK_MIN),
// and a joined thread's stack waits in a cache for the next thread instead of being unmapped,
// until the cache holds more than 40 MiB.

public struct ThreadStacks: Sendable {
    /// A stack: its mapping and size.
    public struct Stack: Sendable, Hashable {
        public var base: UInt64
        public var size: UInt64
        /// The thread's DTV, calloc'd when the stack was new (_dl_allocate_tls()).
        public var dtv: UInt64 = 0
    }
    /// The DTV's entries: the program's TLS modules (libc's: 1) + DTV_SURPLUS (14) + 2, of
    /// 16 bytes each (allocate_dtv()).
    public static let dtvEntries: UInt64 = 1 + 14 + 2
    public static let defaultSize: UInt64 = (8 << 20) + 4096
    public static let guardSize: UInt64 = 4096
    public static let cacheMax: UInt64 = 40 << 20
    /// Cached stacks, most recently cached first.
    public private(set) var cache: [Stack] = []
    var cacheSize: UInt64 = 0
    public init() {}

    /// allocate_stack(): a cached stack of the right size (its DTV cleared and kept), else a
    /// new mapping with its guard and a new DTV from calloc().
    public mutating func allocate(_ libc: inout GlibcMalloc, _ sys: inout TaskMemory) -> Stack? {
        if let i = cache.firstIndex(where: { $0.size == Self.defaultSize }) {
            let s = cache.remove(at: i)
            cacheSize -= s.size
            return s
        }
        guard let base = sys.mmap(0, Self.defaultSize, .none, [.private, .anonymous, .stack]) else { return nil }
        guard sys.mprotect(base + Self.guardSize, Self.defaultSize - Self.guardSize, .readWrite) else {
            sys.munmap(base, Self.defaultSize)
            return nil
        }
        let dtv = libc.calloc(Self.dtvEntries, 16, &sys)
        if dtv == 0 {
            sys.munmap(base, Self.defaultSize)
            return nil
        }
        return Stack(base: base, size: Self.defaultSize, dtv: dtv)
    }

    /// A thread's end: advise_stack_range() gives back what lies below its last frames.
    public func threadEnded(_ s: Stack, _ sys: inout TaskMemory) {
        let free = s.size - 0x2000
        if free > 16384 { sys.madvise(s.base, free - 16384, .dontNeed) }
    }

    /// pthread_join(): the stack joins the cache; the oldest go (their DTV freed, then the
    /// mapping) while it holds over 40 MiB.
    public mutating func release(_ s: Stack, _ libc: inout GlibcMalloc, _ sys: inout TaskMemory) {
        cache.insert(s, at: 0)
        cacheSize += s.size
        while cacheSize > Self.cacheMax, let old = cache.popLast() {
            cacheSize -= old.size
            try? libc.free(old.dtv, &sys)
            sys.munmap(old.base, old.size)
        }
    }
}
