// The workload language's reader alone: any text is a workload or one InputError naming its line.
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    _ = try? Workload(parsing: text(data, count), file: "fuzz")
    return 0
}

@_cdecl("FuzzWorkloadParse_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
