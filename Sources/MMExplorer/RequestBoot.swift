// Booting a machine a request describes (`POST /api/boot`): a boot log as the body, or preset
// options as query parameters. Kept out of the server so that a fuzz target can drive it
// without a network stack.

import Foundation
import MMCore
import MMText

public enum RequestBoot {
    /// The most RAM a request may boot.
    public static let maxBootBytes: UInt64 = 64 << 30

    /// The machine a request describes, checked against the bounds before any boot: a boot log
    /// as the body, or preset options (mem, smp, numa, preset, cmdline, append).
    public static func machine(body: String, options: (String) -> String?) throws -> Machine {
        var o = MachineOptions()
        var fromLog: Machine?
        if !body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            fromLog = try DmesgParser(fileName: "request body").parse(body)
        } else {
            o.preset = options("preset"); o.mem = options("mem"); o.numa = options("numa")
            if let s = options("smp") {
                guard let n = Int(s) else { throw InputError(file: "request", field: "smp", "\"\(s)\" is not a number") }
                o.smp = n
            }
        }
        o.cmdline = options("cmdline")
        if let a = options("append") { o.append = [a] }
        var machine = try fromLog ?? o.build()
        if fromLog != nil {
            if let c = o.cmdline { machine.commandLine = c }
            for a in o.append { machine.commandLine += " " + a }
        }
        // Bounded before booting (RAM, and how high it reaches) and after (memmap= can add RAM).
        let (ram, top) = extent(machine)
        guard ram <= maxBootBytes, top <= PageMap.maxPages << pageShift else {
            throw InputError(file: "request", field: "mem",
                             "RAM of \(ram >> 30) GiB reaching \(top >> 30) GiB: this server boots at most \(maxBootBytes >> 30) GiB below \((PageMap.maxPages << pageShift) >> 30) GiB")
        }
        return machine
    }

    /// A machine's RAM and the top of it (UInt64.max when a range wraps).
    public static func extent(_ machine: Machine) -> (ram: UInt64, top: UInt64) {
        var ram: UInt64 = 0, top: UInt64 = 0
        for e in machine.e820 where e.type == .ram {
            let (sum, overflow) = ram.addingReportingOverflow(e.size)
            ram = overflow ? .max : sum
            top = Swift.max(top, e.addr.addingReportingOverflow(e.size).overflow ? .max : e.end)
        }
        return (ram, top)
    }

    /// Boots what `machine(body:options:)` accepted, and checks what the command line added.
    /// `like`: a kernel whose model settings (seed, arch, memory model, slab cache table) the
    /// new one takes, so that a what-if boots the served machine as it was booted.
    public static func boot(_ machine: Machine, like base: Kernel? = nil) throws -> Kernel {
        var k = Kernel(machine: machine)
        if let base {
            k.seed = base.seed; k.arch = base.arch; k.memoryModel = base.memoryModel; k.slabCacheTable = base.slabCacheTable
        }
        k.log.enabled = true
        do { try k.boot() } catch {
            throw InputError(file: "request", field: "boot", "the kernel panics on this machine: \(error)")
        }
        if let why = PageMap.refusal(k) { throw InputError(file: "request", field: "cmdline", why) }
        guard k.memblock.memory.totalSize <= maxBootBytes else {
            throw InputError(file: "request", field: "cmdline", "the command line gives the machine more than \(maxBootBytes >> 30) GiB of RAM")
        }
        return k
    }

    /// Both steps: the machine and its name.
    public static func boot(body: String, options: (String) -> String?) throws -> (Kernel, String) {
        let m = try machine(body: body, options: options)
        return (try boot(m), m.name)
    }

    /// What if (`POST /api/whatif`): `base` booted as it is and again with `append` added to
    /// its command line and `sysctls` (blank- or comma-separated vm.NAME=VALUE) written after
    /// boot; the two machines' figures side by side (BootComparison).
    public static func whatIf(_ served: Kernel, append: String?, sysctls: String?) throws -> (variant: Kernel, rows: [BootComparison.Row]) {
        let base = served.machine
        var m = base
        if let a = append?.trimmingCharacters(in: .whitespaces), !a.isEmpty {
            guard a.utf8.count <= 4096, !a.contains(where: { $0.isNewline }) else {
                throw InputError(file: "request", field: "append", "one line of at most 4096 bytes")
            }
            m.commandLine += " " + a
        }
        // Comma-separated (a value may hold blanks: vm.lowmem_reserve_ratio=256 256 32 0 0).
        let assignments = (sysctls ?? "").split(whereSeparator: { $0 == "," || $0.isNewline })
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard assignments.count <= 16 else { throw InputError(file: "request", field: "sysctl", "at most 16 assignments") }
        guard m.commandLine != base.commandLine || !assignments.isEmpty else {
            throw InputError(file: "request", field: "append", "nothing to change: give append (command-line parameters) or sysctl (vm.NAME=VALUE)")
        }
        // Everything that can be checked before the two boots is.
        var writes: [(name: String, value: String)] = []
        for assignment in assignments {
            writes.append(try ProcFiles.sysctlAssignment(assignment, file: "request", field: "sysctl"))
        }
        guard extent(base).ram <= maxBootBytes else {
            throw InputError(file: "request", field: "append", "what if boots this machine twice; this server boots at most \(maxBootBytes >> 30) GiB")
        }
        let a = try boot(base, like: served)
        var b = try boot(m, like: served)
        for a in writes { try ProcFiles.writeSysctl(&b, a, file: "request", field: "sysctl") }
        return (b, BootComparison.rows(a, b))
    }

    /// The comparison as JSON: rows of what, base, variant, changed.
    public static func whatIfJSON(_ rows: [BootComparison.Row], variantCommandLine: String) -> String {
        var w = JSONWriter()
        w.object { w in
            w.value("variantCommandLine", variantCommandLine)
            w.value("changed", rows.filter(\.changed).count)
            w.array("rows") { w in
                for r in rows {
                    w.object { w in w.value("what", r.what); w.value("base", r.base); w.value("variant", r.variant); w.value("changed", r.changed) }
                }
            }
        }
        return w.text
    }
}
