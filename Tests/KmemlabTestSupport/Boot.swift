// Booting a QEMU preset for a test, quietly.

import MMCore
import MMText

/// A `qemu-pc` machine with `mem` bytes and two CPUs, booted with `cmdline`.
public func bootPreset(_ cmdline: String, la57: Bool = false, seed: UInt64 = 0, mem: UInt64 = 4 << 30,
                       arch: Arch = .x86_64, quiet: Bool = true) throws -> Kernel {
    var m = QEMUPreset(type: .pc, memBytes: mem, cpus: 2).machine()
    m.commandLine = cmdline
    m.cpus.la57 = la57
    var k = Kernel(machine: m)
    k.seed = seed
    k.arch = arch
    k.log.enabled = !quiet
    try k.boot()
    return k
}
