// What a UEFI boot log reveals of the firmware's hand-over (MMCore/EFI): the system table line,
// the configuration tables, the memory map itself with `efi=debug`, and, with `memblock=debug`,
// where the map lies, how many descriptors it has, the memory attributes table, and each
// boot-services region efi_reserve_boot_services() reserved.
//
// A log with `efi=debug` gives the whole map. One with only `memblock=debug` gives the
// boot-services regions the kernel reserved itself — exactly the ones it later frees — but not
// whether each was code or data (they are read as Boot Data) nor the regions someone had
// reserved before (never freed either way). A log with neither keeps only the e820 edits.

import MMCore

struct EFILogReader {
    var sawSystemTable = false
    var revision: UInt32 = 0x0002_0046
    var vendor = ""
    var configTables: [EFIConfigTable] = []
    var expectConfigLine = false
    /// The map efi_print_memmap() prints in efi_init(); the runtime map printed later by
    /// efi_enter_virtual_mode() is not read.
    var inMap = false, mapDone = false
    var map: [EFIMemoryDescriptor] = []
    var bootServicesReserved: [EFIMemoryDescriptor] = []
    var mapAddress: PhysAddr? = nil
    var mapBytes: UInt64 = 0
    var memattrSize: UInt64 = 0
    var secureBoot = EFISecureBoot.notShown
    var esrt: PhysRange? = nil

    /// Reads one message if it is an EFI line; true when it was.
    mutating func read(_ m: Substring, line: Int, parser: DmesgParser) throws(InputError) -> Bool {
        if m.hasPrefix("efi: EFI v") {
            sawSystemTable = true
            expectConfigLine = true
            // "efi: EFI v2.70 by EDK II"
            let rest = m.dropFirst("efi: EFI v".count)
            guard let by = rest.range(of: " by ") else { return true }
            let version = rest[..<by.lowerBound].split(separator: ".")
            if version.count == 2, let major = UInt32(version[0]), let minor = UInt32(version[1]), major <= 0xffff, minor <= 0xffff {
                revision = major << 16 | minor
            }
            vendor = String(rest[by.upperBound...])
            return true
        }
        if expectConfigLine && m.hasPrefix("efi: ") && m.contains("=0x") {
            expectConfigLine = false
            configTables = try parseConfigTables(m.dropFirst(5), line: line, parser: parser)
            return true
        }
        expectConfigLine = false
        if m.hasPrefix("efi: mem"), m.contains(" range=[") {
            if m.hasSuffix("(invalid)") || mapDone { return true }
            inMap = true
            map.append(try parseDescriptor(m, line: line, parser: parser))
            return true
        }
        if inMap { inMap = false; mapDone = true }
        if m.hasPrefix("esrt: Reserving ESRT space from ") {
            // "esrt: Reserving ESRT space from 0x…3fadc198 to 0x…3fadc220."
            let words = m.split(separator: " ")
            guard words.count == 8, let a = parseHex(words[5]), let b = parseHex(words[7].hasSuffix(".") ? words[7].dropLast() : words[7]),
                  b > a, b >> maxPhysAddrBits == 0 else {
                throw parser.fail(line, "esrt", "expected \"esrt: Reserving ESRT space from START to END.\"")
            }
            esrt = PhysRange(start: a, size: b - a)
            return true
        }
        if m.hasPrefix("secureboot: Secure boot ") {
            switch m.dropFirst("secureboot: Secure boot ".count) {
            case "disabled": secureBoot = .disabled
            case "enabled": secureBoot = .enabled
            case "could not be determined (mode 0)": secureBoot = .unset
            default: secureBoot = .unknown
            }
            return true
        }
        return false
    }

    /// The memblock=debug lines of the EFI code.
    mutating func note(_ call: MemblockCall) {
        guard case let .range(fn, base, last) = call.kind, fn == "memblock_reserve", last >= base, last >> maxPhysAddrBits == 0 else { return }
        if call.caller.hasPrefix("efi_memblock_x86_reserve_range+") {
            // At most a million 48-byte descriptors, as a machine file allows.
            guard last - base < 48_000_000 else { return }
            mapAddress = base; mapBytes = last - base + 1
        } else if call.caller.hasPrefix("efi_memattr_init+") {
            guard last - base < 1 << 24 else { return }
            memattrSize = last - base + 1
        } else if call.caller.hasPrefix("efi_reserve_boot_services+"), base & 0xfff == 0, (last + 1) & 0xfff == 0 {
            bootServicesReserved.append(EFIMemoryDescriptor(type: .bootServicesData, physAddr: base,
                                                            numPages: (last + 1 - base) >> 12, attribute: [.uc, .wc, .wt, .wb]))
        }
    }

    /// "SMBIOS=0x7f520000 ACPI=0x7f77d000 ACPI 2.0=0x7f77d014 MEMATTR=0x7dc51018 " → the tables;
    /// a name may hold spaces.
    func parseConfigTables(_ s: Substring, line: Int, parser: DmesgParser) throws(InputError) -> [EFIConfigTable] {
        var out: [EFIConfigTable] = []
        var name = ""
        for word in s.split(separator: " ") {
            guard let eq = word.range(of: "=0x") else { name += (name.isEmpty ? "" : " ") + word; continue }
            name += (name.isEmpty ? "" : " ") + word[..<eq.lowerBound]
            guard let address = parseHex(word[word.index(after: eq.lowerBound)...]) else {
                throw parser.fail(line, "efi configuration tables", "\(name) has no hexadecimal address")
            }
            out.append(EFIConfigTable(name: name, address: address))
            name = ""
        }
        return out
    }

    /// "efi: mem07: [ACPI Mem NVS|   |  |…|WB|WT|WC|UC] range=[0x…810000-0x…8fffff] (0MB)".
    func parseDescriptor(_ m: Substring, line: Int, parser: DmesgParser) throws(InputError) -> EFIMemoryDescriptor {
        guard let open = m.firstIndex(of: "["), let close = m[open...].firstIndex(of: "]"),
              let rangeAt = m.range(of: " range=") else {
            throw parser.fail(line, "efi memory descriptor", "expected \"[type|attributes] range=[start-end]\"")
        }
        let fields = m[m.index(after: open)..<close].split(separator: "|", omittingEmptySubsequences: false)
        let typeText = fields[0].trimmingSpaces
        var rawType: UInt32
        if let t = EFIMemoryType(name: typeText) {
            rawType = t.rawValue
        } else if typeText.hasPrefix("type="), let v = UInt32(typeText.dropFirst(5)) {
            rawType = v
        } else {
            throw parser.fail(line, "efi memory descriptor", "unknown memory type \"\(typeText)\"")
        }
        var attribute = EFIMemoryAttribute()
        for f in fields.dropFirst() {
            let t = f.trimmingSpaces
            if t.isEmpty { continue }
            if t.hasPrefix("attr=0x"), let v = parseHex(t.dropFirst(5)) { attribute = EFIMemoryAttribute(rawValue: v); continue }
            guard let a = EFIMemoryAttribute.named(t) else {
                throw parser.fail(line, "efi memory descriptor", "unknown attribute \"\(t)\"")
            }
            attribute.insert(a)
        }
        let (start, last, _) = try parser.bracketRange(m[rangeAt.upperBound...], line: line, field: "efi memory descriptor")
        guard start & 0xfff == 0, (last &+ 1) & 0xfff == 0, last >= start else {
            throw parser.fail(line, "efi memory descriptor", "a descriptor covers whole 4 KiB pages")
        }
        return EFIMemoryDescriptor(rawType: rawType, physAddr: start, numPages: ((last - start) >> 12) + 1, attribute: attribute)
    }

    /// The firmware as far as the log shows it, nil for a log of a BIOS boot. `bgrt` is the logo
    /// an e820 edit of acpi_boot_init() showed; `esrtKept` says an e820 edit showed the ESRT kept.
    func firmware(bgrt: PhysRange?, esrtKept: Bool) -> EFIFirmware? {
        guard sawSystemTable else { return nil }
        let entries = mapBytes != 0 ? Int(truncatingIfNeeded: mapBytes / 48) : map.count
        let known = map.isEmpty ? bootServicesReserved : map
        // Without memblock=debug the attributes table's size is not printed: one entry (16 + 48
        // bytes) is assumed, which costs the page it lies in.
        let memattr = memattrSize != 0 ? memattrSize : (configTables.contains { $0.name == "MEMATTR" } ? 64 : 0)
        return EFIFirmware(revision: revision, vendor: vendor, configTables: configTables, memoryMap: known,
                           mapAddress: mapAddress ?? 0, mapEntries: Swift.max(entries, known.count), memattrSize: memattr,
                           bgrtImage: bgrt, esrt: esrt, esrtInBootServicesData: esrtKept, secureBoot: secureBoot)
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
