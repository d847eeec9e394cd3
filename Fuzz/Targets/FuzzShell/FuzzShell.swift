// The alloc/slab shell language: each input line is a command on a fresh copy of one booted
// machine; a bad command is an InputError, and the model's invariants hold afterwards.
import FuzzSupport

let booted = boot(smallMachine)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var shell = AllocShell(kernel: booted, source: "fuzz")
    runShellLines(&shell, data, count)
    if let broken = shell.kernel.checkPageAllocInvariants() ?? shell.kernel.checkSlubInvariants() {
        fatalError("invariant broken after shell input: \(broken)")
    }
    return 0
}

@_cdecl("FuzzShell_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
