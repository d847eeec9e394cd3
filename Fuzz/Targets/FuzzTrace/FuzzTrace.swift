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
    forEachTraceLine(data, count) { line, number in
        if let e = try? s.add(line, number: number) {
            stat.add(e, names: s.reader)
            decide.apply(e)
            recorded.apply(e)
        }
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
