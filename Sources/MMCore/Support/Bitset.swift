// A growable set of small integers, one bit each.
//
// The page-table shadow keeps one bit per top-level, P4D and PUD slot the kernel has filled:
// even a 4 PiB machine needs only a few million of those, and a bit each keeps that in a few
// hundred KiB while lookups stay O(1) and the iteration order (ascending) is deterministic.
//
// Linux: none — kmemlab's own storage (the kernel finds filled slots by reading the tables).
public struct Bitset: Sendable, Equatable {
    @usableFromInline var words: [UInt64] = []

    public init() {}

    @inlinable public func contains(_ i: UInt64) -> Bool {
        let w = Int(i >> 6)
        return w < words.count && words[w] & (1 << (i & 63)) != 0
    }

    @inlinable public mutating func insert(_ i: UInt64) {
        let w = Int(i >> 6)
        if w >= words.count { words.append(contentsOf: repeatElement(0, count: w + 1 - words.count)) }
        words[w] |= 1 << (i & 63)
    }

    @inlinable public mutating func remove(_ i: UInt64) {
        let w = Int(i >> 6)
        if w < words.count { words[w] &= ~(1 << (i & 63)) }
    }

    /// How many members there are.
    public var count: Int {
        var n = 0
        for w in words { n += w.nonzeroBitCount }
        return n
    }
}
