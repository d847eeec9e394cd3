// The machine file: a JSON description of a Machine that users can write, or save from any
// machine (`--save-machine`) and edit. Addresses are hex strings and ranges are inclusive, as the
// kernel prints them, so a file can be checked against a boot log by eye. docs/MACHINE-FILE.md
// documents every field.

import Foundation
import MMCore

public enum MachineFile {
    public static let formatVersion = 1

    // MARK: Writing

    public static func encode(_ m: Machine) -> Data {
        var root: [String: Any] = [
            "format": "kmemlab-machine",
            "version": formatVersion,
            "name": m.name,
            "commandLine": m.commandLine,
            "e820": m.e820.map { e -> [String: Any] in
                ["start": pa(e.addr), "end": pa(e.addr &+ e.size &- 1), "type": typeName(e.type)]
            },
            "cpus": ["present": m.cpus.present, "possible": m.cpus.possible,
                     "gbPages": m.cpus.gbPages, "la57": m.cpus.la57, "pti": m.cpus.pti] as [String: Any],
            "kernel": [
                "start": pa(m.kernel.start), "reserveEnd": pa(m.kernel.reserveEnd), "end": pa(m.kernel.end),
                "brkUsed": hex(m.kernel.brkUsed), "textKB": m.kernel.textSize / 1024,
                "rwdataKB": m.kernel.rwdataSize / 1024, "rodataKB": m.kernel.rodataSize / 1024,
                "initKB": m.kernel.initSize / 1024, "bssKB": m.kernel.bssSize / 1024, "zoneDevice": m.kernel.zoneDevice,
                "deferredStructPageInit": m.kernel.deferredStructPageInit,
                "smpAlternativesKB": m.kernel.smpAlternativesSize / 1024, "unusedDecryptedKB": m.kernel.unusedDecryptedSize / 1024,
                "textRodataGapKB": m.kernel.textRodataGapSize / 1024, "rodataDataGapKB": m.kernel.rodataDataGapSize / 1024,
                "percpuStaticSize": m.kernel.percpuStaticSize,
            ] as [String: Any],
            "bios": ["baseMemoryKB": m.biosBaseMemoryKB, "ebdaStart": pa(m.ebdaStart)] as [String: Any],
            "efiBoot": m.efiBoot,
            "ioapics": m.ioapics,
        ]
        if let v = m.sourceKernel { root["sourceKernel"] = v }
        var cpus = root["cpus"] as! [String: Any]
        if !m.cpus.nodeOfCPU.isEmpty { cpus["nodeOfCPU"] = m.cpus.nodeOfCPU.map { Int($0) } }
        root["cpus"] = cpus
        if let rd = m.initrd { root["initrd"] = ["start": pa(rd.addr), "size": rd.size] as [String: Any] }
        if let mp = m.mpTable {
            root["mpTable"] = ["floatingPointer": pa(mp.floatingPointer), "configTable": pa(mp.configTable),
                               "configLength": mp.configLength] as [String: Any]
        }
        if !m.setupData.isEmpty {
            root["setupData"] = m.setupData.map { ["type": $0.type, "start": pa($0.addr), "len": $0.len] as [String: Any] }
        }
        if !m.numaMemory.isEmpty {
            root["numa"] = m.numaMemory.map { a -> [String: Any] in
                ["node": Int(a.node), "pxm": Int(a.pxm), "start": pa(a.start), "end": pa(a.end &- 1), "hotplug": a.hotplug]
            }
        }
        if !m.acpiTables.isEmpty {
            root["acpiTables"] = m.acpiTables.map { t -> [String: Any] in
                ["signature": t.signature, "start": pa(t.addr), "end": pa(t.addr &+ t.length &- 1)]
            }
        }
        if !m.numaDistance.isEmpty { root["numaDistance"] = m.numaDistance.map { $0.map { Int($0) } } }
        if !m.firmwareEdits.isEmpty {
            root["firmwareEdits"] = m.firmwareEdits.map { e -> [String: Any] in
                switch e.op {
                case let .update(start, size, from, to):
                    return ["stage": e.stage.rawValue, "op": "update", "start": pa(start), "end": pa(start &+ size &- 1),
                            "from": typeName(from), "to": typeName(to)]
                case let .remove(start, size, type, checkType):
                    var d: [String: Any] = ["stage": e.stage.rawValue, "op": "remove", "start": pa(start),
                                            "end": pa(start &+ size &- 1)]
                    if checkType { d["type"] = typeName(type) }
                    return d
                }
            }
        }
        if let f = m.efi { root["efi"] = encodeEFI(f) }
        if !m.memblockLog.isEmpty {
            root["memblockLog"] = m.memblockLog.map(memblockLine)
            root["memblockLogZoneIndex"] = m.memblockLogZoneIndex
            if let n = m.memblockLogNumaIndex { root["memblockLogNumaIndex"] = n }
        }
        return try! JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
    }

    /// The EFI hand-over: descriptors as `efi=debug` prints them (type name, inclusive range,
    /// attribute names), the configuration tables by the names efi_init() prints.
    static func encodeEFI(_ f: EFIFirmware) -> [String: Any] {
        var o: [String: Any] = [
            "revision": f.revisionText,
            "vendor": f.vendor,
            "configTables": f.configTables.map { ["name": $0.name, "address": pa($0.address)] },
            "memoryMap": f.memoryMap.map { d -> [String: Any] in
                var e: [String: Any] = ["type": d.type?.name ?? Int(d.rawType), "start": pa(d.physAddr), "end": pa(d.end &- 1)]
                if d.attribute.rawValue & ~EFIMemoryAttribute.known != 0 {
                    e["attribute"] = hex(d.attribute.rawValue)
                } else {
                    e["attributes"] = EFIMemoryAttribute.printed.filter { d.attribute.contains($0.0) }.map { $0.1 }
                }
                return e
            },
            "mapAddress": pa(f.mapAddress), "descriptorSize": Int(f.descriptorSize), "mapEntries": f.mapEntries,
            "memattrSize": Int(f.memattrSize),
            "secureBoot": "\(f.secureBoot)",
        ]
        if let b = f.bgrtImage { o["bgrtImage"] = ["start": pa(b.start), "end": pa(b.end &- 1)] }
        if let e = f.esrt {
            o["esrt"] = ["start": pa(e.start), "end": pa(e.end &- 1), "inBootServicesData": f.esrtInBootServicesData] as [String: Any]
        }
        return o
    }

    static func decodeEFI(_ v: Any, _ r: Reader) throws(InputError) -> EFIFirmware {
        let o = try r.object(v, "efi")
        var revision: UInt32 = 0x0002_0046
        if let t = o["revision"] {
            let parts = (t as? String)?.split(separator: ".") ?? []
            guard parts.count == 2, let major = UInt32(parts[0]), let minor = UInt32(parts[1]), major <= 0xffff, minor <= 0xffff else {
                throw r.err("efi.revision", "expected \"MAJOR.MINOR\" such as \"2.70\"")
            }
            revision = major << 16 | minor
        }
        var tables: [EFIConfigTable] = []
        if let v = o["configTables"] {
            for (path, t) in try r.objects(v, "efi.configTables") {
                guard let name = t["name"] as? String, !name.isEmpty, !name.contains("=") else {
                    throw r.err(path + ".name", "expected the table's name as the kernel prints it (SMBIOS, ACPI 2.0, MEMATTR …)")
                }
                tables.append(EFIConfigTable(name: name, address: try r.addr(t, "address", path, default: nil)))
            }
        }
        var map: [EFIMemoryDescriptor] = []
        for (path, d) in try r.objects(o["memoryMap"] ?? [Any](), "efi.memoryMap") {
            var rawType: UInt32
            if let s = d["type"] as? String, let t = EFIMemoryType(name: Substring(s)) {
                rawType = t.rawValue
            } else if let n = d["type"] as? Int, n >= 0, n <= Int(UInt32.max) {
                rawType = UInt32(n)
            } else {
                throw r.err(path + ".type", "expected an EFI memory type (\(EFIMemoryType.allCases.map(\.name).joined(separator: ", "))) or its number")
            }
            let (start, end) = try r.range(d, path)
            guard start & 0xfff == 0, (end &+ 1) & 0xfff == 0 else {
                throw r.err(path, "a descriptor covers whole 4 KiB pages")
            }
            var attribute = EFIMemoryAttribute()
            if let v = d["attribute"] {
                // All 64 bits (EFI_MEMORY_RUNTIME is bit 63).
                guard let s = v as? String, let bits = parseHex(Substring(s)) else {
                    throw r.err(path + ".attribute", "expected the attribute bits in hex, such as \"0x800000000000000f\"")
                }
                attribute = EFIMemoryAttribute(rawValue: bits)
            } else if let list = d["attributes"] {
                guard let a = list as? [String] else { throw r.err(path + ".attributes", "expected an array of names such as \"WB\"") }
                for n in a {
                    guard let bit = EFIMemoryAttribute.named(Substring(n)) else {
                        throw r.err(path + ".attributes", "unknown attribute \"\(n)\" (\(EFIMemoryAttribute.printed.map { $0.1 }.joined(separator: ", ")))")
                    }
                    attribute.insert(bit)
                }
            } else {
                attribute = [.uc, .wc, .wt, .wb]
            }
            map.append(EFIMemoryDescriptor(rawType: rawType, physAddr: start, numPages: (end - start + 1) >> 12, attribute: attribute))
        }
        var bgrt: PhysRange? = nil
        if let v = o["bgrtImage"] {
            let (start, end) = try r.range(try r.object(v, "efi.bgrtImage"), "efi.bgrtImage")
            bgrt = PhysRange(start: start, size: end - start + 1)
        }
        var esrt: PhysRange? = nil, esrtKept = false
        if let v = o["esrt"] {
            let e = try r.object(v, "efi.esrt")
            let (start, end) = try r.range(e, "efi.esrt")
            esrt = PhysRange(start: start, size: end - start + 1)
            esrtKept = try r.bool(e, "inBootServicesData", "efi.esrt", default: false)
        }
        let secure: EFISecureBoot
        switch o["secureBoot"] as? String ?? "disabled" {
        case "notShown": secure = .notShown
        case "unset": secure = .unset
        case "unknown": secure = .unknown
        case "disabled": secure = .disabled
        case "enabled": secure = .enabled
        default: throw r.err("efi.secureBoot", "expected disabled, enabled, unset, unknown or notShown")
        }
        let descSize = try r.int(o, "descriptorSize", "efi", default: 48, range: 40...4096)
        let entries = try r.int(o, "mapEntries", "efi", default: map.count, range: map.count...1_000_000)
        return EFIFirmware(revision: revision, vendor: try r.string(o, "vendor", default: "EDK II"), configTables: tables,
                           memoryMap: map, mapAddress: try r.addr(o, "mapAddress", "efi", default: 0),
                           descriptorSize: UInt64(descSize), mapEntries: entries,
                           memattrSize: UInt64(try r.int(o, "memattrSize", "efi", default: 0, range: 0...(1 << 24))),
                           bgrtImage: bgrt, esrt: esrt, esrtInBootServicesData: esrtKept, secureBoot: secure)
    }

    /// e820 type names as the kernel prints them; "usable (kernel)" marks RESERVED_KERN.
    static func typeName(_ t: E820Type) -> String {
        t == .reservedKern ? "usable (kernel)" : t.printName
    }

    static func memblockLine(_ c: MemblockCall) -> String {
        switch c.kind {
        case let .range(fn, base, last):
            return "\(fn): [\(pa(base))-\(pa(last))] \(c.caller)"
        case let .alloc(fn, size, align, nid, from, maxAddr):
            let n = nid.map { " nid=\($0)" } ?? ""
            return "\(fn): \(size) bytes align=\(hex(align))\(n) from=\(pa(from)) max_addr=\(pa(maxAddr)) \(c.caller)"
        }
    }

    // MARK: Reading

    public static func decode(_ data: Data, fileName: String) throws(InputError) -> Machine {
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: data) } catch {
            throw InputError(file: fileName, field: "(file)", "not valid JSON")
        }
        guard let root = any as? [String: Any] else {
            throw InputError(file: fileName, field: "(file)", "the top level must be a JSON object")
        }
        let r = Reader(fileName: fileName)
        if let format = root["format"], (format as? String) != "kmemlab-machine" {
            throw InputError(file: fileName, field: "format", "expected \"kmemlab-machine\"")
        }
        let name = try r.string(root, "name", default: baseName(fileName))
        let commandLine = try r.string(root, "commandLine", default: "")
        let efi = try root["efi"].map { v throws(InputError) in try decodeEFI(v, r) }
        var e820: [E820Entry] = []
        if let e820Raw = root["e820"] as? [Any], !e820Raw.isEmpty {
            for (path, o) in try r.objects(e820Raw, "e820") {
                let (start, end) = try r.range(o, path, firmwareTop: true)
                e820.append(E820Entry(addr: start, size: end &- start &+ 1, type: try r.e820Type(o, "type", path)))
            }
        } else if let efi, efi.mapComplete, !efi.memoryMap.isEmpty {
            // The EFI stub builds boot_params' e820 table from the EFI memory map.
            let softReserve = !commandLine.split(separator: " ").contains { $0.hasPrefix("efi=") && $0.contains("nosoftreserve") }
            e820 = efiStubE820(efi.memoryMap, softReserve: softReserve)
        } else {
            throw InputError(file: fileName, field: "e820", "required: a non-empty array of {start, end, type} (or a complete efi.memoryMap)")
        }
        let cpusO = try r.object(root["cpus"] ?? ["present": 1], "cpus")
        let present = try r.int(cpusO, "present", "cpus", default: 1, range: 1...8192)
        let possible = try r.int(cpusO, "possible", "cpus", default: present, range: present...8192)
        var nodeOfCPU: [Int32] = []
        if let list = cpusO["nodeOfCPU"] {
            guard let a = list as? [Any] else { throw InputError(file: fileName, field: "cpus.nodeOfCPU", "expected an array of node numbers") }
            for (i, v) in a.enumerated() {
                guard let n = v as? Int, n >= 0, n < 1024 else {
                    throw InputError(file: fileName, field: "cpus.nodeOfCPU[\(i)]", "expected a node number 0…1023")
                }
                nodeOfCPU.append(Int32(n))
            }
        }
        let cpus = CPUTopology(present: present, possible: possible, nodeOfCPU: nodeOfCPU,
                               gbPages: try r.bool(cpusO, "gbPages", "cpus", default: false),
                               la57: try r.bool(cpusO, "la57", "cpus", default: false),
                               pti: try r.bool(cpusO, "pti", "cpus", default: false))

        var kernel = KernelImage.debian6_1_192
        if let k = root["kernel"] {
            let o = try r.object(k, "kernel")
            kernel.start = try r.addr(o, "start", "kernel", default: kernel.start)
            kernel.reserveEnd = try r.addr(o, "reserveEnd", "kernel", default: kernel.reserveEnd)
            kernel.end = try r.addr(o, "end", "kernel", default: kernel.end)
            kernel.brkUsed = try r.addr(o, "brkUsed", "kernel", default: kernel.brkUsed)
            kernel.textSize = UInt64(try r.int(o, "textKB", "kernel", default: Int(kernel.textSize / 1024), range: 0...(1 << 30))) * 1024
            kernel.rwdataSize = UInt64(try r.int(o, "rwdataKB", "kernel", default: Int(kernel.rwdataSize / 1024), range: 0...(1 << 30))) * 1024
            kernel.rodataSize = UInt64(try r.int(o, "rodataKB", "kernel", default: Int(kernel.rodataSize / 1024), range: 0...(1 << 30))) * 1024
            kernel.initSize = UInt64(try r.int(o, "initKB", "kernel", default: Int(kernel.initSize / 1024), range: 0...(1 << 30))) * 1024
            kernel.bssSize = UInt64(try r.int(o, "bssKB", "kernel", default: Int(kernel.bssSize / 1024), range: 0...(1 << 30))) * 1024
            kernel.zoneDevice = try r.bool(o, "zoneDevice", "kernel", default: true)
            kernel.deferredStructPageInit = try r.bool(o, "deferredStructPageInit", "kernel", default: true)
            kernel.smpAlternativesSize = UInt64(try r.int(o, "smpAlternativesKB", "kernel", default: Int(kernel.smpAlternativesSize / 1024), range: 0...(1 << 30))) * 1024
            kernel.unusedDecryptedSize = UInt64(try r.int(o, "unusedDecryptedKB", "kernel", default: Int(kernel.unusedDecryptedSize / 1024), range: 0...(1 << 30))) * 1024
            kernel.textRodataGapSize = UInt64(try r.int(o, "textRodataGapKB", "kernel", default: Int(kernel.textRodataGapSize / 1024), range: 0...(1 << 30))) * 1024
            kernel.percpuStaticSize = UInt64(try r.int(o, "percpuStaticSize", "kernel", default: Int(kernel.percpuStaticSize), range: 4096...(1 << 30)))
            kernel.rodataDataGapSize = UInt64(try r.int(o, "rodataDataGapKB", "kernel", default: Int(kernel.rodataDataGapSize / 1024), range: 0...(1 << 30))) * 1024
            guard kernel.start < kernel.reserveEnd, kernel.reserveEnd <= kernel.end else {
                throw InputError(file: fileName, field: "kernel", "needs start < reserveEnd <= end")
            }
            if let problem = kernel.layoutProblem { throw InputError(file: fileName, field: "kernel", problem) }
        }
        var initrd: Initrd? = nil
        if let v = root["initrd"] {
            let o = try r.object(v, "initrd")
            let rd = Initrd(addr: try r.addr(o, "start", "initrd", default: nil),
                            size: UInt64(try r.int(o, "size", "initrd", default: nil, range: 1...(1 << 40))))
            guard (rd.addr + rd.size) >> maxPhysAddrBits == 0 else {
                throw InputError(file: fileName, field: "initrd.size", "the initrd would end past the 52 bits x86-64 can address")
            }
            initrd = rd
        }
        var mp: MPTable? = nil
        if let v = root["mpTable"] {
            let o = try r.object(v, "mpTable")
            mp = MPTable(floatingPointer: try r.addr(o, "floatingPointer", "mpTable", default: nil),
                         configTable: try r.addr(o, "configTable", "mpTable", default: 0),
                         configLength: UInt64(try r.int(o, "configLength", "mpTable", default: 0, range: 0...65536)))
        }
        var setupData: [SetupData] = []
        if let v = root["setupData"] {
            for (path, o) in try r.objects(v, "setupData") {
                setupData.append(SetupData(type: UInt32(try r.int(o, "type", path, default: nil, range: 0...0xffff)),
                                           addr: try r.addr(o, "start", path, default: nil),
                                           len: UInt32(try r.int(o, "len", path, default: nil, range: 0...0xffff_ffff))))
            }
        }
        var numa: [NumaMemoryAffinity] = []
        if let v = root["numa"] {
            for (path, o) in try r.objects(v, "numa") {
                let (start, end) = try r.range(o, path)
                let node = Int32(try r.int(o, "node", path, default: nil, range: 0...1023))
                numa.append(NumaMemoryAffinity(node: node, pxm: Int32(try r.int(o, "pxm", path, default: Int(node), range: 0...0xffff)),
                                               start: start, end: end &+ 1,
                                               hotplug: try r.bool(o, "hotplug", path, default: false)))
            }
            try DmesgParser(fileName: fileName).checkNUMA(numa)
        }
        var acpiTables: [ACPITable] = []
        if let v = root["acpiTables"] {
            for (path, o) in try r.objects(v, "acpiTables") {
                let (start, end) = try r.range(o, path)
                guard let sig = o["signature"] as? String, sig.utf8.count == 4 else {
                    throw InputError(file: fileName, field: path + ".signature", "expected a four-character ACPI signature")
                }
                acpiTables.append(ACPITable(signature: sig, addr: start, length: end &- start &+ 1))
            }
        }
        var distance: [[UInt8]] = []
        if let v = root["numaDistance"] {
            guard let rows = v as? [[Int]], rows.allSatisfy({ $0.count == rows.count }),
                  rows.allSatisfy({ $0.allSatisfy { (10...255).contains($0) } }) else {
                throw InputError(file: fileName, field: "numaDistance", "expected a square matrix of distances 10…255")
            }
            distance = rows.map { $0.map { UInt8($0) } }
        }
        var edits: [FirmwareEdit] = []
        if let v = root["firmwareEdits"] {
            for (path, o) in try r.objects(v, "firmwareEdits") {
                guard let st = o["stage"] as? String, let stage = FirmwareEdit.Stage(rawValue: st) else {
                    throw InputError(file: fileName, field: "\(path).stage",
                                     "expected one of \(FirmwareEdit.Stage.allCases.map { $0.rawValue }.joined(separator: ", "))")
                }
                let (start, end) = try r.range(o, path, firmwareTop: true)
                switch o["op"] as? String {
                case "update":
                    edits.append(FirmwareEdit(stage: stage, op: .update(start: start, size: end &- start &+ 1,
                                                                          from: try r.e820Type(o, "from", path),
                                                                          to: try r.e820Type(o, "to", path))))
                case "remove":
                    let typed = o["type"] != nil
                    edits.append(FirmwareEdit(stage: stage, op: .remove(start: start, size: end &- start &+ 1,
                                                                          type: typed ? try r.e820Type(o, "type", path) : E820Type(0),
                                                                          checkType: typed)))
                default:
                    throw InputError(file: fileName, field: "\(path).op", "expected \"update\" or \"remove\"")
                }
            }
        }
        var memblockLog: [MemblockCall] = []
        if let v = root["memblockLog"] {
            guard let a = v as? [String] else { throw InputError(file: fileName, field: "memblockLog", "expected an array of strings") }
            let p = DmesgParser(fileName: fileName)
            for (i, line) in a.enumerated() {
                do { memblockLog.append(try p.memblockCall(Substring(line), line: i + 1)) } catch {
                    throw InputError(file: fileName, field: "memblockLog[\(i)]", error.message)
                }
            }
        }
        var biosKB: UInt32 = 639, ebda: UInt64 = 0x9fc00
        if let v = root["bios"] {
            let o = try r.object(v, "bios")
            biosKB = UInt32(try r.int(o, "baseMemoryKB", "bios", default: 639, range: 0...1024))
            ebda = try r.addr(o, "ebdaStart", "bios", default: ebda)
        }
        var machine = Machine(name: name, e820: e820, setupData: setupData, firmwareEdits: edits, numaMemory: numa,
                       numaDistance: distance, cpus: cpus, commandLine: commandLine, kernel: kernel, initrd: initrd,
                       biosBaseMemoryKB: biosKB, ebdaStart: ebda, mpTable: mp,
                       efiBoot: try r.bool(root, "efiBoot", "", default: false), acpiTables: acpiTables,
                       memblockLog: memblockLog,
                       memblockLogZoneIndex: try r.int(root, "memblockLogZoneIndex", "", default: memblockLog.count,
                                                       range: 0...memblockLog.count),
                       memblockLogNumaIndex: root["memblockLogNumaIndex"] == nil ? nil
                           : try r.int(root, "memblockLogNumaIndex", "", default: 0, range: 0...memblockLog.count))
        machine.ioapics = try r.int(root, "ioapics", "", default: 1, range: 0...128)
        if let efi {
            machine.efi = efi
            machine.efiBoot = true
        }
        if root["sourceKernel"] != nil { machine.sourceKernel = try r.string(root, "sourceKernel", default: "") }
        return machine
    }

    /// Field readers that name the field in every error.
    struct Reader {
        let fileName: String
        func err(_ field: String, _ message: String) -> InputError { InputError(file: fileName, field: field, message) }
        func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

        /// An array of objects, each with its path ("numa[2]") for error messages.
        func objects(_ v: Any, _ path: String) throws(InputError) -> [(String, [String: Any])] {
            guard let a = v as? [Any] else { throw err(path, "expected an array") }
            var out: [(String, [String: Any])] = []
            for (i, item) in a.enumerated() { out.append(("\(path)[\(i)]", try object(item, "\(path)[\(i)]"))) }
            return out
        }
        func object(_ v: Any, _ path: String) throws(InputError) -> [String: Any] {
            guard let o = v as? [String: Any] else { throw err(path, "expected an object") }
            return o
        }
        func string(_ o: [String: Any], _ key: String, default d: String) throws(InputError) -> String {
            guard let v = o[key] else { return d }
            guard let s = v as? String else { throw err(key, "expected a string") }
            return s
        }
        func bool(_ o: [String: Any], _ key: String, _ path: String, default d: Bool) throws(InputError) -> Bool {
            guard let v = o[key] else { return d }
            guard let b = v as? Bool else { throw err(join(path, key), "expected true or false") }
            return b
        }
        func int(_ o: [String: Any], _ key: String, _ path: String, default d: Int?, range: ClosedRange<Int>) throws(InputError) -> Int {
            guard let v = o[key] else {
                if let d { return d }
                throw err(join(path, key), "required")
            }
            var n: Int? = nil
            if let s = v as? String, let h = parseHex(Substring(s)), h <= UInt64(Int.max) { n = Int(h) }
            else if let i = v as? Int { n = i }
            guard let n, range.contains(n) else {
                throw err(join(path, key), "expected a number in \(range.lowerBound)…\(range.upperBound)")
            }
            return n
        }
        /// A hex address below 2^52; `firmwareTop` also accepts 2^64 − 1, which only the firmware
        /// map and its edits may name (the kernel prints and ignores space up there).
        func addr(_ o: [String: Any], _ key: String, _ path: String, default d: UInt64?,
                  firmwareTop: Bool = false) throws(InputError) -> UInt64 {
            guard let v = o[key] else {
                if let d { return d }
                throw err(join(path, key), "required")
            }
            var a: UInt64? = nil
            if let s = v as? String { a = parseHex(Substring(s)) }
            else if let i = v as? Int, i >= 0 { a = UInt64(i) }
            guard let a else { throw err(join(path, key), "expected a hex address such as \"0x100000\"") }
            if a >> maxPhysAddrBits != 0 && !(firmwareTop && a == UInt64.max) {
                throw err(join(path, key), "address \(hex(a)) is beyond the 52 bits x86-64 can address")
            }
            return a
        }
        func range(_ o: [String: Any], _ path: String, firmwareTop: Bool = false) throws(InputError) -> (UInt64, UInt64) {
            let start = try addr(o, "start", path, default: nil, firmwareTop: firmwareTop)
            let end: UInt64
            if o["end"] != nil {
                end = try addr(o, "end", path, default: nil, firmwareTop: firmwareTop)
            } else if o["size"] != nil {
                let size = try addr(o, "size", path, default: nil, firmwareTop: firmwareTop)
                guard size > 0 else { throw err(join(path, "size"), "must not be 0") }
                let (e, over) = start.addingReportingOverflow(size &- 1)
                guard !over, e >> maxPhysAddrBits == 0 || (firmwareTop && e == UInt64.max) else {
                    throw err(join(path, "size"), "the range would end past the 52 bits x86-64 can address")
                }
                end = e
            } else {
                throw err(join(path, "end"), "required (the inclusive end), or give \"size\"")
            }
            guard end >= start else { throw err(join(path, "end"), "ends before start") }
            return (start, end)
        }
        func e820Type(_ o: [String: Any], _ key: String, _ path: String) throws(InputError) -> E820Type {
            guard let v = o[key] else { throw err(join(path, key), "required") }
            if let s = v as? String {
                if s == "usable (kernel)" { return .reservedKern }
                if let t = parseE820TypeName(Substring(s)) { return t }
                throw err(join(path, key), "unknown e820 type \"\(s)\" (usable, reserved, ACPI data, ACPI NVS, unusable, persistent (type 12), soft reserved, type N)")
            }
            if let n = v as? Int, n > 0, n <= Int(UInt32.max) { return E820Type(UInt32(n)) }
            throw err(join(path, key), "expected an e820 type name or number")
        }
    }
}
