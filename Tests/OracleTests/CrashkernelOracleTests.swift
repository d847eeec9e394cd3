// crashkernel= on real boots: 14 captures of the oracle kernel, one per form and failure (the
// `*-crash-*` cases). The generic oracle suites already compare their memblock=debug lines,
// zones and zoneinfo from the log and from the preset; these check what is particular to the
// crash kernel: its lines, where /proc/iomem says the "Crash kernel" resources are, and the
// "Memory:" line that the reservation lowers.

import Foundation
import MMCore
import MMText
import KmemlabTestSupport
import Testing

@Suite("crashkernel= equals the real kernel's reservation")
struct CrashkernelOracleTests {
    static let cases = Fixtures.caseNames.filter { $0.contains("-crash-") }

    /// The crash kernel's own lines (reserve_crashkernel()'s and crash_core.c's warnings).
    static func crashLines(_ lines: [String]) -> [String] {
        lines.filter {
            ($0.hasPrefix("Reserving ") && $0.hasSuffix("MB)")) || $0.hasPrefix("crashkernel")
                || $0.hasPrefix("Cannot reserve ") || $0.contains("setup_arch+0xa") || $0.contains("setup_arch+0xb")
                || $0.hasPrefix("Memory: ")
        }
    }

    /// The "Crash kernel" resources of /proc/iomem, in order.
    static func iomemCrash(_ name: String) -> [PhysRange] {
        Fixtures.text(Fixtures.casePath(name, "iomem.txt")).split(separator: "\n").compactMap { line in
            guard line.hasSuffix(": Crash kernel") else { return nil }
            let range = line.trimmingCharacters(in: .whitespaces).split(separator: " ")[0].split(separator: "-")
            guard let s = UInt64(range[0], radix: 16), let e = UInt64(range[1], radix: 16) else { return nil }
            return PhysRange(start: s, size: e - s + 1)
        }
    }

    func check(_ name: String, _ k: Kernel) {
        let expected = Self.crashLines(Fixtures.messages(Fixtures.text(Fixtures.casePath(name, "dmesg.txt"))))
        let actual = Self.crashLines(k.log.lines)
        #expect(expected.count >= 2)
        #expect(expected == actual, "\(Fixtures.firstDifference(expected, actual) ?? "")")
        let resources = [k.crashkernel.main, k.crashkernel.low].compactMap { $0 }.sorted { $0.start < $1.start }
        #expect(resources == Self.iomemCrash(name))
    }

    @Test("from the case's log", arguments: cases)
    func fromDmesg(_ name: String) throws {
        let path = Fixtures.casePath(name, "dmesg.txt")
        var k = Kernel(machine: try DmesgParser(fileName: path).parse(Fixtures.text(path)))
        try k.boot()
        check(name, k)
    }

    @Test("from the QEMU preset and the command line alone", arguments: cases)
    func fromPreset(_ name: String) throws {
        var k = Kernel(machine: try Fixtures.presetMachine(name))
        try k.boot()
        check(name, k)
    }

    @Test("the cases cover every form and every failure")
    func coverage() {
        #expect(Self.cases.count == 14)
        let all = Self.cases.flatMap { Self.crashLines(Fixtures.messages(Fixtures.text(Fixtures.casePath($0, "dmesg.txt")))) }
        for text in ["Reserving 256MB of low memory", "No suitable area found", "memory is in use",
                     "Cannot reserve 3900MB crashkernel low memory", "crashkernel: memory value expected",
                     "crashkernel: end <= start", "for crashkernel (System RAM: 16383MB)"] {
            #expect(all.contains { $0.contains(text) }, "\(text)")
        }
    }
}
