// The kernel command line: any text is a command line the small machine boots with (Linux
// accepts every command line; bad values get its warnings, or its panic).
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var m = smallMachine
    m.commandLine = text(data, count)
    _ = boot(m)
    return 0
}

@_cdecl("FuzzCmdline_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
