// What a program calls: malloc, free, calloc, realloc, mallopt, malloc_trim.
//
// Linux: none (user space). glibc 2.36: malloc/malloc.c (__libc_malloc, __libc_free,
//        __libc_calloc, __libc_realloc, _int_realloc, __libc_mallopt and its do_set_*
//        helpers, __malloc_trim).

/// mallopt()'s parameters, with glibc's numbers.
public enum MalloptParam: Int32, Sendable, CaseIterable {
    case mxFast = 1
    case trimThreshold = -1
    case topPad = -2
    case mmapThreshold = -3
    case mmapMax = -4
    case checkAction = -5
    case perturb = -6
    case arenaTest = -7
    case arenaMax = -8
}

extension GlibcMalloc {
    /// malloc(): the tcache first, then the arena. Returns 0 (NULL) when memory cannot be had.
    public mutating func malloc(_ bytes: UInt64, _ sys: inout TaskMemory) -> UInt64 {
        let tbytes = Self.request2size(bytes)
        if tbytes == 0 { return 0 }
        let tc = Self.tcacheIndex(tbytes)
        maybeInitTcache(&sys)
        let m: UInt64
        if tc < tcacheBins, tcache != 0, tcacheCounts[tc] > 0 {
            m = tcacheGet(tc)
        } else {
            guard let a = arenaGet(bytes, &sys) else { return 0 }
            use(a)
            var r = intMalloc(bytes, &sys)
            if r == 0, let b = arenaRetry(a, bytes, &sys) {
                use(b)
                r = intMalloc(bytes, &sys)
            }
            m = r
        }
        if m != 0 { live[m] = bytes }
        return m
    }

    /// free(): a mapped chunk is unmapped (first raising the mmap threshold to its size when
    /// the threshold is still dynamic), any other goes to _int_free().
    public mutating func free(_ mem: UInt64, _ sys: inout TaskMemory) throws(MallocAbort) {
        if mem == 0 { return }
        let p = Self.mem2chunk(mem)
        let known = live.removeValue(forKey: mem) != nil
        if isMmapped(p) {
            if !known { throw .munmapChunkInvalidPointer }
            let raw = self[head: p]
            if !noDynThreshold, raw > mmapThreshold, raw <= Self.mmapThresholdMax {
                mmapThreshold = chunksize(p)
                trimThreshold = 2 * mmapThreshold
            }
            try munmapChunk(p, &sys)
        } else {
            maybeInitTcache(&sys)
            if !known, self[head: p] == 0 { throw .freeInvalidPointer }
            use(arenaFor(p))
            try intFree(p, &sys)
        }
    }

    /// calloc(): the arena directly (never the tcache), zeroed; fresh memory from the kernel
    /// needs no clearing, which the model does not track.
    public mutating func calloc(_ n: UInt64, _ size: UInt64, _ sys: inout TaskMemory) -> UInt64 {
        let (bytes, overflow) = n.multipliedReportingOverflow(by: size)
        if overflow || bytes > UInt64(Int64.max) { return 0 }
        maybeInitTcache(&sys)
        guard let a = arenaGet(bytes, &sys) else { return 0 }
        use(a)
        let oldTop = top
        var oldTopSize = chunksize(top)
        if a == 0, oldTopSize < sbrkBase &+ maxSystemMem &- oldTop { oldTopSize = sbrkBase &+ maxSystemMem &- oldTop }
        if a != 0, let h = heaps[oldTop & ~(Self.heapMaxSize - 1)], oldTopSize < h.mprotectSize &+ (oldTop & ~(Self.heapMaxSize - 1)) &- oldTop {
            oldTopSize = (oldTop & ~(Self.heapMaxSize - 1)) &+ h.mprotectSize &- oldTop
        }
        var m = intMalloc(bytes, &sys)
        if m == 0, let b = arenaRetry(a, bytes, &sys) {
            use(b)
            m = intMalloc(bytes, &sys)
        }
        if m != 0 {
            live[m] = bytes
            // Memory fresh from the kernel is already zero: only what was used before is cleared.
            let p = Self.mem2chunk(m)
            var csz = chunksize(p)
            if !isMmapped(p) {
                if p == oldTop, csz > oldTopSize { csz = oldTopSize }
                wrote(m, csz &- Self.sizeSz)
            }
        }
        return m
    }

    /// realloc(): NULL is malloc, size 0 is free; a mapped chunk is resized with mremap (or
    /// kept when big enough, or copied); an arena chunk shrinks in place, grows into top or a
    /// free neighbour, or moves.
    public mutating func realloc(_ mem: UInt64, _ bytes: UInt64, _ sys: inout TaskMemory) throws(MallocAbort) -> UInt64 {
        if bytes == 0, mem != 0 { try free(mem, &sys); return 0 }
        if mem == 0 { return malloc(bytes, &sys) }
        guard live[mem] != nil else { throw .reallocInvalidPointer }
        let oldp = Self.mem2chunk(mem)
        let oldSize = chunksize(oldp)
        if !isMmapped(oldp) { maybeInitTcache(&sys) }
        if oldp > UInt64.max - oldSize || oldp & Self.alignMask != 0 { throw .reallocInvalidPointer }
        let nb = Self.request2size(bytes)
        if nb == 0 { return 0 }
        if isMmapped(oldp) {
            if let np = try mremapChunk(oldp, nb, &sys) {
                live[mem] = nil
                live[Self.chunk2mem(np)] = bytes
                return Self.chunk2mem(np)
            }
            if oldSize - Self.sizeSz >= nb { live[mem] = bytes; return mem }
            let m = malloc(bytes, &sys)
            if m == 0 { return 0 }
            wrote(m, oldSize - 16)
            live[mem] = nil
            try munmapChunk(oldp, &sys)
            return m
        }
        use(arenaFor(oldp))
        let m = try intRealloc(oldp, oldSize, nb, &sys)
        if m != 0 {
            live[mem] = nil
            live[m] = bytes
        }
        return m
    }

    /// _int_realloc()
    mutating func intRealloc(_ oldp: UInt64, _ oldSize: UInt64, _ nb: UInt64, _ sys: inout TaskMemory) throws(MallocAbort) -> UInt64 {
        let next = oldp + oldSize
        let nextSize = chunksize(next)
        var newp = oldp
        var newSize = oldSize
        if oldSize < nb {
            if next == top, oldSize + nextSize >= nb + Self.minSize {
                setHeadSize(oldp, nb | arenaBit)
                top = oldp + nb
                self[head: top] = (oldSize + nextSize - nb) | Self.prevInuse
                return Self.chunk2mem(oldp)
            } else if next != top, !inuse(at: next + nextSize), oldSize + nextSize >= nb {
                newSize = oldSize + nextSize
                unlink(next)
            } else {
                let m = intMalloc(nb - Self.alignMask, &sys)
                if m == 0 { return 0 }
                let np = Self.mem2chunk(m)
                if np == next {
                    newSize = oldSize + chunksize(np)
                    newp = oldp
                } else {
                    wrote(m, oldSize - Self.sizeSz)
                    try intFree(oldp, &sys)
                    return m
                }
            }
        }
        let remainderSize = newSize - nb
        if remainderSize < Self.minSize {
            setHeadSize(newp, newSize | arenaBit)
            setInuse(at: newp + newSize)
        } else {
            let remainder = newp + nb
            setHeadSize(newp, nb | arenaBit)
            self[head: remainder] = remainderSize | Self.prevInuse | arenaBit
            setInuse(at: remainder + remainderSize)
            try intFree(remainder, &sys)
        }
        return Self.chunk2mem(newp)
    }

    /// mallopt(): consolidates first (as glibc does before any change), then sets the
    /// parameter. Setting a threshold, top_pad or M_MMAP_MAX turns the dynamic threshold off.
    /// Returns glibc's 1 for done, 0 for refused.
    public mutating func mallopt(_ param: MalloptParam, _ value: Int32) -> Int32 {
        use(0)
        consolidate()
        let v = UInt64(UInt32(bitPattern: value))
        let wide = UInt64(bitPattern: Int64(value))
        switch param {
        case .mxFast:
            guard wide <= 160 else { return 0 }
            maxFast = wide <= Self.alignMask - Self.sizeSz ? 16 : (wide + Self.sizeSz) & ~Self.alignMask
        case .trimThreshold: trimThreshold = wide; noDynThreshold = true
        case .topPad: topPad = wide; noDynThreshold = true
        case .mmapThreshold: mmapThreshold = wide; noDynThreshold = true
        case .mmapMax: nMmapsMax = Int64(value); noDynThreshold = true
        case .checkAction, .perturb: break
        case .arenaTest: if value > 0 { arenaTest = Int(v) }
        case .arenaMax: if value > 0 { arenaMax = Int(v) }
        }
        return 1
    }

    /// malloc_trim(pad): returns 1 when memory went back to the kernel.
    public mutating func mallocTrim(_ pad: UInt64, _ sys: inout TaskMemory) -> Int32 {
        var result = false
        // The arenas in list order: main, then the newest to the oldest.
        var a = 0
        repeat {
            use(a)
            if mtrim(pad, &sys) { result = true }
            a = arenaNext(a)
        } while a != 0
        return result ? 1 : 0
    }
}

/// mallinfo2()'s fields (struct mallinfo2), all in bytes but the block counts.
public struct MallInfo2: Sendable, Equatable {
    public var arena: UInt64 = 0
    public var ordblks: UInt64 = 0
    public var smblks: UInt64 = 0
    public var hblks: UInt64 = 0
    public var hblkhd: UInt64 = 0
    public var usmblks: UInt64 = 0
    public var fsmblks: UInt64 = 0
    public var uordblks: UInt64 = 0
    public var fordblks: UInt64 = 0
    public var keepcost: UInt64 = 0
}

extension GlibcMalloc {
    /// mallinfo2() (int_mallinfo() of the main arena): top and every free chunk in the fastbins
    /// and bins (not the tcache, whose chunks count as in use), the mapped chunks, and top's size
    /// as keepcost.
    public func mallinfo2() -> MallInfo2 {
        var all = self
        var m = MallInfo2()
        var a = 0
        repeat {
            all.use(a)
            all.addInfo(&m, main: a == 0)
            a = all.arenaNext(a)
        } while a != 0
        return m
    }

    func addInfo(_ m: inout MallInfo2, main: Bool) {
        var avail = chunksize(top)
        var nblocks: UInt64 = 1
        var nfast: UInt64 = 0, fastavail: UInt64 = 0
        let limit = walkLimit
        for i in 0..<Self.nFastbins {
            var p = fastbins[i]
            var steps = 0
            while p != 0, steps < limit { nfast += 1; fastavail += chunksize(p); p = self[fd: p]; steps += 1 }
        }
        avail += fastavail
        for i in 1..<Self.nBins {
            let b = binAt(i)
            var p = self[bk: b]
            var steps = 0
            while p != b, steps < limit { nblocks += 1; avail += chunksize(p); p = self[bk: p]; steps += 1 }
        }
        m.smblks += nfast
        m.ordblks += nblocks
        m.fordblks += avail
        m.uordblks += systemMem &- avail
        m.arena += systemMem
        m.fsmblks += fastavail
        if main {
            m.hblks = UInt64(nMmaps)
            m.hblkhd = mmappedMem
            m.keepcost = chunksize(top)
        }
    }
}

extension GlibcMalloc {
    /// memalign() and aligned_alloc() (_mid_memalign()): up to 16, plain malloc; otherwise the
    /// alignment raised to at least MINSIZE and to a power of two, and _int_memalign(). Not
    /// through the tcache (glibc 2.36). 0 when the alignment is absurd or memory cannot be had.
    public mutating func memalign(_ alignment0: UInt64, _ bytes: UInt64, _ sys: inout TaskMemory) -> UInt64 {
        if alignment0 <= 16 { return malloc(bytes, &sys) }
        var alignment = max(alignment0, Self.minSize)
        if alignment > UInt64.max / 2 + 1 { return 0 }
        if alignment & (alignment - 1) != 0 {
            var a: UInt64 = 32
            while a < alignment { a <<= 1 }
            alignment = a
        }
        let (padded, o1) = bytes.addingReportingOverflow(alignment)
        guard !o1, let a = arenaGet(padded &+ Self.minSize, &sys) else { return 0 }
        use(a)
        var m = intMemalign(alignment, bytes, &sys)
        if m == 0, let b = arenaRetry(a, bytes, &sys) {
            use(b)
            m = intMemalign(alignment, bytes, &sys)
        }
        if m != 0 { live[m] = bytes }
        return m
    }

    /// posix_memalign(): EINVAL (22) unless the alignment is a power-of-two multiple of 8; else
    /// 0 with the pointer, or ENOMEM (12).
    public mutating func posixMemalign(_ alignment: UInt64, _ bytes: UInt64, _ sys: inout TaskMemory) -> (Int32, UInt64) {
        let words = alignment / 8
        if alignment % 8 != 0 || words & (words &- 1) != 0 || alignment == 0 { return (22, 0) }
        let m = memalign(alignment, bytes, &sys)
        return m == 0 ? (12, 0) : (0, m)
    }

    /// valloc(): page-aligned. pvalloc(): page-aligned, the size rounded as glibc 2.36 writes it
    /// (`& -(pagesize - 1)`: a mask of ...f001, so it keeps bit 0 — glibc's own arithmetic).
    public mutating func valloc(_ bytes: UInt64, _ sys: inout TaskMemory) -> UInt64 { memalign(Self.pageSize, bytes, &sys) }
    public mutating func pvalloc(_ bytes: UInt64, _ sys: inout TaskMemory) -> UInt64 {
        let (r, o) = bytes.addingReportingOverflow(Self.pageSize - 1)
        if o { return 0 }
        return memalign(Self.pageSize, r & (0 &- (Self.pageSize - 1)), &sys)
    }

    /// _int_memalign(): a chunk big enough to hold an aligned one, its lead and tail freed.
    mutating func intMemalign(_ alignment: UInt64, _ bytes: UInt64, _ sys: inout TaskMemory) -> UInt64 {
        let nb = Self.request2size(bytes)
        if nb == 0 { return 0 }
        // (glibc: "Check for overflow.")
        if nb > UInt64.max - alignment - Self.minSize { return 0 }
        let m = intMalloc(nb + alignment + Self.minSize, &sys)
        if m == 0 { return 0 }
        var p = Self.mem2chunk(m)
        if m % alignment != 0 {
            var brk = Self.mem2chunk((m + alignment - 1) & (0 &- alignment))
            if brk - p < Self.minSize { brk += alignment }
            let lead = brk - p
            let newSize = chunksize(p) - lead
            if isMmapped(p) {
                self[prevSize: brk] = self[prevSize: p] + lead
                self[head: brk] = newSize | Self.isMmapped
                return Self.chunk2mem(brk)
            }
            self[head: brk] = newSize | Self.prevInuse | arenaBit
            setInuse(at: brk + newSize)
            setHeadSize(p, lead | arenaBit)
            try? intFree(p, &sys)
            p = brk
        }
        if !isMmapped(p) {
            let size = chunksize(p)
            if size > nb + Self.minSize {
                let rem = p + nb
                self[head: rem] = (size - nb) | Self.prevInuse | arenaBit
                setHeadSize(p, nb)
                try? intFree(rem, &sys)
            }
        }
        return Self.chunk2mem(p)
    }
}
