// Where malloc meets the kernel: growing the heap with brk, mapping large chunks with mmap,
// and giving them back.
//
// Linux: the system calls brk, mmap, munmap and mremap (TaskMemory). glibc 2.36:
//        malloc/malloc.c (sysmalloc, sysmalloc_mmap, sysmalloc_mmap_fallback, munmap_chunk,
//        mremap_chunk), misc/sbrk.c (__sbrk), sysdeps/unix/sysv/linux/brk.c (__brk).

extension GlibcMalloc {
    /// __sbrk(): the first call reads the break from the kernel (brk(NULL)); sbrk(0) after that
    /// makes no system call. Returns the old break, or UInt64.max (-1) on failure.
    mutating func sbrk(_ increment: Int64, _ sys: inout TaskMemory) -> UInt64 {
        if curbrk == 0 { curbrk = sys.brk(0) }
        if increment == 0 { return curbrk }
        let old = curbrk
        if increment > 0 ? old &+ UInt64(bitPattern: increment) < old : old < 0 &- UInt64(bitPattern: increment) { return UInt64.max }
        let want = old &+ UInt64(bitPattern: increment)
        curbrk = sys.brk(want)
        return curbrk < want ? UInt64.max : old
    }

    /// sysmalloc(): a request at or above the mmap threshold (while fewer than M_MMAP_MAX are
    /// mapped) gets its own mapping; otherwise the arena's top grows (brk for the main arena,
    /// the heap for the others) and the request is split from it.
    mutating func sysmalloc(_ nb: UInt64, _ sys: inout TaskMemory) -> UInt64 {
        var triedMmap = false
        if nb >= mmapThreshold, nMmaps < nMmapsMax {
            if let m = sysmallocMmap(nb, &sys) { return m }
            triedMmap = true
        }
        if currentArena == 0 {
            growMainArena(nb, &sys)
        } else if let m = growHeapArena(nb, triedMmap: triedMmap, &sys) {
            return m
        }
        maxSystemMem = max(maxSystemMem, systemMem)
        let p = top
        let s = chunksize(p)
        if s >= nb + Self.minSize {
            top = p + nb
            self[head: p] = nb | Self.prevInuse | arenaBit
            self[head: top] = (s - nb) | Self.prevInuse
            return Self.chunk2mem(p)
        }
        return 0
    }

    /// A non-main arena's top grows within its heap (grow_heap()); when the heap is full, a
    /// new heap takes over and the old top is freed behind fenceposts; when that fails too, a
    /// mapping of its own (unless one was just tried). Returns a mapped chunk, if it came to that.
    mutating func growHeapArena(_ nb: UInt64, triedMmap: Bool, _ sys: inout TaskMemory) -> UInt64? {
        let oldTop = top
        var oldSize = chunksize(oldTop)
        let oldHeap = oldTop & ~(Self.heapMaxSize - 1)
        let oldHeapSize = heaps[oldHeap]?.size ?? 0
        if Int64(bitPattern: Self.minSize &+ nb &- oldSize) > 0, growHeap(oldHeap, Self.minSize + nb - oldSize, &sys) {
            systemMem += heaps[oldHeap]!.size - oldHeapSize
            self[head: oldTop] = (oldHeap + heaps[oldHeap]!.size - oldTop) | Self.prevInuse
        } else if let h = newHeap(nb + Self.minSize + Self.heapInfoSize, topPad, &sys) {
            heaps[h]!.prev = oldHeap
            systemMem += heaps[h]!.size
            top = h + Self.heapInfoSize
            self[head: top] = (heaps[h]!.size - Self.heapInfoSize) | Self.prevInuse
            oldSize = (oldSize &- Self.minSize) & ~Self.alignMask
            self[head: oldTop + oldSize + 16] = Self.prevInuse
            if oldSize >= Self.minSize {
                self[head: oldTop + oldSize] = 16 | Self.prevInuse
                setFoot(oldTop + oldSize, 16)
                self[head: oldTop] = oldSize | Self.prevInuse | Self.nonMainArena
                try? intFree(oldTop, &sys)
            } else {
                self[head: oldTop] = (oldSize + 16) | Self.prevInuse
                setFoot(oldTop, oldSize + 16)
            }
        } else if !triedMmap {
            return sysmallocMmap(nb, &sys)
        }
        return nil
    }

    /// The main arena's top grows by brk by the request, top_pad and MINSIZE less what top
    /// already has, page-aligned. When brk fails, mmap of at least 1 MiB stands in
    /// (non-contiguous from then on).
    // tidy: long — sysmalloc's main-arena path, in malloc.c's order.
    mutating func growMainArena(_ nb: UInt64, _ sys: inout TaskMemory) {
        let oldTop = top
        let oldSize = chunksize(oldTop)
        let oldEnd = oldTop &+ oldSize
        // size_t arithmetic, as glibc's: a huge M_TOP_PAD wraps.
        var size = nb &+ topPad &+ Self.minSize
        if contiguous { size &-= oldSize }
        size = (size &+ Self.pageSize - 1) & ~(Self.pageSize - 1)
        var brk = UInt64.max
        var sndBrk = UInt64.max
        if Int64(bitPattern: size) > 0 { brk = sbrk(Int64(size), &sys) }
        if brk == UInt64.max {
            // sysmalloc_mmap_fallback(): at least MMAP_AS_MORECORE_SIZE, not counted as a
            // mapped chunk; top is no longer contiguous.
            var s = size
            if contiguous { s = (s + oldSize) }
            s = max((s + Self.pageSize - 1) & ~(Self.pageSize - 1), 1 << 20)
            if s > nb, let m = sys.mmap(0, s, .readWrite, .privateAnonymous) {
                contiguous = false
                brk = m
                sndBrk = m + s
                size = s
            }
        }
        guard brk != UInt64.max else { return }
        if sbrkBase == 0 { sbrkBase = brk }
        systemMem += size
        if brk == oldEnd, sndBrk == UInt64.max {
            self[head: oldTop] = (size + oldSize) | Self.prevInuse
            return
        }
        var correction: UInt64 = 0
        var alignedBrk = brk
        if contiguous {
            if oldSize != 0 { systemMem &+= brk &- oldEnd }
            let frontMisalign = Self.chunk2mem(brk) & Self.alignMask
            if frontMisalign > 0 {
                correction = 16 - frontMisalign
                alignedBrk += correction
            }
            correction += oldSize
            let endMisalign = brk + size + correction
            correction += ((endMisalign + Self.pageSize - 1) & ~(Self.pageSize - 1)) - endMisalign
            sndBrk = sbrk(Int64(correction), &sys)
            if sndBrk == UInt64.max {
                correction = 0
                sndBrk = sbrk(0, &sys)
            }
        } else if sndBrk == UInt64.max {
            sndBrk = sbrk(0, &sys)
        }
        if sndBrk != UInt64.max {
            top = alignedBrk
            self[head: top] = (sndBrk - alignedBrk + correction) | Self.prevInuse
            systemMem += correction
            if oldSize != 0 { fencepost(oldTop, oldSize, &sys) }
        }
    }

    /// The double fencepost sysmalloc() leaves at the old top when new space is not adjacent,
    /// freeing what remains of the old top.
    mutating func fencepost(_ oldTop: UInt64, _ size0: UInt64, _ sys: inout TaskMemory) {
        let size = (size0 &- 32) & ~Self.alignMask
        self[head: oldTop] = size | Self.prevInuse
        self[head: oldTop + size] = 16 | Self.prevInuse
        self[head: oldTop + size + 16] = 16 | Self.prevInuse
        if size >= Self.minSize { try? intFree(oldTop, &sys) }
    }

    /// sysmalloc_mmap(): a chunk of its own mapping, the request plus one word, page-aligned.
    mutating func sysmallocMmap(_ nb: UInt64, _ sys: inout TaskMemory) -> UInt64? {
        let size = (nb + Self.sizeSz + Self.pageSize - 1) & ~(Self.pageSize - 1)
        if size <= nb { return nil }
        guard let m = sys.mmap(0, size, .readWrite, .privateAnonymous) else { return nil }
        self[prevSize: m] = 0
        self[head: m] = size | Self.isMmapped
        nMmaps += 1
        mmappedMem += size
        return Self.chunk2mem(m)
    }

    /// munmap_chunk(): the chunk's whole mapping goes.
    mutating func munmapChunk(_ p: UInt64, _ sys: inout TaskMemory) throws(MallocAbort) {
        let size = chunksize(p)
        let block = p &- self[prevSize: p]
        let total = self[prevSize: p] &+ size
        let mem = Self.chunk2mem(p) & (Self.pageSize - 1)
        if (block | total) & (Self.pageSize - 1) != 0 || mem & (mem &- 1) != 0 { throw .munmapChunkInvalidPointer }
        nMmaps -= 1
        mmappedMem &-= total
        sys.munmap(block, total)
    }

    /// mremap_chunk(): the mapping resized to the new request (MREMAP_MAYMOVE); nil when mremap
    /// fails. The same page count makes no call.
    mutating func mremapChunk(_ p: UInt64, _ nb: UInt64, _ sys: inout TaskMemory) throws(MallocAbort) -> UInt64? {
        let offset = self[prevSize: p]
        let size = chunksize(p)
        let block = p &- offset
        let total = offset &+ size
        let mem = Self.chunk2mem(p) & (Self.pageSize - 1)
        if (block | total) & (Self.pageSize - 1) != 0 || mem & (mem &- 1) != 0 { throw .mremapChunkInvalidPointer }
        let newSize = (nb + offset + Self.sizeSz + Self.pageSize - 1) & ~(Self.pageSize - 1)
        if newSize == total { return p }
        guard let cp = sys.mremap(block, total, newSize, .mayMove) else { return nil }
        let np = cp + offset
        self[prevSize: np] = offset
        self[head: np] = (newSize - offset) | Self.isMmapped
        mmappedMem = mmappedMem &+ newSize &- size &- offset
        return np
    }
}
