// Turning the CLI's machine options into a Machine: a preset, a boot log or a machine file, then
// the command-line overrides. Shared by every kmemlab command that boots something.

import Foundation
import MMCore

public struct MachineOptions: Sendable {
    public var fromDmesg: String?
    public var preset: String?
    public var mem: String?
    public var smp: Int?
    public var numa: String?
    public var machineFile: String?
    public var cmdline: String?
    public var append: [String] = []
    /// capture.sh's `--disk`: a virtio-blk disk on the preset machine.
    public var disk = false
    public init() {}

    public func build() throws(InputError) -> Machine {
        let sources = [fromDmesg != nil, preset != nil || mem != nil || smp != nil || numa != nil || disk, machineFile != nil]
        if sources.filter({ $0 }).count > 1 {
            throw InputError(file: "(options)", field: "machine",
                             "give one of --from-dmesg, --machine, or --preset/--mem/--smp/--numa")
        }
        var machine: Machine
        if let path = fromDmesg {
            let text = try readText(path)
            machine = try DmesgParser(fileName: path).parse(text)
        } else if let path = machineFile {
            machine = try MachineFile.decode(try readFile(path), fileName: path)
        } else {
            machine = try presetMachine()
        }
        if let c = cmdline { machine.commandLine = c }
        for a in append where !a.isEmpty {
            machine.commandLine = machine.commandLine.isEmpty ? a : machine.commandLine + " " + a
        }
        return machine
    }

    func presetMachine() throws(InputError) -> Machine {
        let typeName = preset ?? "qemu-pc"
        guard let type = QEMUMachineType(rawValue: typeName) else {
            throw InputError(file: "(options)", field: "--preset", "unknown preset \"\(typeName)\" (qemu-pc, qemu-q35)")
        }
        var nodes: [UInt64] = []
        if let numa {
            for (i, item) in numa.split(separator: ",").enumerated() {
                let parts = item.split(separator: ":")
                guard parts.count == 2, Int(parts[0]) == i, let size = MachineOptions.parseSize(String(parts[1])), size > 0 else {
                    throw InputError(file: "(options)", field: "--numa",
                                     "item \(i + 1) \"\(item)\": expected NODE:SIZE with nodes 0, 1, … in order")
                }
                nodes.append(size)
            }
        }
        var nodeTotal: UInt64 = 0
        for n in nodes {
            let (sum, overflow) = nodeTotal.addingReportingOverflow(n)
            guard !overflow else { throw InputError(file: "(options)", field: "--numa", "the node sizes add up to more than 64 bits") }
            nodeTotal = sum
        }
        var memBytes: UInt64
        if let mem {
            guard let m = MachineOptions.parseSize(mem) else {
                throw InputError(file: "(options)", field: "--mem", "\"\(mem)\" is not a size such as 4G or 512M that fits in 64 bits")
            }
            memBytes = m
            if !nodes.isEmpty && nodeTotal != m {
                throw InputError(file: "(options)", field: "--numa", "the node sizes add up to \(nodeTotal) bytes, not --mem's \(m)")
            }
        } else {
            memBytes = nodes.isEmpty ? 4 << 30 : nodeTotal
        }
        guard memBytes >= 2 << 20, memBytes % (2 << 20) == 0 else {
            throw InputError(file: "(options)", field: "--mem", "QEMU needs a multiple of 2 MiB (at least 2 MiB)")
        }
        guard memBytes <= (1 << maxPhysAddrBits) - (1 << 41) else {
            throw InputError(file: "(options)", field: "--mem", "more than x86-64 can address (52 bits)")
        }
        let cpus = smp ?? 2
        guard (1...255).contains(cpus) else {
            throw InputError(file: "(options)", field: "--smp",
                             "expected 1…255 CPUs (QEMU's pc takes at most 255; more needs x2APIC, which the presets do not model)")
        }
        var p = QEMUPreset(type: type, memBytes: memBytes, cpus: cpus, nodeSizes: nodes)
        p.disk = disk
        return p.machine()
    }

    /// "4G", "512M", "1T", "64K"; a plain number is MiB (as QEMU's -m and capture.sh take it).
    public static func parseSize(_ text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        if bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard let n = UInt64(text), n <= (1 << 43) else { return nil }
            return n << 20
        }
        let (v, n) = memparse(bytes[...])
        guard n == bytes.count, n > 1 else { return nil }
        // memparse() shifts as the kernel does, wrapping: "16E" would be 0. Refuse what wraps.
        let shift: UInt64 = [UInt8(ascii: "k"): 10, UInt8(ascii: "m"): 20, UInt8(ascii: "g"): 30,
                             UInt8(ascii: "t"): 40, UInt8(ascii: "p"): 50, UInt8(ascii: "e"): 60][bytes[n - 1] | 0x20] ?? 0
        let digits = String(decoding: bytes[..<(shift == 0 ? n : n - 1)], as: UTF8.self)
        let number = digits.hasPrefix("0x") ? UInt64(digits.dropFirst(2), radix: 16) : UInt64(digits)
        guard let number, number <= UInt64.max >> shift else { return nil }
        return v
    }
}

/// A file opened for reading, or an error that says what is wrong with it in one line: not
/// there, a directory, unreadable.
public func openFile(_ path: String) throws(InputError) -> FileHandle {
    func fail(_ message: String) -> InputError { InputError(file: path, field: "(file)", message) }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw fail("no such file") }
    guard !isDirectory.boolValue else { throw fail("is a directory, not a file") }
    guard FileManager.default.isReadableFile(atPath: path), let handle = FileHandle(forReadingAtPath: path) else {
        throw fail("permission denied: the file cannot be read")
    }
    return handle
}

/// A file's bytes: `openFile`'s errors, and one for an empty file.
public func readFile(_ path: String) throws(InputError) -> Data {
    let handle = try openFile(path)
    defer { try? handle.close() }
    let data: Data
    do { data = try handle.readToEnd() ?? Data() } catch {
        throw InputError(file: path, field: "(file)", "cannot read: \(error.localizedDescription)")
    }
    guard !data.isEmpty else { throw InputError(file: path, field: "(file)", "the file is empty") }
    return data
}

/// A text file (a boot log, a table): `readFile`, and refused when it holds NUL bytes, which
/// no log or table has.
public func readText(_ path: String) throws(InputError) -> String {
    let data = try readFile(path)
    if data.contains(0) {
        throw InputError(file: path, field: "(file)", "binary data (NUL bytes), not a text file")
    }
    // Invalid UTF-8 decodes with replacement characters and then simply fails to parse.
    return String(decoding: data, as: UTF8.self)
}
