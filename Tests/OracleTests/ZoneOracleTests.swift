// setup_arch() from the real-mode trampoline to the zones, and build_all_zonelists(): kmemlab's
// lines and numbers must equal the kernel's for every QEMU case and every 6.1 hardware log.

import Foundation
import MMCore
import MMText
import KmemlabTestSupport
import Testing

func bootKernel(_ machine: Machine) -> Kernel {
    var k = Kernel(machine: machine)
    try? k.boot()
    return k
}

@Suite("reservations, NUMA and zones equal the kernel's")
struct ZoneOracleTests {
    func machine(_ path: String) throws -> (Machine, [String]) {
        let text = Fixtures.text(path)
        return (try DmesgParser(fileName: path).parse(text), Fixtures.messages(text))
    }

    /// The lines `select` picks from the case's log and from kmemlab's boot of it must be equal.
    func check(_ name: String, minimumLines: Int, _ select: ([String]) -> [String]) throws {
        let (m, kernelLines) = try machine(Fixtures.casePath(name, "dmesg.txt"))
        let expected = select(kernelLines), actual = select(bootKernel(m).log.lines)
        #expect(expected.count >= minimumLines)
        #expect(expected == actual, "\(Fixtures.firstDifference(expected, actual) ?? "")")
    }

    @Test("memblock=debug, log buffer, ACPI, NUMA, NODE_DATA and sparse_init lines", arguments: Fixtures.caseNames)
    func setupArch(_ name: String) throws { try check(name, minimumLines: 20, Fixtures.setupArchLines) }

    @Test("zone, node and zonelist lines", arguments: Fixtures.caseNames)
    func zones(_ name: String) throws { try check(name, minimumLines: 12, Fixtures.zoneLines) }

    @Test("spanned and present of every zone equal zoneinfo.txt", arguments: Fixtures.caseNames)
    func zoneinfo(_ name: String) throws {
        let (m, _) = try machine(Fixtures.casePath(name, "dmesg.txt"))
        let k = bootKernel(m)
        let expected = Fixtures.zoneinfoSizes(Fixtures.text(Fixtures.casePath(name, "zoneinfo.txt")))
        #expect(expected.count == k.nodes.count * 5)
        for (node, zone, spanned, present, _) in expected {
            let pgdat = try #require(k.nodes.first { $0.nodeId == NodeID(Int32(node)) })
            let z = try #require(pgdat.zones.first { $0.type.name == zone })
            #expect(z.spannedPages == spanned, "node \(node) \(zone) spanned")
            #expect(z.presentPages == present, "node \(node) \(zone) present")
        }
    }

    /// EFI machines whose firmware has the kernel reserve boot-services memory below 16 MiB that
    /// their logs do not show: dma_reserve, and so "Total pages", cannot be known from the log.
    static let hiddenDMAReservations: Set<String> = ["vm-01-6.1.txt", "vm-02-6.1.txt"]

    @Test("6.1 hardware logs: zone, node and zonelist lines", arguments: Fixtures.hardwareLogs.filter { $0.contains("-6.1") })
    func hardware(_ name: String) throws {
        let (m, kernelLines) = try machine(Fixtures.hardwarePath(name))
        var expected = Fixtures.zoneLines(kernelLines)
        var actual = Fixtures.zoneLines(bootKernel(m).log.lines)
        #expect(expected.count >= 9)
        if Self.hiddenDMAReservations.contains(name) {
            // Everything else equal; the kernel's total is lower by the hidden reservation.
            let total: ([String]) -> Int = { lines in
                Int(lines.first { $0.hasPrefix("Built ") }?.split(separator: " ").last ?? "") ?? 0
            }
            #expect(total(actual) > total(expected))
            #expect(total(actual) - total(expected) <= 4096)
            expected.removeAll { $0.hasPrefix("Built ") }
            actual.removeAll { $0.hasPrefix("Built ") }
        }
        #expect(expected == actual, "\(Fixtures.firstDifference(expected, actual) ?? "")")
    }
}

@Suite("--show zoneinfo")
struct ZoneinfoRenderTests {
    @Test("headers, spanned and present read back equal to the kernel's zoneinfo.txt", arguments: ["pc-1g-2cpu", "q35-32g-numa4", "pc-6g-movablecore"])
    func render(_ name: String) throws {
        let path = Fixtures.casePath(name, "dmesg.txt")
        let k = bootKernel(try DmesgParser(fileName: path).parse(Fixtures.text(path)))
        let ours = Fixtures.zoneinfoSizes(ProcFiles.zoneinfo(k).joined(separator: "\n"))
        let theirs = Fixtures.zoneinfoSizes(Fixtures.text(Fixtures.casePath(name, "zoneinfo.txt")))
        #expect(ours.map { "\($0.0) \($0.1) \($0.2) \($0.3)" } == theirs.map { "\($0.0) \($0.1) \($0.2) \($0.3)" })
        // managed is what memblock_free_all() and the later frees gave each zone.
        #expect(ours.map { $0.4 } == theirs.map { $0.4 })
    }
}

@Suite("--replay-memblock")
struct ReplayTests {
    @Test("replaying the log up to the NUMA dump reproduces the dump's reserved regions", arguments: Fixtures.caseNames)
    func replayMatchesDump(_ name: String) throws {
        let path = Fixtures.casePath(name, "dmesg.txt")
        let m = try DmesgParser(fileName: path).parse(Fixtures.text(path))
        let lines = Fixtures.messages(Fixtures.text(path))
        // The second MEMBLOCK dump (numa_register_memblks) and the calls before it.
        var dumps = 0, calls = 0, expected: [String] = []
        for l in lines {
            if l.hasPrefix("MEMBLOCK configuration:") { dumps += 1; continue }
            if dumps == 2 {
                if l.hasPrefix(" reserved") { expected.append(l); continue }
                if !l.hasPrefix(" ") { break }
            } else if l.hasPrefix("memblock_") {
                calls += 1
            }
        }
        var k = bootKernel(m)
        k.applyReplayedReservations(count: calls)
        var log = KernelLog()
        k.memblock.debug = true
        k.memblock.dumpAll(log: &log)
        let actual = log.lines.filter { $0.hasPrefix(" reserved") }
        #expect(expected.count >= 3)
        #expect(expected == actual, "\(Fixtures.firstDifference(expected, actual) ?? "")")
    }

    @Test("the model's reservations against the replayed boot's, in pages", arguments: Fixtures.caseNames)
    func modelAgainstReplay(_ name: String) throws {
        let model = try bootCase(name, replay: false), replayed = try bootCase(name, replay: true)
        let d = Kernel.reservedDifference(model.memblock.reserved, replayed.memblock.reserved)
        // Every reservation up to memblock_free_all(), at the same address: the reserved arrays
        // are the same regions, byte for byte.
        #expect(d.onlyInFirst == 0 && d.onlyInSecond == 0, "\(name): \(d)")
        let ranges = { (t: MemblockType) in t.regions.map { [$0.base, $0.size] } }
        #expect(ranges(model.memblock.reserved) == ranges(replayed.memblock.reserved))
        // Zones and their estimates do not depend on the mode.
        #expect(model.nrKernelPages == replayed.nrKernelPages)
    }
}
