// The boot-log reader alone: any bytes are a log or one InputError naming its line.
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    _ = try? DmesgParser(fileName: "fuzz.txt").parse(text(data, count), inferBuild: false)
    return 0
}

@_cdecl("FuzzDmesg_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
