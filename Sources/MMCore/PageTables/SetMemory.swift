// Changing the protections of kernel mappings after boot: set_memory_ro/rw/nx/x, the large
// pages they split, and mark_rodata_ro(), which uses them to protect the kernel image.
//
// Linux: arch/x86/mm/pat/set_memory.c — change_page_attr_set_clr(), __change_page_attr(),
//        should_split_large_page() (keep a large page whose protections do not change, or that
//        the request covers whole), split_large_page() (512 entries from the buddy allocator,
//        linked with _KERNPG_TABLE, counted in direct_pages_count), cpa_process_alias() (a
//        change to the kernel image's high mapping also applies to its direct-map alias, NX
//        excepted); arch/x86/mm/init_64.c — mark_rodata_ro(); arch/x86/mm/init.c —
//        free_kernel_image_pages(), free_init_pages().
// Simplified: static_protections() is not consulted (boot's own calls never conflict with it);
// no TLB flushing is modelled.

extension Kernel {
    /// Linux: change_page_attr_set_clr() on `pages` pages from `va`: set the bits in `set`, clear
    /// those in `clear`; a high-mapping address also changes its direct-map alias.
    public mutating func changePageAttr(_ va: UInt64, pages: UInt64, set: UInt64, clear: UInt64) {
        changePageAttrRange(va, va &+ pages << pageShift, set: set, clear: clear)
        if va >= Kernel.startKernelMap && va < Kernel.startKernelMap + Kernel.kernelImageSize {
            // cpa_process_alias(): the direct map always has NX, so NX changes stay in the image.
            let alias = directMapVirt(paSymbol(va))
            changePageAttrRange(alias, alias &+ pages << pageShift, set: set & ~PTE.nx, clear: clear & ~PTE.nx)
        }
    }

    /// Linux: set_memory_ro/rw/nx/x.
    public mutating func setMemoryRO(_ va: UInt64, _ pages: UInt64) { changePageAttr(va, pages: pages, set: 0, clear: PTE.rw) }
    public mutating func setMemoryRW(_ va: UInt64, _ pages: UInt64) { changePageAttr(va, pages: pages, set: PTE.rw, clear: 0) }
    public mutating func setMemoryNX(_ va: UInt64, _ pages: UInt64) { changePageAttr(va, pages: pages, set: PTE.nx, clear: 0) }
    public mutating func setMemoryX(_ va: UInt64, _ pages: UInt64) { changePageAttr(va, pages: pages, set: 0, clear: PTE.nx) }

    /// Linux: __change_page_attr_set_clr() over [start, end) of one mapping (no aliases).
    mutating func changePageAttrRange(_ start: UInt64, _ end: UInt64, set: UInt64, clear: UInt64) {
        var va = start
        while va < end {
            let w = pageWalk(va)
            guard let leaf = w.steps.last, let size = leaf.leafPage?.size else { va += pageSize; continue }
            let entryAddr = leaf.table + UInt64(leaf.index) * 8
            let old = leaf.entry
            let new = (old & ~clear) | set
            let pageStart = roundDown(va, size)
            if leaf.level == .pte || new == old || (pageStart == va && end - va >= size) {
                // should_split_large_page(): no change, or the whole large page changes alike.
                if new != old { physMem.writeWord(entryAddr, new) }
                va = pageStart + size
                continue
            }
            // Linux returns -ENOMEM when the split's page cannot be had; the rest stays as it is.
            guard splitLargePage(entryAddr, old, leaf.level, va: pageStart) else { return }
        }
    }

    /// Linux: split_large_page(): a 1 GiB or 2 MiB leaf becomes a table of 512 leaves one size
    /// down with the same protections, so that part of it can change.
    /// false when no page was free for the new table.
    mutating func splitLargePage(_ entryAddr: PhysAddr, _ old: UInt64, _ level: PageTableLevel, va: UInt64) -> Bool {
        guard let pfn = allocPages([.zero], order: 0) else { return false }
        let table = pfn.physAddr
        let childSize: UInt64 = level == .pud ? pmdSize : pageSize
        // Bit 12 of a large entry is its PAT bit, inside the address mask: carried over by hand.
        var flags = old & ~PTE.pfnMask
        let pat = old & PTE.patLarge != 0
        if level == .pmd {
            // 4 KiB entries: no PSE; the PAT bit moves to bit 7.
            flags &= ~PTE.pse
            if pat { flags |= PTE.pse }
        } else if pat {
            flags |= PTE.patLarge
        }
        let base = old & PTE.pfnMask & ~(childSize * 512 - 1)
        physMem.writeRun(pfn.raw, index: 0, count: 512, first: base | flags, step: childSize)
        physMem.writeWord(entryAddr, table | PTE.kernTable)
        // split_page_count(): only pages that are part of the direct map's RAM are counted
        // (the image's high mapping counts too: virt_addr_valid() accepts it). The counts are
        // unsigned longs in Linux and wrap as they do (a leaf the model never counted, as when
        // a hostile machine's data landed on a page table, makes one go below zero).
        let phys = va >= Kernel.startKernelMap ? paSymbol(va) : va &- pageOffset
        if pfnRangeIsMapped(Pfn.down(phys), Pfn(Pfn.down(phys).raw + 1)) {
            if level == .pmd { directPagesCount[1] &-= 1; directPagesCount[0] &+= 512 }
            else { directPagesCount[2] &-= 1; directPagesCount[1] &+= 512 }
        }
        return true
    }

    /// Linux: mark_rodata_ro(): the text and read-only data become read-only (in the direct map
    /// too), everything after the text non-executable, and the alignment gaps around the
    /// read-only data are given back; then the W+X check.
    mutating func markRodataRO() {
        let start = kernelTextVirt
        let gaps = rodataGaps
        let end = gaps.data.end                                   // __end_rodata_hpage_align
        log.info("Write protecting the kernel read-only data: \((end - start) >> 10)k")
        setMemoryRO(start, (end - start) >> pageShift)
        let allEnd = roundUp(imageVirt(machine.kernel.brkEnd), pmdSize)   // roundup(_brk_end, PMD_SIZE)
        setMemoryNX(gaps.text.begin, (allEnd - gaps.text.begin) >> pageShift)
        freeKernelImagePages("unused kernel image (text/rodata gap)", gaps.text.begin, gaps.text.end)
        freeKernelImagePages("unused kernel image (rodata/data gap)", gaps.data.begin, gaps.data.end)
        debugCheckWX()
    }

    /// The two alignment gaps mark_rodata_ro() gives back, as kernel-image virtual ranges:
    /// PFN_ALIGN(_etext) to __start_rodata, and PFN_ALIGN(__end_rodata) to
    /// __end_rodata_hpage_align (= _sdata).
    var rodataGaps: (text: (begin: UInt64, end: UInt64), data: (begin: UInt64, end: UInt64)) {
        let k = machine.kernel
        let rodataStart = imageVirt(k.rodataStart)
        let end = imageVirt(k.dataStart)
        return ((rodataStart - k.textRodataGapSize, rodataStart), (end - k.rodataDataGapSize, end))
    }

    /// The last page kernel_init() frees before run_init_process() starts the first program:
    /// the rodata/data gap's last page (or the text/rodata gap's, when the other is empty).
    /// A traced boot's mm_page_free of it ends the boot part of the trace. Nil when neither gap
    /// has a page.
    public var kernelInitLastFreedPfn: Pfn? {
        let gaps = rodataGaps
        for gap in [gaps.data, gaps.text] where gap.end >= gap.begin + pageSize {
            return Pfn.down(paSymbol(gap.end - pageSize))
        }
        return nil
    }

    /// Linux: free_kernel_image_pages() → free_init_pages(): writable and non-executable first,
    /// then the pages go to the buddy allocator.
    mutating func freeKernelImagePages(_ what: String, _ begin: UInt64, _ end: UInt64) {
        guard end > begin else { return }
        let pages = (end - begin) >> pageShift
        setMemoryNX(begin, pages)
        setMemoryRW(begin, pages)
        let pfn = Pfn.down(paSymbol(begin))
        freeReservedPages(pfn, pfn + pages)
        log.info("Freeing \(what) memory: \(pages << (pageShift - 10))K")
    }
}
