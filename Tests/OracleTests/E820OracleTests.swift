// The e820 part of every real boot in the oracle: kmemlab's lines must equal the kernel's.

import Foundation
import MMCore
import MMText
import KmemlabTestSupport
import Testing

func bootLines(_ machine: Machine) -> [String] {
    var k = Kernel(machine: machine)
    try? k.boot()
    return k.log.lines
}

@Suite("e820 lines equal the kernel's")
struct E820OracleTests {
    /// Rebuilds the machine from a log, boots it, and compares the lines `select` picks from the
    /// kernel's log and from kmemlab's. Returns the kernel's selection for further checks.
    @discardableResult
    func checkLog(_ path: String, minimumLines: Int = 1,
                  select: ([String]) -> [String] = Fixtures.e820Lines) throws -> [String] {
        let text = Fixtures.text(path)
        let machine = try DmesgParser(fileName: path).parse(text)
        let expected = select(Fixtures.messages(text))
        let actual = select(bootLines(machine))
        #expect(expected.count >= minimumLines)
        #expect(expected == actual, "\(Fixtures.firstDifference(expected, actual) ?? "")")
        return expected
    }

    @Test("QEMU oracle cases, machine read from their dmesg", arguments: Fixtures.caseNames)
    func caseFromDmesg(_ name: String) throws {
        try checkLog(Fixtures.casePath(name, "dmesg.txt"), minimumLines: 11)
    }

    @Test("real hardware logs", arguments: Fixtures.hardwareLogs)
    func hardware(_ name: String) throws {
        try checkLog(Fixtures.hardwarePath(name), minimumLines: 8)
    }

    @Test("QEMU presets reproduce each case's map", arguments: Fixtures.caseNames)
    func preset(_ name: String) throws {
        let machine = try Fixtures.presetMachine(name)
        let nodes = machine.numaMemory
        let path = Fixtures.casePath(name, "dmesg.txt")
        let text = Fixtures.text(path)
        let fromLog = try DmesgParser(fileName: path).parse(text)

        let expected = Fixtures.e820Lines(Fixtures.messages(text))
        let lines = bootLines(machine)
        let actual = Fixtures.e820Lines(lines)
        #expect(expected == actual, "\(Fixtures.firstDifference(expected, actual) ?? "")")
        // The zones follow from the map, the SRAT and the command line alone.
        let zonesExpected = Fixtures.zoneLines(Fixtures.messages(text)), zonesActual = Fixtures.zoneLines(lines)
        #expect(zonesExpected == zonesActual, "\(Fixtures.firstDifference(zonesExpected, zonesActual) ?? "")")
        // Reservations too: QEMU's ACPI tables have their exact sizes for any CPU and node count.
        let setupExpected = Fixtures.setupArchLines(Fixtures.messages(text)), setupActual = Fixtures.setupArchLines(lines)
        #expect(setupExpected == setupActual, "\(Fixtures.firstDifference(setupExpected, setupActual) ?? "")")
        // And so the page allocator's numbers: managed, watermarks, protection, pagesets.
        let zoneinfo = Fixtures.text(Fixtures.casePath(name, "zoneinfo.txt")).split(separator: "\n").map(String.init)
        let zExpected = Fixtures.zoneinfoDeterministicLines(zoneinfo)
        let zActual = Fixtures.zoneinfoDeterministicLines(ProcFiles.zoneinfo(bootKernel(machine)))
        #expect(zExpected == zActual, "\(Fixtures.firstDifference(zExpected, zActual) ?? "")")
        #expect(machine.numaMemory == fromLog.numaMemory)
        #expect(machine.initrd?.addr == fromLog.initrd?.addr)
        #expect(machine.initrd.map { roundUp($0.addr + $0.size, pageSize) } == fromLog.initrd.map { roundUp($0.addr + $0.size, pageSize) })
        // "RAMDISK:" rounds the end to a page; relocate_initrd()'s "Move RAMDISK" line does not.
        if text.contains("Move RAMDISK from ") { #expect(machine.initrd?.size == fromLog.initrd?.size) }
        #expect(machine.mpTable == fromLog.mpTable)
        #expect(machine.cpus.present == fromLog.cpus.present)
        if !nodes.isEmpty { #expect(machine.cpus.nodeOfCPU == fromLog.cpus.nodeOfCPU) }
    }

    @Test("memblock=debug lines up to the first MEMBLOCK dump", arguments: Fixtures.caseNames)
    func memblockSetup(_ name: String) throws {
        try checkLog(Fixtures.casePath(name, "dmesg.txt"), minimumLines: 11) { lines in
            var out: [String] = []
            var inDump = false
            for l in lines {
                if l.hasPrefix("MEMBLOCK configuration:") { inDump = true }
                else if inDump && !l.hasPrefix(" ") { break }
                if inDump || l.hasPrefix("memblock_") || l.hasPrefix("found SMP MP-table") { out.append(l) }
            }
            return out
        }
    }

    @Test("memblock=debug lines through reserve_real_mode and init_mem_mapping's probe", arguments: Fixtures.caseNames)
    func realModeAndProbe(_ name: String) throws {
        let expected = try checkLog(Fixtures.casePath(name, "dmesg.txt")) { lines in
            var out: [String] = []
            for l in lines where l.hasPrefix("memblock_") {
                out.append(l)
                if l.hasSuffix("init_mem_mapping+0x22e/0x31f") { break }
            }
            return out
        }
        #expect(expected.last?.hasPrefix("memblock_phys_free:") == true)
    }
}
