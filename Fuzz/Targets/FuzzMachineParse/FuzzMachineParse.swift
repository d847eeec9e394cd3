// The machine-file reader alone: any bytes are a machine or one InputError naming its field.
import Foundation
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let data, count > 0 else { return 0 }
    _ = try? MachineFile.decode(Data(bytes: data, count: count), fileName: "fuzz.json")
    return 0
}

@_cdecl("FuzzMachineParse_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
