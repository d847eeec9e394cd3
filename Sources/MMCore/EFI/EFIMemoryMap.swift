// The UEFI memory map: the firmware's own description of physical memory, and what the boot
// loader and the kernel make of it.
//
// Linux: include/linux/efi.h (efi_memory_desc_t, the EFI_* memory types and EFI_MEMORY_*
//        attributes), drivers/firmware/efi/libstub/x86-stub.c (setup_e820),
//        drivers/firmware/efi/efi.c (efi_md_typeattr_format, efi_mem_desc_lookup),
//        drivers/firmware/efi/memmap.c (efi_memmap_split_count, efi_memmap_insert),
//        arch/x86/platform/efi/efi.c (efi_memmap_entry_valid).

/// Linux: the EFI_* memory types of a descriptor (UEFI 2.x, table 7-5).
public enum EFIMemoryType: UInt32, Equatable, Sendable, CaseIterable {
    case reserved = 0, loaderCode, loaderData, bootServicesCode, bootServicesData, runtimeServicesCode,
         runtimeServicesData, conventional, unusable, acpiReclaim, acpiNVS, mmio, mmioPortSpace, palCode,
         persistent

    /// The kernel's name for the type in `efi=debug` lines (efi.c's memory_type_name, 12 columns).
    public var name: String {
        switch self {
        case .reserved: return "Reserved"
        case .loaderCode: return "Loader Code"
        case .loaderData: return "Loader Data"
        case .bootServicesCode: return "Boot Code"
        case .bootServicesData: return "Boot Data"
        case .runtimeServicesCode: return "Runtime Code"
        case .runtimeServicesData: return "Runtime Data"
        case .conventional: return "Conventional"
        case .unusable: return "Unusable"
        case .acpiReclaim: return "ACPI Reclaim"
        case .acpiNVS: return "ACPI Mem NVS"
        case .mmio: return "MMIO"
        case .mmioPortSpace: return "MMIO Port"
        case .palCode: return "PAL Code"
        case .persistent: return "Persistent"
        }
    }

    /// The type whose `name` this is (as `efi=debug` prints it).
    public init?(name: Substring) {
        guard let t = EFIMemoryType.allCases.first(where: { $0.name == name }) else { return nil }
        self = t
    }

    /// Boot-services memory: the firmware's until ExitBootServices(), then the kernel's — once it
    /// is sure no buggy firmware still touches it (efi_free_boot_services()).
    public var isBootServices: Bool { self == .bootServicesCode || self == .bootServicesData }
}

/// Linux: the EFI_MEMORY_* attribute bits of a descriptor.
public struct EFIMemoryAttribute: OptionSet, Equatable, Sendable {
    public let rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let uc = EFIMemoryAttribute(rawValue: 0x1)
    public static let wc = EFIMemoryAttribute(rawValue: 0x2)
    public static let wt = EFIMemoryAttribute(rawValue: 0x4)
    public static let wb = EFIMemoryAttribute(rawValue: 0x8)
    public static let uce = EFIMemoryAttribute(rawValue: 0x10)
    public static let wp = EFIMemoryAttribute(rawValue: 0x1000)
    public static let rp = EFIMemoryAttribute(rawValue: 0x2000)
    public static let xp = EFIMemoryAttribute(rawValue: 0x4000)
    public static let nv = EFIMemoryAttribute(rawValue: 0x8000)
    /// EFI_MEMORY_MORE_RELIABLE: address-range mirrored memory (efi_find_mirror()).
    public static let moreReliable = EFIMemoryAttribute(rawValue: 0x1_0000)
    public static let ro = EFIMemoryAttribute(rawValue: 0x2_0000)
    /// EFI_MEMORY_SP: "specific purpose", soft-reserved for a driver.
    public static let sp = EFIMemoryAttribute(rawValue: 0x4_0000)
    public static let cpuCrypto = EFIMemoryAttribute(rawValue: 0x8_0000)
    public static let hotPluggable = EFIMemoryAttribute(rawValue: 0x10_0000)
    /// EFI_MEMORY_RUNTIME: the OS must map the range for runtime services. The kernel also sets
    /// it on boot-services regions it must not free.
    public static let runtime = EFIMemoryAttribute(rawValue: 0x8000_0000_0000_0000)

    /// The bits efi_md_typeattr_format() spells out, most significant first, with their widths.
    public static let printed: [(EFIMemoryAttribute, String, Int)] = [
        (.runtime, "RUN", 3), (.hotPluggable, "HP", 2), (.moreReliable, "MR", 2), (.cpuCrypto, "CC", 2),
        (.sp, "SP", 2), (.nv, "NV", 2), (.xp, "XP", 2), (.rp, "RP", 2), (.wp, "WP", 2), (.ro, "RO", 2),
        (.uce, "UCE", 3), (.wb, "WB", 2), (.wt, "WT", 2), (.wc, "WC", 2), (.uc, "UC", 2),
    ]
    public static let known: UInt64 = printed.reduce(0) { $0 | $1.0.rawValue }
    /// The bit `efi=debug` prints as `name` ("RUN", "WB" …).
    public static func named(_ name: Substring) -> EFIMemoryAttribute? { printed.first { $0.1 == name }?.0 }
}

/// Linux: efi_memory_desc_t. EFI pages are always 4 KiB.
public struct EFIMemoryDescriptor: Equatable, Sendable {
    /// The raw type: values past EFI_PERSISTENT_MEMORY exist (OEM ranges) and print as "type=N".
    public var rawType: UInt32
    public var physAddr: PhysAddr
    public var numPages: UInt64
    public var attribute: EFIMemoryAttribute

    public init(type: EFIMemoryType, physAddr: PhysAddr, numPages: UInt64, attribute: EFIMemoryAttribute) {
        self.rawType = type.rawValue; self.physAddr = physAddr; self.numPages = numPages; self.attribute = attribute
    }
    public init(rawType: UInt32, physAddr: PhysAddr, numPages: UInt64, attribute: EFIMemoryAttribute) {
        self.rawType = rawType; self.physAddr = physAddr; self.numPages = numPages; self.attribute = attribute
    }

    public var type: EFIMemoryType? { EFIMemoryType(rawValue: rawType) }
    public var size: UInt64 { numPages &<< 12 }
    /// One past the last byte (wraps for an invalid descriptor; see `isValid`).
    public var end: PhysAddr { physAddr &+ size }

    /// Linux: efi_memmap_entry_valid(): the range must be pages and not run past 2^64
    /// (EFI_PAGES_MAX).
    public var isValid: Bool {
        let pagesMax: UInt64 = UInt64.max >> 12
        return numPages != 0 && numPages <= pagesMax && pagesMax - numPages >= physAddr >> 12
    }

    /// Linux: efi_md_typeattr_format() — "[Boot Data   |   |  |…|WB|WT|WC|UC]".
    public var typeAttrText: String {
        var s: String
        if let t = type {
            s = "[" + t.name + String(repeating: " ", count: Swift.max(0, 12 - t.name.count))
        } else {
            s = "[type=\(rawType)"
        }
        if attribute.rawValue & ~EFIMemoryAttribute.known != 0 {
            return s + "|attr=0x" + padLeftZero(String(attribute.rawValue, radix: 16), 16) + "]"
        }
        for (bit, text, width) in EFIMemoryAttribute.printed {
            let t = attribute.contains(bit) ? text : ""
            s += "|" + String(repeating: " ", count: width - t.count) + t
        }
        return s + "]"
    }

    /// Linux: efi_print_memmap()'s line for descriptor `index` (without the "efi: " prefix).
    public func debugLine(index: Int) -> String {
        line(index: index, end: padLeftZero(String(physAddr &+ size &- 1, radix: 16), 16), tail: "(\(numPages >> 8)MB)")
    }

    /// Linux: efi_memmap_entry_valid()'s warning for an invalid descriptor: its end as C computes
    /// it, with the bits past 2^64 printed in front ("0x1000000000000ffff"); a zero-page
    /// descriptor ends at 0.
    public func invalidLine(index: Int) -> String {
        let last = numPages == 0 ? 0 : physAddr &+ (numPages &<< 12) &- 1
        let endHi = numPages == 0 ? 0 : (numPages >> 52) &+ (physAddr >> 63 == 1 && last >> 63 == 0 ? 1 : 0)
        return line(index: index, end: (endHi != 0 ? String(endHi, radix: 16) : "") + padLeftZero(String(last, radix: 16), 16),
                    tail: "(invalid)")
    }

    /// "memNN: [type|attributes] range=[0x…-0x…] TAIL" (the index is "%02u").
    func line(index: Int, end: String, tail: String) -> String {
        "mem\(padLeftZero(String(index), 2)): \(typeAttrText) range=[0x\(padLeftZero(String(physAddr, radix: 16), 16))-0x\(end)] \(tail)"
    }

    /// Linux: the e820 type the EFI stub's setup_e820() gives this descriptor (nil: an OEM type,
    /// skipped). The kernel's own do_add_efi_memmap() (`kernelRule`) differs in two ways: memory
    /// that is not write-back cacheable is reserved, and OEM types are reserved too.
    public func e820Type(softReserve: Bool, kernelRule: Bool = false) -> E820Type? {
        guard let t = type else { return kernelRule ? .reserved : nil }
        switch t {
        case .reserved, .runtimeServicesCode, .runtimeServicesData, .mmio, .mmioPortSpace, .palCode: return .reserved
        case .unusable: return .unusable
        case .acpiReclaim: return .acpi
        case .acpiNVS: return .nvs
        case .loaderCode, .loaderData, .bootServicesCode, .bootServicesData, .conventional:
            if softReserve && attribute.contains(.sp) { return .softReserved }
            return !kernelRule || attribute.contains(.wb) ? .ram : .reserved
        case .persistent: return .pmem
        }
    }

    /// Linux: efi_memmap_split_count(): how many descriptors `[start, end]` (inclusive) cuts
    /// this one into, beyond itself.
    public func splitCount(start mStart: PhysAddr, last mEnd: PhysAddr) -> Int {
        let start = physAddr, last = physAddr &+ size &- 1
        var count = 0
        if mStart <= start && start < mEnd && mEnd < last { count += 1 }
        if start < mStart && mStart < last {
            if mEnd < last { count += 2 } else { count += 1 }
        }
        return count
    }
}

/// Linux: the x86 EFI stub's setup_e820(): one e820 entry per descriptor, adjacent entries of
/// the same type merged, OEM types skipped. (More than 128 entries travel as SETUP_E820_EXT;
/// `Machine.e820` holds them all in order, as the kernel reads them.)
public func efiStubE820(_ map: [EFIMemoryDescriptor], softReserve: Bool = false) -> [E820Entry] {
    var out: [E820Entry] = []
    for d in map {
        guard let type = d.e820Type(softReserve: softReserve) else { continue }
        if let last = out.last, last.type == type, last.addr &+ last.size == d.physAddr {
            out[out.count - 1].size &+= d.size
            continue
        }
        out.append(E820Entry(addr: d.physAddr, size: d.size, type: type))
    }
    return out
}

/// Linux: efi_secureboot_mode, as the EFI stub found it (boot_params.secure_boot).
public enum EFISecureBoot: Equatable, Sendable {
    /// Linux's efi_secureboot_mode_unset (0) and _unknown (1): "could not be determined".
    case unset, unknown, disabled, enabled
    /// A log that prints no secureboot line (an older kernel): the model prints none either.
    case notShown
}

/// What UEFI firmware and the kernel's EFI stub hand over (boot_params.efi_info and the
/// configuration tables), as far as memory setup reads it.
public struct EFIFirmware: Equatable, Sendable {
    /// The system table's revision (2.70 = 0x00020046) and its vendor string.
    public var revision: UInt32
    public var vendor: String
    /// The configuration tables efi_config_parse_tables() names, in the firmware's order:
    /// ("SMBIOS", 0x7f520000), ("ACPI 2.0", …), ("MEMATTR", …).
    public var configTables: [EFIConfigTable]
    /// The memory map the stub read at ExitBootServices(), in the firmware's order.
    public var memoryMap: [EFIMemoryDescriptor]
    /// Where boot_params.efi_info.efi_memmap points, and the descriptor size (48 on OVMF).
    public var mapAddress: PhysAddr
    public var descriptorSize: UInt64
    /// The number of descriptors handed over (efi_memmap_size / desc_size). A log read without
    /// `efi=debug` shows only some of them (`memoryMap` then holds those); this is the count.
    public var mapEntries: Int
    /// The bytes efi_memattr_init() reserves for the memory attributes table (0: none).
    public var memattrSize: UInt64
    /// The boot graphics logo the ACPI BGRT table points at: efi_bgrt_init() keeps it with
    /// efi_mem_reserve(), splitting its boot-services descriptor.
    public var bgrtImage: PhysRange?
    /// The ESRT (firmware resource table) efi_esrt_init() finds, and whether it lies in
    /// boot-services data — then efi_mem_reserve() keeps it.
    public var esrt: PhysRange?
    public var esrtInBootServicesData: Bool
    public var secureBoot: EFISecureBoot

    public init(revision: UInt32 = 0x0002_0046, vendor: String = "EDK II", configTables: [EFIConfigTable] = [],
                memoryMap: [EFIMemoryDescriptor], mapAddress: PhysAddr, descriptorSize: UInt64 = 48,
                mapEntries: Int? = nil, memattrSize: UInt64 = 0, bgrtImage: PhysRange? = nil,
                esrt: PhysRange? = nil, esrtInBootServicesData: Bool = false, secureBoot: EFISecureBoot = .disabled) {
        self.revision = revision; self.vendor = vendor; self.configTables = configTables
        self.memoryMap = memoryMap; self.mapAddress = mapAddress; self.descriptorSize = descriptorSize
        self.mapEntries = mapEntries ?? memoryMap.count; self.memattrSize = memattrSize
        self.bgrtImage = bgrtImage; self.esrt = esrt; self.esrtInBootServicesData = esrtInBootServicesData
        self.secureBoot = secureBoot
    }

    /// "2.70", as efi_systab_report_header() prints the revision.
    public var revisionText: String {
        let minor = revision & 0xffff
        return "\(revision >> 16).\(minor < 10 ? "0" : "")\(minor)"
    }

    /// True when `memoryMap` is the whole map (a machine file, a preset, an `efi=debug` log).
    public var mapComplete: Bool { memoryMap.count == mapEntries && !memoryMap.isEmpty }
    /// True when nothing of the map is known (a UEFI log without `efi=debug` or
    /// `memblock=debug`): the kernel's steps that look descriptors up act on what the log showed
    /// they did instead.
    public var mapUnknown: Bool { memoryMap.isEmpty }

    /// The address of a named configuration table.
    public func table(_ name: String) -> PhysAddr? { configTables.first { $0.name == name }?.address }
}

/// One entry of the EFI configuration table array, under the name the kernel prints.
public struct EFIConfigTable: Equatable, Sendable {
    public var name: String
    public var address: PhysAddr
    public init(name: String, address: PhysAddr) { self.name = name; self.address = address }
}
