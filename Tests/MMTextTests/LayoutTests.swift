// kmemlab layout against Documentation/x86/x86_64/mm.rst, and memory KASLR's bases.

import MMCore
import MMText
import KmemlabTestSupport
import Testing

@Suite("the kernel's virtual layout")
struct LayoutTests {
    @Test("nokaslr, 4-level: the rows mm.rst documents")
    func fourLevel() throws {
        let lines = Layout.lines(try bootPreset("nokaslr"))
        for row in [
            " ffff888000000000 | -119.5  TB | ffffc87fffffffff |   64 TB | direct mapping of all physical memory (page_offset_base)",
            " ffffc90000000000 |  -55    TB | ffffe8ffffffffff |   32 TB | vmalloc/ioremap space (vmalloc_base)",
            " ffffea0000000000 |  -22    TB | ffffeaffffffffff |    1 TB | virtual memory map (vmemmap_base)",
            " ffff880000000000 | -120    TB | ffff887fffffffff |  0.5 TB | LDT remap for PTI",
            " fffffe0000000000 |   -2    TB | fffffe7fffffffff |  0.5 TB | cpu_entry_area mapping",
            " ffffff0000000000 |   -1    TB | ffffff7fffffffff |  0.5 TB | %esp fixup stacks",
            " ffffff8000000000 | -512    GB | ffffffeeffffffff |  444 GB | ... unused hole",
            " ffffffef00000000 |  -68    GB | fffffffeffffffff |   64 GB | EFI region mapping space",
            " ffffffffff600000 |  -10    MB | ffffffffff600fff |    4 kB | legacy vsyscall ABI",
        ] {
            #expect(lines.contains(row), "\(row)")
        }
    }

    @Test("nokaslr, 5-level: the rows mm.rst documents")
    func fiveLevel() throws {
        let lines = Layout.lines(try bootPreset("nokaslr", la57: true))
        for row in [
            " ff11000000000000 |  -59.75 PB | ff90ffffffffffff |   32 PB | direct mapping of all physical memory (page_offset_base)",
            " ffa0000000000000 |  -24    PB | ffd1ffffffffffff | 12.5 PB | vmalloc/ioremap space (vmalloc_base)",
            " ffd4000000000000 |  -11    PB | ffd5ffffffffffff |  0.5 PB | virtual memory map (vmemmap_base)",
            " ff10000000000000 |  -60    PB | ff10ffffffffffff | 0.25 PB | LDT remap for PTI",
            " ff91000000000000 |  -27.75 PB | ff9fffffffffffff | 3.75 PB | ... unused hole",
        ] {
            #expect(lines.contains(row), "\(row)")
        }
    }

    @Test("memory KASLR: PUD-aligned, ordered, inside the KASLR range, one layout per seed", arguments: [false, true])
    func kaslr(_ la57: Bool) throws {
        var seen = Set<UInt64>()
        for seed: UInt64 in 1...6 {
            let k = try bootPreset("console=ttyS0", la57: la57, seed: seed)
            let l = k.layout
            #expect(l.randomized)
            let sizes = try #require(l.sizesTB)
            #expect(sizes == (la57 ? [4096, 12800, 64] : [64, 32, 1]), "ZONE_DEVICE keeps the direct map at its maximum")
            let bases = [l.pageOffsetBase, l.vmallocBase, l.vmemmapBase]
            let start: UInt64 = la57 ? 0xff11_0000_0000_0000 : 0xffff_8880_0000_0000
            #expect(bases[0] >= start)
            for i in 0..<3 {
                #expect(bases[i] % pudSize == 0)
                let end = bases[i] + sizes[i] << 40
                #expect(end <= (i < 2 ? bases[i + 1] : 0xffff_fe00_0000_0000))
            }
            seen.insert(l.pageOffsetBase)
            #expect(try bootPreset("console=ttyS0", la57: la57, seed: seed).layout == l, "deterministic")
            // The direct map really moved: slab objects live at the new base.
            var k2 = k
            let obj = k2.kmalloc(100, .gfpKernel)
            let o = try #require(obj)
            #expect(o >= l.pageOffsetBase && k2.directMapPhys(o) != nil)
        }
        #expect(seen.count > 1)
    }
}
