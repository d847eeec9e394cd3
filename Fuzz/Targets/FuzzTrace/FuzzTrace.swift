// The kmem trace reader, the pairing summary, perf kmem stat's tables, and both replays on a
// copy of one small machine booted to trace_init(): any text is events, skipped lines, or one
// InputError naming its line and field; every event, however hostile its pfn, order, CPU or
// sizes, is applied or refused, and the page allocator's invariants hold afterwards.
import FuzzSupport

let atTraceInit: Kernel = {
    var k = Kernel(machine: smallMachine)
    k.log.enabled = false
    k.scratch.stopAtTraceInit = true
    try? k.boot()
    return k
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var s = TraceSummary(fileName: "fuzz.txt")
    var stat = KmemStat(cpuToNode: [0, 0])
    var decide = DecideReplay(kernel: atTraceInit)
    var recorded = TraceReplay(kernel: atTraceInit)
    // Lines by their bytes, as `kmemlab replay` reads a file (TraceFile.forEachLine).
    let bytes = UnsafeBufferPointer(start: data, count: data == nil ? 0 : count)
    var start = 0, number = 0
    while start <= bytes.count {
        var end = start
        while end < bytes.count, bytes[end] != 0x0a { end += 1 }
        number += 1
        if let e = try? s.add(TraceLine(bytes: UnsafeBufferPointer(rebasing: bytes[start..<end])), number: number) {
            stat.add(e)
            decide.apply(e)
            recorded.apply(e)
        }
        start = end + 1
    }
    _ = s.text
    _ = stat.slabText(lines: 3) + stat.pageText(lines: 3)
    _ = decide.text + recorded.text
    if let broken = decide.kernel.checkPageAllocInvariants() ?? recorded.kernel.checkPageAllocInvariants() {
        fatalError("invariant broken after a replay: \(broken)")
    }
    return 0
}

@_cdecl("FuzzTrace_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
