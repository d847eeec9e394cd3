// glibc 2.36's malloc, single-threaded: the main arena, its bins and the thread cache, down to
// the system calls it makes.
//
// Linux: none (user space). It calls brk, mmap, munmap, mremap and madvise, which the kernel
//        side of the process (TaskMemory) models. glibc 2.36: malloc/malloc.c (malloc_state,
//        malloc_par mp_, malloc_init_state, request2size, checked_request2size, bin_at,
//        fastbin_index, smallbin_index, largebin_index_64, csize2tidx, tcache_init, tcache_put,
//        tcache_get, __libc_malloc, __libc_free, __libc_calloc, __libc_mallopt, __malloc_trim,
//        mtrim), misc/sbrk.c (__sbrk).
//
// Why model the chunks at all: which system call glibc makes, and when, depends on the size of
// the top chunk, which depends on every placement decision before it (which bin a freed chunk
// went to, which chunk a request split, what coalesced). So this is malloc.c's algorithm, step
// for step, over a sparse store of the words malloc keeps in memory (chunk headers, footers,
// list links). The bins are fake chunks at addresses no heap uses, as in glibc, where the bin
// headers overlap the arena's `bins` array.

/// How glibc reports heap corruption it detects; the process then aborts (SIGABRT).
public enum MallocAbort: Error, Sendable, Equatable {
    case freeInvalidPointer
    case freeInvalidSize
    case doubleFreeTcache
    case doubleFreeFasttop
    case doubleFreeNotPrev
    case doubleFreeTop
    case doubleFreeOut
    case munmapChunkInvalidPointer
    case reallocInvalidPointer
    case mremapChunkInvalidPointer
}

public struct GlibcMalloc: Sendable {
    // MARK: constants of x86-64 (SIZE_SZ 8, MALLOC_ALIGNMENT 16)
    static let sizeSz: UInt64 = 8
    static let alignMask: UInt64 = 15
    static let minSize: UInt64 = 32
    static let prevInuse: UInt64 = 1
    static let isMmapped: UInt64 = 2
    static let nonMainArena: UInt64 = 4
    static let sizeBits: UInt64 = 7
    static let nBins = 128
    static let nFastbins = 10
    static let minLargeSize: UInt64 = 1024
    static let fastbinConsolidationThreshold: UInt64 = 65536
    static let mmapThresholdMax: UInt64 = 32 << 20
    static let pageSize: UInt64 = 4096
    static let maxIters = 10000
    /// Where the main arena's bin headers live (in libc's data): an address no mapping reaches.
    static let mainBinBase: UInt64 = 0xffff_ff00_0000_0000
    /// sizeof(heap_info) and sizeof(struct malloc_state) on x86-64.
    static let heapInfoSize: UInt64 = 48
    static let mallocStateSize: UInt64 = 2200
    /// HEAP_MAX_SIZE (2 × DEFAULT_MMAP_THRESHOLD_MAX) and HEAP_MIN_SIZE.
    static let heapMaxSize: UInt64 = 64 << 20
    static let heapMinSize: UInt64 = 32 << 10
    /// The value tcache_put() writes into an entry's key (glibc's is random).
    static let tcacheKey: UInt64 = 0x5eed_7cac_4e00_0001

    // MARK: mp_ (malloc_par)
    public internal(set) var topPad: UInt64 = 128 << 10
    public internal(set) var mmapThreshold: UInt64 = 128 << 10
    public internal(set) var trimThreshold: UInt64 = 128 << 10
    public internal(set) var nMmapsMax: Int64 = 65536
    public internal(set) var noDynThreshold = false
    public internal(set) var nMmaps: Int64 = 0
    public internal(set) var mmappedMem: UInt64 = 0
    var sbrkBase: UInt64 = 0
    let tcacheBins = 64
    public internal(set) var tcacheCount = 7

    // MARK: the arena being worked on (malloc_state); the others wait in `arenas`
    var maxFast: UInt64 = 128
    /// The current arena's bins: in libc's data for the main arena, inside the heap for others.
    var binBase: UInt64 = GlibcMalloc.mainBinBase
    /// NON_MAIN_ARENA for chunks of arenas other than the main one.
    var arenaBit: UInt64 = 0
    var fastbins = [UInt64](repeating: 0, count: 10)
    var top: UInt64
    var lastRemainder: UInt64 = 0
    var binmap = [UInt32](repeating: 0, count: 4)
    var haveFastchunks = false
    /// Whether the heap is one brk region (cleared once mmap stands in for a failed brk).
    var contiguous = true
    public internal(set) var systemMem: UInt64 = 0
    var maxSystemMem: UInt64 = 0

    // MARK: the thread's tcache (tcache_perthread_struct, kept beside its chunk)
    var tcache: UInt64 = 0
    var tcacheCounts = [UInt16](repeating: 0, count: 64)
    var tcacheEntries = [UInt64](repeating: 0, count: 64)

    // MARK: arenas and threads (arena.c's statics)
    var arenas: [ArenaState] = []
    var currentArena = 0
    var threads: [ThreadCacheState] = []
    var currentThread = 0
    /// Non-main arenas' heaps by base address (heap_for_ptr()).
    public internal(set) var heaps: [UInt64: MallocHeap] = [:]
    var freeArenas: [Int] = []
    var narenas = 1
    var narenasLimit = 0
    /// mp_.arena_test (NARENAS_FROM_NCORES(1)) and mp_.arena_max (M_ARENA_MAX; 0: no limit).
    var arenaTest = 8
    var arenaMax = 0
    /// What __get_nprocs_sched() says: the CPUs the process may run on.
    public var nprocs = 1
    var nextToUse = 0
    var alignedHeapArea: UInt64 = 0
    /// SINGLE_THREAD_P: until the first pthread_create(), everything uses the main arena.
    public internal(set) var singleThread = true

    /// __curbrk: 0 until the first sbrk() asks the kernel.
    var curbrk: UInt64 = 0
    /// The words malloc has written: chunk sizes, footers, list links.
    var words: [UInt64: UInt64] = [:]
    /// Set when a free list turned out to loop (a double free glibc's checks missed): glibc
    /// would loop forever; the model stops walking and the caller ends the process.
    public internal(set) var corrupted = false
    /// The most links a list walk follows before it calls the list corrupted: more than the
    /// chunks the words could describe.
    var walkLimit: Int { words.count / 2 + 64 }

    /// Whether stores to user memory are recorded (they fault pages in).
    public var trackWrites = false
    var writes: [(UInt64, UInt64)] = []
    /// The user pointers malloc has handed out and not had back: the model's own record, used
    /// only to refuse a free() of something malloc never returned.
    public internal(set) var live: [UInt64: UInt64] = [:]

    /// malloc_init_state(&main_arena): every bin empty, top the initial (size 0) chunk.
    public init() {
        top = 0
        initBins()
        top = initialTop
        arenas = [ArenaState(binBase: Self.mainBinBase)]
        threads = [ThreadCacheState()]
    }

    /// malloc_init_state()'s bins: each empty (pointing at itself).
    mutating func initBins() {
        for i in 1..<Self.nBins {
            let b = binAt(i)
            self[fd: b] = b
            self[bk: b] = b
        }
    }

    // MARK: chunk fields (malloc_chunk: prev_size, size, fd, bk, fd_nextsize, bk_nextsize)

    subscript(word a: UInt64) -> UInt64 {
        get { words[a] ?? 0 }
        set {
            words[a] = newValue
            if trackWrites, a < Self.mainBinBase { wrote(a, 8) }
        }
    }

    /// Notes a store to user memory (when `trackWrites`), merging with the last range.
    mutating func wrote(_ a: UInt64, _ n: UInt64) {
        guard trackWrites, n > 0 else { return }
        if let last = writes.last, a >= last.0 && a <= last.1 {
            writes[writes.count - 1].1 = max(last.1, a + n)
        } else {
            writes.append((a, a + n))
        }
    }

    /// The stores since the last call, for the process to fault in.
    public mutating func takeWrites() -> [(UInt64, UInt64)] {
        defer { writes.removeAll(keepingCapacity: true) }
        return writes
    }
    subscript(prevSize p: UInt64) -> UInt64 { get { self[word: p] } set { self[word: p] = newValue } }
    subscript(head p: UInt64) -> UInt64 { get { self[word: p &+ 8] } set { self[word: p &+ 8] = newValue } }
    subscript(fd p: UInt64) -> UInt64 { get { self[word: p &+ 16] } set { self[word: p &+ 16] = newValue } }
    subscript(bk p: UInt64) -> UInt64 { get { self[word: p &+ 24] } set { self[word: p &+ 24] = newValue } }
    subscript(fdNext p: UInt64) -> UInt64 { get { self[word: p &+ 32] } set { self[word: p &+ 32] = newValue } }
    subscript(bkNext p: UInt64) -> UInt64 { get { self[word: p &+ 40] } set { self[word: p &+ 40] = newValue } }

    func chunksize(_ p: UInt64) -> UInt64 { self[head: p] & ~Self.sizeBits }
    func prevInuse(_ p: UInt64) -> Bool { self[head: p] & Self.prevInuse != 0 }
    func isMmapped(_ p: UInt64) -> Bool { self[head: p] & Self.isMmapped != 0 }
    /// inuse_bit_at_offset(p, s): the next chunk's PREV_INUSE.
    func inuse(at p: UInt64) -> Bool { self[head: p] & Self.prevInuse != 0 }
    mutating func setInuse(at p: UInt64) { self[head: p] |= Self.prevInuse }
    mutating func clearInuse(at p: UInt64) { self[head: p] &= ~Self.prevInuse }
    /// set_foot(): the next chunk's prev_size.
    mutating func setFoot(_ p: UInt64, _ s: UInt64) { self[prevSize: p &+ s] = s }
    /// set_head_size(): the size, keeping the flag bits.
    mutating func setHeadSize(_ p: UInt64, _ s: UInt64) { self[head: p] = (self[head: p] & Self.sizeBits) | s }

    @inlinable static func chunk2mem(_ p: UInt64) -> UInt64 { p &+ 16 }
    @inlinable static func mem2chunk(_ m: UInt64) -> UInt64 { m &- 16 }

    // MARK: sizes and bins

    /// checked_request2size(): 0 for requests past PTRDIFF_MAX.
    static func request2size(_ req: UInt64) -> UInt64 {
        if req > UInt64(Int64.max) { return 0 }
        if req + sizeSz + alignMask < minSize { return minSize }
        return (req + sizeSz + alignMask) & ~alignMask
    }
    /// bin_at(av, i): the fake chunk whose fd and bk are the arena's bins[2i-2], bins[2i-1].
    func binAt(_ i: Int) -> UInt64 { binBase &+ UInt64(i - 1) &* 16 &- 16 }
    var initialTop: UInt64 { binAt(1) }
    var unsortedChunks: UInt64 { binAt(1) }
    static func fastbinIndex(_ sz: UInt64) -> Int { Int(sz >> 4) - 2 }
    static func inSmallbinRange(_ sz: UInt64) -> Bool { sz < minLargeSize }
    static func smallbinIndex(_ sz: UInt64) -> Int { Int(sz >> 4) }
    static func largebinIndex(_ sz: UInt64) -> Int {
        if sz >> 6 <= 48 { return 48 + Int(sz >> 6) }
        if sz >> 9 <= 20 { return 91 + Int(sz >> 9) }
        if sz >> 12 <= 10 { return 110 + Int(sz >> 12) }
        if sz >> 15 <= 4 { return 119 + Int(sz >> 15) }
        if sz >> 18 <= 2 { return 124 + Int(sz >> 18) }
        return 126
    }
    static func binIndex(_ sz: UInt64) -> Int { inSmallbinRange(sz) ? smallbinIndex(sz) : largebinIndex(sz) }
    /// csize2tidx()
    static func tcacheIndex(_ nb: UInt64) -> Int { Int((nb &- minSize &+ alignMask) / 16) }
    mutating func markBin(_ i: Int) { binmap[i >> 5] |= 1 << UInt32(i & 31) }

    // MARK: the thread cache

    mutating func tcachePut(_ p: UInt64, _ idx: Int) {
        let e = Self.chunk2mem(p)
        self[word: e &+ 8] = Self.tcacheKey
        self[word: e] = tcacheEntries[idx]
        tcacheEntries[idx] = e
        tcacheCounts[idx] += 1
    }

    mutating func tcacheGet(_ idx: Int) -> UInt64 {
        let e = tcacheEntries[idx]
        tcacheEntries[idx] = self[word: e]
        tcacheCounts[idx] -= 1
        self[word: e &+ 8] = 0
        return e
    }

    /// tcache_init(): the first call takes the cache's own chunk (640 bytes of counts and
    /// list heads) from the arena.
    mutating func maybeInitTcache(_ sys: inout TaskMemory) {
        guard tcache == 0 else { return }
        guard let a = arenaGet(640, &sys) else { return }
        use(a)
        var m = intMalloc(640, &sys)
        if m == 0, let b = arenaRetry(a, 640, &sys) {
            use(b)
            m = intMalloc(640, &sys)
        }
        tcache = m
        wrote(tcache, 640)
    }

    /// arena_get_retry(): after a failure in a non-main arena, the main one; after one in the
    /// main arena, another.
    mutating func arenaRetry(_ a: Int, _ size: UInt64, _ sys: inout TaskMemory) -> Int? {
        if singleThread { return nil }
        return a != 0 ? 0 : arenaGet2(size, avoid: a, &sys)
    }
}
