// Where the kernel's big virtual regions start: the direct map, vmalloc and the vmemmap, fixed
// under `nokaslr`, randomised per boot otherwise.
//
// Linux: arch/x86/mm/kaslr.c — kernel_randomize_memory(); arch/x86/include/asm/page_64_types.h,
//        pgtable_64_types.h (__PAGE_OFFSET_BASE_L4/L5, VMALLOC_SIZE_TB, CPU_ENTRY_AREA_BASE);
//        Documentation/x86/x86_64/mm.rst.
// Exact: the regions' sizes (the direct map cut to the RAM present plus the 10 TB hotplug
//        padding only without ZONE_DEVICE, vmalloc 32 TB or 12800 TB, the vmemmap sized to the
//        direct map), the entropy split between them, the PUD alignment, physmem_end.
// Simplified: the random numbers come from the boot's seed (Linux draws them from RDRAND and
//        the like), so a seed gives one of the layouts Linux could pick, not a real boot's.

/// The bases kernel_randomize_memory() leaves.
public struct KernelLayout: Sendable, Equatable {
    /// Linux: page_offset_base, vmalloc_base, vmemmap_base.
    public var pageOffsetBase: UInt64
    public var vmallocBase: UInt64
    public var vmemmapBase: UInt64
    /// The three regions' sizes in TB as KASLR sized them (nil without KASLR: the fixed layout).
    public var sizesTB: [UInt64]?
    public var randomized: Bool

    public static func fixed(la57: Bool) -> KernelLayout {
        la57 ? KernelLayout(pageOffsetBase: 0xff11_0000_0000_0000, vmallocBase: 0xffa0_0000_0000_0000,
                            vmemmapBase: 0xffd4_0000_0000_0000, sizesTB: nil, randomized: false)
             : KernelLayout(pageOffsetBase: 0xffff_8880_0000_0000, vmallocBase: 0xffff_c900_0000_0000,
                            vmemmapBase: 0xffff_ea00_0000_0000, sizesTB: nil, randomized: false)
    }
}

extension Kernel {
    /// Linux: CPU_ENTRY_AREA_BASE, where KASLR's range ends (vaddr_end).
    public static let cpuEntryAreaBase: UInt64 = 0xffff_fe00_0000_0000
    /// Linux: CONFIG_RANDOMIZE_MEMORY_PHYSICAL_PADDING (Debian: 0xa).
    static let randomizeMemoryPhysicalPaddingTB: UInt64 = 0xa

    /// Linux: kernel_randomize_memory(), after max_pfn is known.
    mutating func kernelRandomizeMemory() {
        layout = KernelLayout.fixed(la57: la57)
        guard kaslrMemoryEnabled else { return }
        let tbShift: UInt64 = 40
        var sizes: [UInt64] = [1 << (maxPhysmemBits - tbShift), la57 ? 12800 : 32, 0]
        let memoryTB = ((maxPfn.raw << pageShift) + (1 << tbShift) - 1) >> tbShift + Kernel.randomizeMemoryPhysicalPaddingTB
        if !machine.kernel.zoneDevice && memoryTB < sizes[0] { sizes[0] = memoryTB }
        let vmemmapSize = (sizes[0] << (tbShift - pageShift)) * 64
        sizes[2] = (vmemmapSize + (1 << tbShift) - 1) >> tbShift
        let start = layout.pageOffsetBase
        var remain = Kernel.cpuEntryAreaBase - start
        for s in sizes { remain -= s << tbShift }
        var rng = SplitMix64(seed: seed ^ 0x4d65_6d6f_7279)   // kaslr_get_random_long("Memory")
        var vaddr = start
        var bases: [UInt64] = []
        for i in 0..<sizes.count {
            var entropy = remain / UInt64(sizes.count - i)
            entropy = (rng.next() % (entropy + 1)) & ~(pudSize - 1)
            vaddr += entropy
            bases.append(vaddr)
            vaddr += sizes[i] << tbShift
            vaddr = roundUp(vaddr + 1, pudSize)
            remain -= entropy
        }
        layout = KernelLayout(pageOffsetBase: bases[0], vmallocBase: bases[1], vmemmapBase: bases[2], sizesTB: sizes, randomized: true)
    }
}
