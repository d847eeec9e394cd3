// The workload language: a script is parsed and run on a copy of one small booted machine; a bad
// script is an InputError, a run stops at its step limit, and the page allocator's invariants
// hold afterwards, every process having exited.
import FuzzSupport

let booted = boot(smallMachine)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let w = try? Workload(parsing: text(data, count), file: "fuzz") else { return 0 }
    var r = WorkloadRunner(kernel: booted, recordSyscalls: true)
    r.maxSteps = 20000
    try? r.run(w)
    r.finish()
    if let broken = r.kernel?.checkPageAllocInvariants() {
        fatalError("invariant broken after a workload: \(broken)")
    }
    return 0
}

@_cdecl("FuzzWorkload_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
