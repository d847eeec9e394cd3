// `kmemlab boot --steps`: every line of the log under exactly one step, in order, and each
// step's summary agreeing with the state the model reaches.

import MMCore
import MMText
import KmemlabTestSupport
import Testing

@Suite("the boot, step by step")
struct BootStepsTests {
    @Test("the steps partition the log and their summaries add up")
    func steps() throws {
        let k = try bootPreset(QEMUPreset.oracleCommandLine, mem: 4 << 30, quiet: false)
        let steps = k.bootSteps
        #expect(steps.count >= 20)
        #expect(steps.first?.firstLine == 0)
        #expect(zip(steps, steps.dropFirst()).allSatisfy { $0.firstLine <= $1.firstLine })
        let text = BootStepsText.lines(k)
        // Every log line appears once, in order, with headings and summaries between them.
        #expect(text.filter { $0.hasPrefix("[    0.000000] ") } == k.log.rendered())
        #expect(text.filter { $0.hasPrefix("── ") }.count == steps.count)
        // Before memblock_free_all nothing is on the free lists; after it, the pages are.
        let handOver = try #require(steps.firstIndex { $0.function.hasPrefix("mem_init()") })
        #expect(steps[handOver].freePages == 0 && steps[handOver + 1].freePages > 0)
        // The crash-kernel step changes nothing without crashkernel=.
        let crash = try #require(steps.firstIndex { $0.function == "reserve_crashkernel()" })
        #expect(steps[crash].reserved == steps[crash + 1].reserved)
        #expect(text.contains("   ⇒ no change to memblock or the free lists"))
    }

    @Test("the last step ends where boot() returned: work on the machine afterwards is not its")
    func lastStepEndsWithBoot() throws {
        var k = try bootPreset(QEMUPreset.oracleCommandLine, mem: 1 << 30, quiet: false)
        let before = try #require(BootStepsText.changes(k).last)
        // A bad free after boot logs a Bad page report and allocations change the free lists.
        _ = k.freePages(Pfn(0x10), order: 0)
        for _ in 0..<100 { _ = k.allocPages(.gfpKernel, order: 0) }
        let after = try #require(BootStepsText.changes(k).last)
        #expect(k.log.lines.count > before.next.firstLine)
        #expect(after.next == before.next && after.change == before.change)
        #expect(BootStepsText.summary(after.step, after.next) == BootStepsText.summary(before.step, before.next))
    }

    @Test("the crash kernel's step reports its reservation")
    func crashStep() throws {
        let k = try bootPreset(QEMUPreset.oracleCommandLine + " crashkernel=256M", mem: 4 << 30, quiet: false)
        let text = BootStepsText.lines(k)
        let heading = try #require(text.firstIndex(of: "── reserve_crashkernel()   [arch/x86/kernel/setup.c]"))
        let summary = try #require(text[heading...].first { $0.hasPrefix("   ⇒ ") })
        #expect(summary.hasPrefix("   ⇒ reserved +256 MiB"))
    }
}
