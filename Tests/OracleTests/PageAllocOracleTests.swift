// The hand-over to the page allocator and the reserves computed from it: managed pages,
// watermarks, protection, pageset high/batch, stat thresholds, the "Memory:" line and the later
// "Freeing" lines must equal the kernel's for every QEMU case — with kmemlab's own reservations
// and with the boot's memblock calls replayed.

import Foundation
import MMCore
import MMText
import KmemlabTestSupport
import Testing

/// Boots an oracle case's machine, rebuilt from its log: with or without its memblock calls,
/// with the case's own slab-attrs.tsv as `--slab-caches`, another memory model, or more on
/// the command line.
func bootCase(_ name: String, replay: Bool = false, slabCaches: Bool = false, model: MemoryModel = .vmemmap,
              append: String? = nil) throws -> Kernel {
    let path = Fixtures.casePath(name, "dmesg.txt")
    var m = try DmesgParser(fileName: path).parse(Fixtures.text(path))
    if let append { m.commandLine += " " + append }
    var k = Kernel(machine: m)
    k.replayMemblock = replay
    k.memoryModel = model
    if slabCaches {
        let tsv = Fixtures.casePath(name, "slab-attrs.tsv")
        k.slabCacheTable = try SlabCacheTable.parse(Fixtures.text(tsv), file: tsv)
    }
    try k.boot()
    return k
}

@Suite("page allocator hand-over and reserves equal the kernel's")
struct PageAllocOracleTests {
    @Test("zoneinfo: managed, min, low, high, protection, pagesets, thresholds", arguments: Fixtures.caseNames, [false, true])
    func zoneinfo(_ name: String, replay: Bool) throws {
        let k = try bootCase(name, replay: replay)
        let lines = Fixtures.text(Fixtures.casePath(name, "zoneinfo.txt")).split(separator: "\n").map(String.init)
        let expected = Fixtures.zoneinfoDeterministicLines(lines)
        let actual = Fixtures.zoneinfoDeterministicLines(ProcFiles.zoneinfo(k))
        #expect(expected.count > 20)
        #expect(expected == actual, "\(Fixtures.firstDifference(expected, actual) ?? "")")
    }

    @Test("the \"Memory:\" line and the later Freeing lines", arguments: Fixtures.caseNames, [false, true])
    func memoryLine(_ name: String, replay: Bool) throws {
        let k = try bootCase(name, replay: replay)
        let select = { (lines: [String]) in lines.filter { $0.hasPrefix("Memory: ") || $0.hasPrefix("Freeing ") } }
        let expected = select(Fixtures.messages(Fixtures.text(Fixtures.casePath(name, "dmesg.txt"))))
        #expect(expected.count == 7)
        #expect(select(k.log.lines) == expected)
    }

    @Test("vm.min_free_kbytes and MemTotal", arguments: Fixtures.caseNames, [false, true])
    func minFreeKbytes(_ name: String, replay: Bool) throws {
        let k = try bootCase(name, replay: replay)
        let sysctl = Fixtures.text(Fixtures.casePath(name, "vm-sysctl.txt"))
        #expect(sysctl.hasPrefix(ProcFiles.sysctl(k).joined(separator: "\n") + "\n"))
        let meminfo = Fixtures.text(Fixtures.casePath(name, "meminfo.txt"))
        let memTotal = ProcFiles.meminfo(k)[0]
        #expect(memTotal.hasPrefix("MemTotal: "))
        #expect(meminfo.hasPrefix(memTotal + "\n"), "\(memTotal)")
    }
}

@Suite("start_kernel's reservations equal the kernel's")
struct StartKernelOracleTests {
    /// From free_area_init's node lines to the "Memory:" line: every memblock call (HPET, IO-APIC,
    /// e820 resources, firmware map, nosave regions, command-line copies, the per-cpu first chunk,
    /// cpumasks, hashes, CPU entry area tables, swiotlb) and the lines printed between them.
    static func lines(_ all: [String]) -> [String] {
        let keys = ["memblock_", "percpu", "pcpu-alloc", "PM: hibernation", "software IO", "AGP",
                    "mem auto-init", "Memory:", "setup_percpu", "Fallback order", "Built ", "Policy zone",
                    "Kernel command line", "Unknown kernel", "printk:"]
        guard let start = all.firstIndex(where: { $0.hasPrefix("Initmem setup node") }),
              let end = all.firstIndex(where: { $0.hasPrefix("Memory: ") }) else { return [] }
        return all[start...end].filter { l in keys.contains { l.hasPrefix($0) } || l.contains("hash table entries") }
    }

    @Test("memblock=debug and start_kernel lines through \"Memory:\"", arguments: Fixtures.caseNames)
    func startKernel(_ name: String) throws {
        let path = Fixtures.casePath(name, "dmesg.txt")
        let text = Fixtures.text(path)
        let k = bootKernel(try DmesgParser(fileName: path).parse(text))
        let expected = Self.lines(Fixtures.messages(text)), actual = Self.lines(k.log.lines)
        #expect(expected.count >= 60)
        #expect(expected == actual, "\(Fixtures.firstDifference(expected, actual) ?? "")")
    }
}

@Suite("hardware logs: the \"Memory:\" line's total")
struct HardwareMemoryLineTests {
    /// The y of "Memory: x/yK" is every node's present pages: it follows from the firmware map
    /// alone. (x and "reserved" depend on the distribution's kernel and on EFI reservations the
    /// logs do not show.)
    @Test("physpages equal the kernel's", arguments: Fixtures.hardwareLogs.filter { $0.contains("-6.1") })
    func physpages(_ name: String) throws {
        let path = Fixtures.hardwarePath(name)
        let text = Fixtures.text(path)
        let k = bootKernel(try DmesgParser(fileName: path).parse(text))
        let total = { (lines: [String]) -> String? in
            lines.first { $0.hasPrefix("Memory: ") }?.split(separator: " ")[1].split(separator: "/").last.map(String.init)
        }
        let expected = try #require(total(Fixtures.messages(text)))
        #expect(total(k.log.lines) == expected)
    }
}

@Suite("vm sysctls recompute what depends on them")
struct SysctlTests {
    // (Replayed; the model gives the same numbers, asserted above.)
    func boot1G() throws -> Kernel { try bootCase("pc-1g-2cpu-nologbuf", replay: true) }

    @Test("vm.min_free_kbytes=8192 shares 2048 pages out by the final managed counts (3840 + 242034)")
    func minFree() throws {
        var k = try boot1G()
        try k.writeSysctl("vm.min_free_kbytes", "8192")
        let dma = try #require(k.zone(nid: 0, type: .dma)), dma32 = try #require(k.zone(nid: 0, type: .dma32))
        // 2048·3840/245874 = 31; step max(31/4, 3840·10/10000) = 7.
        #expect((dma.minWmark, dma.lowWmark, dma.highWmark) == (31, 38, 45))
        // 2048·242034/245874 = 2016; step max(504, 242) = 504.
        #expect((dma32.minWmark, dma32.lowWmark, dma32.highWmark) == (2016, 2520, 3024))
        // pcp high follows the low watermark over the node's 2 CPUs.
        #expect(dma32.pagesetHigh == 1260)
        #expect(k.vm.userMinFreeKbytes == 8192)
    }

    @Test("lowmem_reserve_ratio and percpu_pagelist_high_fraction")
    func ratios() throws {
        var k = try boot1G()
        try k.writeSysctl("vm.lowmem_reserve_ratio", "128 128 32 0 0")
        #expect(try #require(k.zone(nid: 0, type: .dma)).lowmemReserve == [0, 1890, 1890, 1890, 1890])
        try k.writeSysctl("vm.percpu_pagelist_high_fraction", "8")
        // 242034 / 8 / 2 CPUs.
        #expect(try #require(k.zone(nid: 0, type: .dma32)).pagesetHigh == 15127)
        #expect(throws: SysctlError.invalid(name: "vm.percpu_pagelist_high_fraction", value: "7")) {
            try k.writeSysctl("vm.percpu_pagelist_high_fraction", "7")
        }
        #expect(throws: SysctlError.unknown("vm.nonsense")) { try k.writeSysctl("vm.nonsense", "1") }
    }
}

@Suite("large system hashes")
struct HashTableOracleTests {
    @Test("every hash table line of the boot (dentry … UDP-Lite, Dquot, TCP summary) equals the kernel's", arguments: Fixtures.caseNames)
    func hashLines(_ name: String) throws {
        let k = try bootCase(name, replay: false)
        let pick = { (lines: [String]) in lines.filter { $0.contains("hash table entries") || $0.hasPrefix("TCP: Hash tables configured") } }
        let expected = pick(Fixtures.messages(Fixtures.text(Fixtures.casePath(name, "dmesg.txt"))))
        #expect(expected.count == 15)
        #expect(pick(k.log.lines) == expected)
    }
}

@Suite("vmalloc")
struct VmallocOracleTests {
    static let interleaveUnknown: Set<String> = ["pc-acpi-1cpu-2n", "pc-acpi-4cpu-5n", "q35-acpi-5cpu-3n", "q35-acpi-64cpu-4n"]

    /// A vmallocinfo line without its addresses (they depend on areas the model does not make).
    static func shape(_ line: String) -> String {
        String(line.drop { $0 != " " }.drop { $0 == " " })
    }

    @Test("the hash tables boot vmallocs have the sizes, page counts, flags and per-node pages of /proc/vmallocinfo", arguments: Fixtures.caseNames)
    func hashAreas(_ name: String) throws {
        let k = try bootCase(name)
        // On the small many-node machines the pages' spread over the nodes depends on where the
        // boot task's interleave stands and on nodes running out, which boot's unmodelled page
        // allocations move (docs/DIVERGENCES.md, "vmalloc's interleave"): sizes and page counts only.
        let perNode = !VmallocOracleTests.interleaveUnknown.contains(name)
        let pick = { (lines: [String]) in
            lines.filter { $0.contains("alloc_large_system_hash") }.map(VmallocOracleTests.shape)
                .map { perNode ? $0 : String($0[..<($0.range(of: " N0=")?.lowerBound ?? $0.range(of: " N")!.lowerBound)]) }.sorted()
        }
        let expected = pick(Fixtures.text(Fixtures.casePath(name, "vmallocinfo.txt")).split(separator: "\n").map(String.init))
        #expect(pick(ProcFiles.vmallocinfo(k)) == expected)
        #expect(k.checkPageAllocInvariants() == nil)
    }

    @Test("vmalloc and vfree: guard page, first fit, pages back to the buddy allocator")
    func vmallocVfree() throws {
        var k = try bootCase("pc-1g-2cpu")
        k.drainAllPages()
        let free0 = k.nodes[0].zones.reduce(0) { $0 + $1.freePages }
        let slab0 = k.slub.caches.reduce(0) { $0 + $1.pages }
        let aAddr = k.vmallocNode(10_000)
        let a = try #require(aAddr)
        let bAddr = k.vmallocNode(3 * 4096)
        let b = try #require(bAddr)
        let areas = k.vmalloc.areas
        #expect(areas.count == 2 && areas[0].end - areas[0].start == 4 * 4096 && areas[0].nrPages == 3)
        #expect(b == a + 4 * 4096, "first fit right after the guard page")
        #expect(k.vfree(a) && !k.vfree(a))
        let cAddr = k.vmallocNode(4096)
        let c = try #require(cAddr)
        #expect(c == a, "the freed range is reused")
        k.vfree(b); k.vfree(c)
        k.drainAllPages()
        // Only the page-table pages the mappings needed (and any new slab for the page arrays)
        // stay allocated.
        let slabDelta = UInt64(k.slub.caches.reduce(0) { $0 + $1.pages } - slab0)
        #expect(k.vmalloc.tablePages == 2, "one PMD page and one PTE page")
        #expect(k.nodes[0].zones.reduce(0) { $0 + $1.freePages } + UInt64(k.vmalloc.tablePages) + slabDelta == free0)
    }
}
