// Simulated RAM kept two ways — the sparse tables and a host mapping — must read back the same
// bytes after the same writes, and a fork of a mapped memory must not see the other's writes.

#if canImport(Glibc)
import Glibc
#endif
@testable import MMCore
import Testing

@Suite("simulated RAM: the host mapping and the sparse store agree")
struct PhysMemoryBackendTests {
    /// calloc'd memory as a reservation (zero-filled, as the contract asks).
    static let callocReservation = RAMReservation(
        reserve: { bytes in calloc(1, bytes) },
        release: { p, _ in free(p) })

    static let ramBytes: UInt64 = 48 << 20

    /// calloc'd memory the first time, refused after (a host out of address space).
    nonisolated(unsafe) static var reservations = 0
    static let onceReservation = RAMReservation(
        reserve: { bytes in
            PhysMemoryBackendTests.reservations += 1
            return PhysMemoryBackendTests.reservations == 1 ? calloc(1, bytes) : nil
        },
        release: { p, _ in free(p) })

    /// One random operation on both memories (addresses up to 64 MiB: some past the mapping).
    static func step(_ rng: inout SplitMix64, _ a: inout PhysMemory, _ b: inout PhysMemory) {
        let addr = rng.next() % (64 << 20)
        switch rng.next() % 6 {
        case 0:
            let v = rng.next() % 4 == 0 ? 0 : rng.next()
            a.writeWord(addr & ~7, v); b.writeWord(addr & ~7, v)
        case 1:
            let v = UInt8(truncatingIfNeeded: rng.next())
            a.write(addr, v); b.write(addr, v)
        case 2:
            let len = rng.next() % 9000
            let byte: UInt8 = rng.next() % 2 == 0 ? 0 : 0x6b
            a.fill(addr, len, byte); b.fill(addr, len, byte)
        case 3:
            let pages = rng.next() % 40
            a.zero(Pfn.down(addr), pages: pages); b.zero(Pfn.down(addr), pages: pages)
        case 4:
            let n = Int(rng.next() % 16) + 1
            let index = Int(rng.next() % UInt64(512 - n))
            let first = rng.next()
            let step: UInt64 = rng.next() % 3 == 0 ? 0 : 0x20_0000
            a.writeRun(addr >> pageShift, index: index, count: n, first: first, step: step)
            b.writeRun(addr >> pageShift, index: index, count: n, first: first, step: step)
        default:
            let len = rng.next() % 64 * 8
            a.fill(addr & ~7, len, 0); b.fill(addr & ~7, len, 0)
        }
    }

    /// A sparse memory and a mapped one (`reservation`) after `steps` of the same random work.
    static func twins(_ reservation: RAMReservation, seed: UInt64, steps: Int)
        -> (rng: SplitMix64, sparse: PhysMemory, mapped: PhysMemory) {
        var rng = SplitMix64(seed: seed)
        var sparse = PhysMemory(reservation: nil)
        var mapped = PhysMemory(reservation: reservation)
        mapped.mapHostRAM(below: ramBytes)
        #expect(mapped.isMapped)
        for _ in 0..<steps { step(&rng, &sparse, &mapped) }
        return (rng, sparse, mapped)
    }

    static func expectSame(_ a: PhysMemory, _ b: PhysMemory, _ rng: inout SplitMix64, _ what: Comment) {
        var mismatches = 0
        for _ in 0..<20_000 {
            let addr = rng.next() % (64 << 20) & ~7
            if a.readWord(addr) != b.readWord(addr) { mismatches += 1 }
        }
        #expect(mismatches == 0, what)
    }

    @Test("random writes, fills, zeroings and page-table runs read back the same, before and after the mapping")
    func sameBytes() {
        var rng = SplitMix64(seed: 16)
        var sparse = PhysMemory(reservation: nil)
        var mapped = PhysMemory(reservation: Self.callocReservation)
        for _ in 0..<2000 { Self.step(&rng, &sparse, &mapped) }
        // Pages written so far move into the mapping.
        mapped.mapHostRAM(below: Self.ramBytes)
        sparse.mapHostRAM(below: Self.ramBytes)
        #expect(mapped.isMapped)
        #expect(!sparse.isMapped)
        var check = SplitMix64(seed: 1)
        Self.expectSame(sparse, mapped, &check, "after the move into the mapping")
        for _ in 0..<20_000 { Self.step(&rng, &sparse, &mapped) }
        Self.expectSame(sparse, mapped, &check, "after writes on the mapping")
        // Every word of a few pages, byte by byte.
        for page: UInt64 in [0, 1, 77, 4095, 11_000, 12_287, 12_288, 16_000] {
            for i in 0..<UInt64(4096) where sparse.read(page << 12 + i) != mapped.read(page << 12 + i) {
                Issue.record("page \(page) byte \(i) differs")
                break
            }
        }
    }

    @Test("a fork shares the mapping until one side writes, and neither sees the other's writes")
    func forks() {
        var (rng, sparse, mapped) = Self.twins(Self.callocReservation, seed: 9, steps: 5000)
        var sparseFork = sparse
        var mappedFork = mapped
        var forkRng = SplitMix64(seed: 10)
        for _ in 0..<5000 { Self.step(&forkRng, &sparseFork, &mappedFork) }
        for _ in 0..<5000 { Self.step(&rng, &sparse, &mapped) }
        var check = SplitMix64(seed: 2)
        Self.expectSame(sparse, mapped, &check, "the original")
        Self.expectSame(sparseFork, mappedFork, &check, "the fork")
        var differ = false
        for _ in 0..<20_000 {
            let addr = check.next() % Self.ramBytes & ~7
            if mapped.readWord(addr) != mappedFork.readWord(addr) { differ = true; break }
        }
        #expect(differ, "the two sides wrote different things")
    }

    @Test("a fork whose second mapping the host refuses moves into the tables and stays apart")
    func refusedFork() {
        var (rng, sparse, mapped) = Self.twins(Self.onceReservation, seed: 21, steps: 3000)
        var sparseFork = sparse
        var mappedFork = mapped
        // The fork's first write needs a copy of the mapping; the reservation refuses it.
        mappedFork.writeWord(0x1000, 0x1234); sparseFork.writeWord(0x1000, 0x1234)
        #expect(!mappedFork.isMapped && mapped.isMapped)
        for _ in 0..<3000 { Self.step(&rng, &sparseFork, &mappedFork) }
        var check = SplitMix64(seed: 3)
        Self.expectSame(sparse, mapped, &check, "the original keeps its mapping and its bytes")
        Self.expectSame(sparseFork, mappedFork, &check, "the fork, now in the tables")
    }

    @Test("an empty fill at the mapping's end touches nothing")
    func emptyFillAtTheEnd() {
        var m = PhysMemory(reservation: Self.callocReservation)
        m.mapHostRAM(below: Self.ramBytes)
        m.fill(Self.ramBytes, 0, 0xcc)
        m.fill(0x2000, 0, 0xcc)
        #expect(m.writtenPages == 0)
        m.fill(Self.ramBytes - 8, 16, 0xcc)
        #expect(m.readWord(Self.ramBytes - 8) == 0xcccc_cccc_cccc_cccc && m.readWord(Self.ramBytes) == 0xcccc_cccc_cccc_cccc)
        #expect(m.writtenPages == 2)
    }

    @Test("without a reservation, or above the largest mapped machine, RAM stays sparse")
    func noMapping() {
        var m = PhysMemory(reservation: nil)
        m.mapHostRAM(below: 1 << 30)
        #expect(!m.isMapped)
        var big = PhysMemory(reservation: Self.callocReservation)
        big.mapHostRAM(below: HostRAM.maxBytes + pageSize)
        #expect(!big.isMapped)
        big.writeWord(1 << 41, 7)
        #expect(big.readWord(1 << 41) == 7)
    }
}
