// A machine: everything the kernel learns from firmware and boot loader before it manages
// memory — the input of every kmemlab run.
//
// Linux: arch/x86/include/uapi/asm/bootparam.h (boot_params: e820_table, setup_data, ramdisk),
//        arch/x86/kernel/setup.c (the kernel image symbols _text … _end), ACPI SRAT/SLIT
//        (drivers/acpi/numa), the MP table (arch/x86/kernel/mpparse.c).
// A machine is plain data: hosted code builds one from a preset, a dmesg log or a machine file,
// and the model boots it. Facts a boot log cannot reveal as hardware state (MTRR registers, an
// EFI memory map the log does not print) are kept as the e820 edits they cause ("firmware
// edits"), with the boot stage at which the kernel makes them; a known EFI map is `efi`.

public struct Machine: Equatable, Sendable {
    public var name: String
    /// The table the boot loader hands over in boot_params (before the kernel sanitises it).
    public var e820: [E820Entry]
    /// Linux: boot_params.hdr.setup_data, the linked list of boot-loader data blobs.
    public var setupData: [SetupData]
    /// e820 edits made by firmware-specific code (EFI, MTRR) at known boot stages.
    public var firmwareEdits: [FirmwareEdit]
    /// ACPI SRAT memory affinity; empty when the firmware has no SRAT.
    public var numaMemory: [NumaMemoryAffinity]
    /// ACPI SLIT distances, row by row; empty when there is none (the kernel then uses 10/20).
    public var numaDistance: [[UInt8]]
    public var cpus: CPUTopology
    /// The kernel command line as the boot loader passes it.
    public var commandLine: String
    public var kernel: KernelImage
    public var initrd: Initrd?
    /// Linux: BIOS data area word at 0x413 (base memory in KiB) and the EBDA start, which
    /// reserve_bios_regions() reads.
    public var biosBaseMemoryKB: UInt32
    public var ebdaStart: PhysAddr
    /// The MP floating pointer and configuration table that find_smp_config() reserves.
    public var mpTable: MPTable?
    /// True when the boot went through EFI (efi_enabled(EFI_BOOT)).
    public var efiBoot: Bool
    /// The EFI memory map and tables the EFI stub handed over, when known (a machine file, a
    /// UEFI preset, or a log with `efi=debug` or `memblock=debug`). A UEFI log that shows
    /// neither keeps only `efiBoot` and the e820 edits its lines reveal.
    public var efi: EFIFirmware? = nil
    /// The ACPI tables acpi_reserve_initial_tables() reserves, in the kernel's table-list order.
    public var acpiTables: [ACPITable]
    /// Memblock calls a `memblock=debug` log recorded, in order, for replay (up to
    /// memblock_free_all()), and how many of them came before free_area_init().
    public var memblockLog: [MemblockCall]
    public var memblockLogZoneIndex: Int
    /// The index of the first NODE_DATA reservation: numa_clear_kernel_node_hotplug() gave the
    /// reservations made before it their node ids (nil: the log shows no NODE_DATA line).
    public var memblockLogNumaIndex: Int?
    /// I/O APICs the MADT lists ("IOAPIC[n]:" lines); each gets a resource at boot.
    public var ioapics: Int = 1
    /// The release of the kernel whose log described this machine ("5.15.0-91-generic"), when
    /// it came from a log. kmemlab always boots Debian's 6.1.192 on it; the CLI says so when
    /// the two differ.
    public var sourceKernel: String?

    public init(name: String, e820: [E820Entry], setupData: [SetupData] = [], firmwareEdits: [FirmwareEdit] = [],
                numaMemory: [NumaMemoryAffinity] = [], numaDistance: [[UInt8]] = [], cpus: CPUTopology,
                commandLine: String, kernel: KernelImage = .debian6_1_192, initrd: Initrd? = nil,
                biosBaseMemoryKB: UInt32 = 639, ebdaStart: PhysAddr = 0x9fc00, mpTable: MPTable? = nil,
                efiBoot: Bool = false, acpiTables: [ACPITable] = [], memblockLog: [MemblockCall] = [], memblockLogZoneIndex: Int? = nil, memblockLogNumaIndex: Int? = nil) {
        self.name = name; self.e820 = e820; self.setupData = setupData; self.firmwareEdits = firmwareEdits
        self.numaMemory = numaMemory; self.numaDistance = numaDistance; self.cpus = cpus
        self.commandLine = commandLine; self.kernel = kernel; self.initrd = initrd
        self.biosBaseMemoryKB = biosBaseMemoryKB; self.ebdaStart = ebdaStart; self.mpTable = mpTable
        self.efiBoot = efiBoot; self.acpiTables = acpiTables; self.memblockLog = memblockLog
        self.memblockLogZoneIndex = memblockLogZoneIndex ?? memblockLog.count
        self.memblockLogNumaIndex = memblockLogNumaIndex
    }
}

/// Linux: struct setup_data (header of 16 bytes, then `len` bytes of payload).
public struct SetupData: Equatable, Sendable {
    /// Linux: SETUP_E820_EXT, SETUP_PCI, SETUP_EFI, SETUP_IMA, SETUP_RNG_SEED …
    public var type: UInt32
    /// Physical address of the header.
    public var addr: PhysAddr
    /// Payload length (the header's `len`).
    public var len: UInt32
    public init(type: UInt32, addr: PhysAddr, len: UInt32) { self.type = type; self.addr = addr; self.len = len }

    public static let headerSize: UInt64 = 16
    public static let typeE820Ext: UInt32 = 1
    public static let typePCI: UInt32 = 3
    public static let typeEFI: UInt32 = 4
    public static let typeIMA: UInt32 = 8
    public static let typeRNGSeed: UInt32 = 9
    /// kexec re-creates these itself, so the kernel does not mark them in e820_table_kexec.
    public var kexecRecreates: Bool { type == SetupData.typeEFI || type == SetupData.typeIMA || type == SetupData.typeRNGSeed }
}

/// An e820 change made by firmware-specific boot code, with the stage it happens at.
public struct FirmwareEdit: Equatable, Sendable {
    public enum Stage: String, Sendable, CaseIterable {
        /// efi_init(): MMIO ranges removed from the map (6.2+ kernels print this).
        case efiInit = "efi-init"
        /// mtrr_trim_uncached_memory(): RAM not covered by write-back MTRRs becomes reserved.
        case mtrrTrim = "mtrr-trim"
        /// efi_esrt_init(), efi_mokvar_table_init() … after e820__memblock_setup().
        case efiEarlyReserve = "efi-early-reserve"
        /// efi_bgrt_init() from acpi_boot_init(), after the zones exist.
        case acpiBoot = "acpi-boot"
    }
    public enum Op: Equatable, Sendable {
        case update(start: PhysAddr, size: UInt64, from: E820Type, to: E820Type)
        case remove(start: PhysAddr, size: UInt64, type: E820Type, checkType: Bool)
    }
    public var stage: Stage
    public var op: Op
    public init(stage: Stage, op: Op) { self.stage = stage; self.op = op }
}

/// One ACPI SRAT memory affinity entry.
public struct NumaMemoryAffinity: Equatable, Sendable {
    public var node: Int32
    public var pxm: Int32
    public var start: PhysAddr
    public var end: PhysAddr
    public var hotplug: Bool
    public init(node: Int32, pxm: Int32, start: PhysAddr, end: PhysAddr, hotplug: Bool = false) {
        self.node = node; self.pxm = pxm; self.start = start; self.end = end; self.hotplug = hotplug
    }
}

public struct CPUTopology: Equatable, Sendable {
    /// CPUs present at boot.
    public var present: Int
    /// Possible CPUs (present + hotplug slots): "smpboot: Allowing N CPUs, M hotplug CPUs".
    public var possible: Int
    /// The SRAT node of each present CPU (by APIC id order); empty without SRAT.
    public var nodeOfCPU: [Int32]
    /// CPU features that change memory setup.
    public var gbPages: Bool
    public var la57: Bool
    /// The CPU is vulnerable to Meltdown, so page-table isolation comes on ("Kernel/User page
    /// tables isolation: enabled"); the kernel's own pages then lose _PAGE_GLOBAL.
    public var pti: Bool
    public init(present: Int, possible: Int? = nil, nodeOfCPU: [Int32] = [], gbPages: Bool = false, la57: Bool = false,
                pti: Bool = false) {
        self.present = present; self.possible = possible ?? present; self.nodeOfCPU = nodeOfCPU
        self.gbPages = gbPages; self.la57 = la57; self.pti = pti
    }
}

/// The kernel image's physical placement and section sizes.
public struct KernelImage: Equatable, Sendable {
    /// Linux: __pa_symbol(_text).
    public var start: PhysAddr
    /// Linux: __end_of_kernel_reserve (what early_reserve_memory reserves up to; .brk follows).
    public var reserveEnd: PhysAddr
    /// Linux: __pa_symbol(_end) — the end of the image including the whole .brk area.
    public var end: PhysAddr
    /// The part of .brk used by the time reserve_brk() runs (_brk_end − _brk_start).
    public var brkUsed: UInt64
    /// Section sizes as mem_init_print_info() reports them, in bytes.
    public var textSize: UInt64
    public var rwdataSize: UInt64
    public var rodataSize: UInt64
    public var initSize: UInt64
    public var bssSize: UInt64
    /// What boot gives back from the image afterwards, in bytes, as the "Freeing … memory: NK"
    /// lines print it: the SMP alternatives (__smp_locks), the unused part of .bss..decrypted,
    /// and the alignment gaps between text and rodata and between rodata and data. (The init
    /// sections are `initSize`.)
    public var smpAlternativesSize: UInt64
    public var unusedDecryptedSize: UInt64
    public var textRodataGapSize: UInt64
    public var rodataDataGapSize: UInt64
    /// Linux: __per_cpu_end − __per_cpu_start, the "s" of the "percpu: Embedded" line.
    public var percpuStaticSize: UInt64 = 217088
    /// Linux: CONFIG_ZONE_DEVICE. Debian builds it; some distributions' kernels (in the hardware
    /// logs) do not, and then have no "Device" zone at all.
    public var zoneDevice: Bool
    /// Linux: CONFIG_DEFERRED_STRUCT_PAGE_INIT. Debian builds it; kernels without it free all of
    /// memory at mem_init(), so their "Memory:" line counts nearly all of it available.
    public var deferredStructPageInit = true

    public init(start: PhysAddr, reserveEnd: PhysAddr, end: PhysAddr, brkUsed: UInt64, textSize: UInt64,
                rwdataSize: UInt64, rodataSize: UInt64, initSize: UInt64, bssSize: UInt64,
                smpAlternativesSize: UInt64 = 36 * 1024, unusedDecryptedSize: UInt64 = 2036 * 1024,
                textRodataGapSize: UInt64 = 2040 * 1024, rodataDataGapSize: UInt64 = 1108 * 1024,
                zoneDevice: Bool = true) {
        self.start = start; self.reserveEnd = reserveEnd; self.end = end; self.brkUsed = brkUsed
        self.textSize = textSize; self.rwdataSize = rwdataSize; self.rodataSize = rodataSize
        self.initSize = initSize; self.bssSize = bssSize; self.zoneDevice = zoneDevice
        self.smpAlternativesSize = smpAlternativesSize; self.unusedDecryptedSize = unusedDecryptedSize
        self.textRodataGapSize = textRodataGapSize; self.rodataDataGapSize = rodataDataGapSize
    }

    /// Linux: _brk_end once reserve_brk() has run.
    public var brkEnd: PhysAddr { reserveEnd + brkUsed }

    /// Why these sizes cannot be one kernel image laid out as vmlinux.lds lays it out (text,
    /// 2 MiB-aligned rodata, 2 MiB-aligned data, then init, bss and brk), or nil. The readers
    /// refuse such an image, since the boot would walk outside it.
    public var layoutProblem: String? {
        let parts = [textSize, rodataSize, rwdataSize, initSize, bssSize, textRodataGapSize, rodataDataGapSize]
        if parts.contains(where: { $0 > 1 << 32 }) { return "a section is larger than 4 GiB" }
        if start >> 52 != 0 || end >> 52 != 0 || brkUsed > 1 << 32 { return "the image lies beyond 2^52" }
        // KERNEL_IMAGE_SIZE: the image and its brk are mapped in one 1 GiB window.
        if brkEnd > start + (1 << 30) || end > start + (1 << 30) {
            return "the image and its brk area (\(hex(start))–\(hex(Swift.max(brkEnd, end)))) exceed KERNEL_IMAGE_SIZE (1 GiB)"
        }
        if dataStart > reserveEnd { return "text and rodata (\(textSize >> 10)K, \(rodataSize >> 10)K) end past the brk area at \(hex(reserveEnd))" }
        if textRodataGapSize > rodataStart - start {
            return "the text/rodata gap (\(textRodataGapSize >> 10)K) is larger than text and its padding"
        }
        if rodataDataGapSize > dataStart - rodataStart {
            return "the rodata/data gap (\(rodataDataGapSize >> 10)K) is larger than rodata and its padding"
        }
        return nil
    }

    /// Linux: __start_rodata and _sdata: the text ends on a 2 MiB boundary (the text/rodata gap
    /// fills it), and so does the read-only data (__end_rodata_hpage_align).
    public var rodataStart: PhysAddr { roundUp(start + textSize, pmdSize) }
    public var dataStart: PhysAddr { roundUp(rodataStart + rodataSize, pmdSize) }

    /// Linux: __end_of_kernel_reserve (= __bss_stop) as vmlinux.lds lays the image out after
    /// _sdata: rwdata, the BUG and ORC unwind tables, the vvar page, the init sections, the SMP
    /// lock table, the nosave page, then .bss, which ends on a 2 MiB boundary when the kernel has
    /// BSS_DECRYPTED (CONFIG_AMD_MEM_ENCRYPT, as Debian's has). A log prints every one of these
    /// sizes but the BUG/ORC tables'. 6.1.192's extent, [0x1000000, 0x4400000), holds for any
    /// table size in (2024K, 4072K]; `bugOrcTables` defaults to the middle of that range, 3 MiB,
    /// and the 2 MiB rounding absorbs another kernel's difference unless it crosses a boundary.
    public func estimatedReserveEnd(bugOrcTables: UInt64 = 3 << 20) -> PhysAddr {
        let bssStart = dataStart + rwdataSize + bugOrcTables + pageSize + initSize + smpAlternativesSize + pageSize
        return roundUp(roundUp(bssStart, pageSize) + bssSize, pmdSize)
    }

    /// Debian bookworm's linux-image-6.1.0-56-amd64 (6.1.192-2) without KASLR, as the oracle
    /// boots show it: "14343K kernel code, 2338K rwdata, 9132K rodata, 2824K init, 17344K bss",
    /// and later frees of 36K (SMP alternatives), 2036K (decrypted), 2040K and 1108K (gaps),
    /// reserved [0x1000000, 0x4400000) plus 0x11000 bytes of used .brk. The .brk area's full size
    /// is not in any log; 0x20000 (its two 64 KiB users) is kmemlab's estimate.
    public static let debian6_1_192 = KernelImage(
        start: 0x100_0000, reserveEnd: 0x440_0000, end: 0x442_0000, brkUsed: 0x11000,
        textSize: 14343 * 1024, rwdataSize: 2338 * 1024, rodataSize: 9132 * 1024,
        initSize: 2824 * 1024, bssSize: 17344 * 1024)
}

/// One ACPI table as the kernel's initial table list holds it.
public struct ACPITable: Equatable, Sendable {
    /// The four-character signature ("FACP", "DSDT", "APIC" …).
    public var signature: String
    public var addr: PhysAddr
    public var length: UInt64
    public init(signature: String, addr: PhysAddr, length: UInt64) {
        self.signature = signature; self.addr = addr; self.length = length
    }
}

public struct Initrd: Equatable, Sendable {
    public var addr: PhysAddr
    public var size: UInt64
    public init(addr: PhysAddr, size: UInt64) { self.addr = addr; self.size = size }
}

public struct MPTable: Equatable, Sendable {
    /// The 16-byte MP floating pointer structure.
    public var floatingPointer: PhysAddr
    /// The MP configuration table it points to, and its length.
    public var configTable: PhysAddr
    public var configLength: UInt64
    public init(floatingPointer: PhysAddr, configTable: PhysAddr, configLength: UInt64) {
        self.floatingPointer = floatingPointer; self.configTable = configTable; self.configLength = configLength
    }
}

/// One memblock operation as `memblock=debug` prints it.
public struct MemblockCall: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// memblock_add, memblock_reserve, memblock_remove, memblock_phys_free, memblock_free_late:
        /// an inclusive [base, last] range.
        case range(function: String, base: PhysAddr, last: PhysAddr)
        /// memblock_alloc_try_nid and friends: the request (nid is nil for the _range forms).
        case alloc(function: String, size: UInt64, align: UInt64, nid: Int32?, from: PhysAddr, maxAddr: PhysAddr)
    }
    public var kind: Kind
    public var caller: String
    public init(kind: Kind, caller: String) { self.kind = kind; self.caller = caller }
}
