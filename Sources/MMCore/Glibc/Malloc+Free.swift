// Giving chunks back: to the tcache, a fastbin, or the unsorted list after coalescing, and
// from top back to the kernel when it grows past the trim threshold.
//
// Linux: none (user space). glibc 2.36: malloc/malloc.c (_int_free, malloc_consolidate,
//        systrim, mtrim).

extension GlibcMalloc {
    /// _int_free() of a chunk of the main arena.
    mutating func intFree(_ p: UInt64, _ sys: inout TaskMemory) throws(MallocAbort) {
        var size = chunksize(p)
        if p > UInt64.max - size || p & Self.alignMask != 0 { throw .freeInvalidPointer }
        if size < Self.minSize || size & Self.alignMask != 0 { throw .freeInvalidSize }
        let tc = Self.tcacheIndex(size)
        if tcache != 0, tc < tcacheBins {
            let e = Self.chunk2mem(p)
            if self[word: e &+ 8] == Self.tcacheKey {
                var t = tcacheEntries[tc]
                while t != 0 {
                    if t == e { throw .doubleFreeTcache }
                    t = self[word: t]
                }
            }
            if Int(tcacheCounts[tc]) < tcacheCount {
                tcachePut(p, tc)
                return
            }
        }
        if size <= maxFast {
            haveFastchunks = true
            let idx = Self.fastbinIndex(size)
            if fastbins[idx] == p { throw .doubleFreeFasttop }
            self[fd: p] = fastbins[idx]
            fastbins[idx] = p
            return
        }
        let next = p + size
        if p == top { throw .doubleFreeTop }
        if contiguous, next >= top &+ chunksize(top) { throw .doubleFreeOut }
        if !inuse(at: next) { throw .doubleFreeNotPrev }
        size = coalesce(p, size)
        if size >= Self.fastbinConsolidationThreshold {
            if haveFastchunks { consolidate() }
            if currentArena == 0 {
                if chunksize(top) >= trimThreshold { _ = systrim(topPad, &sys) }
            } else {
                heapTrim(topPad, &sys)
            }
        }
    }

    /// What _int_free() and malloc_consolidate() both do with a free chunk of `size` at `p`:
    /// merge it with a free chunk before and after it, then put it at the head of the unsorted
    /// list, or into top when top follows. Returns the merged size.
    mutating func coalesce(_ p0: UInt64, _ size0: UInt64) -> UInt64 {
        var p = p0, size = size0
        let next = p + size
        let nextSize = chunksize(next)
        if !prevInuse(p) {
            let prev = self[prevSize: p]
            size += prev
            p -= prev
            unlink(p)
        }
        if next != top {
            if !inuse(at: next + nextSize) {
                unlink(next)
                size += nextSize
            } else {
                clearInuse(at: next)
            }
            let bck = unsortedChunks
            let fwd = self[fd: bck]
            self[fd: p] = fwd
            self[bk: p] = bck
            if !Self.inSmallbinRange(size) { self[fdNext: p] = 0; self[bkNext: p] = 0 }
            self[fd: bck] = p
            self[bk: fwd] = p
            self[head: p] = size | Self.prevInuse
            setFoot(p, size)
        } else {
            size += nextSize
            self[head: p] = size | Self.prevInuse
            top = p
        }
        return size
    }

    /// malloc_consolidate(): every fast chunk coalesced with its free neighbours and put on the
    /// unsorted list (or into top), bins taken from the smallest.
    mutating func consolidate() {
        haveFastchunks = false
        let limit = walkLimit
        var steps = 0
        for fb in 0..<Self.nFastbins {
            var p = fastbins[fb]
            fastbins[fb] = 0
            while p != 0 {
                steps += 1
                if steps > limit { corrupted = true; return }
                let nextp = self[fd: p]
                _ = coalesce(p, chunksize(p))
                p = nextp
            }
        }
    }

    /// systrim(): gives whole pages of top back with a negative sbrk, keeping `pad` bytes and
    /// MINSIZE; only when the break is still where malloc left it. The arithmetic is glibc's:
    /// `top_area` is signed and compared with the unsigned pad, so a top of exactly MINSIZE
    /// (top_area −1) passes the check and "releases" −4096 bytes: the heap grows by a page.
    mutating func systrim(_ pad: UInt64, _ sys: inout TaskMemory) -> Bool {
        let topSize = chunksize(top)
        let topArea = UInt64(bitPattern: Int64(bitPattern: topSize) &- Int64(Self.minSize) &- 1)
        if topArea <= pad { return false }
        let extra = Int64(bitPattern: (topArea &- pad) & ~(Self.pageSize - 1))
        if extra == 0 { return false }
        let current = sbrk(0, &sys)
        guard current == top &+ topSize else { return false }
        _ = sbrk(0 &- extra, &sys)
        let newBrk = sbrk(0, &sys)
        guard newBrk != UInt64.max else { return false }
        let released = current &- newBrk
        if released != 0 {
            systemMem &-= released
            self[head: top] = (topSize &- released) | Self.prevInuse
            return true
        }
        return false
    }

    /// mtrim() of the main arena (malloc_trim()): consolidate, give the whole pages inside
    /// every free chunk back with MADV_DONTNEED, then trim top.
    mutating func mtrim(_ pad: UInt64, _ sys: inout TaskMemory) -> Bool {
        consolidate()
        let psIndex = Self.binIndex(Self.pageSize)
        var result = false
        for i in 1..<Self.nBins where i == 1 || i >= psIndex {
            let bin = binAt(i)
            var p = self[bk: bin]
            while p != bin {
                var size = chunksize(p)
                if size > Self.pageSize - 1 + 48 {
                    let aligned = (p + 48 + Self.pageSize - 1) & ~(Self.pageSize - 1)
                    size -= aligned - p
                    if size > Self.pageSize - 1 {
                        sys.madvise(aligned, size & ~(Self.pageSize - 1), .dontNeed)
                        result = true
                    }
                }
                p = self[bk: p]
            }
        }
        return (currentArena == 0 && systrim(pad, &sys)) || result
    }
}
