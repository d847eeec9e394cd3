// The contents of simulated physical memory.
//
// Linux: there is no counterpart: this is the RAM itself. The page allocator zeroes pages
//        (init_on_alloc, __GFP_ZERO) and SLUB writes free pointers, red zones and poison into
//        objects; both need somewhere to write that later reads see.
// Exact: a byte written is read back; a zeroed page reads as zeros.
// Simplified: only pages somebody wrote hold host memory (4 KiB each); every other page reads as
//        zeros, as freshly booted RAM on QEMU does.

public struct PhysMemory: Sendable {
    @usableFromInline var pages: [UInt64: [UInt8]] = [:]

    public init() {}

    /// How many pages hold written data.
    public var writtenPages: Int { pages.count }

    /// Zeroes `count` pages from `pfn` (dropping their storage).
    @inlinable public mutating func zero(_ pfn: UInt64, pages count: UInt64) {
        if pages.isEmpty { return }
        for p in pfn..<(pfn + count) { pages[p] = nil }
    }

    /// The byte at a physical address.
    @inlinable public func read(_ addr: PhysAddr) -> UInt8 {
        guard let p = pages[addr >> pageShift] else { return 0 }
        return p[Int(addr & (pageSize - 1))]
    }

    /// Writes one byte.
    @inlinable public mutating func write(_ addr: PhysAddr, _ byte: UInt8) {
        let pfn = addr >> pageShift
        if pages[pfn] == nil {
            if byte == 0 { return }
            pages[pfn] = [UInt8](repeating: 0, count: Int(pageSize))
        }
        pages[pfn]![Int(addr & (pageSize - 1))] = byte
    }

    /// Fills [addr, addr + len) with `byte`.
    public mutating func fill(_ addr: PhysAddr, _ len: UInt64, _ byte: UInt8) {
        var a = addr
        while a < addr + len { write(a, byte); a += 1 }
    }
}
