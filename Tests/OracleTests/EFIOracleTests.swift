// UEFI boots: the oracle kernel under Debian's OVMF (capture.sh --efi), thirteen captures of pc
// and q35 machines from 512 MiB to 8 GiB: one and two and three NUMA nodes, `mem=1G` (an initrd
// to relocate, boot-services regions past the limit), `memmap=` reserving RAM amid OVMF's, and
// `crashkernel=256M`; seven with `efi=debug` (the whole EFI memory map in the log, boot-services
// memory never freed) and six without (the map seen only through memblock=debug, and "Freeing EFI
// boot services memory" at the arch initcalls). Read from each log, the model must print the
// kernel's e820, efi:, memblock=debug and zone lines through "Memory:", free the same
// boot-services memory, and end with the same zoneinfo.

import Foundation
import MMCore
import MMText
import KmemlabTestSupport
import Testing

@Suite("UEFI (OVMF) boots equal the real kernel's")
struct EFIOracleTests {
    static var cases: [String] {
        let dir = Fixtures.oracle.appendingPathComponent("efi")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
    }
    static func path(_ name: String, _ file: String) -> String {
        Fixtures.oracle.appendingPathComponent("efi/\(name)/\(file)").path
    }

    /// Every line the EFI code, e820 and memblock print through "Memory:", and the zones.
    static func selected(_ lines: [String]) -> [String] {
        var out: [String] = []
        for l in lines {
            if l.hasPrefix("efi: mem") && l.contains(" range=[") && out.contains(where: { $0.hasPrefix("Memory: ") }) { continue }
            if l.hasPrefix("memblock_") || l.hasPrefix("MEMBLOCK configuration:") || l.hasPrefix(" memory") || l.hasPrefix(" reserved")
                || l.hasPrefix("efi: ") || l.hasPrefix("secureboot: ") || l.hasPrefix("Memory: ")
                || l.hasPrefix("Allocated new RAMDISK") || l.hasPrefix("Move RAMDISK") {
                if out.contains(where: { $0.hasPrefix("Memory: ") }) && !l.hasPrefix("efi: Freeing EFI boot services") { continue }
                out.append(l)
            }
        }
        return Fixtures.e820Lines(lines) + out + Fixtures.zoneLines(lines)
    }

    @Test("from the log: e820, efi:, memblock=debug and zone lines, the free, and zoneinfo", arguments: cases)
    func fromDmesg(_ name: String) throws {
        let text = Fixtures.text(Self.path(name, "dmesg.txt"))
        let machine = try DmesgParser(fileName: name).parse(text)
        #expect(machine.efi != nil)
        var k = Kernel(machine: machine)
        try k.boot()
        let expected = Self.selected(Fixtures.messages(text)), actual = Self.selected(k.log.lines)
        #expect(expected.count > 250)
        #expect(expected == actual, "\(Fixtures.firstDifference(expected, actual) ?? "")")
        let zoneinfo = Fixtures.text(Self.path(name, "zoneinfo.txt")).split(separator: "\n").map(String.init)
        let zExpected = Fixtures.zoneinfoDeterministicLines(zoneinfo)
        let zActual = Fixtures.zoneinfoDeterministicLines(ProcFiles.zoneinfo(k))
        #expect(zExpected == zActual, "\(Fixtures.firstDifference(zExpected, zActual) ?? "")")
        // efi=debug keeps boot-services memory for debugfs; otherwise ~42 MiB come back.
        let debug = machine.commandLine.contains("efi=debug")
        #expect((k.efi.bootServicesFreed == 0) == debug)
        #expect(debug || k.efi.bootServicesFreed > 40 << 20)
    }

    @Test("the EFI stub's e820 from the map equals the BIOS-e820 table", arguments: cases.filter { $0.hasSuffix("-debug") })
    func stubE820(_ name: String) throws {
        let text = Fixtures.text(Self.path(name, "dmesg.txt"))
        let machine = try DmesgParser(fileName: name).parse(text)
        let f = try #require(machine.efi)
        #expect(f.mapComplete)
        #expect(f.memoryMap.count > 100)
        // The stub keeps the firmware's order (OVMF lists RAM above 4 GiB before the MMIO);
        // the kernel sorts when it sanitises, and the log shows that.
        #expect(efiStubE820(f.memoryMap).sorted { $0.addr < $1.addr } == machine.e820)
    }

    @Test("a machine file keeps the EFI hand-over, and boots the same", arguments: cases)
    func machineFile(_ name: String) throws {
        let m = try DmesgParser(fileName: name).parse(Fixtures.text(Self.path(name, "dmesg.txt")))
        let back = try MachineFile.decode(MachineFile.encode(m), fileName: "\(name).json")
        #expect(back.efi == m.efi)
        #expect(back.efiBoot)
        var a = Kernel(machine: m), b = Kernel(machine: back)
        try a.boot(); try b.boot()
        #expect(a.log.lines == b.log.lines)
    }

    @Test("a machine file may give the EFI memory map instead of e820: the stub's table is built from it")
    func machineFileWithoutE820() throws {
        let name = "q35-efi-6g-numa2-debug"
        let text = Fixtures.text(Self.path(name, "dmesg.txt"))
        let m = try DmesgParser(fileName: name).parse(text)
        var root = try #require(try JSONSerialization.jsonObject(with: MachineFile.encode(m)) as? [String: Any])
        root["e820"] = nil
        let machine = try MachineFile.decode(try JSONSerialization.data(withJSONObject: root), fileName: "efi.json")
        #expect(machine.e820.count == 17)
        var k = Kernel(machine: machine)
        try k.boot()
        let expected = Self.selected(Fixtures.messages(text)), actual = Self.selected(k.log.lines)
        #expect(expected == actual, "\(Fixtures.firstDifference(expected, actual) ?? "")")
        // A bad descriptor is named by its place in the file.
        var bad = root
        var map = try #require(bad["efi"] as? [String: Any])
        var descriptors = try #require(map["memoryMap"] as? [[String: Any]])
        descriptors[3]["type"] = "Boot Stuff"
        map["memoryMap"] = descriptors
        bad["efi"] = map
        let error = #expect(throws: InputError.self) {
            try MachineFile.decode(try JSONSerialization.data(withJSONObject: bad), fileName: "efi.json")
        }
        #expect(error?.description.contains("efi.memoryMap[3].type") == true)
    }

    @Test("--show efi_memmap: the map as the kernel keeps it, the BGRT split, what was freed")
    func showMemmap() throws {
        let debug = try DmesgParser(fileName: "d").parse(Fixtures.text(Self.path("q35-efi-2g-debug", "dmesg.txt")))
        var k = Kernel(machine: debug)
        try k.boot()
        let lines = try #require(ProcFiles.render("efi_memmap", k))
        #expect(lines.first == "EFI v2.70 by EDK II: 127 descriptors")
        #expect(lines.count == 1 + 127 + 1)
        // The logo's pages split off their Boot Data descriptor, tagged runtime; the rest follows.
        #expect(lines.contains("mem19: [Boot Data   |RUN|  |  |  |  |  |  |  |  |  |   |WB|WT|WC|UC] range=[0x000000007dc54000-0x000000007dc5cfff] (0MB)"))
        #expect(lines.contains("mem20: [Boot Data   |   |  |  |  |  |  |  |  |  |  |   |WB|WT|WC|UC] range=[0x000000007dc5d000-0x000000007dc60fff] (0MB)"))
        #expect(lines.last?.hasPrefix("boot services: 0K freed, ") == true && lines.last?.hasSuffix("(efi=debug keeps them all)") == true)
        let plain = try DmesgParser(fileName: "p").parse(Fixtures.text(Self.path("q35-efi-2g", "dmesg.txt")))
        var p = Kernel(machine: plain)
        try p.boot()
        let out = try #require(ProcFiles.render("efi_memmap", p))
        #expect(out[1] == "(the log shows only the 99 boot-services regions the kernel reserved itself)")
        #expect(out.last == "boot services: 43176K freed, 36K kept")
        var bios = Kernel(machine: try Fixtures.presetMachine("pc-1g-2cpu"))
        try bios.boot()
        #expect(ProcFiles.render("efi_memmap", bios) == ["(not a UEFI boot: no EFI memory map)"])
    }

    @Test("a log without efi=debug gives the boot-services regions, and the map's size")
    func partialMap() throws {
        let machine = try DmesgParser(fileName: "q35-efi-2g").parse(Fixtures.text(Self.path("q35-efi-2g", "dmesg.txt")))
        let f = try #require(machine.efi)
        #expect(!f.mapComplete)
        #expect(f.mapEntries == 126)
        #expect(f.memoryMap.allSatisfy { $0.type == .bootServicesData })
        #expect(f.memattrSize == 0x430)
        #expect(f.bgrtImage == PhysRange(start: 0x7dc54000, size: 0x9000))
        #expect(f.configTables.map(\.name) == ["SMBIOS", "ACPI", "ACPI 2.0", "MEMATTR", "INITRD"])
    }
}

@Suite("EFI memory map: descriptors, the stub's e820, the kernel's edits")
struct EFIMemoryMapTests {
    static let wb: EFIMemoryAttribute = [.uc, .wc, .wt, .wb]

    @Test("efi_md_typeattr_format")
    func typeattr() {
        let d = EFIMemoryDescriptor(type: .runtimeServicesData, physAddr: 0x7ea8a000, numPages: 0x102, attribute: Self.wb.union(.runtime))
        #expect(d.typeAttrText == "[Runtime Data|RUN|  |  |  |  |  |  |  |  |  |   |WB|WT|WC|UC]")
        let mmio = EFIMemoryDescriptor(type: .mmio, physAddr: 0xffc00000, numPages: 0x400, attribute: [.uc, .runtime])
        #expect(mmio.typeAttrText == "[MMIO        |RUN|  |  |  |  |  |  |  |  |  |   |  |  |  |UC]")
        let odd = EFIMemoryDescriptor(rawType: 0x8000_0001, physAddr: 0, numPages: 1, attribute: EFIMemoryAttribute(rawValue: 0x40))
        #expect(odd.typeAttrText == "[type=2147483649|attr=0x0000000000000040]")
    }

    @Test("setup_e820 merges neighbours of one type and skips OEM types")
    func stub() {
        let map = [
            EFIMemoryDescriptor(type: .bootServicesCode, physAddr: 0, numPages: 1, attribute: Self.wb),
            EFIMemoryDescriptor(type: .conventional, physAddr: 0x1000, numPages: 0x9f, attribute: Self.wb),
            EFIMemoryDescriptor(rawType: 0x7000_0000, physAddr: 0xa0000, numPages: 0x10, attribute: Self.wb),
            EFIMemoryDescriptor(type: .acpiNVS, physAddr: 0x100000, numPages: 8, attribute: Self.wb),
            EFIMemoryDescriptor(type: .loaderData, physAddr: 0x108000, numPages: 8, attribute: Self.wb.union(.sp)),
        ]
        #expect(efiStubE820(map) == [E820Entry(addr: 0, size: 0xa0000, type: .ram), E820Entry(addr: 0x100000, size: 0x8000, type: .nvs),
                                     E820Entry(addr: 0x108000, size: 0x8000, type: .ram)])
        #expect(efiStubE820(map, softReserve: true).last?.type == .softReserved)
    }

    @Test("efi_memmap_split_count")
    func split() {
        let d = EFIMemoryDescriptor(type: .bootServicesData, physAddr: 0x10000, numPages: 16, attribute: Self.wb)
        #expect(d.splitCount(start: 0x10000, last: 0x12fff) == 1)   // head
        #expect(d.splitCount(start: 0x12000, last: 0x13fff) == 2)   // middle
        #expect(d.splitCount(start: 0x1e000, last: 0x1ffff) == 1)   // tail
        #expect(d.splitCount(start: 0x10000, last: 0x1ffff) == 0)   // all of it
    }

    /// A small UEFI machine: the q35 2 GiB capture's map, with edits.
    static func machine(_ cmdline: String, edit: (inout [EFIMemoryDescriptor]) -> Void = { _ in }) throws -> Machine {
        var m = try DmesgParser(fileName: "q35-efi-2g-debug").parse(Fixtures.text(EFIOracleTests.path("q35-efi-2g-debug", "dmesg.txt")))
        m.commandLine = cmdline
        edit(&m.efi!.memoryMap)
        m.efi!.mapEntries = m.efi!.memoryMap.count
        return m
    }

    @Test("efi=noruntime drops the map: no boot-services reservation, nothing to free")
    func noRuntime() throws {
        var k = Kernel(machine: try Self.machine("console=ttyS0 memblock=debug nokaslr efi=noruntime"))
        try k.boot()
        #expect(!k.log.lines.contains { $0.contains("efi_reserve_boot_services") })
        #expect(k.log.lines.contains { $0.contains("efi_memattr_init") })
        #expect(!k.efi.memmapEnabled && k.efi.bootServicesFreed == 0)
        var full = Kernel(machine: try Self.machine("console=ttyS0 memblock=debug nokaslr"))
        try full.boot()
        #expect(full.efi.bootServicesFreed == 43176 << 10)
        // Without the reservation the memory was free from the start. A full boot keeps two
        // boot-services regions for good: the BGRT logo's 9 pages, which efi_bgrt_init() no longer
        // reserves without the map, and the 2-page descriptor holding the memory attributes table
        // (reserved before efi_reserve_boot_services(), so tagged runtime and never freed).
        #expect(k.totalramPages == full.totalramPages + 9 + 2)
    }

    @Test("an invalid descriptor is reported and dropped as efi_clean_memmap does")
    func clean() throws {
        let bad = EFIMemoryDescriptor(type: .conventional, physAddr: 0xffff_ffff_ffff_0000, numPages: 0x20, attribute: Self.wb)
        var k = Kernel(machine: try Self.machine("console=ttyS0 nokaslr efi=debug") { $0.append(bad) })
        try k.boot()
        let lines = k.log.lines.filter { $0.contains("invalid") || $0.contains("Firmware Bug") }
        #expect(lines == ["efi: [Firmware Bug]: Invalid EFI memory map entries:",
                          "efi: mem126: [Conventional|   |  |  |  |  |  |  |  |  |  |   |WB|WT|WC|UC] range=[0xffffffffffff0000-0x1000000000000ffff] (invalid)",
                          "efi: Removing 1 invalid memory map entries."])
        #expect(k.efi.nrMap == 127)   // 126 kept, plus the BGRT split
    }

    @Test("add_efi_memmap: the kernel adds the map to e820 its own way (memory that is not write-back is reserved)")
    func addEFIMemmap() throws {
        let slice = EFIMemoryDescriptor(type: .conventional, physAddr: 0x2000_0000, numPages: 0x100, attribute: [.uc])
        func boot(_ cmdline: String) throws -> Kernel {
            var k = Kernel(machine: try Self.machine(cmdline) { map in
                // Cut a 1 MiB uncached piece out of the big conventional descriptor.
                guard let i = map.firstIndex(where: { $0.type == .conventional && $0.physAddr <= slice.physAddr && slice.end <= $0.end }) else { return }
                let big = map[i]
                let head = EFIMemoryDescriptor(type: .conventional, physAddr: big.physAddr, numPages: (slice.physAddr - big.physAddr) >> 12, attribute: big.attribute)
                let tail = EFIMemoryDescriptor(type: .conventional, physAddr: slice.end, numPages: (big.end - slice.end) >> 12, attribute: big.attribute)
                map.replaceSubrange(i...i, with: [head, slice, tail])
            })
            try k.boot()
            return k
        }
        let plain = try boot("console=ttyS0 nokaslr"), added = try boot("console=ttyS0 nokaslr add_efi_memmap")
        #expect(!plain.e820.entries.contains { $0.type == .reserved && $0.addr == slice.physAddr })
        #expect(added.e820.entries.contains { $0.type == .reserved && $0.addr == slice.physAddr && $0.size == slice.size })
    }

    @Test("an ESRT in boot-services data is kept; the BGRT's later copy of the map frees the ESRT's")
    func esrtThenBgrt() throws {
        var m = try Self.machine("console=ttyS0 memblock=debug nokaslr")
        m.efi!.esrt = PhysRange(start: 0x7dd62040, size: 0x88)   // amid Boot Data 0x7dd61000-0x7dd64fff
        var k = Kernel(machine: m)
        try k.boot()
        let lines = k.log.lines
        #expect(lines.contains("esrt: Reserving ESRT space from 0x000000007dd62040 to 0x000000007dd620c8."))
        #expect(lines.contains("e820: update [mem 0x7dd62000-0x7dd62fff] usable ==> reserved"))
        let allocs = lines.filter { $0.contains("efi_memmap_alloc") }
        // 126 + 2 (the ESRT cuts its descriptor in three), then + 1 for the BGRT: 128 and 129 × 48 bytes.
        #expect(allocs.map { $0.split(separator: " ")[1] } == ["6144", "6192"])
        // The first copy was made while memblock's limit was still 1 MiB; the second frees it.
        let frees = lines.filter { $0.contains("__efi_memmap_free") }
        #expect(frees.count == 1)
        #expect(k.efi.nrMap == 129)
        #expect(k.efi.memmap.filter { $0.attribute.contains(.runtime) && $0.type == .bootServicesData }.count >= 2)
    }

    @Test("mirrored memory is counted as efi_find_mirror counts it")
    func mirror() throws {
        var k = Kernel(machine: try Self.machine("console=ttyS0 nokaslr") { map in
            for i in map.indices where map[i].type == .conventional { map[i].attribute.insert(.moreReliable) }
        })
        try k.boot()
        #expect(k.log.lines.contains { $0.hasPrefix("efi: Memory: ") && $0.hasSuffix("mirrored memory") })
    }
}
