// Machines as QEMU 7.2 builds them: the e820 map SeaBIOS hands over on the `pc` (i440FX) and
// `q35` machine types, the SRAT QEMU generates for `-numa` nodes, and where `-initrd` lands.
//
// Checked against every case of shared/oracle/cases: the BIOS-e820 lines, the SRAT lines and the
// RAMDISK line come out identical (OracleTests).
// QEMU: hw/i386/pc_piix.c and pc_q35.c (the low-memory split: 3 GiB on pc when RAM ≥ 3.5 GiB,
// 2 GiB on q35 when RAM ≥ 2.75 GiB), hw/i386/pc.c (above-4 GiB RAM, the AMD HyperTransport hole
// reserved at 1012 GiB for the AMD-vendor qemu64 CPU, and RAM moved above 1 TiB when it would
// reach that hole), hw/i386/acpi-build.c (build_srat: the 640 KiB–1 MiB hole and the PCI hole
// split a node's range; every ACPI table's size), hw/acpi/cpu.c (the DSDT's CPU hotplug AML),
// hw/smbios/smbios.c (the SMBIOS table's size). SeaBIOS keeps the top 128 KiB of low RAM (132
// KiB on q35, or when a large SMBIOS table went there first) for itself. docs/QEMU-ACPI.md has
// the formulas and the boots that confirm them.

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
    /// A virtio-blk disk (capture.sh's `--disk`): SeaBIOS keeps its virtqueue below the ACPI
    /// tables, the MP table gets the disk's interrupt, and q35's DSDT one more root-bus device.
    public var disk = false

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
        // SeaBIOS's top-of-low-RAM allocations (the ACPI blob, and on q35 the AHCI port; a large
        // SMBIOS table goes first): what it keeps, page-aligned, is e820-reserved.
        let seabiosReserve: UInt64 = (type == .q35 || smbiosInHighRAM ? 0x21000 : 0x20000) + (disk ? 0x3000 : 0)
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
            // 640 KiB hole and the PCI hole below 4 GiB. The proximity domain is the -numa id.
            var nextBase: UInt64 = 0
            for (n, size) in nodeSizes.enumerated() {
                let pxm = Int32(n)
                var base = nextBase
                var len = size
                nextBase = base + len
                var skip = false
                if base <= 0xa0000 && nextBase > 0xa0000 {
                    len -= nextBase - 0xa0000
                    if len > 0 { srat.append(NumaMemoryAffinity(node: pxm, pxm: pxm, start: base, end: base + len)) }
                    if nextBase <= 0x10_0000 { skip = true; nextBase = 0x10_0000 } else {
                        base = 0x10_0000
                        len = nextBase - 0x10_0000
                    }
                }
                if skip { continue }
                if base <= low && nextBase > low {
                    len -= nextBase - low
                    if len > 0 { srat.append(NumaMemoryAffinity(node: pxm, pxm: pxm, start: base, end: base + len)) }
                    base = highMemStart
                    len = nextBase - low
                    nextBase = base + len
                }
                if len > 0 { srat.append(NumaMemoryAffinity(node: pxm, pxm: pxm, start: base, end: base + len)) }
            }
            // Linux numbers nodes in the order their proximity domains first appear in the SRAT:
            // the CPU entries (by APIC id) come before the memory entries (acpi_map_pxm_to_node()),
            // so a node without CPUs below one with CPUs is renumbered.
            let pxms = cpuProximity
            var nodeOf: [Int32: Int32] = [:]
            for p in pxms.map({ Int32($0) }) + srat.map({ $0.pxm }) where nodeOf[p] == nil { nodeOf[p] = Int32(nodeOf.count) }
            cpuNodes = pxms.map { nodeOf[Int32($0)]! }
            for i in srat.indices { srat[i].node = nodeOf[srat[i].pxm]! }
        }

        var initrd: Initrd? = nil
        if initrdBytes > 0 {
            // The initrd ends below SeaBIOS's reserved area, rounded down to 64 KiB (so 128 KiB
            // below low RAM's end on pc, 192 KiB on q35, or with a large SMBIOS table).
            let initrdMax = (low - seabiosReserve) & ~UInt64(0xffff)
            initrd = Initrd(addr: (initrdMax - initrdBytes) & ~UInt64(0xfff), size: initrdBytes)
        }
        let sizeText = QEMUPreset.sizeText(memBytes)
        return Machine(
            name: "\(type.rawValue)-\(sizeText)-\(cpus)cpu" + (nodeSizes.isEmpty ? "" : "-numa\(nodeSizes.count)"),
            e820: e820, numaMemory: srat, cpus: CPUTopology(present: cpus, nodeOfCPU: cpuNodes),
            commandLine: commandLine, initrd: initrd,
            mpTable: MPTable(floatingPointer: 0xf5ba0, configTable: 0xf5bb0, configLength: disk ? 0xd0 : 0xc8),
            acpiTables: acpiTables(base: acpiBase, sratEntries: srat.count))
    }

    /// The proximity domain (the -numa node) of each CPU: capture.sh gives node i of n the CPUs
    /// i·N/n … (i+1)·N/n − 1, so a node can have none.
    public var cpuProximity: [Int] {
        guard !nodeSizes.isEmpty else { return [] }
        let n = nodeSizes.count
        return (0..<cpus).map { c in (0..<n).first { (($0 + 1) * cpus) / n > c }! }
    }

    /// Linux: none — QEMU's hw/smbios/smbios.c: the SMBIOS structure table's size (one type-19
    /// structure per RAM region, one type-17 "DIMM" per 16 GiB, two-digit names one byte more).
    var smbiosSize: Int {
        let dimms = Int((memBytes + (16 << 30) - 1) / (16 << 30))
        return (type == .pc ? 388 : 376) + (memBytes > lowMem ? 33 : 0) + 53 * (dimms - 1) + Swift.max(0, dimms - 10)
    }

    /// SeaBIOS keeps an SMBIOS table over 600 bytes at the top of low RAM, before the ACPI tables.
    var smbiosInHighRAM: Bool { smbiosSize > 600 }

    /// Where SeaBIOS puts QEMU's ACPI blob: the top 128 KiB of low RAM (64-byte aligned), below
    /// the SMBIOS table when that went there first.
    var acpiBase: UInt64 {
        guard smbiosInHighRAM else { return lowMem - 0x20000 }
        return ((lowMem - UInt64(smbiosSize)) & ~15 - 0x20000) & ~63
    }

    /// The ACPI tables SeaBIOS lays out at the bottom of its reserved area, in the kernel's
    /// reservation order, with QEMU 7.2's sizes for any CPU count and node layout (the formulas
    /// and the 126 boots and firmware dumps that confirm them: docs/QEMU-ACPI.md). They lie
    /// outside RAM: only memblock's reserved list and the "ACPI: Reserving" lines show them.
    func acpiTables(base: UInt64, sratEntries: Int) -> [ACPITable] {
        var tables: [ACPITable] = []
        var next = base
        func add(_ sig: String, _ len: Int) {
            tables.append(ACPITable(signature: sig, addr: next, length: UInt64(len)))
            next += UInt64(len)
        }
        let numa = !nodeSizes.isEmpty
        add("FACS", 0x40)
        add("DSDT", (type == .q35 ? 7398 + (disk ? 17 : 0) : 5546) + QEMUPreset.cpusAML(cpus: cpus, proximity: numa ? cpuProximity : nil))
        add("FACP", type == .q35 ? 0xf4 : 0x74)
        add("APIC", 112 + 8 * cpus)
        add("HPET", 0x38)
        if numa { add("SRAT", 48 + 16 * cpus + 40 * Swift.max(sratEntries, nodeSizes.count + 2)) }
        if type == .q35 { add("MCFG", 0x3c) }
        add("WAET", 0x28)
        // The kernel's table list starts with the FADT, then the DSDT and FACS it points to.
        return [tables[2], tables[1], tables[0]] + tables[3...]
    }

    /// QEMU: hw/acpi/aml-build.c build_append_int(): an AML integer's size (ZeroOp/OneOp, or a
    /// Byte/Word/DWord/QWord prefix and the value).
    static func amlIntSize(_ v: Int) -> Int { v <= 1 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffff_ffff ? 5 : 9 }

    /// QEMU: build_prepend_package_length(): a PkgLength's own size for a body of `len` bytes.
    static func pkgLengthSize(_ len: Int) -> Int { len <= 62 ? 1 : len <= 4093 ? 2 : len <= 1_048_572 ? 3 : 4 }

    /// QEMU: hw/acpi/cpu.c build_cpus_aml(): the DSDT's CPU hotplug part — Method CTFY (a
    /// Notify per CPU), Method CSCN, one Processor object per CPU (_STA, _MAT, _OST, _EJ0 but
    /// for CPU 0, and _PXM with NUMA), inside Device CPUS inside Scope(_SB) with the PRES device,
    /// and the GPE method that calls CSCN. Constant parts are counted in bytes; the growing ones
    /// add their integers' and package lengths' sizes.
    static func cpusAML(cpus n: Int, proximity: [Int]?) -> Int {
        var ctfyBody = 5
        for i in 0..<n { ctfyBody += 10 + amlIntSize(i) }
        let ctfy = 1 + pkgLengthSize(ctfyBody) + ctfyBody
        let cscn = 358 + amlIntSize(n)
        var procs = 0
        for i in 0..<n {
            var x = 10 + (12 + amlIntSize(i)) + 17 + (14 + amlIntSize(i))
            if i > 0 { x += 11 + amlIntSize(i) }
            if let p = proximity { x += 5 + amlIntSize(p[i]) }
            procs += 2 + pkgLengthSize(x) + x
        }
        let d = 392 + ctfy + cscn + procs
        let cpusDevice = 2 + pkgLengthSize(d) + d
        let scope = 174 + cpusDevice
        return 1 + pkgLengthSize(scope) + scope + 28
    }

    /// "4G", "512M", "1536M": the largest unit that divides the size.
    public static func sizeText(_ bytes: UInt64) -> String {
        if bytes % (1 << 40) == 0 { return "\(bytes >> 40)T" }
        if bytes % (1 << 30) == 0 { return "\(bytes >> 30)G" }
        if bytes % (1 << 20) == 0 { return "\(bytes >> 20)M" }
        return "\(bytes >> 10)K"
    }
}
