// Machines as QEMU 7.2 builds them: the e820 map SeaBIOS hands over on the `pc` (i440FX) and
// `q35` machine types, the SRAT QEMU generates for `-numa` nodes, and where `-initrd` lands.
//
// Checked against every case of shared/oracle/cases: the BIOS-e820 lines, the SRAT lines and the
// RAMDISK line come out identical (OracleTests).
// QEMU: hw/i386/pc_piix.c and pc_q35.c (the low-memory split: 3 GiB on pc when RAM ≥ 3.5 GiB,
// 2 GiB on q35 when RAM ≥ 2.75 GiB), hw/i386/pc.c (above-4 GiB RAM, the AMD HyperTransport hole
// reserved at 1012 GiB for the AMD-vendor qemu64 CPU, and RAM moved above 1 TiB when it would
// reach that hole), hw/i386/acpi-build.c (build_srat: the 640 KiB–1 MiB hole and the PCI hole
// split a node's range). SeaBIOS keeps the top 128 KiB of low RAM (132 KiB on q35) for itself.

import MMCore

public enum QEMUMachineType: String, Sendable, CaseIterable {
    case pc = "qemu-pc"
    case q35 = "qemu-q35"
}

public struct QEMUPreset: Sendable {
    public var type: QEMUMachineType
    public var memBytes: UInt64
    public var cpus: Int
    /// Node sizes in bytes, in node order; empty for no `-numa`.
    public var nodeSizes: [UInt64]
    public var commandLine: String
    /// The size of the initramfs QEMU loads (the oracle's busybox image by default); 0 for none.
    public var initrdBytes: UInt64

    /// The command line capture.sh boots the oracle with (and kmemlab's default).
    public static let oracleCommandLine = "console=ttyS0 loglevel=8 memblock=debug no_hash_pointers log_buf_len=32M nokaslr"
    public static let oracleInitrdBytes: UInt64 = 1_032_854

    public init(type: QEMUMachineType, memBytes: UInt64, cpus: Int, nodeSizes: [UInt64] = [],
                commandLine: String = QEMUPreset.oracleCommandLine, initrdBytes: UInt64 = QEMUPreset.oracleInitrdBytes) {
        self.type = type; self.memBytes = memBytes; self.cpus = cpus; self.nodeSizes = nodeSizes
        self.commandLine = commandLine; self.initrdBytes = initrdBytes
    }

    static let amdHTStart: UInt64 = 0xfd_0000_0000
    static let amdHTEnd: UInt64 = 0x100_0000_0000

    /// RAM below 4 GiB.
    public var lowMem: UInt64 {
        switch type {
        case .pc: return memBytes >= 0xe000_0000 ? 0xc000_0000 : memBytes
        case .q35: return memBytes >= 0xb000_0000 ? 0x8000_0000 : memBytes
        }
    }

    /// Where RAM above the PCI hole starts: 4 GiB, or 1 TiB when it would run into the HT hole.
    public var highMemStart: UInt64 {
        let high = memBytes - lowMem
        return (high > 0 && 0x1_0000_0000 + high > QEMUPreset.amdHTStart) ? QEMUPreset.amdHTEnd : 0x1_0000_0000
    }

    public func machine() -> Machine {
        let low = lowMem
        let high = memBytes - low
        let seabiosReserve: UInt64 = type == .q35 ? 0x21000 : 0x20000
        var e820: [E820Entry] = [
            E820Entry(addr: 0, size: 0x9fc00, type: .ram),
            E820Entry(addr: 0x9fc00, size: 0x400, type: .reserved),
            E820Entry(addr: 0xf0000, size: 0x10000, type: .reserved),
            E820Entry(addr: 0x10_0000, size: low - seabiosReserve - 0x10_0000, type: .ram),
            E820Entry(addr: low - seabiosReserve, size: seabiosReserve, type: .reserved),
        ]
        if type == .q35 {
            e820.append(E820Entry(addr: 0xb000_0000, size: 0x1000_0000, type: .reserved))  // MMCONFIG
            e820.append(E820Entry(addr: 0xfed1_c000, size: 0x4000, type: .reserved))      // RCRB
        }
        e820.append(E820Entry(addr: 0xfffc_0000, size: 0x40000, type: .reserved))         // BIOS ROM
        if high > 0 { e820.append(E820Entry(addr: highMemStart, size: high, type: .ram)) }
        e820.append(E820Entry(addr: QEMUPreset.amdHTStart, size: QEMUPreset.amdHTEnd - QEMUPreset.amdHTStart, type: .reserved))
        e820.sort { $0.addr < $1.addr }

        var srat: [NumaMemoryAffinity] = []
        var cpuNodes: [Int32] = []
        if !nodeSizes.isEmpty {
            // build_srat: consecutive node ranges in guest-physical order, split around the
            // 640 KiB hole and the PCI hole below 4 GiB.
            var nextBase: UInt64 = 0
            for (n, size) in nodeSizes.enumerated() {
                let node = Int32(n)
                var base = nextBase
                var len = size
                nextBase = base + len
                var skip = false
                if base <= 0xa0000 && nextBase > 0xa0000 {
                    len -= nextBase - 0xa0000
                    if len > 0 { srat.append(NumaMemoryAffinity(node: node, pxm: node, start: base, end: base + len)) }
                    if nextBase <= 0x10_0000 { skip = true } else {
                        base = 0x10_0000
                        len = nextBase - 0x10_0000
                    }
                }
                if skip { continue }
                if base <= low && nextBase > low {
                    len -= nextBase - low
                    if len > 0 { srat.append(NumaMemoryAffinity(node: node, pxm: node, start: base, end: base + len)) }
                    base = highMemStart
                    len = nextBase - low
                    nextBase = base + len
                }
                if len > 0 { srat.append(NumaMemoryAffinity(node: node, pxm: node, start: base, end: base + len)) }
            }
            // capture.sh gives each node a contiguous block of CPUs, in node order.
            let perNode = cpus / nodeSizes.count, extra = cpus % nodeSizes.count
            for n in 0..<nodeSizes.count {
                for _ in 0..<(perNode + (n < extra ? 1 : 0)) { cpuNodes.append(Int32(n)) }
            }
        }

        var initrd: Initrd? = nil
        if initrdBytes > 0 {
            let initrdMax = low - (type == .q35 ? 0x30000 : 0x20000)
            initrd = Initrd(addr: (initrdMax - initrdBytes) & ~UInt64(0xfff), size: initrdBytes)
        }
        let sizeText = QEMUPreset.sizeText(memBytes)
        return Machine(
            name: "\(type.rawValue)-\(sizeText)-\(cpus)cpu" + (nodeSizes.isEmpty ? "" : "-numa\(nodeSizes.count)"),
            e820: e820, numaMemory: srat, cpus: CPUTopology(present: cpus, nodeOfCPU: cpuNodes),
            commandLine: commandLine, initrd: initrd,
            mpTable: MPTable(floatingPointer: 0xf5ba0, configTable: 0xf5bb0, configLength: 0xc8),
            acpiTables: acpiTables(base: low - 0x20000, sratEntries: srat.count))
    }

    /// The ACPI tables SeaBIOS lays out at the bottom of its reserved area, in the kernel's
    /// reservation order. Exact for the oracle's configurations except the DSDT, whose AML
    /// grows with the CPU and node count in a way modelled here only to within a few bytes
    /// (≈86 bytes per CPU, and with NUMA 6 more per CPU for its _PXM method; exact on the
    /// oracle's machines up to four CPUs on two nodes). They lie outside RAM, so only the memblock dump's
    /// reserved list can show the difference.
    func acpiTables(base: UInt64, sratEntries: Int) -> [ACPITable] {
        var dsdt: Int
        if type == .q35 { dsdt = 0x21f1 + 86 * (cpus - 4) } else { dsdt = cpus == 1 ? 0x19b6 : 0x1a09 + 86 * (cpus - 2) }
        if !nodeSizes.isEmpty { dsdt += 6 * cpus }
        var tables: [ACPITable] = []
        var next = base
        func add(_ sig: String, _ len: Int) {
            tables.append(ACPITable(signature: sig, addr: next, length: UInt64(len)))
            next += UInt64(len)
        }
        add("FACS", 0x40)
        add("DSDT", dsdt)
        add("FACP", type == .q35 ? 0xf4 : 0x74)
        add("APIC", 0x70 + 8 * cpus)
        add("HPET", 0x38)
        if sratEntries > 0 { add("SRAT", 48 + 16 * cpus + 40 * sratEntries) }
        if type == .q35 { add("MCFG", 0x3c) }
        add("WAET", 0x28)
        // The kernel's table list starts with the FADT, then the DSDT and FACS it points to.
        return [tables[2], tables[1], tables[0]] + tables[3...]
    }

    /// "4G", "512M", "1536M": the largest unit that divides the size.
    public static func sizeText(_ bytes: UInt64) -> String {
        if bytes % (1 << 40) == 0 { return "\(bytes >> 40)T" }
        if bytes % (1 << 30) == 0 { return "\(bytes >> 30)G" }
        if bytes % (1 << 20) == 0 { return "\(bytes >> 20)M" }
        return "\(bytes >> 10)K"
    }
}
