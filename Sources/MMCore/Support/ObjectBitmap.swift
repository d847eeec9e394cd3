// One bit per object of every slab (allocated or free), in one word array.
//
// Linux: no counterpart. SLUB knows an object is free only by finding it on a freelist; the
//        model also keeps this bit, so that a double free Linux would not notice is refused
//        (Slab/README.md) and the invariant walk can compare the two.
// Layout: each slab owns a run of ⌈objects / 64⌉ words at an offset handed out when the slab is
//        made; a released run is kept on a stack of runs of its length and reused first by a
//        slab of the same length. One flat array, so the fast path's test-and-set touches one
//        buffer (one bounds check, one uniqueness check), not an array of arrays.

/// The allocation bits of all slabs: `reserve(words:)` gives a slab its run, `test`/`set`
/// address a bit by the run's offset and the object's index.
public struct ObjectBitmap: Sendable {
    @usableFromInline var words: [UInt64] = []
    /// Released runs by length in words (index = length).
    var freeRuns: [[Int32]] = []

    public init() {}

    /// A zeroed run of `n` words (n ≥ 1): its offset.
    public mutating func reserve(words n: Int) -> Int32 {
        precondition(n >= 1, "a slab has at least one object")
        if n < freeRuns.count, let off = freeRuns[n].popLast() {
            clear(off, words: n)
            return off
        }
        let off = words.count
        precondition(off + n <= Int(Int32.max), "object bitmap full")
        words.append(contentsOf: repeatElement(0, count: n))
        return Int32(off)
    }

    /// Gives a run back for reuse.
    public mutating func release(_ offset: Int32, words n: Int) {
        while freeRuns.count <= n { freeRuns.append([]) }
        freeRuns[n].append(offset)
    }

    /// Zeroes a run (a slab made again in the same place).
    public mutating func clear(_ offset: Int32, words n: Int) {
        let o = Int(offset)
        for w in o..<(o + n) { words[w] = 0 }
    }

    /// Whether bit `index` of the run at `offset` is set.
    @inline(__always)
    public func test(_ offset: Int32, _ index: Int) -> Bool {
        words[Int(offset) &+ (index &>> 6)] & (1 &<< UInt64(index & 63)) != 0
    }

    /// Sets or clears bit `index` of the run at `offset`.
    @inline(__always)
    public mutating func set(_ offset: Int32, _ index: Int, _ on: Bool) {
        let w = Int(offset) &+ (index &>> 6)
        let bit: UInt64 = 1 &<< UInt64(index & 63)
        if on { words[w] |= bit } else { words[w] &= ~bit }
    }
}
