// The kmem trace reader and the pairing summary: any text is events, skipped lines, or one
// InputError naming its line and field.
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var s = TraceSummary(fileName: "fuzz.txt")
    for (i, line) in text(data, count).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        do { try s.add(line, number: i + 1) } catch { break }
    }
    _ = s.text
    return 0
}

@_cdecl("FuzzTrace_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
