// The machine-file reader, and the boot of whatever it accepts.
import Foundation
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let data, count > 0,
          let m = try? MachineFile.decode(Data(bytes: data, count: count), fileName: "fuzz.json") else { return 0 }
    _ = boot(m)
    return 0
}

@_cdecl("FuzzMachineFile_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
