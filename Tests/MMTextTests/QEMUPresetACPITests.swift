// QEMU 7.2's ACPI tables for any CPU count and node layout (docs/QEMU-ACPI.md), against the
// lengths and addresses real boots and SeaBIOS-only firmware dumps showed.

import MMCore
import MMText
import Testing

@Suite("QEMU presets' ACPI tables")
struct QEMUPresetACPITests {
    struct Point: CustomTestStringConvertible, Sendable {
        var q35: Bool, cpus: Int, memMiB: UInt64, nodesMiB: [UInt64]
        var dsdt: UInt64, apic: UInt64, srat: UInt64?, facs: UInt64
        var testDescription: String { "\(q35 ? "q35" : "pc") \(cpus) CPUs \(memMiB)M \(nodesMiB)" }
    }

    static let points: [Point] = [
        // (machine, CPUs, RAM, nodes) → DSDT, APIC, SRAT lengths and where the FACS (the blob) starts.
        Point(q35: false, cpus: 1, memMiB: 512, nodesMiB: [], dsdt: 0x19b6, apic: 0x78, srat: nil, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 3, memMiB: 512, nodesMiB: [], dsdt: 0x1a5f, apic: 0x88, srat: nil, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 5, memMiB: 512, nodesMiB: [], dsdt: 0x1b0c, apic: 0x98, srat: nil, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 16, memMiB: 1024, nodesMiB: [], dsdt: 0x1ebe, apic: 0xf0, srat: nil, facs: 0x3ffe_0000),
        Point(q35: false, cpus: 36, memMiB: 512, nodesMiB: [], dsdt: 0x2576, apic: 0x190, srat: nil, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 37, memMiB: 512, nodesMiB: [], dsdt: 0x25cd, apic: 0x198, srat: nil, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 40, memMiB: 512, nodesMiB: [], dsdt: 0x26d0, apic: 0x1b0, srat: nil, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 100, memMiB: 512, nodesMiB: [], dsdt: 0x3af8, apic: 0x390, srat: nil, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 255, memMiB: 512, nodesMiB: [], dsdt: 0x6f0a, apic: 0x868, srat: nil, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 2, memMiB: 3328, nodesMiB: [], dsdt: 0x1a09, apic: 0x80, srat: nil, facs: 0xcffe_0000),
        Point(q35: false, cpus: 2, memMiB: 65 << 10, nodesMiB: [], dsdt: 0x1a09, apic: 0x80, srat: nil, facs: 0xbffd_fd80),
        Point(q35: false, cpus: 1, memMiB: 512, nodesMiB: [256, 256], dsdt: 0x19bc, apic: 0x78, srat: 0xe0, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 2, memMiB: 512, nodesMiB: [128, 128, 128, 128], dsdt: 0x1a16, apic: 0x80, srat: 0x140, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 2, memMiB: 512, nodesMiB: [64, 64, 64, 64, 64, 64, 64, 64], dsdt: 0x1a17, apic: 0x80, srat: 0x1e0, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 2, memMiB: 4096, nodesMiB: [3072, 1024], dsdt: 0x1a15, apic: 0x80, srat: 0xf0, facs: 0xbffe_0000),
        Point(q35: false, cpus: 17, memMiB: 1024, nodesMiB: [768, 256], dsdt: 0x1f7a, apic: 0xf8, srat: 0x1e0, facs: 0x3ffe_0000),
        Point(q35: false, cpus: 35, memMiB: 512, nodesMiB: [256, 256], dsdt: 0x25f3, apic: 0x188, srat: 0x300, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 36, memMiB: 512, nodesMiB: [256, 256], dsdt: 0x264f, apic: 0x190, srat: 0x310, facs: 0x1ffe_0000),
        Point(q35: false, cpus: 4, memMiB: 16 << 10, nodesMiB: [8 << 10, 8 << 10], dsdt: 0x1acd, apic: 0x90, srat: 0x110, facs: 0xbffe_0000),
        Point(q35: true, cpus: 1, memMiB: 512, nodesMiB: [], dsdt: 0x20f2, apic: 0x78, srat: nil, facs: 0x1ffe_0000),
        Point(q35: true, cpus: 5, memMiB: 1024, nodesMiB: [], dsdt: 0x2248, apic: 0x98, srat: nil, facs: 0x3ffe_0000),
        Point(q35: true, cpus: 128, memMiB: 512, nodesMiB: [], dsdt: 0x4b9c, apic: 0x470, srat: nil, facs: 0x1ffe_0000),
        Point(q35: true, cpus: 2, memMiB: 80 << 10, nodesMiB: [], dsdt: 0x2145, apic: 0x80, srat: nil, facs: 0x7ffd_fd80),
        Point(q35: true, cpus: 5, memMiB: 512, nodesMiB: [128, 256, 128], dsdt: 0x2268, apic: 0x98, srat: 0x148, facs: 0x1ffe_0000),
        Point(q35: true, cpus: 4, memMiB: 4096, nodesMiB: [1024, 2048, 1024], dsdt: 0x220b, apic: 0x90, srat: 0x138, facs: 0x7ffe_0000),
        Point(q35: true, cpus: 33, memMiB: 1024, nodesMiB: [512, 256, 256], dsdt: 0x2c81, apic: 0x178, srat: 0x308, facs: 0x3ffe_0000),
        Point(q35: true, cpus: 34, memMiB: 512, nodesMiB: [128, 128, 128, 128], dsdt: 0x2ce3, apic: 0x180, srat: 0x340, facs: 0x1ffe_0000),
        Point(q35: true, cpus: 35, memMiB: 512, nodesMiB: [128, 128, 128, 128], dsdt: 0x2d41, apic: 0x188, srat: 0x350, facs: 0x1ffe_0000),
        Point(q35: true, cpus: 64, memMiB: 1024, nodesMiB: [256, 256, 256, 256], dsdt: 0x37bc, apic: 0x270, srat: 0x520, facs: 0x3ffe_0000),
        Point(q35: true, cpus: 8, memMiB: 32 << 10, nodesMiB: [8 << 10, 8 << 10, 8 << 10, 8 << 10], dsdt: 0x237e, apic: 0xb0, srat: 0x1a0, facs: 0x7ffe_0000),
    ]

    @Test(arguments: points)
    func tables(_ p: Point) {
        let m = QEMUPreset(type: p.q35 ? .q35 : .pc, memBytes: p.memMiB << 20, cpus: p.cpus,
                           nodeSizes: p.nodesMiB.map { $0 << 20 }).machine()
        let t = Dictionary(uniqueKeysWithValues: m.acpiTables.map { ($0.signature, $0) })
        #expect(t["DSDT"]?.length == p.dsdt)
        #expect(t["APIC"]?.length == p.apic)
        #expect(t["SRAT"]?.length == p.srat)
        #expect(t["FACS"]?.addr == p.facs)
        #expect((t["MCFG"] != nil) == p.q35)
        // Back to back: each table starts where the one before it in QEMU's blob ends.
        let order = ["FACS", "DSDT", "FACP", "APIC", "HPET", "SRAT", "MCFG", "WAET"].compactMap { t[$0] }
        for (a, b) in zip(order, order.dropFirst()) { #expect(a.addr + a.length == b.addr) }
    }

    @Test("Linux renumbers a CPU-less node 0: the CPU's domain becomes node 0")
    func renumbering() {
        let m = QEMUPreset(type: .pc, memBytes: 512 << 20, cpus: 1, nodeSizes: [256 << 20, 256 << 20]).machine()
        #expect(m.cpus.nodeOfCPU == [0])
        #expect(m.numaMemory.map { "\($0.node)/\($0.pxm)" } == ["1/0", "1/0", "0/1"])
        // capture.sh's split: 5 CPUs over 3 nodes go 1, 2, 2.
        let q = QEMUPreset(type: .q35, memBytes: 512 << 20, cpus: 5, nodeSizes: [128 << 20, 256 << 20, 128 << 20])
        #expect(q.cpuProximity == [0, 1, 1, 2, 2])
    }
}
