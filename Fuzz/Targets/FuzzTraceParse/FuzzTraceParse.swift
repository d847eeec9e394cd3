// The kmem trace reader alone: each line by its bytes, as `kmemlab replay` reads a file, through
// TraceReader (an event, a skipped line, or one InputError naming its line and field), then the
// alloc/free pairing summary `kmemlab replay` prints.
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var s = TraceSummary(fileName: "fuzz.txt")
    let bytes = UnsafeBufferPointer(start: data, count: data == nil ? 0 : count)
    var start = 0, number = 0
    while start <= bytes.count {
        var end = start
        while end < bytes.count, bytes[end] != 0x0a { end += 1 }
        number += 1
        _ = try? s.add(TraceLine(bytes: UnsafeBufferPointer(rebasing: bytes[start..<end])), number: number)
        start = end + 1
    }
    _ = s.text
    return 0
}

@_cdecl("FuzzTraceParse_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
