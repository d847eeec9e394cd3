// Booting a QEMU preset for a test, quietly.

import MMCore
import MMText

/// A `qemu-pc` machine with `mem` bytes and two CPUs, booted with `cmdline`.
public func bootPreset(_ cmdline: String, la57: Bool = false, seed: UInt64 = 0, mem: UInt64 = 4 << 30,
                       arch: Arch = .x86_64, quiet: Bool = true) throws -> Kernel {
    var m = QEMUPreset(type: .pc, memBytes: mem, cpus: 2).machine()
    m.commandLine = cmdline
    m.cpus.la57 = la57
    HostMemory.install()
    var k = Kernel(machine: m)
    k.seed = seed
    k.arch = arch
    k.log.enabled = !quiet
    try k.boot()
    return k
}

extension Fixtures {
    /// The QEMU preset a case's case.json describes (machine type, size, CPUs, NUMA nodes,
    /// command line): the prediction made without reading its log.
    public static func presetMachine(_ name: String) throws -> Machine {
        let json = caseJSON(name)
        let type: QEMUMachineType = (json["machine"] as? String) == "q35" ? .q35 : .pc
        guard let memMiB = json["mem_mib"] as? Int, let smp = json["smp"] as? Int,
              let cmdline = json["kernel_cmdline"] as? String else { throw PresetError.incomplete(name) }
        var nodes: [UInt64] = []
        if let numa = json["numa"] as? String, !numa.isEmpty {
            for item in numa.split(separator: ",") {
                guard let size = MachineOptions.parseSize(String(item.split(separator: ":").last ?? "")) else {
                    throw PresetError.incomplete(name)
                }
                nodes.append(size)
            }
        }
        // The capture's own initramfs (a few bytes differ between workloads' images).
        let initrd = (json["initramfs_bytes"] as? Int).map { UInt64($0) } ?? QEMUPreset.oracleInitrdBytes
        return QEMUPreset(type: type, memBytes: UInt64(memMiB) << 20, cpus: smp, nodeSizes: nodes,
                          commandLine: cmdline, initrdBytes: initrd).machine()
    }

    public enum PresetError: Error { case incomplete(String) }
}
