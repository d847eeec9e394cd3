// The boot, step by step: where each of start_kernel()'s memory steps begins in the log, and
// what memory looked like at that moment.
//
// Linux: init/main.c — start_kernel(), mm_init(), kernel_init_freeable();
//        arch/x86/kernel/setup.c — setup_arch(). (The kernel keeps no such record; this is the
//        model narrating its own run of those functions.)
// Why: a learner reads a boot log as one stream. `kmemlab boot --steps` puts a heading before
//        each step's lines, with the Linux function and file, and says what the step did to
//        memory (memblock's reserved and memory totals, the buddy allocator's free pages); the
//        explorer's timeline steps through the same marks. Recording one costs a few words.

/// One step of the boot, as recorded when it began.
public struct BootStep: Sendable, Equatable {
    /// The Linux function the step models, as the kernel names it.
    public var function: String
    /// The file that holds it.
    public var file: String
    /// Where the step's lines start in the log (an index into `KernelLog.lines`).
    public var firstLine: Int
    /// memblock.reserved's and memblock.memory's totals, in bytes, when the step began.
    public var reserved: UInt64
    public var memory: UInt64
    /// Pages on the buddy allocator's free lists and pcp lists when the step began (0 before
    /// memblock_free_all()).
    public var freePages: UInt64
    /// memblock.reserved's and memblock.memory's regions when the step began (what a step
    /// reserved or added is the difference to the next step's).
    public var reservedRegions: [PhysRange]
    public var memoryRegions: [PhysRange]
    /// How many of `BootScratch.lateFreed`'s ranges existed when the step began.
    public var lateFreedCount: Int
}

extension Kernel {
    /// Marks the start of a boot step.
    mutating func step(_ function: String, _ file: String) {
        bootSteps.append(mark(function, file))
    }

    /// The state after the last step, as a step record (for the last step's summary): as boot()
    /// left it, or now for a boot that has not returned.
    public var bootEnd: BootStep { bootEndMark ?? mark("end", bootSteps.last?.file ?? "") }

    /// Memory as it stands now, under a step's name.
    func mark(_ function: String, _ file: String) -> BootStep {
        var free: UInt64 = 0
        for node in pageAlloc.nodes {
            for z in node.zones { free += z.freePages; for p in z.pcp { free += p.count } }
        }
        return BootStep(function: function, file: file, firstLine: log.lines.count,
                        reserved: memblock.reserved.totalSize, memory: memblock.memory.totalSize, freePages: free,
                        reservedRegions: memblock.reserved.regions.map { PhysRange(start: $0.base, size: $0.size) },
                        memoryRegions: memblock.memory.regions.map { PhysRange(start: $0.base, size: $0.size) },
                        lateFreedCount: scratch.lateFreed.count)
    }
}
