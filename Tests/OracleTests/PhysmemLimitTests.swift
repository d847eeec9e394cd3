// Memory beyond what the memory model can describe: Linux trims it with a warning; kmemlab must
// do the same rather than try to describe it (it once crashed allocating a 2^61-byte bitmap).

import MMCore
import MMText
import Testing

@Suite("memory above MAX_PHYSMEM_BITS")
struct PhysmemLimitTests {
    @Test("a 4000 TiB machine with 4-level paging keeps 64 TiB and warns once from sparse_init")
    func fourLevelTrim() throws {
        var k = Kernel(machine: QEMUPreset(type: .pc, memBytes: 4000 << 40, cpus: 2).machine())
        try k.boot()
        let warnings = k.log.lines.filter { $0.hasPrefix("WARNING: ") }
        #expect(warnings == ["WARNING: CPU: 0 PID: 0 at mm/sparse.c:149 sparse_init"])
        #expect(k.totalramPages <= UInt64(64) << 28 && k.totalramPages > UInt64(60) << 28)
        #expect(k.taintText.contains("W"))
    }
}
