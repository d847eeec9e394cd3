// Threads and their arenas: which arena a thread's malloc uses, and how a non-main arena's
// heaps (64 MiB reservations, made writable piece by piece) grow and shrink.
//
// Linux: none (user space). It calls mmap (PROT_NONE, MAP_NORESERVE), munmap, mprotect and
//        madvise (MADV_DONTNEED). glibc 2.36: malloc/arena.c (heap_info, alloc_new_heap,
//        new_heap, grow_heap, shrink_heap, heap_trim, _int_new_arena, get_free_list,
//        reused_arena, arena_get2, detach_arena, __malloc_arena_thread_freeres),
//        malloc/malloc.c (tcache_thread_shutdown, arena_for_chunk, heap_for_ptr).
//
// The algorithm code (Malloc+Int, Malloc+Free, Malloc+Sys) works on one arena's fields; the
// others wait in `arenas` and are swapped in when a call needs them (`use(_:)`), as a thread's
// tcache is swapped in when it runs (`switchThread(_:)`). One step runs at a time, so every
// arena lock is free when tried, as in a program whose threads take turns.

/// One arena's malloc_state, while another is being worked on.
struct ArenaState: Sendable {
    var fastbins = [UInt64](repeating: 0, count: 10)
    var top: UInt64 = 0
    var lastRemainder: UInt64 = 0
    var binmap = [UInt32](repeating: 0, count: 4)
    var haveFastchunks = false
    var systemMem: UInt64 = 0
    var maxSystemMem: UInt64 = 0
    var contiguous = true
    var binBase: UInt64
    var attachedThreads = 1
    /// The newest heap of a non-main arena (its base).
    var heap: UInt64 = 0
    init(binBase: UInt64) { self.binBase = binBase }
}

/// A non-main arena's heap (heap_info): a 64 MiB-aligned reservation, `size` bytes in use,
/// `mprotectSize` bytes writable.
public struct MallocHeap: Sendable, Hashable {
    public var arena: Int
    public var prev: UInt64
    public var size: UInt64
    public var mprotectSize: UInt64
}

/// One thread's tcache and arena (thread_arena).
struct ThreadCacheState: Sendable {
    var tcache: UInt64 = 0
    var counts = [UInt16](repeating: 0, count: 64)
    var entries = [UInt64](repeating: 0, count: 64)
    var arena: Int? = 0
}

extension GlibcMalloc {
    /// Makes arena `i` the one the algorithm works on.
    mutating func use(_ i: Int) {
        guard i != currentArena else { return }
        arenas[currentArena] = saveArena()
        let a = arenas[i]
        fastbins = a.fastbins; top = a.top; lastRemainder = a.lastRemainder; binmap = a.binmap
        haveFastchunks = a.haveFastchunks; systemMem = a.systemMem; maxSystemMem = a.maxSystemMem
        contiguous = a.contiguous; binBase = a.binBase
        arenaBit = i == 0 ? 0 : Self.nonMainArena
        currentArena = i
    }

    func saveArena() -> ArenaState {
        var a = arenas[currentArena]
        a.fastbins = fastbins; a.top = top; a.lastRemainder = lastRemainder; a.binmap = binmap
        a.haveFastchunks = haveFastchunks; a.systemMem = systemMem; a.maxSystemMem = maxSystemMem
        a.contiguous = contiguous; a.binBase = binBase
        return a
    }

    /// The thread whose calls follow: its tcache and its arena.
    public mutating func switchThread(_ t: Int) {
        guard t != currentThread else { return }
        threads[currentThread].tcache = tcache
        threads[currentThread].counts = tcacheCounts
        threads[currentThread].entries = tcacheEntries
        while threads.count <= t { threads.append(ThreadCacheState(arena: nil)) }
        tcache = threads[t].tcache
        tcacheCounts = threads[t].counts
        tcacheEntries = threads[t].entries
        currentThread = t
    }

    /// pthread_create() was called: from now on the process is not single-threaded, and the
    /// new thread has no tcache and no arena yet.
    public mutating func threadCreated(_ t: Int) {
        singleThread = false
        while threads.count <= t { threads.append(ThreadCacheState(arena: nil)) }
        threads[t] = ThreadCacheState(arena: nil)
    }

    /// The arena of a chunk (arena_for_chunk(): NON_MAIN_ARENA → its heap's arena).
    func arenaFor(_ p: UInt64) -> Int {
        guard self[head: p] & Self.nonMainArena != 0 else { return 0 }
        return heaps[p & ~(Self.heapMaxSize - 1)]?.arena ?? 0
    }

    /// arena_get(): the thread's arena, or a new or reused one.
    mutating func arenaGet(_ size: UInt64, _ sys: inout TaskMemory) -> Int? {
        if singleThread { return 0 }
        if let a = threads[currentThread].arena { return a }
        return arenaGet2(size, avoid: nil, &sys)
    }

    /// arena_get2(): an arena from the free list, else a new one while there are fewer than
    /// the limit (8 × the CPUs once more than arena_test exist; M_ARENA_MAX), else the next one
    /// round the list.
    mutating func arenaGet2(_ size: UInt64, avoid: Int?, _ sys: inout TaskMemory) -> Int? {
        if !freeArenas.isEmpty {
            let a = freeArenas.removeFirst()
            setAttached(a, 1)
            detach(threads[currentThread].arena)
            threads[currentThread].arena = a
            return a
        }
        if narenasLimit == 0 {
            if arenaMax != 0 { narenasLimit = arenaMax } else if narenas > arenaTest { narenasLimit = 8 * max(nprocs, 1) }
        }
        // size_t arithmetic: with no limit yet (0), 0 - 1 is the largest value.
        if UInt(narenas) <= UInt(bitPattern: narenasLimit &- 1) {
            narenas += 1
            if let a = newArena(size, &sys) { return a }
            narenas -= 1
            return nil
        }
        return reusedArena(avoid: avoid)
    }

    mutating func setAttached(_ a: Int, _ n: Int) {
        if a == currentArena { arenas[a] = saveArena() }
        arenas[a].attachedThreads = n
    }

    /// detach_arena(): one thread fewer on the arena it leaves.
    mutating func detach(_ a: Int?) {
        guard let a else { return }
        arenas[a].attachedThreads -= 1
    }

    /// reused_arena(): the next arena round the list (main, then newest to oldest).
    mutating func reusedArena(avoid: Int?) -> Int {
        var result = nextToUse
        if let av = avoid, result == av { result = arenaNext(result) }
        detach(threads[currentThread].arena)
        freeArenas.removeAll { $0 == result }
        arenas[result].attachedThreads += 1
        threads[currentThread].arena = result
        nextToUse = arenaNext(result)
        return result
    }

    /// main_arena.next order: main, then the arenas newest first.
    func arenaNext(_ a: Int) -> Int {
        if a == 0 { return arenas.count - 1 > 0 ? arenas.count - 1 : 0 }
        return a - 1
    }

    /// _int_new_arena(): a heap for the arena's state and the request, top right after.
    mutating func newArena(_ size: UInt64, _ sys: inout TaskMemory) -> Int? {
        let overhead = Self.heapInfoSize + Self.mallocStateSize + 16
        guard let h = newHeap(size &+ overhead, topPad, &sys) ?? newHeap(overhead, topPad, &sys) else { return nil }
        let i = arenas.count
        let stateAddr = h + Self.heapInfoSize
        arenas.append(ArenaState(binBase: stateAddr + 112))
        heaps[h]!.arena = i
        use(i)
        initBins()
        var ptr = stateAddr + Self.mallocStateSize
        let misalign = Self.chunk2mem(ptr) & Self.alignMask
        if misalign > 0 { ptr += 16 - misalign }
        top = ptr
        self[head: top] = (h + heaps[h]!.size - ptr) | Self.prevInuse
        systemMem = heaps[h]!.size
        maxSystemMem = systemMem
        contiguous = false
        arenas[i] = saveArena()
        arenas[i].heap = h
        detach(threads[currentThread].arena)
        threads[currentThread].arena = i
        return i
    }

    /// alloc_new_heap(): `size` (plus top_pad when it fits) rounded to a page, in a 64 MiB
    /// reservation aligned to 64 MiB: the last one's aligned second half when that is free,
    /// else a 128 MiB PROT_NONE mapping trimmed at both ends; then the part in use made
    /// writable.
    mutating func newHeap(_ size0: UInt64, _ pad: UInt64, _ sys: inout TaskMemory) -> UInt64? {
        var size = size0
        let maxSize = Self.heapMaxSize
        // size_t arithmetic, as arena.c's: a huge top_pad wraps.
        if size &+ pad < Self.heapMinSize { size = Self.heapMinSize }
        else if size &+ pad <= maxSize { size = size &+ pad }
        else if size > maxSize { return nil }
        else { size = maxSize }
        size = (size + Self.pageSize - 1) & ~(Self.pageSize - 1)
        let flags: MapFlags = [.private, .anonymous, .noReserve]
        var p2: UInt64? = nil
        if alignedHeapArea != 0 {
            p2 = sys.mmap(alignedHeapArea, maxSize, .none, flags)
            alignedHeapArea = 0
            if let p = p2, p & (maxSize - 1) != 0 {
                sys.munmap(p, maxSize)
                p2 = nil
            }
        }
        if p2 == nil {
            if let p1 = sys.mmap(0, maxSize << 1, .none, flags) {
                let p = (p1 + maxSize - 1) & ~(maxSize - 1)
                let ul = p - p1
                if ul != 0 { sys.munmap(p1, ul) } else { alignedHeapArea = p + maxSize }
                sys.munmap(p + maxSize, maxSize - ul)
                p2 = p
            } else {
                guard let p = sys.mmap(0, maxSize, .none, flags) else { return nil }
                if p & (maxSize - 1) != 0 { sys.munmap(p, maxSize); return nil }
                p2 = p
            }
        }
        guard let h = p2 else { return nil }
        guard sys.mprotect(h, size, .readWrite) else { sys.munmap(h, maxSize); return nil }
        heaps[h] = MallocHeap(arena: currentArena, prev: 0, size: size, mprotectSize: size)
        return h
    }

    /// grow_heap(): the heap's in-use part grows by `diff` (page-aligned), made writable when
    /// it passes what already is.
    mutating func growHeap(_ h: UInt64, _ diff0: UInt64, _ sys: inout TaskMemory) -> Bool {
        guard var heap = heaps[h] else { return false }
        let diff = (diff0 + Self.pageSize - 1) & ~(Self.pageSize - 1)
        let newSize = heap.size + diff
        if newSize > Self.heapMaxSize { return false }
        if newSize > heap.mprotectSize {
            guard sys.mprotect(h + heap.mprotectSize, newSize - heap.mprotectSize, .readWrite) else { return false }
            heap.mprotectSize = newSize
        }
        heap.size = newSize
        heaps[h] = heap
        return true
    }

    /// heap_trim() of the current arena's newest heap: whole heaps that top alone occupies go
    /// (munmap) while the previous one can take top back; then top above the trim threshold
    /// gives its pages back with MADV_DONTNEED (shrink_heap(), overcommit not strict).
    mutating func heapTrim(_ pad: UInt64, _ sys: inout TaskMemory) {
        var h = top & ~(Self.heapMaxSize - 1)
        while let heap = heaps[h], heap.prev != 0, top == h + Self.heapInfoSize, let prevHeap = heaps[heap.prev] {
            let prevSize = prevHeap.size - (Self.minSize - 16)
            var p = heap.prev + prevSize
            let misalign = p & Self.alignMask
            p = heap.prev + prevSize - misalign
            p -= self[prevSize: p]
            var newSize = chunksize(p) + (Self.minSize - 16) + misalign
            if !prevInuse(p) { newSize += self[prevSize: p] }
            if newSize &+ (Self.heapMaxSize &- prevHeap.size) < pad &+ Self.minSize &+ Self.pageSize { break }
            systemMem -= heap.size
            if h + Self.heapMaxSize == alignedHeapArea { alignedHeapArea = 0 }
            sys.munmap(h, Self.heapMaxSize)
            heaps[h] = nil
            h = heap.prev
            if !prevInuse(p) {
                p -= self[prevSize: p]
                unlink(p)
            }
            top = p
            self[head: top] = newSize | Self.prevInuse
        }
        let topSize = chunksize(top)
        if topSize < trimThreshold { return }
        let topArea = Int64(bitPattern: topSize) - Int64(Self.minSize) - 1
        if topArea < 0 || UInt64(topArea) <= pad { return }
        let extra = (UInt64(topArea) - pad) & ~(Self.pageSize - 1)
        guard extra != 0, var heap = heaps[h], heap.size >= extra + Self.heapInfoSize else { return }
        sys.madvise(h + heap.size - extra, extra, .dontNeed)
        heap.size -= extra
        heaps[h] = heap
        systemMem -= extra
        self[head: top] = (topSize - extra) | Self.prevInuse
    }

    /// __malloc_arena_thread_freeres() for the current thread: its cached chunks go back to
    /// their arenas (tcache_thread_shutdown()), then the tcache itself, and the arena joins
    /// the free list when no thread is left on it.
    public mutating func threadExit(_ sys: inout TaskMemory) {
        let t = tcache
        if t != 0 {
            tcache = 0
            for i in 0..<64 {
                while tcacheEntries[i] != 0 {
                    let e = tcacheEntries[i]
                    tcacheEntries[i] = self[word: e]
                    try? freeChunkNoCache(Self.mem2chunk(e), &sys)
                }
            }
            try? freeChunkNoCache(Self.mem2chunk(t), &sys)
            tcacheCounts = [UInt16](repeating: 0, count: 64)
        }
        if let a = threads[currentThread].arena {
            threads[currentThread].arena = nil
            if a == currentArena { arenas[a] = saveArena() }
            arenas[a].attachedThreads -= 1
            if arenas[a].attachedThreads == 0 { freeArenas.insert(a, at: 0) }
        }
    }

    /// __libc_free() while the tcache is gone: straight to the chunk's arena.
    mutating func freeChunkNoCache(_ p: UInt64, _ sys: inout TaskMemory) throws(MallocAbort) {
        live[Self.chunk2mem(p)] = nil
        if isMmapped(p) { try munmapChunk(p, &sys); return }
        use(arenaFor(p))
        try intFree(p, &sys)
    }
}

extension GlibcMalloc {
    /// The child's side of fork() (__malloc_fork_unlock_child()): one thread, the forking
    /// one, whose tcache and arena stay; every other arena goes on the free list; the process
    /// is single-threaded again (SINGLE_THREAD_P), so its calls use the main arena.
    public mutating func forkedChild() {
        let keep = threads[currentThread].arena
        threads[currentThread].tcache = tcache
        threads[currentThread].counts = tcacheCounts
        threads[currentThread].entries = tcacheEntries
        let me = threads[currentThread]
        threads = [me]
        currentThread = 0
        arenas[currentArena] = saveArena()
        freeArenas = []
        var a = 0
        repeat {
            if a != keep {
                arenas[a].attachedThreads = 0
                freeArenas.insert(a, at: 0)
            } else {
                arenas[a].attachedThreads = 1
            }
            a = arenaNext(a)
        } while a != 0
        singleThread = true
    }
}
