// The shell language alone: each input line read and run as a command on a fresh copy of one
// booted machine, as FuzzShell does, but without the invariant walks after it (those check the
// allocators, not the reader), so far more inputs go through the command reader.
import FuzzSupport

let booted = boot(smallMachine)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var shell = AllocShell(kernel: booted, source: "fuzz")
    runShellLines(&shell, data, count)
    return 0
}

@_cdecl("FuzzShellParse_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
