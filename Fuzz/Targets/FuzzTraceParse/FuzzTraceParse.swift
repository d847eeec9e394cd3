// The kmem trace reader alone: each line by its bytes, as `kmemlab replay` reads a file, through
// TraceReader (an event, a skipped line, or one InputError naming its line and field), then the
// alloc/free pairing summary `kmemlab replay` prints.
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var s = TraceSummary(fileName: "fuzz.txt")
    forEachTraceLine(data, count) { line, number in _ = try? s.add(line, number: number) }
    _ = s.text
    return 0
}

@_cdecl("FuzzTraceParse_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
