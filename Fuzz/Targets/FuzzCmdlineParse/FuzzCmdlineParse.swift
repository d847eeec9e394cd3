// The kernel command line's parsers alone, without the boot: next_arg()'s split (and the cut at
// COMMAND_LINE_SIZE), memparse() and simple_strtoull() of every value, kstrtobool() of every
// value, `mem=` and `memmap=` applied to the small machine's e820 table and sanitized, and every
// form of `crashkernel=` (plain, ,high, ,low) parsed against its RAM.
import FuzzSupport

let e820 = E820Table(smallMachine.e820)
let systemRAM = smallMachine.e820.filter { $0.type == .ram }.reduce(0) { $0 + $1.size }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let line = KernelCommandLine(text(data, count))
    var log = KernelLog()
    var table = e820
    for p in line.params {
        guard let v = p.value else { continue }
        let bytes = Array(v.utf8)
        _ = memparse(bytes[...])
        _ = simpleStrtoull(bytes[...])
        _ = memparseWhole(v)
        _ = line.bool(p.name, default: false)
        switch p.name {
        case "mem": _ = table.applyMemOption(v, log: &log)
        case "memmap": _ = table.applyMemmapOption(v, log: &log)
        default: break
        }
    }
    _ = table.sanitize()
    for suffix in [nil, CrashkernelSuffix.high, .low] {
        _ = Kernel.parseCrashkernel(line.raw, systemRAM: systemRAM, suffix: suffix, log: &log)
    }
    return 0
}

@_cdecl("FuzzCmdlineParse_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
