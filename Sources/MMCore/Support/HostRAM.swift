// Simulated RAM as host memory: one lazily committed mapping, a physical address is an offset.
//
// Linux: no counterpart — this is the hardware. On bare metal the same role would be played by
//        the machine's own RAM at its physical address (a base of 0); hosted, it is an anonymous
//        mapping the host commits page by page as the model writes.
// Why: PhysMemory's sparse store finds a written page through a two-level table and keeps its
//        words in a growing array; every SLUB free pointer and every page zeroing paid that
//        lookup and the array's checks. With a mapping, a physical address becomes a pointer by
//        one addition, and untouched RAM costs the host nothing.
// Contract (audited here, nowhere else): `base` points to `bytes` bytes of readable, writable,
//        zero-initialised memory, followed by `bytes / 4096 / 8` bytes of dirty bitmap (one bit
//        per page: set when the page may hold a non-zero byte). Both live as long as the
//        instance; `copy()` makes an independent one with the same contents. Only PhysMemory
//        touches the pointers, and only below its `flatEnd`, which never exceeds `bytes`.
// Who maps it: MMCore imports nothing and must also run on bare metal, so it never calls the
//        OS. A hosted program installs a `RAMReservation` (MMText's `HostMemory.install()`:
//        mmap with MAP_NORESERVE) before it makes kernels; bare metal could install one that
//        hands out the machine's own RAM. Where there is none (Embedded builds, a host that
//        refuses the reservation, machines above `maxBytes`), `make` returns nil and PhysMemory
//        keeps every page in its sparse store.

/// How a hosted program lends the model memory for simulated RAM: C functions that reserve
/// `bytes` of zero-filled, lazily committed, readable and writable memory (nil when they
/// cannot) and give such a reservation back.
public struct RAMReservation: @unchecked Sendable {
    public typealias Reserve = @convention(c) (Int) -> UnsafeMutableRawPointer?
    public typealias Release = @convention(c) (UnsafeMutableRawPointer?, Int) -> Void
    public var reserve: Reserve
    public var release: Release

    public init(reserve: Reserve, release: Release) {
        self.reserve = reserve
        self.release = release
    }

    /// The reservation new kernels map their RAM with (nil: the sparse store only). Set once
    /// at startup, before kernels are made; a kernel keeps the one it was made with.
    nonisolated(unsafe) public static var host: RAMReservation?
}

@usableFromInline final class HostRAM: @unchecked Sendable {
    /// Physical address 0 of the simulated machine.
    @usableFromInline let base: UnsafeMutableRawPointer
    /// How many bytes of RAM the mapping holds (a multiple of 2^18: whole bitmap words).
    @usableFromInline let bytes: UInt64
    /// One bit per page, after the RAM.
    @usableFromInline let dirty: UnsafeMutablePointer<UInt64>
    let mappedBytes: Int
    let reservation: RAMReservation

    /// The largest machine mapped whole: above this the sparse store is used (many kernels —
    /// tests, forked what-ifs — may hold a reservation at once in a 47-bit address space).
    static let maxBytes: UInt64 = 1 << 40

    private init(base: UnsafeMutableRawPointer, bytes: UInt64, mappedBytes: Int, _ reservation: RAMReservation) {
        self.reservation = reservation
        self.base = base
        self.bytes = bytes
        self.mappedBytes = mappedBytes
        dirty = (base + Int(bytes)).bindMemory(to: UInt64.self, capacity: Int(bytes >> 18))
    }

    /// A mapping for RAM below `bytes` (rounded up to 256 KiB), or nil where there is none.
    static func make(bytes wanted: UInt64, _ reservation: RAMReservation?) -> HostRAM? {
        guard let reservation, wanted > 0, wanted <= maxBytes else { return nil }
        let bytes = (wanted + (1 << 18) - 1) & ~((1 << 18) - 1)
        let total = Int(bytes + (bytes >> 15))
        guard let p = reservation.reserve(total) else { return nil }
        return HostRAM(base: p, bytes: bytes, mappedBytes: total, reservation)
    }

    deinit { reservation.release(base, mappedBytes) }

    /// Whether page `pfn` may hold a non-zero byte.
    @inline(__always)
    @usableFromInline func isDirty(_ pfn: UInt64) -> Bool {
        dirty[Int(pfn &>> 6)] & (1 &<< (pfn & 63)) != 0
    }

    @inline(__always)
    @usableFromInline func markDirty(_ pfn: UInt64) {
        dirty[Int(pfn &>> 6)] |= 1 &<< (pfn & 63)
    }

    /// Zeroes the dirty pages of [pfn, pfn + count) and marks them clean.
    @usableFromInline func zero(_ pfn: UInt64, _ count: UInt64) {
        var p = pfn
        let end = pfn + count
        while p < end {
            let w = Int(p >> 6)
            // Skip a clean word of pages in one step.
            if p & 63 == 0 && end - p >= 64 && dirty[w] == 0 { p += 64; continue }
            if isDirty(p) {
                (base + Int(p << 12)).initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
                dirty[w] &= ~(1 &<< (p & 63))
            }
            p += 1
        }
    }

    /// How many pages are dirty.
    var dirtyPages: Int {
        var n = 0
        for w in 0..<Int(bytes >> 18) { n += dirty[w].nonzeroBitCount }
        return n
    }

    /// An independent mapping with the same contents (the dirty pages copied), or nil.
    func copy() -> HostRAM? {
        guard let c = HostRAM.make(bytes: bytes, reservation) else { return nil }
        forEachDirtyPage { pfn, words in
            (c.base + Int(pfn << 12)).copyMemory(from: words, byteCount: 4096)
            c.markDirty(pfn)
        }
        return c
    }

    /// Calls `body` with each dirty page's pfn and its 512 words, in ascending order.
    func forEachDirtyPage(_ body: (UInt64, UnsafePointer<UInt64>) -> Void) {
        for w in 0..<Int(bytes >> 18) where dirty[w] != 0 {
            var bits = dirty[w]
            while bits != 0 {
                let p = w << 6 + bits.trailingZeroBitCount
                body(UInt64(p), UnsafePointer((base + p << 12).assumingMemoryBound(to: UInt64.self)))
                bits &= bits - 1
            }
        }
    }
}
