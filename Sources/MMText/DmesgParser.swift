// Reconstructing a Machine from a Linux boot log (`kmemlab boot --from-dmesg FILE`).
//
// What a log reveals, and where:
// - "Command line: …" (or, from 32-bit kernels, "Kernel command line: …") — the command line; "BIOS-e820: [mem a-b] type" — the map the kernel was
//   given (already sanitised, which sanitising again leaves as it is).
// - "e820: update [mem a-b] usable ==> usable" before "extended physical RAM map:" — setup_data
//   blobs (printed twice when the kexec table is updated too, once when kexec recreates it).
// - "e820: update" lines right after the first "last_pfn" — MTRR trimming; after that and before
//   the initrd is set up — EFI reservations (ESRT, MOK); later (before "Memory:") — BGRT from
//   acpi_boot_init. "efi: Remove memN: MMIO range" — an e820 removal in efi_init.
// - "ACPI: SRAT: Node n PXM p [mem a-b]", "SRAT: PXM p -> APIC 0x.. -> Node n" — NUMA affinity.
// - "smpboot: Allowing N CPUs, M hotplug CPUs"; "RAMDISK: [mem a-b]"; "Using GB pages";
//   "found SMP MP-table at"; "efi: EFI v…"; "Memory: …K/…K available (…K kernel code, …)".
// - memblock=debug lines: every memblock call, kept for replay; reserve_brk's line and the first
//   MEMBLOCK dump give the kernel image's placement.
// A log without a BIOS-e820 (or user-defined) map is refused: there is no machine to boot.

import MMCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct DmesgParser {
    public let fileName: String

    public init(fileName: String) { self.fileName = fileName }

    /// The message of one log line, in any of the forms people save a kernel log in; nil for
    /// comment lines. Strips, in order: a CR (CRLF files), `dmesg -x`'s "kern  :info  : ",
    /// a syslog "<6>" level (`dmesg -r`), a journal or syslog prefix ("Dec 06 17:42:35 host
    /// kernel: ", "2026-12-06T17:42:35+00:00 host kernel: "), the "[    0.000000] " timestamp
    /// (or `dmesg -T`'s "[Sun Dec  6 17:42:35 2026] "), and `journalctl -o short-monotonic`'s
    /// "host kernel: " after it.
    static func message(_ raw: Substring) -> Substring? {
        var s = raw
        if s.hasSuffix("\r") { s = s.dropLast() }
        if s.hasPrefix("#") || s.hasPrefix("-- ") { return nil }   // comments, journalctl's "-- Boot …" lines
        s = dropFacilityLevel(s)
        if s.hasPrefix("<"), let close = s.firstIndex(of: ">"), s.distance(from: s.startIndex, to: close) <= 4 {
            s = s[s.index(after: close)...]
        }
        if let rest = afterJournalPrefix(s) { s = rest }
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
            s = s[s.index(after: close)...]
            if s.hasPrefix(" ") { s = s.dropFirst() }
            if let rest = afterHostKernel(s) { s = rest }
        }
        return s
    }

    /// `dmesg -x`: "kern  :info  : " — a facility and a level, each a lowercase word padded
    /// with spaces and closed by ':'.
    static func dropFacilityLevel(_ s: Substring) -> Substring {
        var i = s.startIndex
        for _ in 0..<2 {
            let wordStart = i
            while i < s.endIndex, s[i].isLowercase { i = s.index(after: i) }
            guard i > wordStart else { return s }
            while i < s.endIndex, s[i] == " " { i = s.index(after: i) }
            guard i < s.endIndex, s[i] == ":" else { return s }
            i = s.index(after: i)
        }
        guard i < s.endIndex, s[i] == " " else { return s }
        return s[s.index(after: i)...]
    }

    /// A journal or syslog line: a timestamp ("Dec 06 17:42:35" or ISO 8601), a host, then
    /// "kernel: "; the message after it, or nil for any other line.
    static func afterJournalPrefix(_ s: Substring) -> Substring? {
        guard let first = s.first, first.isLetter || first.isNumber, !s.hasPrefix("[") else { return nil }
        let words = s.split(separator: " ", maxSplits: 6, omittingEmptySubsequences: true)
        // "Dec 06 17:42:35 host kernel: …" (month, day, time, host) or "2026-…T…+00:00 host kernel: …".
        let hostIndex: Int
        if words.count >= 5, words[0].count == 3, words[0].first!.isUppercase, words[2].contains(":") {
            hostIndex = 3
        } else if words.count >= 3, words[0].contains("T"), words[0].contains("-"), words[0].first!.isNumber {
            hostIndex = 1
        } else {
            return nil
        }
        guard words[hostIndex + 1] == "kernel:" else { return nil }
        let marker = " kernel: "
        guard let r = s.firstRange(of: marker) else { return nil }
        return s[r.upperBound...]
    }

    /// "host kernel: …" (journalctl -o short-monotonic, after its "[    0.000000] ").
    static func afterHostKernel(_ s: Substring) -> Substring? {
        guard let space = s.firstIndex(of: " "), s[s.index(after: space)...].hasPrefix("kernel: "),
              !s[..<space].contains(":") else { return nil }
        return s[s.index(space, offsetBy: 9)...]
    }

    func fail(_ line: Int, _ field: String, _ message: String) -> InputError {
        InputError(file: fileName, line: line, field: field, message)
    }

    /// Parses "[mem 0xa-0xb]" at the start of `s`; returns (start, last inclusive, rest). Only the firmware map and its edits (`firmwareTop`) may reach
    /// 2^64 − 1; every other range must lie below 2^52.
    func memRange(_ s: Substring, line: Int, field: String,
                  firmwareTop: Bool = false) throws(InputError) -> (UInt64, UInt64, Substring) {
        guard s.hasPrefix("[mem "), let dash = s.firstIndex(of: "-"), let close = s.firstIndex(of: "]"), dash < close else {
            throw fail(line, field, "expected \"[mem 0x…-0x…]\"")
        }
        guard let a = parseHex(s[s.index(s.startIndex, offsetBy: 5)..<dash]),
              let b = parseHex(s[s.index(after: dash)..<close]) else {
            throw fail(line, field, "address is not hexadecimal")
        }
        guard a <= b else { throw fail(line, field, "range ends before it starts") }
        try checkAddress(b, line: line, field: field)
        if !firmwareTop && b == UInt64.max {
            throw fail(line, field, "address \(hex(b)) is beyond the 52 bits x86-64 can address")
        }
        var rest = s[s.index(after: close)...]
        if rest.hasPrefix(" ") { rest = rest.dropFirst() }
        return (a, b, rest)
    }

    /// Parses "[0xa-0xb]" (memblock's form).
    func bracketRange(_ s: Substring, line: Int, field: String) throws(InputError) -> (UInt64, UInt64, Substring) {
        guard s.hasPrefix("["), let dash = s.firstIndex(of: "-"), let close = s.firstIndex(of: "]"), dash < close,
              let a = parseHex(s[s.index(after: s.startIndex)..<dash]),
              let b = parseHex(s[s.index(after: dash)..<close]) else {
            throw fail(line, field, "expected \"[0x…-0x…]\"")
        }
        var rest = s[s.index(after: close)...]
        if rest.hasPrefix(" ") { rest = rest.dropFirst() }
        return (a, b, rest)
    }

    func checkAddress(_ a: UInt64, line: Int, field: String) throws(InputError) {
        // The firmware map may describe space up to 2^64 − 1 (the kernel prints and ignores it);
        // anything else past 52 bits is not an x86-64 machine.
        if a >> maxPhysAddrBits != 0 && a != UInt64.max {
            throw fail(line, field, "address \(hex(a)) is beyond the 52 bits x86-64 can address")
        }
    }

    /// `inferBuild`: also read what the log reveals of its kernel's build that takes a trial boot
    /// to see (DmesgParser+KASLR.swift); off, the reader only reads.
    public func parse(_ text: String, inferBuild: Bool = true) throws(InputError) -> Machine {
        var commandLine: String? = nil
        var e820: [E820Entry] = []
        var e820Done = false
        var setupDataLines: [(UInt64, UInt64)] = []
        var sawExtended = false
        var edits: [FirmwareEdit] = []
        var srat: [NumaMemoryAffinity] = []
        var acpiTables: [ACPITable] = []
        var inZoneRanges = false, sawDeviceZone = false, zoneDevice = true
        var zoneIndex: Int? = nil, numaIndex: Int? = nil
        var cpuNodes: [(apic: UInt32, node: Int32)] = []
        var cpusPossible: Int? = nil, cpusHotplug = 0
        var initrd: Initrd? = nil
        var gbPages = false
        var pti = false
        var efi = false
        var mpFloating: UInt64? = nil
        var mpConfig: (UInt64, UInt64)? = nil
        var memblockLog: [MemblockCall] = []
        var kernelSizes: (UInt64, UInt64, UInt64, UInt64, UInt64)? = nil
        var brk: (UInt64, UInt64)? = nil
        var firstReservedDump: [(UInt64, UInt64)] = []
        var dumpState = 0  // 0: before the first dump, 1: in it, 2: after it
        // Where the boot is, for classifying e820 edits.
        var lastPfnCount = 0
        var inMtrrWindow = false
        var pastEarlyEFI = false
        var pastMemoryLine = false
        var percpuStatic: UInt64? = nil
        var ioapics = 0
        var lateFrees: (smp: UInt64?, decrypted: UInt64?, textGap: UInt64?, rodataGap: UInt64?) = (nil, nil, nil, nil)
        var pendingEFIRemove = false
        var sourceKernel: String? = nil
        var efiLog = EFILogReader()
        var memoryLine: (available: UInt64, reserved: UInt64)? = nil

        var lineNo = 0
        // Lines by their bytes (a CRLF line keeps its CR here; message() drops it). Splitting by
        // Characters, where "\r\n" is one, cost a third of the reader's time.
        // A CR before the LF goes with it, as the Character "\r\n" did.
        let utf8 = text.utf8
        var lineStart = utf8.startIndex
        var more = true
        while more {
            let lineEnd = nextLineFeed(utf8, from: lineStart)
            var raw = text[lineStart..<lineEnd]
            if lineEnd == utf8.endIndex {
                more = false
            } else {
                lineStart = utf8.index(after: lineEnd)
                if raw.utf8.last == 0x0d { raw = text[raw.startIndex..<utf8.index(before: lineEnd)] }
            }
            lineNo += 1
            guard let m = DmesgParser.message(raw) else { continue }
            if m.isEmpty { continue }

            if try efiLog.read(m, line: lineNo, parser: self) {
                if m.hasPrefix("efi: EFI v") { efi = true }
                continue
            }
            if m.hasPrefix("Linux version ") && sourceKernel == nil {
                sourceKernel = m.split(separator: " ").dropFirst(2).first.map(String.init)
                continue
            }
            if m.hasPrefix("Command line: ") {
                if commandLine == nil { commandLine = String(m.dropFirst("Command line: ".count)) }
                continue
            }
            // 32-bit kernels print only start_kernel()'s line (the same text).
            if m.hasPrefix("Kernel command line: ") {
                if commandLine == nil { commandLine = String(m.dropFirst("Kernel command line: ".count)) }
                continue
            }
            if m.hasPrefix("BIOS-e820: ") || m.hasPrefix("BIOS-e801: ") || m.hasPrefix("BIOS-88: ") {
                if e820Done { continue }
                let body = m[m.index(after: m.firstIndex(of: " ")!)...]
                let (a, b, rest) = try memRange(body, line: lineNo, field: "BIOS-e820", firmwareTop: true)
                guard let type = parseE820TypeName(rest) else {
                    throw fail(lineNo, "BIOS-e820 type", "unknown e820 type \"\(rest)\"")
                }
                e820.append(E820Entry(addr: a, size: b &- a &+ 1, type: type))
                continue
            }
            if !e820.isEmpty { e820Done = true }
            if m.hasPrefix("extended physical RAM map:") { sawExtended = true; continue }
            if m.hasPrefix("last_pfn = ") {
                lastPfnCount += 1
                let value = m.dropFirst("last_pfn = ".count).prefix { $0 != " " }
                let pfn = parseHex(value) ?? 0
                if lastPfnCount == 1 { inMtrrWindow = true }
                // The second scan (below 4 GiB) ends the window in which MTRR trimming happens.
                if lastPfnCount > 1 && pfn <= 0x10_0000 { inMtrrWindow = false }
                continue
            }
            if m.hasPrefix("e820: update ") {
                let (a, b, rest) = try memRange(m.dropFirst("e820: update ".count), line: lineNo, field: "e820 update",
                                             firmwareTop: true)
                let parts = rest.split(separator: " ==> ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, var from = parseE820TypeName(parts[0]), var to = parseE820TypeName(parts[1]) else {
                    throw fail(lineNo, "e820 update type", "expected \"<type> ==> <type>\"")
                }
                if from == .ram && to == .ram { to = .reservedKern }
                if from == to { from = .ram; to = .reservedKern }
                if lastPfnCount == 0 {
                    if !sawExtended && to == .reservedKern { setupDataLines.append((a, b)) }
                    continue  // memmap= edits are the command line's, made again by the model
                }
                let op = FirmwareEdit.Op.update(start: a, size: b &- a &+ 1, from: from, to: to)
                if pastMemoryLine { continue }
                let stage: FirmwareEdit.Stage = inMtrrWindow ? .mtrrTrim : (pastEarlyEFI ? .acpiBoot : .efiEarlyReserve)
                edits.append(FirmwareEdit(stage: stage, op: op))
                continue
            }
            if m.hasPrefix("efi: Remove mem") { pendingEFIRemove = true; continue }
            if m.hasPrefix("e820: remove ") {
                if pendingEFIRemove {
                    pendingEFIRemove = false
                    let (a, b, rest) = try memRange(m.dropFirst("e820: remove ".count), line: lineNo,
                                                 field: "e820 remove", firmwareTop: true)
                    let type = parseE820TypeName(rest)
                    edits.append(FirmwareEdit(stage: .efiInit, op: .remove(start: a, size: b &- a &+ 1,
                                                                            type: type ?? E820Type(0), checkType: type != nil)))
                }
                continue
            }
            pendingEFIRemove = false
            if inMtrrWindow && !(m.hasPrefix("x86/PAT") || m.contains("mtrr") || m.contains("MTRR")
                                 || m.hasPrefix("total RAM covered") || m.contains("gran_size")
                                 || m.hasPrefix("WARNING: BIOS bug") || m.hasPrefix("modified")) {
                inMtrrWindow = false
            }
            if m.hasPrefix("RAMDISK: ") || m.hasPrefix("Zone ranges:") || m.hasPrefix("ACPI: Early table") {
                pastEarlyEFI = true
            }
            if m.hasPrefix("RAMDISK: ") {
                let (a, b, _) = try memRange(m.dropFirst("RAMDISK: ".count), line: lineNo, field: "RAMDISK")
                // The initrd is in RAM: it ends below 2^52, as the machine-file reader requires.
                guard b >> maxPhysAddrBits == 0 else {
                    throw fail(lineNo, "RAMDISK", "the initrd ends past the 52 bits x86-64 can address")
                }
                initrd = Initrd(addr: a, size: b - a + 1)
                continue
            }
            if m.hasPrefix("Move RAMDISK from "), var rd = initrd {
                // relocate_initrd() prints the initrd's exact end, which "RAMDISK:" rounds to a page.
                let (a, b, _) = try memRange(m.dropFirst("Move RAMDISK from ".count), line: lineNo, field: "Move RAMDISK")
                if a == rd.addr && b >= a && b < rd.addr + rd.size { rd.size = b - a + 1; initrd = rd }
                continue
            }
            if m.hasPrefix("Zone ranges:") {
                inZoneRanges = true; sawDeviceZone = false
                if zoneIndex == nil { zoneIndex = memblockLog.count }
                continue
            }
            if inZoneRanges {
                if m.hasPrefix("  Device ") { sawDeviceZone = true }
                if !m.hasPrefix("  ") { inZoneRanges = false; zoneDevice = sawDeviceZone }
            }
            if m.hasPrefix("NODE_DATA(") && numaIndex == nil && !memblockLog.isEmpty { numaIndex = memblockLog.count - 1 }
            if m.hasPrefix("ACPI: Reserving ") {
                // "ACPI: Reserving FACP table memory at [mem 0x3ffe1a49-0x3ffe1abc]"
                let words = m.split(separator: " ")
                guard words.count >= 8, words[2].utf8.count == 4, let bracket = m.firstIndex(of: "[") else {
                    throw fail(lineNo, "ACPI", "expected \"ACPI: Reserving SIGN table memory at [mem a-b]\"")
                }
                let (a, b, _) = try memRange(m[bracket...], line: lineNo, field: "ACPI")
                acpiTables.append(ACPITable(signature: String(words[2]), addr: a, length: b &- a &+ 1))
                continue
            }
            if m.hasPrefix("ACPI: SRAT: Node ") {
                // "ACPI: SRAT: Node 0 PXM 0 [mem 0x00000000-0x0009ffff]" [hotplug] [non-volatile]
                let words = m.split(separator: " ")
                guard words.count >= 8, let node = Int32(words[3]), let pxm = Int32(words[5]),
                      let bracket = m.firstIndex(of: "[") else {
                    throw fail(lineNo, "SRAT", "expected \"ACPI: SRAT: Node N PXM P [mem …]\"")
                }
                let (a, b, rest) = try memRange(m[bracket...], line: lineNo, field: "SRAT")
                srat.append(NumaMemoryAffinity(node: node, pxm: pxm, start: a, end: b &+ 1, hotplug: rest.contains("hotplug")))
                continue
            }
            if m.hasPrefix("SRAT: PXM ") {
                // "SRAT: PXM 0 -> APIC 0x00 -> Node 0"
                let words = m.split(separator: " ")
                if words.count >= 9, let apic = parseHex(words[5]), let node = Int32(words[8]) {
                    cpuNodes.append((UInt32(truncatingIfNeeded: apic), node))
                }
                continue
            }
            if m.hasPrefix("smpboot: Allowing ") {
                let words = m.split(separator: " ")
                guard words.count >= 5, let n = Int(words[2]), let h = Int(words[4]), n >= 1, n <= 8192, h <= n else {
                    throw fail(lineNo, "smpboot", "expected \"smpboot: Allowing N CPUs, M hotplug CPUs\"")
                }
                cpusPossible = n; cpusHotplug = h
                continue
            }
            if m.hasPrefix("Using GB pages for direct mapping") { gbPages = true; continue }
            if m.hasPrefix("Kernel/User page tables isolation: enabled") { pti = true; continue }
            if m.hasPrefix("efi: EFI v") { efi = true; continue }
            if m.hasPrefix("found SMP MP-table at ") {
                let (a, _, _) = try memRange(m.dropFirst("found SMP MP-table at ".count), line: lineNo, field: "MP-table")
                mpFloating = a
                continue
            }
            if m.hasPrefix("Freeing "), m.hasSuffix("K"), let colon = m.lastIndex(of: ":") {
                // "Freeing SMP alternatives memory: 36K" and the kernel image's later frees.
                let what = m[m.index(m.startIndex, offsetBy: 8)..<colon]
                guard let kb = UInt64(m[m.index(colon, offsetBy: 2)...].dropLast()) else {
                    throw fail(lineNo, "Freeing", "expected \"Freeing … memory: NK\"")
                }
                guard kb <= DmesgParser.maxImagePartKB else {
                    throw fail(lineNo, "Freeing", "\(kb)K is larger than a kernel image part can be (at most 4 GiB)")
                }
                switch what {
                case "SMP alternatives memory": lateFrees.smp = kb * 1024
                case "unused decrypted memory": lateFrees.decrypted = kb * 1024
                case "unused kernel image (text/rodata gap) memory": lateFrees.textGap = kb * 1024
                case "unused kernel image (rodata/data gap) memory": lateFrees.rodataGap = kb * 1024
                default: break
                }
                continue
            }
            if m.hasPrefix("IOAPIC[") { ioapics += 1; continue }
            if m.hasPrefix("percpu: Embedded ") {
                // "percpu: Embedded 62 pages/cpu s217088 r8192 d28672 u1048576"
                let words = m.split(separator: " ")
                guard words.count >= 5, words[4].hasPrefix("s"), let v = UInt64(words[4].dropFirst()) else {
                    throw fail(lineNo, "percpu", "expected \"percpu: Embedded N pages/cpu sS rR dD uU\"")
                }
                guard v <= DmesgParser.maxImagePartKB * 1024 else {
                    throw fail(lineNo, "percpu", "a static per-cpu area of \(v) bytes is larger than a kernel image can hold (at most 4 GiB)")
                }
                percpuStatic = v
                continue
            }
            if m.hasPrefix("Memory: ") {
                pastMemoryLine = true
                kernelSizes = try self.kernelSizes(m, line: lineNo)
                memoryLine = DmesgParser.memoryFigures(m)
                continue
            }
            if m.hasPrefix("MEMBLOCK configuration:") {
                dumpState = dumpState == 0 ? 1 : 2
                continue
            }
            if dumpState == 1 && m.hasPrefix(" reserved[") {
                if let tab = m.firstIndex(of: "\t") {
                    let (a, b, _) = try bracketRange(m[m.index(after: tab)...], line: lineNo, field: "MEMBLOCK dump")
                    firstReservedDump.append((a, b))
                }
                continue
            }
            if dumpState == 1 && !m.hasPrefix(" ") { dumpState = 2 }
            if m.hasPrefix("memblock_") {
                let call = try memblockCall(m, line: lineNo)
                memblockLog.append(call)
                efiLog.note(call)
                if case let .range(fn, base, last) = call.kind {
                    if fn == "memblock_reserve" && call.caller.hasPrefix("setup_arch+0x797/") { brk = (base, last &+ 1 &- base) }
                    if fn == "memblock_reserve" && call.caller.hasPrefix("smp_scan_config+0xbe/") { mpConfig = (base, last &+ 1 &- base) }
                }
                continue
            }
        }

        guard !e820.isEmpty else {
            throw InputError(file: fileName, line: lineNo, field: "BIOS-e820",
                             "no \"BIOS-e820:\" map in the log (truncated, or not a Linux boot log?)")
        }
        guard let commandLine else {
            throw InputError(file: fileName, line: lineNo, field: "Command line", "no \"Command line:\" line in the log")
        }

        // setup_data: each blob is printed once, or twice in a row when kexec's table is updated too.
        var setupData: [SetupData] = []
        var i = 0
        while i < setupDataLines.count {
            let (a, b) = setupDataLines[i]
            var kexecToo = false
            if i + 1 < setupDataLines.count && setupDataLines[i + 1] == (a, b) { kexecToo = true; i += 1 }
            let total = b - a + 1
            let len = total >= SetupData.headerSize ? total - SetupData.headerSize : 0
            setupData.append(SetupData(type: kexecToo ? SetupData.typePCI : SetupData.typeEFI, addr: a,
                                       len: UInt32(truncatingIfNeeded: len)))
            i += 1
        }

        try checkNUMA(srat)

        var kernel = KernelImage.debian6_1_192
        kernel.zoneDevice = zoneDevice
        if let v = lateFrees.smp { kernel.smpAlternativesSize = v }
        if let v = percpuStatic { kernel.percpuStaticSize = v }
        if let v = lateFrees.decrypted { kernel.unusedDecryptedSize = v }
        if let v = lateFrees.textGap { kernel.textRodataGapSize = v }
        if let v = lateFrees.rodataGap { kernel.rodataDataGapSize = v }
        if let s = kernelSizes {
            kernel.textSize = s.0; kernel.rwdataSize = s.1; kernel.rodataSize = s.2; kernel.initSize = s.3; kernel.bssSize = s.4
        }
        if brk == nil, kernelSizes != nil {
            // No memblock=debug: the image's extent follows from the sizes the log prints.
            let brkArea = kernel.end - kernel.reserveEnd
            kernel.reserveEnd = kernel.estimatedReserveEnd()
            kernel.end = kernel.reserveEnd + brkArea
        }
        if let (brkStart, brkUsed) = brk {
            kernel.reserveEnd = brkStart
            kernel.brkUsed = brkUsed
            if let region = firstReservedDump.first(where: { $0.0 <= brkStart && brkStart <= $0.1 }) {
                kernel.start = region.0
            }
            let (brkEnd, over) = brkStart.addingReportingOverflow(brkUsed)
            guard !over, brkEnd >> maxPhysAddrBits == 0 else {
                throw InputError(file: fileName, field: "memblock_reserve (setup_arch, brk)",
                                 "the kernel's brk reservation ends past the 52 bits x86-64 can address")
            }
            kernel.end = Swift.max(kernel.end, brkEnd)
        }
        if let problem = kernel.layoutProblem {
            throw InputError(file: fileName, field: "Memory (kernel image)", problem)
        }

        let present = cpusPossible.map { $0 - cpusHotplug } ?? Swift.max(1, cpuNodes.count)
        var nodeOfCPU: [Int32] = []
        if !cpuNodes.isEmpty { nodeOfCPU = cpuNodes.prefix(present).map { $0.node } }
        var mp: MPTable? = nil
        if let f = mpFloating { mp = MPTable(floatingPointer: f, configTable: mpConfig?.0 ?? 0, configLength: mpConfig?.1 ?? 0) }

        // The EFI hand-over. acpi_boot_init()'s e820 edit from RAM to reserved is the BGRT logo
        // efi_bgrt_init() keeps, and an edit of the ESRT's pages shows efi_esrt_init() kept it:
        // the model makes both itself.
        var bgrt: PhysRange? = nil, esrtKept = false
        if efiLog.sawSystemTable {
            func ramToReserved(_ e: FirmwareEdit, _ stage: FirmwareEdit.Stage) -> (PhysAddr, UInt64)? {
                guard e.stage == stage, case let .update(start, size, from, to) = e.op, from == .ram, to == .reserved,
                      start >> maxPhysAddrBits == 0, size <= (1 << maxPhysAddrBits) - start else { return nil }
                return (start, size)
            }
            if let k = edits.firstIndex(where: { ramToReserved($0, .acpiBoot) != nil }), let (start, size) = ramToReserved(edits[k], .acpiBoot) {
                bgrt = PhysRange(start: start, size: size)
                edits.remove(at: k)
            }
            if let esrt = efiLog.esrt,
               let k = edits.firstIndex(where: { ramToReserved($0, .efiEarlyReserve).map { $0.0 == roundDown(esrt.start, 4096) } ?? false }) {
                esrtKept = true
                edits.remove(at: k)
            }
        }
        let efiFirmware = efiLog.firmware(bgrt: bgrt, esrtKept: esrtKept)

        var machine = Machine(
            name: baseName(fileName), e820: e820, setupData: setupData, firmwareEdits: edits, numaMemory: srat,
            cpus: CPUTopology(present: Swift.max(1, present), possible: cpusPossible, nodeOfCPU: nodeOfCPU, gbPages: gbPages, pti: pti),
            commandLine: commandLine, kernel: kernel, initrd: initrd, mpTable: mp, efiBoot: efi, acpiTables: acpiTables,
            memblockLog: memblockLog, memblockLogZoneIndex: zoneIndex, memblockLogNumaIndex: numaIndex)
        machine.ioapics = ioapics
        machine.sourceKernel = sourceKernel
        machine.efi = efiFirmware
        if inferBuild, brk == nil, let figures = memoryLine, !KernelCommandLine(machine.commandLine).has("nokaslr") {
            placeKASLRImage(&machine, logMemory: figures)
        }
        return machine
    }

    /// Overlapping affinity ranges of different nodes make the kernel give up on SRAT; kmemlab
    /// refuses such a machine so that the user sees the contradiction.
    func checkNUMA(_ srat: [NumaMemoryAffinity]) throws(InputError) {
        let sorted = srat.sorted { $0.start < $1.start }
        for k in sorted.indices.dropFirst() where sorted[k].start < sorted[k - 1].end && sorted[k].node != sorted[k - 1].node {
            throw InputError(file: fileName, field: "SRAT",
                             "node \(sorted[k].node) [mem \(hexPadded(sorted[k].start, width: 10))-\(hexPadded(sorted[k].end - 1, width: 10))] overlaps node \(sorted[k - 1].node)")
        }
    }

    /// "Memory: 207548K/1048056K available (14343K kernel code, 2338K rwdata, 9132K rodata,
    /// 2824K init, 17344K bss, …)" → the five section sizes in bytes.
    /// The largest kernel image part (a section, a freed gap, the per-cpu template) the reader
    /// accepts, in KiB: 4 GiB, far above any kernel, so that later sums cannot overflow.
    static let maxImagePartKB: UInt64 = 4 << 20

    func kernelSizes(_ m: Substring, line: Int) throws(InputError) -> (UInt64, UInt64, UInt64, UInt64, UInt64)? {
        guard let open = m.firstIndex(of: "(") else { return nil }
        var sizes: [String: UInt64] = [:]
        for part in m[m.index(after: open)...].split(separator: ",") {
            let w = part.split(separator: " ")
            guard w.count >= 2, w[0].hasSuffix("K"), let k = UInt64(w[0].dropLast()) else { continue }
            let name = w[1...].joined(separator: " ")
            if ["kernel code", "rwdata", "rodata", "init", "bss"].contains(name) && k > DmesgParser.maxImagePartKB {
                throw fail(line, "Memory", "\(k)K \(name) is larger than a kernel image part can be (at most 4 GiB)")
            }
            sizes[name] = k &* 1024
        }
        guard let t = sizes["kernel code"], let d = sizes["rwdata"], let r = sizes["rodata"],
              let i = sizes["init"], let b = sizes["bss"] else { return nil }
        return (t, d, r, i, b)
    }

    func memblockCall(_ m: Substring, line: Int) throws(InputError) -> MemblockCall {
        guard let colon = m.firstIndex(of: ":") else { throw fail(line, "memblock", "no function name") }
        let fn = String(m[..<colon])
        var rest = m[m.index(after: colon)...]
        if rest.hasPrefix(" ") { rest = rest.dropFirst() }
        if rest.hasPrefix("[") {
            let (a, b, tail) = try bracketRange(rest, line: line, field: fn)
            return MemblockCall(kind: .range(function: fn, base: a, last: b), caller: String(tail))
        }
        // "N bytes align=0x.. [nid=..] from=0x.. max_addr=0x.. caller"
        let words = rest.split(separator: " ")
        guard words.count >= 5, let size = UInt64(words[0]), words[1] == "bytes" else {
            // "memblock: memory is doubled…" and other free text: keep as an opaque record.
            return MemblockCall(kind: .range(function: fn, base: 0, last: 0), caller: String(rest))
        }
        var align: UInt64 = 0, nid: Int32? = nil, from: UInt64 = 0, maxAddr: UInt64 = 0
        var caller = ""
        for w in words.dropFirst(2) {
            if w.hasPrefix("align=") { align = parseHex(w.dropFirst(6)) ?? 0 }
            else if w.hasPrefix("nid=") { nid = Int32(w.dropFirst(4)) }
            else if w.hasPrefix("from=") { from = parseHex(w.dropFirst(5)) ?? 0 }
            else if w.hasPrefix("max_addr=") { maxAddr = parseHex(w.dropFirst(9)) ?? 0 }
            else { caller = String(w) }
        }
        return MemblockCall(kind: .alloc(function: fn, size: size, align: align, nid: nid, from: from, maxAddr: maxAddr),
                            caller: caller)
    }
}

func baseName(_ path: String) -> String {
    var name = path.split(separator: "/").last.map(String.init) ?? path
    if name.hasSuffix(".txt") { name = String(name.dropLast(4)) }
    return name
}

/// The index of the next LF at or after `from`, or the end: memchr() where the text is contiguous.
func nextLineFeed(_ utf8: String.UTF8View, from: String.Index) -> String.Index {
    let offset = utf8.distance(from: utf8.startIndex, to: from)
    if let found = utf8.withContiguousStorageIfAvailable({ all -> Int in
        guard offset < all.count, let base = all.baseAddress,
              let hit = memchr(base + offset, 0x0a, all.count - offset) else { return all.count }
        return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
    }) {
        return utf8.index(utf8.startIndex, offsetBy: found)
    }
    return utf8[from...].firstIndex(of: 0x0a) ?? utf8.endIndex
}

extension Substring {
    /// A log's prefixes are compared byte by byte, as the kernel wrote them: Character
    /// comparison (Unicode's canonical equivalence, grapheme by grapheme) made the reader's
    /// fifty prefix tests per line most of its time. Every reader in MMText gets this one.
    @inline(__always) func hasPrefix(_ prefix: String) -> Bool {
        let n = prefix.utf8.count
        guard utf8.count >= n else { return false }
        if let equal = utf8.withContiguousStorageIfAvailable({ s in
            prefix.utf8.withContiguousStorageIfAvailable { p in n == 0 || memcmp(s.baseAddress!, p.baseAddress!, n) == 0 }
        }), let equal { return equal }
        return utf8.starts(with: prefix.utf8)
    }

    /// Byte by byte, as `hasPrefix`.
    @inline(__always) func hasSuffix(_ suffix: String) -> Bool {
        let n = suffix.utf8.count
        return utf8.count >= n && utf8.suffix(n).elementsEqual(suffix.utf8)
    }
}
