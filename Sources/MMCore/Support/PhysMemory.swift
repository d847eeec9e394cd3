// The contents of simulated physical memory.
//
// Linux: there is no counterpart: this is the RAM itself. The page allocator zeroes pages
//        (init_on_alloc, __GFP_ZERO) and SLUB writes free pointers, red zones and poison into
//        objects; both need somewhere to write that later reads see.
// Exact: a byte written is read back; a zeroed page reads as zeros.
// Simplified: only pages somebody wrote hold host memory (4 KiB each); every other page reads as
//        zeros, as freshly booted RAM on QEMU does.
//
// Layout: written pages are 512-word frames in one growing word array. A page finds its frame
// through a two-level table, as a page table would: per 128 MiB section a run of 32768 entries
// (made when the section is first written, found through a small section → run map and cached
// for the last section used), each entry naming the page's frame or none. SLUB's fast path reads
// and writes one aligned word per call and init_on_alloc zeroes every page it hands out, so a
// page's lookup is an array access, not a hash. Frames of zeroed pages are kept for reuse
// instead of being given back.
//
// Below `flatEnd` none of that applies: RAM there is one host mapping (HostRAM.swift) with a
// dirty bit per page, so a physical address is an offset into it, a write stores in place and
// marks its page, and zeroing a page that was never written costs a bit test. A fork of the
// value (`var b = a`) shares the mapping until one side writes, which copies the dirty pages.
// Machines the host cannot map (and Embedded builds) keep everything in the tables.
//
// Page tables are the exception to "written pages cost 4 KiB": a table that maps a contiguous
// physical range (the direct map's PUD and PMD pages, the vmemmap's PMD pages) holds entries
// that go up by a fixed step. Such a page is stored as a *linear frame* — first entry, step,
// index range — and only becomes a real frame when a write breaks the pattern, so that a 4 PiB
// machine's tables cost bytes, not gigabytes.

public struct PhysMemory: Sendable {
    /// Per written section (pfn >> 15): its run of `entries`.
    @usableFromInline var runOf: [UInt64: UInt32] = [:]
    /// Per page of a written section: 0 (never written, reads as zeros), frame + 1, or
    /// `linearTag` + the index of its linear frame.
    @usableFromInline var entries: [UInt32] = []
    /// The last section looked up for writing and where its run starts.
    @usableFromInline var lastSection: UInt64 = .max
    @usableFromInline var lastRun = 0
    /// How many pages hold written data (real or linear frames).
    @usableFromInline var frameCount = 0
    @usableFromInline var words: [UInt64] = []
    @usableFromInline var spareFrames: [UInt32] = []
    /// Written frames per max-order block (pfn >> 10), so that zeroing a large block that was
    /// never written costs one lookup, not one per page.
    @usableFromInline var framesInBlock: [UInt64: UInt32] = [:]
    /// The same, as one bit per block: the page allocator zeroes a page on every allocation,
    /// and this answers "nothing written there" without hashing.
    @usableFromInline var blockWritten = Bitset()
    /// The last page written or looked up for writing, and its first word: SLUB touches the
    /// same page over and over, and this saves the lookup.
    @usableFromInline var lastPfn: UInt64 = .max
    @usableFromInline var lastBase = 0

    @usableFromInline static let wordsPerPage = Int(pageSize) / 8
    @usableFromInline static let sectionShift: UInt64 = 15
    @usableFromInline static let entriesPerRun = 1 << 15
    /// Entries from here up name linear frames (index = entry − linearTag).
    @usableFromInline static let linearTag: UInt32 = 0x8000_0000
    @usableFromInline var linear: [LinearFrame] = []
    @usableFromInline var spareLinear: [UInt32] = []

    /// Words [from, to) of a page hold first, first + step, first + 2·step …; the rest are zero.
    @usableFromInline struct LinearFrame: Sendable {
        @usableFromInline var from: Int
        @usableFromInline var to: Int
        @usableFromInline var first: UInt64
        @usableFromInline var step: UInt64
        @inlinable func word(_ i: Int) -> UInt64 {
            i >= from && i < to ? first &+ UInt64(i - from) &* step : 0
        }
    }

    /// RAM below `flatEnd` is `ram`'s; the tables hold only pages at or above it.
    @usableFromInline var ram: HostRAM?
    @usableFromInline var flatEnd: UInt64 = 0

    /// How RAM is mapped when `mapHostRAM` is called (RAMReservation.host when the value was made).
    var reservation: RAMReservation?

    public init(reservation: RAMReservation? = RAMReservation.host) { self.reservation = reservation }

    /// How many pages hold written data.
    public var writtenPages: Int { frameCount + (ram?.dirtyPages ?? 0) }

    /// Whether RAM below some address is one host mapping.
    public var isMapped: Bool { flatEnd > 0 }

    /// Puts RAM below `bytes` into one lazily committed host mapping where the host gives one
    /// (the pages written so far move into it); otherwise everything stays in the tables.
    public mutating func mapHostRAM(below bytes: UInt64) {
        guard flatEnd == 0, let r = HostRAM.make(bytes: bytes, reservation) else { return }
        let end = bytes & ~(pageSize - 1)
        var moved: [UInt64] = []
        for (section, run) in runOf where section << PhysMemory.sectionShift < end >> pageShift {
            for i in 0..<PhysMemory.entriesPerRun where entries[Int(run) << PhysMemory.sectionShift + i] != 0 {
                let pfn = section << PhysMemory.sectionShift + UInt64(i)
                if pfn < end >> pageShift { moved.append(pfn) }
            }
        }
        for pfn in moved.sorted() {
            let dst = (r.base + Int(pfn << pageShift)).assumingMemoryBound(to: UInt64.self)
            for i in 0..<PhysMemory.wordsPerPage { dst[i] = readWord(pfn << pageShift + UInt64(i) * 8) }
            r.markDirty(pfn)
            let e = entry(pfn)
            release(e)
            setEntry(pfn, 0)
        }
        lastPfn = .max
        ram = r
        flatEnd = end
    }

    /// Makes the mapping this value's own before a write (a fork shares it until then). If the
    /// host refuses a second mapping, the pages move into the tables instead and `flatEnd`
    /// becomes 0: every caller checks its address against `flatEnd` again afterwards.
    @inline(__always)
    @usableFromInline mutating func makeRAMUnique() {
        mmAssert(ram != nil, "only RAM below flatEnd is made unique")
        if !isKnownUniquelyReferenced(&ram!) { cloneRAM() }
    }

    /// A write inside one mapped page: the mapping made this value's own, nothing done when the
    /// write only stores zeros (`zeros`) on a page never written, else `store` given the
    /// mapping's base and the page marked dirty. False when `addr` is not mapped — including
    /// after a refused copy moved everything into the tables — so the caller writes the tables.
    @inline(__always)
    @usableFromInline mutating func storeMapped(_ addr: PhysAddr, zeros: Bool,
                                                _ store: (UnsafeMutableRawPointer) -> Void) -> Bool {
        guard addr < flatEnd else { return false }
        makeRAMUnique()
        guard addr < flatEnd else { return false }
        let r = ram.unsafelyUnwrapped
        let pfn = addr >> pageShift
        if zeros && !r.isDirty(pfn) { return true }
        store(r.base)
        r.markDirty(pfn)
        return true
    }

    @inline(never)
    @usableFromInline mutating func cloneRAM() {
        guard let old = ram else { return }
        if let c = old.copy() { ram = c; return }
        ram = nil
        flatEnd = 0
        old.forEachDirtyPage { pfn, words in
            for i in 0..<PhysMemory.wordsPerPage where words[i] != 0 {
                writeWord(pfn << pageShift + UInt64(i) * 8, words[i])
            }
        }
    }

    // MARK: The frame table

    /// The entry of `pfn` (0 when its page was never written).
    @inline(__always)
    @inlinable func entry(_ pfn: UInt64) -> UInt32 {
        let section = pfn >> PhysMemory.sectionShift
        let offset = Int(pfn & UInt64(PhysMemory.entriesPerRun - 1))
        if section == lastSection { return entries[lastRun &+ offset] }
        guard let run = runOf[section] else { return 0 }
        return entries[Int(run) << PhysMemory.sectionShift &+ offset]
    }

    /// Where `pfn`'s entry is in `entries`, making its section's run when `create`; nil when
    /// the section has none and `create` is false.
    @inline(__always)
    @inlinable mutating func entryIndex(_ pfn: UInt64, create: Bool) -> Int? {
        let section = pfn >> PhysMemory.sectionShift
        let offset = Int(pfn & UInt64(PhysMemory.entriesPerRun - 1))
        if section == lastSection { return lastRun &+ offset }
        if let run = runOf[section] {
            lastSection = section; lastRun = Int(run) << PhysMemory.sectionShift
            return lastRun &+ offset
        }
        guard create else { return nil }
        let run = entries.count >> PhysMemory.sectionShift
        entries.append(contentsOf: repeatElement(0, count: PhysMemory.entriesPerRun))
        runOf[section] = UInt32(run)
        lastSection = section; lastRun = run << PhysMemory.sectionShift
        return lastRun &+ offset
    }

    /// Sets `pfn`'s entry (0 clears it), keeping the per-block counts.
    @inlinable mutating func setEntry(_ pfn: UInt64, _ value: UInt32) {
        guard let i = entryIndex(pfn, create: value != 0) else { return }
        let old = entries[i]
        entries[i] = value
        if old == 0 && value != 0 {
            frameCount += 1
            framesInBlock[pfn >> 10, default: 0] += 1
            blockWritten.insert(pfn >> 10)
        } else if old != 0 && value == 0 {
            frameCount -= 1
            let n = (framesInBlock[pfn >> 10] ?? 1) - 1
            framesInBlock[pfn >> 10] = n == 0 ? nil : n
            if n == 0 { blockWritten.remove(pfn >> 10) }
        }
    }

    /// Gives a page's frame back for reuse.
    @inlinable mutating func release(_ e: UInt32) {
        if e >= PhysMemory.linearTag { spareLinear.append(e - PhysMemory.linearTag) } else { spareFrames.append(e - 1) }
    }

    /// Zeroes `count` pages from `pfn`.
    @inlinable public mutating func zero(_ pfn: Pfn, pages count: UInt64) {
        var p = pfn.raw
        if p < flatEnd >> pageShift { makeRAMUnique() }
        if p < flatEnd >> pageShift && count > 0 {
            let n = Swift.min(count, (flatEnd >> pageShift) - p)
            ram.unsafelyUnwrapped.zero(p, n)
            if n == count { return }
            p += n
        }
        if frameCount == 0 { return }
        let end = pfn.raw + count
        while p < end {
            let block = p >> 10
            let blockEnd = Swift.min(end, (block + 1) << 10)
            if blockWritten.contains(block), let first = entryIndex(p, create: false) {
                // A max-order block lies inside one section: its entries are consecutive.
                var removed: UInt32 = 0
                for i in first..<(first + Int(blockEnd - p)) where entries[i] != 0 {
                    release(entries[i])
                    entries[i] = 0
                    removed += 1
                }
                if removed > 0 {
                    lastPfn = .max
                    frameCount -= Int(removed)
                    let n = (framesInBlock[block] ?? removed) - removed
                    framesInBlock[block] = n == 0 ? nil : n
                    if n == 0 { blockWritten.remove(block) }
                }
            }
            p = blockEnd
        }
    }

    /// The frame holding `pfn`, made (zeroed, or from its linear pattern) when it has none.
    @inline(__always)
    @inlinable mutating func frame(_ pfn: UInt64) -> Int {
        if pfn == lastPfn { return lastBase / PhysMemory.wordsPerPage }
        let e = entry(pfn)
        if e != 0 && e < PhysMemory.linearTag {
            lastPfn = pfn; lastBase = Int(e - 1) * PhysMemory.wordsPerPage
            return Int(e - 1)
        }
        mmAssert(pfn << pageShift >= flatEnd, "a mapped page has no frame")
        var pattern: LinearFrame?
        if e >= PhysMemory.linearTag {
            pattern = linear[Int(e - PhysMemory.linearTag)]
            spareLinear.append(e - PhysMemory.linearTag)
            setEntry(pfn, 0)
        }
        let f: UInt32
        if let s = spareFrames.popLast() {
            f = s
            let base = Int(f) * PhysMemory.wordsPerPage
            for i in base..<(base + PhysMemory.wordsPerPage) { words[i] = 0 }
        } else {
            f = UInt32(words.count / PhysMemory.wordsPerPage)
            words.append(contentsOf: repeatElement(0, count: PhysMemory.wordsPerPage))
        }
        setEntry(pfn, f + 1)
        lastPfn = pfn; lastBase = Int(f) * PhysMemory.wordsPerPage
        if let p = pattern {
            for i in p.from..<p.to { words[lastBase + i] = p.word(i) }
        }
        return Int(f)
    }

    /// The pattern of a linear frame (see the file comment), or nil for any other page: lets a
    /// page-table walk take a whole table of evenly spaced entries in one step.
    public func linearPattern(_ pfn: UInt64) -> (from: Int, to: Int, first: UInt64, step: UInt64)? {
        if pfn < flatEnd >> pageShift { return nil }
        let e = entry(pfn)
        guard e >= PhysMemory.linearTag else { return nil }
        let l = linear[Int(e - PhysMemory.linearTag)]
        return (l.from, l.to, l.first, l.step)
    }

    /// Writes `count` words from word `index` of page `pfn`: first, first + step, … Kept as a
    /// linear frame when the page is empty or the run extends its pattern at either end.
    public mutating func writeRun(_ pfn: UInt64, index: Int, count: Int, first: UInt64, step: UInt64) {
        guard count > 0 else { return }
        if pfn < flatEnd >> pageShift {
            for i in 0..<count { writeWord(pfn << pageShift + UInt64(index + i) * 8, first &+ UInt64(i) &* step) }
            return
        }
        let e = entry(pfn)
        if e >= PhysMemory.linearTag {
            let li = Int(e - PhysMemory.linearTag)
            var l = linear[li]
            let last = first &+ UInt64(count - 1) &* step
            if step == l.step && index == l.to && first == l.word(l.to - 1) &+ step {
                l.to += count; linear[li] = l; return
            }
            if step == l.step && index + count == l.from && last &+ step == l.first {
                l.from = index; l.first = first; linear[li] = l; return
            }
            if step == l.step && index >= l.from && index + count <= l.to && l.word(index) == first { return }
        } else if e == 0 && (first != 0 || step != 0) {
            let l = LinearFrame(from: index, to: index + count, first: first, step: step)
            let li: UInt32
            if let s = spareLinear.popLast() { li = s; linear[Int(s)] = l } else { li = UInt32(linear.count); linear.append(l) }
            setEntry(pfn, PhysMemory.linearTag + li)
            return
        }
        for i in 0..<count {
            writeWord(pfn << pageShift + UInt64(index + i) * 8, first &+ UInt64(i) &* step)
        }
    }

    /// The aligned 64-bit word at `addr` (little-endian, as x86 stores it).
    @inline(__always)
    @inlinable public func readWord(_ addr: PhysAddr) -> UInt64 {
        if addr < flatEnd { return ram.unsafelyUnwrapped.base.load(fromByteOffset: Int(addr & ~7), as: UInt64.self) }
        if addr >> pageShift == lastPfn { return words[lastBase + Int((addr & (pageSize - 1)) >> 3)] }
        let e = entry(addr >> pageShift)
        if e == 0 { return 0 }
        let i = Int((addr & (pageSize - 1)) >> 3)
        if e >= PhysMemory.linearTag { return linear[Int(e - PhysMemory.linearTag)].word(i) }
        return words[Int(e - 1) * PhysMemory.wordsPerPage + i]
    }

    /// Writes the aligned 64-bit word at `addr`.
    @inline(__always)
    @inlinable public mutating func writeWord(_ addr: PhysAddr, _ value: UInt64) {
        if storeMapped(addr, zeros: value == 0, { $0.storeBytes(of: value, toByteOffset: Int(addr & ~7), as: UInt64.self) }) {
            return
        }
        let pfn = addr >> pageShift
        if pfn == lastPfn {
            words[lastBase + Int((addr & (pageSize - 1)) >> 3)] = value
            return
        }
        if value == 0 && entry(pfn) == 0 { return }
        let f = frame(pfn)
        words[f * PhysMemory.wordsPerPage + Int((addr & (pageSize - 1)) >> 3)] = value
    }

    /// The byte at a physical address.
    @inlinable public func read(_ addr: PhysAddr) -> UInt8 {
        UInt8(truncatingIfNeeded: readWord(addr & ~7) >> ((addr & 7) * 8))
    }

    /// Writes one byte.
    @inlinable public mutating func write(_ addr: PhysAddr, _ byte: UInt8) {
        if storeMapped(addr, zeros: byte == 0, { $0.storeBytes(of: byte, toByteOffset: Int(addr), as: UInt8.self) }) { return }
        let pfn = addr >> pageShift
        if byte == 0 && pfn != lastPfn && entry(pfn) == 0 { return }
        let i = frame(pfn) * PhysMemory.wordsPerPage + Int((addr & (pageSize - 1)) >> 3)
        let shift = (addr & 7) * 8
        words[i] = (words[i] & ~(0xff << shift)) | (UInt64(byte) << shift)
    }

    /// Fills [addr, addr + len) with `byte` (memset), a word at a time where it can.
    @inline(__always)
    @inlinable public mutating func fill(_ addr: PhysAddr, _ len: UInt64, _ byte: UInt8) {
        let pattern = UInt64(byte) &* 0x0101_0101_0101_0101
        let inPage = addr & (pageSize - 1)
        // Inside one mapped page (SLUB's init_on_alloc): in place, nothing for zeros on a clean page.
        if len > 0 && addr &+ len <= flatEnd && inPage + len <= pageSize && addr &+ len >= addr
            && storeMapped(addr, zeros: byte == 0, { base in
                if (addr | len) & 7 == 0 && len <= 256 {
                    // An object's worth of words: stores, not a call to memset.
                    var o = Int(addr)
                    let end = o + Int(len)
                    while o < end { base.storeBytes(of: pattern, toByteOffset: o, as: UInt64.self); o += 8 }
                } else {
                    (base + Int(addr)).initializeMemory(as: UInt8.self, repeating: byte, count: Int(len))
                }
            }) {
            return
        }
        if addr >> pageShift == lastPfn && (addr | len) & 7 == 0 && inPage + len <= pageSize {
            // An object on the page last written (SLUB's init_on_alloc): whole words, in place.
            let first = lastBase + Int(inPage >> 3)
            words.withUnsafeMutableBufferPointer { w in
                w.baseAddress!.advanced(by: first).update(repeating: pattern, count: Int(len >> 3))
            }
            return
        }
        fillSlow(addr, len, pattern, byte)
    }

    @usableFromInline mutating func fillSlow(_ addr: PhysAddr, _ len: UInt64, _ pattern: UInt64, _ byte: UInt8) {
        var a = addr
        let end = addr + len
        while a < end {
            // Page by page inside the mapping.
            let stop = Swift.min(end, (a | (pageSize - 1)) + 1, flatEnd)
            if a < flatEnd && storeMapped(a, zeros: byte == 0, { base in
                (base + Int(a)).initializeMemory(as: UInt8.self, repeating: byte, count: Int(stop - a))
            }) {
                a = stop
                continue
            }
            if a & 7 == 0 && end - a >= 8 {
                let pageEnd = Swift.min(end, (a | (pageSize - 1)) + 1)
                let pfn = a >> pageShift
                if byte == 0 && pfn != lastPfn && entry(pfn) == 0 { a = pageEnd; continue }
                let first = frame(pfn) * PhysMemory.wordsPerPage + Int((a & (pageSize - 1)) >> 3)
                let count = Int((pageEnd - a) >> 3)
                words.withUnsafeMutableBufferPointer { w in
                    w.baseAddress!.advanced(by: first).update(repeating: pattern, count: count)
                }
                a += UInt64(count) << 3
            } else {
                write(a, byte)
                a += 1
            }
        }
    }

    /// Linux: memchr_inv(): the first address in [addr, addr + len) whose byte is not `byte`.
    public func firstMismatch(_ addr: PhysAddr, _ len: UInt64, _ byte: UInt8) -> PhysAddr? {
        var a = addr
        let end = addr + len
        let pattern = UInt64(byte) &* 0x0101_0101_0101_0101
        while a < end {
            if a & 7 == 0 && end - a >= 8 {
                if readWord(a) == pattern { a += 8; continue }
            }
            if read(a) != byte { return a }
            a += 1
        }
        return nil
    }
}
