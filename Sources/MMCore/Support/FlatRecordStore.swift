// Fixed-size records and a word bitmap in two flat allocations behind one copy-on-write check.
//
// Linux: no counterpart; this is how the model stores SLUB's struct kmem_cache_cpu records and
//        the allocation bit of every slab object (Slab/README.md).
// Why: SLUB's fast paths write one record (the CPU's freelist head and tid) and one bitmap
//        word per call. Kept as two Swift arrays, each write paid its own uniqueness check (a
//        runtime call) and bounds check. Here both live behind one class instance: a fast path
//        asks once whether the storage is shared (a forked what-if still holds it) and then
//        writes through plain pointers.
// Contract (audited here, nowhere else): `records` holds `recordCount` initialised records of
//        `recordCapacity`; `words` holds `wordCount` initialised words of `wordCapacity`; both are
//        owned by one `Storage` and freed with it. Every public accessor checks its index with one
//        precondition; the `unchecked` ones are for fast paths whose caller has just checked the
//        record index against `recordCount`, and whose word offsets come from records the store
//        itself handed out (`reserve`), and assert it under MMCORE_CHECKS.
// Bitmap runs: each owner (a slab) gets a run of words at an offset handed out by `reserve`; a
//        released run is kept on a stack of runs of its length and reused first by an owner of the
//        same length.

public struct FlatRecordStore<Record: BitwiseCopyable>: @unchecked Sendable {
    /// The one allocation pair. `@unchecked Sendable`: a Storage is only written after
    /// `makeUnique()` has made it this value's own, so no two values share a written one.
    @usableFromInline final class Storage {
        @usableFromInline let records: UnsafeMutablePointer<Record>
        @usableFromInline let recordCapacity: Int
        @usableFromInline let words: UnsafeMutablePointer<UInt64>
        @usableFromInline let wordCapacity: Int

        init(recordCapacity: Int, wordCapacity: Int) {
            self.recordCapacity = recordCapacity
            self.wordCapacity = wordCapacity
            records = .allocate(capacity: recordCapacity)
            words = .allocate(capacity: wordCapacity)
        }

        /// A copy of the first `records` records and `words` words, with room for at least
        /// `recordCapacity` and `wordCapacity`.
        func copy(records nr: Int, words nw: Int, recordCapacity rc: Int, wordCapacity wc: Int) -> Storage {
            let s = Storage(recordCapacity: Swift.max(rc, nr), wordCapacity: Swift.max(wc, nw))
            s.records.initialize(from: records, count: nr)
            s.words.initialize(from: words, count: nw)
            return s
        }

        deinit {
            records.deallocate()
            words.deallocate()
        }
    }

    @usableFromInline var storage = Storage(recordCapacity: 16, wordCapacity: 64)
    public private(set) var recordCount = 0
    public private(set) var wordCount = 0
    /// Released bitmap runs by length in words (index = length).
    var freeRuns: [[Int32]] = []

    public init() {}

    /// Gives this value its own storage if a copy of it shares the current one.
    @inline(__always)
    @usableFromInline mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            storage = storage.copy(records: recordCount, words: wordCount,
                                   recordCapacity: storage.recordCapacity, wordCapacity: storage.wordCapacity)
        }
    }

    /// Room for `records` records and `words` words (grows by doubling).
    mutating func ensureCapacity(records nr: Int, words nw: Int) {
        guard nr > storage.recordCapacity || nw > storage.wordCapacity else { makeUnique(); return }
        storage = storage.copy(records: recordCount, words: wordCount,
                               recordCapacity: Swift.max(nr, storage.recordCapacity * 2),
                               wordCapacity: Swift.max(nw, storage.wordCapacity * 2))
    }

    // MARK: Records

    /// Record `i` (0 ≤ i < recordCount).
    public subscript(i: Int) -> Record {
        @inline(__always) get {
            precondition(i >= 0 && i < recordCount, "record index out of range")
            return storage.records[i]
        }
        @inline(__always) set {
            precondition(i >= 0 && i < recordCount, "record index out of range")
            makeUnique()
            storage.records[i] = newValue
        }
    }

    /// Record `i`, for a caller that has checked `i < recordCount`.
    @inline(__always)
    func record(unchecked i: Int) -> Record {
        mmAssert(i >= 0 && i < recordCount, "record index out of range")
        return storage.records[i]
    }

    public mutating func append(_ r: Record) {
        ensureCapacity(records: recordCount + 1, words: wordCount)
        (storage.records + recordCount).initialize(to: r)
        recordCount += 1
    }

    /// Changes record `i` (checked by the caller) in place and sets or clears one bit of a run
    /// the store handed out: a fast path's whole write, behind one uniqueness check.
    @inline(__always)
    mutating func update(unchecked i: Int, bitRun offset: Int32, _ index: Int, _ on: Bool,
                         _ body: (inout Record) -> Void) {
        mmAssert(i >= 0 && i < recordCount, "record index out of range")
        let w = Int(offset) &+ (index &>> 6)
        mmAssert(w >= 0 && w < wordCount, "bitmap word out of range")
        makeUnique()
        body(&storage.records[i])
        setBit(w, index, on)
    }

    /// Sets or clears bit `index & 63` of word `w` (checked, and the storage made unique, by
    /// the caller).
    @inline(__always)
    func setBit(_ w: Int, _ index: Int, _ on: Bool) {
        let bit: UInt64 = 1 &<< UInt64(index & 63)
        if on { storage.words[w] |= bit } else { storage.words[w] &= ~bit }
    }

    // MARK: The bitmap

    /// A zeroed run of `n` words (n ≥ 1): its offset.
    public mutating func reserve(words n: Int) -> Int32 {
        precondition(n >= 1, "a run has at least one word")
        if n < freeRuns.count, let off = freeRuns[n].popLast() {
            clear(off, words: n)
            return off
        }
        let off = wordCount
        precondition(off + n <= Int(Int32.max), "bitmap full")
        ensureCapacity(records: recordCount, words: off + n)
        (storage.words + off).initialize(repeating: 0, count: n)
        wordCount += n
        return Int32(off)
    }

    /// Gives a run back for reuse.
    public mutating func release(_ offset: Int32, words n: Int) {
        while freeRuns.count <= n { freeRuns.append([]) }
        freeRuns[n].append(offset)
    }

    /// Zeroes a run.
    public mutating func clear(_ offset: Int32, words n: Int) {
        precondition(offset >= 0 && Int(offset) + n <= wordCount, "bitmap run out of range")
        makeUnique()
        (storage.words + Int(offset)).update(repeating: 0, count: n)
    }

    /// Whether bit `index` of the run at `offset` is set.
    @inline(__always)
    public func test(_ offset: Int32, _ index: Int) -> Bool {
        let w = Int(offset) &+ (index &>> 6)
        precondition(w >= 0 && w < wordCount, "bitmap word out of range")
        return test(unchecked: offset, index)
    }

    /// `test` for a run the store handed out and an index inside it.
    @inline(__always)
    func test(unchecked offset: Int32, _ index: Int) -> Bool {
        let w = Int(offset) &+ (index &>> 6)
        mmAssert(w >= 0 && w < wordCount, "bitmap word out of range")
        return storage.words[w] & (1 &<< UInt64(index & 63)) != 0
    }

    /// Sets or clears bit `index` of the run at `offset`.
    @inline(__always)
    public mutating func set(_ offset: Int32, _ index: Int, _ on: Bool) {
        let w = Int(offset) &+ (index &>> 6)
        precondition(w >= 0 && w < wordCount, "bitmap word out of range")
        makeUnique()
        setBit(w, index, on)
    }
}
