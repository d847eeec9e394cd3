// What only the boot needs: cursors and flags the early steps hand each other, kept apart from
// the machine's lasting state.
//
// Linux: arch/x86/mm/init.c — pgt_buf_start, pgt_buf_end, pgt_buf_top, can_use_brk_pgt
//        (alloc_low_pages()'s .brk buffer); init/main.c — free_initmem()'s walk through the
//        image; kernel/panic.c — a panic() raised where the model's step cannot throw.

/// The boot's scratch state. Linux keeps these in __initdata and frees them with the init
/// sections; kmemlab keeps them in one value, so nothing at run time depends on them.
public struct BootScratch: Sendable {
    /// Linux: pgt_buf_start, pgt_buf_end, pgt_buf_top (the .brk page-table buffer, in pfns).
    public var pgtBufStart = Pfn(0), pgtBufEnd = Pfn(0), pgtBufTop = Pfn(0)
    /// Linux: can_use_brk_pgt — the .brk buffer may hold tables for the range being mapped.
    var canUseBrkPgt = true
    /// Where the next part of the kernel image that boot frees lies (the parts are laid out one
    /// after another from the image's start).
    var imageFreeCursor: UInt64 = 0
    /// A panic raised inside a step that cannot throw; boot() throws it after the step.
    var pendingPanic: String?
    /// Stop where start_kernel() calls trace_init(): a kmem trace recorded from the command
    /// line begins there, and its replay brings the rest of the boot (Boot/TraceInit.swift).
    public var stopAtTraceInit = false
    /// The pfn ranges boot handed to the buddy allocator after memblock_free_all(), in order
    /// (deferred pages, memblock's freed arrays, the initrd, the image's freed parts): each boot
    /// step records how many there were when it began, so a step can show what it freed.
    public internal(set) var lateFreed: [Range<UInt64>] = []

    public init() {}
}
