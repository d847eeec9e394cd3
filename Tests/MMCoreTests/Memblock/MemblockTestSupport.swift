// The world of the kernel's user-space memblock tests (tools/testing/memblock): 16 KiB of
// "physical memory" and SMP_CACHE_BYTES of 32. The kernel's tests put that memory at a malloc'ed
// address; here it sits at 1 MiB (above the first page, which memblock never hands out).

import MMCore

let memStart: PhysAddr = 0x10_0000
let memSize: UInt64 = 16 * 1024
let memEnd: PhysAddr = memStart + memSize
let smpCacheBytes: UInt64 = 32

struct World {
    var mb = Memblock()
    var log = KernelLog()

    /// Linux tests: reset_memblock_regions() + reset_memblock_attributes() (+ setup_memblock()).
    init(withMemory: Bool = true, bottomUp: Bool = false) {
        mb.smpCacheBytes = smpCacheBytes
        mb.bottomUp = bottomUp
        if withMemory { mb.add(memStart, memSize, log: &log) }
    }

    var memory: [MemblockRegion] { mb.memory.regions }
    var reserved: [MemblockRegion] { mb.reserved.regions }

    mutating func add(_ base: PhysAddr, _ size: UInt64) { mb.add(base, size, log: &log) }
    mutating func reserve(_ base: PhysAddr, _ size: UInt64) { mb.reserve(base, size, log: &log) }
    mutating func remove(_ base: PhysAddr, _ size: UInt64) { mb.remove(base, size, log: &log) }
    mutating func free(_ base: PhysAddr, _ size: UInt64) { mb.physFree(base, size, log: &log) }
    mutating func alloc(_ size: UInt64, align: UInt64 = smpCacheBytes) -> PhysAddr {
        mb.allocTryNid(size: size, align: align, log: &log)
    }
    mutating func allocFrom(_ size: UInt64, align: UInt64 = smpCacheBytes, min: PhysAddr) -> PhysAddr {
        mb.allocTryNid(size: size, align: align, minAddr: min, log: &log)
    }
    mutating func allocTryNid(_ size: UInt64, align: UInt64 = smpCacheBytes, min: PhysAddr, max: PhysAddr,
                              nid: Int32 = numaNoNode) -> PhysAddr {
        mb.allocTryNid(size: size, align: align, minAddr: min, maxAddr: max, nid: nid, log: &log)
    }
}

func region(_ base: PhysAddr, _ size: UInt64) -> MemblockRegion { MemblockRegion(base: base, size: size) }
let dummy = MemblockRegion(base: 0, size: 0)
