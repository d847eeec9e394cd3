// The hand-over to the page allocator and the reserves computed from it: managed pages,
// watermarks, protection, pageset high/batch, stat thresholds, the "Memory:" line and the later
// "Freeing" lines must equal the kernel's for every QEMU case when the boot's memblock calls are
// replayed.

import Foundation
import MMCore
import MMText
import KmemlabTestSupport
import Testing

@Suite("page allocator hand-over and reserves equal the kernel's")
struct PageAllocOracleTests {
    func replayedBoot(_ name: String) throws -> Kernel {
        let path = Fixtures.casePath(name, "dmesg.txt")
        var k = Kernel(machine: try DmesgParser(fileName: path).parse(Fixtures.text(path)))
        k.replayMemblock = true
        try k.boot()
        return k
    }

    @Test("zoneinfo: managed, min, low, high, protection, pagesets, thresholds (replayed memblock)", arguments: Fixtures.caseNames)
    func zoneinfo(_ name: String) throws {
        let k = try replayedBoot(name)
        let lines = Fixtures.text(Fixtures.casePath(name, "zoneinfo.txt")).split(separator: "\n").map(String.init)
        let expected = Fixtures.zoneinfoDeterministicLines(lines)
        let actual = Fixtures.zoneinfoDeterministicLines(ProcFiles.zoneinfo(k))
        #expect(expected.count > 20)
        #expect(expected == actual, "\(Fixtures.firstDifference(expected, actual) ?? "")")
    }

    @Test("the \"Memory:\" line and the later Freeing lines (replayed memblock)", arguments: Fixtures.caseNames)
    func memoryLine(_ name: String) throws {
        let k = try replayedBoot(name)
        let select = { (lines: [String]) in lines.filter { $0.hasPrefix("Memory: ") || $0.hasPrefix("Freeing ") } }
        let expected = select(Fixtures.messages(Fixtures.text(Fixtures.casePath(name, "dmesg.txt"))))
        #expect(expected.count == 7)
        #expect(select(k.log.lines) == expected)
    }

    @Test("vm.min_free_kbytes and MemTotal (replayed memblock)", arguments: Fixtures.caseNames)
    func minFreeKbytes(_ name: String) throws {
        let k = try replayedBoot(name)
        let sysctl = Fixtures.text(Fixtures.casePath(name, "vm-sysctl.txt"))
        #expect(sysctl.hasPrefix(ProcFiles.sysctl(k).joined(separator: "\n") + "\n"))
        let meminfo = Fixtures.text(Fixtures.casePath(name, "meminfo.txt"))
        let memTotal = ProcFiles.meminfo(k)[0]
        #expect(memTotal.hasPrefix("MemTotal: "))
        #expect(meminfo.hasPrefix(memTotal + "\n"), "\(memTotal)")
    }
}

@Suite("vm sysctls recompute what depends on them")
struct SysctlTests {
    func boot1G() throws -> Kernel {
        let path = Fixtures.casePath("pc-1g-2cpu-nologbuf", "dmesg.txt")
        var k = Kernel(machine: try DmesgParser(fileName: path).parse(Fixtures.text(path)))
        k.replayMemblock = true
        try k.boot()
        return k
    }

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
