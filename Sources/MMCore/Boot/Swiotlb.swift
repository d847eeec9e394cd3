// The bounce buffer for devices that cannot reach all of memory.
//
// Linux: arch/x86/kernel/pci-dma.c — pci_iommu_alloc(), pci_swiotlb_detect();
//        kernel/dma/swiotlb.c — setup_io_tlb_npages() (`swiotlb=`), swiotlb_adjust_nareas(),
//        swiotlb_init_remap(), swiotlb_memblock_alloc().
// Exact: whether it is set up (RAM above 4 GiB, or `swiotlb=force`), its 64 MiB below 4 GiB,
//        the slot and area arrays, and the "area num" line. It is the largest reservation a
//        machine above 4 GiB makes, and it sits at the top of ZONE_DMA32.

extension Kernel {
    /// Linux: IO_TLB_SHIFT (2 KiB slabs) and IO_TLB_SEGSIZE.
    static let ioTLBShift: UInt64 = 11
    static let ioTLBSegsize: UInt64 = 128

    /// Linux: swiotlb_size_or_default() in slabs: 64 MiB, or `swiotlb=`'s first number rounded up
    /// to a segment.
    func swiotlbDefaultNslabs() -> UInt64 {
        let option = commandLine.last("swiotlb") ?? ""
        guard let first = option.split(separator: ",", omittingEmptySubsequences: false).first,
              let v = UInt64(first) else { return (64 * SZ_1M) >> Kernel.ioTLBShift }
        return roundUp(v, Kernel.ioTLBSegsize)
    }

    /// Linux: pci_iommu_alloc() on bare metal: no IOMMU is modelled, so only swiotlb.
    mutating func pciIOMMUAlloc() {
        log.info("AGP: Checking aperture...")
        log.info("AGP: No AGP bridge found")
        let option = commandLine.last("swiotlb") ?? ""
        let parts = option.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var nslabs = swiotlbDefaultNslabs()
        var nareas: UInt64 = 0
        var force = false, disable = false
        for (i, p) in parts.enumerated() {
            if let v = UInt64(p), i < 2 {
                if i == 1 { nareas = v }
            } else if p == "force" { force = true } else if p == "noforce" { disable = true }
        }
        let enable = commandLine.last("iommu") != "off" && maxPossiblePfn.raw > (1 << (32 - pageShift))
        guard enable || force, !disable else { return }
        // swiotlb_adjust_nareas(num_possible_cpus()) unless `swiotlb=,N` chose already.
        if nareas == 0 { nareas = UInt64(Swift.max(1, machine.cpus.possible)) }
        nareas = Kernel.roundupPowOfTwo(nareas)
        log.info("software IO TLB: area num \(nareas).")
        // (unsigned long arithmetic throughout, wrapping for absurd swiotlb= values as the kernel's does)
        if nslabs < Kernel.ioTLBSegsize &* nareas || nslabs & (nslabs &- 1) != 0 {
            nslabs = Kernel.roundupPowOfTwo(Swift.max(nslabs, Kernel.ioTLBSegsize &* nareas))
            log.info("software IO TLB: SWIOTLB bounce buffer size roundup to \((nslabs << Kernel.ioTLBShift) >> 20)MB")
        }
        var tlb: PhysAddr = 0
        let wanted = nslabs
        while true {
            tlb = memblock.allocLow(size: roundUp(nslabs << Kernel.ioTLBShift, pageSize), align: pageSize,
                                    caller: Caller("swiotlb_init_remap+0x8a/0x22d"), log: &log)
            if tlb != 0 { break }
            log.info("software IO TLB: swiotlb_memblock_alloc: Failed to allocate \(roundUp(nslabs << Kernel.ioTLBShift, pageSize)) bytes tlb structure")
            if nslabs <= 1024 { return }
            nslabs = roundUp(nslabs >> 1, Kernel.ioTLBSegsize)
        }
        if nslabs != wanted { log.info("software IO TLB: SWIOTLB bounce buffer size adjusted \(wanted) -> \(nslabs) slabs") }
        swiotlb = (tlb, nslabs << Kernel.ioTLBShift)
        _ = memblock.allocTryNid(size: roundUp(24 &* nslabs, pageSize), align: pageSize,
                                 caller: Caller("swiotlb_init_remap+0x152/0x22d"), log: &log)
        _ = memblock.allocTryNid(size: 16 &* nareas, align: 64, caller: Caller("swiotlb_init_remap+0x1a8/0x22d"), log: &log)
    }
}
