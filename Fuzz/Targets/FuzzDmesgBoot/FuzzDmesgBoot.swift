// The boot-log reader and the boot that follows: whatever the reader accepts boots to the end
// or to the kernel's own panic, and the /proc files render.
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let m = try? DmesgParser(fileName: "fuzz.txt").parse(text(data, count)) else { return 0 }
    let k = boot(m)
    if !k.nodes.isEmpty { _ = ProcFiles.render("zoneinfo", k) }
    return 0
}

@_cdecl("FuzzDmesgBoot_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
