// The arena's own allocator: _int_malloc, _int_free and the consolidation of fast chunks.
//
// Linux: none (user space). glibc 2.36: malloc/malloc.c (_int_malloc, _int_free,
//        malloc_consolidate, unlink_chunk).
//
// The order of every step matters to the system calls that follow: a chunk taken from the
// unsorted list rather than split from top leaves top larger, and top's size decides the next
// brk. So these follow malloc.c's order exactly, including the tcache stashing on the way.

extension GlibcMalloc {
    /// unlink_chunk(): takes a free chunk off its bin, and off the size list of a large bin.
    mutating func unlink(_ p: UInt64) {
        let fd = self[fd: p], bk = self[bk: p]
        self[bk: fd] = bk
        self[fd: bk] = fd
        if !Self.inSmallbinRange(self[head: p]), self[fdNext: p] != 0 {
            if self[fdNext: fd] == 0 {
                if self[fdNext: p] == p {
                    self[fdNext: fd] = fd
                    self[bkNext: fd] = fd
                } else {
                    self[fdNext: fd] = self[fdNext: p]
                    self[bkNext: fd] = self[bkNext: p]
                    self[bkNext: self[fdNext: p]] = fd
                    self[fdNext: self[bkNext: p]] = fd
                }
            } else {
                self[bkNext: self[fdNext: p]] = self[bkNext: p]
                self[fdNext: self[bkNext: p]] = self[fdNext: p]
            }
        }
    }

    /// _int_malloc(): fastbin, smallbin, the unsorted list (exact fits to the tcache, the rest
    /// binned), the large bin's best fit, the next non-empty bin, then top, then sysmalloc.
    // tidy: long — _int_malloc's steps in malloc.c's order; splitting them hides that order.
    mutating func intMalloc(_ bytes: UInt64, _ sys: inout TaskMemory) -> UInt64 {
        let nb = Self.request2size(bytes)
        if nb == 0 { return 0 }
        if nb <= maxFast, let p = fastbinTake(nb) { return p }
        var idx: Int
        if Self.inSmallbinRange(nb) {
            idx = Self.smallbinIndex(nb)
            if let p = smallbinTake(nb, idx) { return p }
        } else {
            idx = Self.largebinIndex(nb)
            if haveFastchunks { consolidate() }
        }
        let tcIdx = Self.tcacheIndex(nb)
        let tcacheNb: UInt64 = (tcache != 0 && tcIdx < tcacheBins) ? nb : 0
        if corrupted { return 0 }
        while true {
            var returnCached = false
            var iters = 0
            while self[bk: unsortedChunks] != unsortedChunks {
                let victim = self[bk: unsortedChunks]
                let bck = self[bk: victim]
                let size = chunksize(victim)
                if Self.inSmallbinRange(nb), bck == unsortedChunks, victim == lastRemainder, size > nb + Self.minSize {
                    let remainder = victim + nb
                    self[bk: unsortedChunks] = remainder
                    self[fd: unsortedChunks] = remainder
                    lastRemainder = remainder
                    self[bk: remainder] = unsortedChunks
                    self[fd: remainder] = unsortedChunks
                    if !Self.inSmallbinRange(size - nb) { self[fdNext: remainder] = 0; self[bkNext: remainder] = 0 }
                    self[head: victim] = nb | Self.prevInuse | arenaBit
                    self[head: remainder] = (size - nb) | Self.prevInuse
                    setFoot(remainder, size - nb)
                    return Self.chunk2mem(victim)
                }
                self[bk: unsortedChunks] = bck
                self[fd: bck] = unsortedChunks
                if size == nb {
                    setInuse(at: victim + size)
                    self[head: victim] |= arenaBit
                    if tcacheNb != 0, Int(tcacheCounts[tcIdx]) < tcacheCount {
                        tcachePut(victim, tcIdx)
                        returnCached = true
                        continue
                    }
                    return Self.chunk2mem(victim)
                }
                binChunk(victim, size)
                iters += 1
                if iters >= Self.maxIters { break }
            }
            if returnCached { return tcacheGet(tcIdx) }
            if !Self.inSmallbinRange(nb), let p = largebinBestFit(nb, idx) { return p }
            if let p = binmapSearch(nb, idx + 1) { return p }
            // use_top
            let size = chunksize(top)
            if size >= nb + Self.minSize {
                let victim = top
                top = victim + nb
                self[head: victim] = nb | Self.prevInuse | arenaBit
                self[head: top] = (size - nb) | Self.prevInuse
                return Self.chunk2mem(victim)
            } else if haveFastchunks, !corrupted {
                consolidate()
                idx = Self.binIndex(nb)
            } else {
                return corrupted ? 0 : sysmalloc(nb, &sys)
            }
        }
    }

    /// The fastbin's first chunk, with the rest of that bin stashed into the tcache.
    mutating func fastbinTake(_ nb: UInt64) -> UInt64? {
        let idx = Self.fastbinIndex(nb)
        let victim = fastbins[idx]
        if victim == 0 { return nil }
        fastbins[idx] = self[fd: victim]
        let tc = Self.tcacheIndex(nb)
        if tcache != 0, tc < tcacheBins {
            while Int(tcacheCounts[tc]) < tcacheCount, fastbins[idx] != 0 {
                let t = fastbins[idx]
                fastbins[idx] = self[fd: t]
                tcachePut(t, tc)
            }
        }
        return Self.chunk2mem(victim)
    }

    /// The small bin's last chunk (exact size), with the rest stashed into the tcache.
    mutating func smallbinTake(_ nb: UInt64, _ idx: Int) -> UInt64? {
        let bin = binAt(idx)
        let victim = self[bk: bin]
        if victim == bin { return nil }
        let bck = self[bk: victim]
        setInuse(at: victim + nb)
        self[head: victim] |= arenaBit
        self[bk: bin] = bck
        self[fd: bck] = bin
        let tc = Self.tcacheIndex(nb)
        if tcache != 0, tc < tcacheBins {
            while Int(tcacheCounts[tc]) < tcacheCount, self[bk: bin] != bin {
                let t = self[bk: bin]
                let b = self[bk: t]
                setInuse(at: t + nb)
                self[head: t] |= arenaBit
                self[bk: bin] = b
                self[fd: b] = bin
                tcachePut(t, tc)
            }
        }
        return Self.chunk2mem(victim)
    }

    /// Places a chunk from the unsorted list into its bin: small bins at the head, large bins in
    /// size order with the nextsize skip list (equal sizes go after the first of their size).
    mutating func binChunk(_ victim: UInt64, _ size: UInt64) {
        let victimIndex: Int
        var bck: UInt64, fwd: UInt64
        if Self.inSmallbinRange(size) {
            victimIndex = Self.smallbinIndex(size)
            bck = binAt(victimIndex)
            fwd = self[fd: bck]
        } else {
            victimIndex = Self.largebinIndex(size)
            bck = binAt(victimIndex)
            fwd = self[fd: bck]
            if fwd != bck {
                let s = size | Self.prevInuse
                if s < self[head: self[bk: bck]] {
                    fwd = bck
                    bck = self[bk: bck]
                    self[fdNext: victim] = self[fd: fwd]
                    self[bkNext: victim] = self[bkNext: self[fd: fwd]]
                    self[bkNext: self[fd: fwd]] = victim
                    self[fdNext: self[bkNext: victim]] = victim
                } else {
                    var steps = 0
                    while s < self[head: fwd] {
                        fwd = self[fdNext: fwd]
                        steps += 1
                        if steps > walkLimit { corrupted = true; return }
                    }
                    if s == self[head: fwd] {
                        fwd = self[fd: fwd]
                    } else {
                        self[fdNext: victim] = fwd
                        self[bkNext: victim] = self[bkNext: fwd]
                        self[bkNext: fwd] = victim
                        self[fdNext: self[bkNext: victim]] = victim
                    }
                    bck = self[bk: fwd]
                }
            } else {
                self[fdNext: victim] = victim
                self[bkNext: victim] = victim
            }
        }
        markBin(victimIndex)
        self[bk: victim] = bck
        self[fd: victim] = fwd
        self[bk: fwd] = victim
        self[fd: bck] = victim
    }

    /// The smallest chunk of the request's own large bin that fits (the second of equal ones,
    /// so the size list need not change), split with the remainder to the unsorted list.
    mutating func largebinBestFit(_ nb: UInt64, _ idx: Int) -> UInt64? {
        let bin = binAt(idx)
        var victim = self[fd: bin]
        guard victim != bin, self[head: victim] >= nb else { return nil }
        victim = self[bkNext: victim]
        var steps = 0
        while chunksize(victim) < nb {
            victim = self[bkNext: victim]
            steps += 1
            if steps > walkLimit { corrupted = true; return nil }
        }
        if victim != self[bk: bin], self[head: victim] == self[head: self[fd: victim]] {
            victim = self[fd: victim]
        }
        return takeAndSplit(victim, nb, setLastRemainder: false)
    }

    /// The binmap walk: the first non-empty bin above `start`, best fit by construction.
    mutating func binmapSearch(_ nb: UInt64, _ start: Int) -> UInt64? {
        var idx = start
        var block = idx >> 5
        var map = block < 4 ? binmap[block] : 0
        var bit: UInt32 = block < 4 ? 1 << UInt32(idx & 31) : 0
        while true {
            if bit > map || bit == 0 {
                repeat {
                    block += 1
                    if block >= 4 { return nil }
                    map = binmap[block]
                } while map == 0
                idx = block << 5
                bit = 1
            }
            while bit & map == 0 {
                idx += 1
                bit <<= 1
            }
            let bin = binAt(idx)
            let victim = self[bk: bin]
            if victim == bin {
                map &= ~bit
                binmap[block] = map
                idx += 1
                bit <<= 1
            } else {
                return takeAndSplit(victim, nb, setLastRemainder: Self.inSmallbinRange(nb))
            }
        }
    }

    /// Unlinks a free chunk and returns it, its tail (when at least MINSIZE) put at the head
    /// of the unsorted list.
    mutating func takeAndSplit(_ victim: UInt64, _ nb: UInt64, setLastRemainder: Bool) -> UInt64 {
        let size = chunksize(victim)
        let remainderSize = size - nb
        unlink(victim)
        if remainderSize < Self.minSize {
            setInuse(at: victim + size)
            self[head: victim] |= arenaBit
        } else {
            let remainder = victim + nb
            let bck = unsortedChunks
            let fwd = self[fd: bck]
            self[bk: remainder] = bck
            self[fd: remainder] = fwd
            self[fd: bck] = remainder
            self[bk: fwd] = remainder
            if setLastRemainder { lastRemainder = remainder }
            if !Self.inSmallbinRange(remainderSize) { self[fdNext: remainder] = 0; self[bkNext: remainder] = 0 }
            self[head: victim] = nb | Self.prevInuse | arenaBit
            self[head: remainder] = remainderSize | Self.prevInuse
            setFoot(remainder, remainderSize)
        }
        return Self.chunk2mem(victim)
    }
}
