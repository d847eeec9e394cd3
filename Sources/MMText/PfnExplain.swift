// `kmemlab pfn`: how the chosen memory model turns a page frame number into its struct page and
// back, step by step, with the numbers of the booted machine.
//
// Linux: include/asm-generic/memory_model.h (__pfn_to_page/__page_to_pfn for FLATMEM,
//        SPARSEMEM and SPARSEMEM_VMEMMAP), include/linux/mmzone.h (pfn_to_section_nr,
//        __nr_to_section, __section_mem_map_addr, SECTIONS_PER_ROOT), mm/sparse.c
//        (sparse_encode_mem_map, sparse_decode_mem_map).

import MMCore

public enum PfnExplain {
    public static func lines(_ k: Kernel, _ frame: Pfn) -> [String] {
        let pfn = frame.raw
        var out: [String] = []
        let model: String
        switch k.memoryModel {
        case .flat: model = "FLATMEM"
        case .sparse: model = "SPARSEMEM (classic, SPARSEMEM_EXTREME)"
        case .vmemmap: model = "SPARSEMEM_VMEMMAP (Debian's)"
        }
        out.append("pfn \(hex(pfn)) = physical \(hex(pfn << 12))–\(hex((pfn << 12) + 4095)), memory model \(model)")
        guard let loc = k.structPage(frame) else {
            out.append("pfn_valid(\(hex(pfn))) is false: " + (k.memoryModel == .flat ? "beyond the node's mem_map" : "section \(pfn >> pfnSectionShift) is not present"))
            out.append("pfn_to_page() must not be called for it; pfn_to_online_page() returns NULL")
            return out
        }
        switch loc.model {
        case .flat:
            out.append("1. pfn_to_page(pfn) = mem_map + (pfn − ARCH_PFN_OFFSET)        [ARCH_PFN_OFFSET is 0 on x86]")
            out.append("   mem_map = NODE_DATA(\(loc.nid))->node_mem_map, allocated by alloc_node_mem_map() at \(hex(loc.sectionMap)) (direct map \(hex(k.directMapVirt(loc.sectionMap))))")
            out.append("   = \(hex(k.directMapVirt(loc.sectionMap))) + \(hex(pfn)) × 64 = \(hex(loc.virt))")
            out.append("2. page_to_pfn(page) = (page − mem_map) / sizeof(struct page) + ARCH_PFN_OFFSET = \(hex((loc.virt &- k.directMapVirt(loc.sectionMap)) / 64))")
        case .sparse:
            let s = loc.section!
            out.append("1. section = pfn_to_section_nr(pfn) = pfn >> PFN_SECTION_SHIFT (15) = \(s)")
            out.append("2. ms = __nr_to_section(section) = &mem_section[\(s / 128)][\(s % 128)]   [SECTIONS_PER_ROOT 128; the root array at \(hex(k.sections.rootArray))]")
            let encoded = k.directMapVirt(loc.sectionMap) &- (s << pfnSectionShift) &* 64
            out.append("3. ms->section_mem_map holds the section's struct pages minus its first pfn: \(hex(k.directMapVirt(loc.sectionMap))) − \(hex(s << pfnSectionShift)) × 64 = \(hex(encoded)) (| SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP | SECTION_IS_ONLINE | SECTION_IS_EARLY, and the node id, in the low bits)")
            out.append("4. pfn_to_page(pfn) = __section_mem_map_addr(ms) + pfn = \(hex(encoded)) + \(hex(pfn)) × 64 = \(hex(loc.virt))")
            out.append("5. page_to_pfn(page): the section number is kept in page->flags; page − __section_mem_map_addr(__nr_to_section(\(s))) = \(hex((loc.virt &- encoded) / 64))")
        case .vmemmap:
            let s = loc.section!
            out.append("1. pfn_to_page(pfn) = vmemmap + pfn = \(hex(k.vmemmapBase)) + \(hex(pfn)) × 64 = \(hex(loc.virt))")
            out.append("2. page_to_pfn(page) = page − vmemmap = \(hex((loc.virt &- k.vmemmapBase) / 64))   (no lookup either way)")
            out.append("   the vmemmap is backed section by section: section \(s)'s struct pages are a 2 MiB PMD mapping of \(hex(loc.sectionMap)) (node \(loc.nid)'s memmap buffer)")
        }
        if let p = loc.phys { out.append("the struct page itself is at physical \(hex(p)) (node \(loc.nid))") }
        out.append(state(k, frame))
        if frame < k.memmap.endPfn { out.append(contentsOf: descriptor(k, frame)) }
        out.append(contentsOf: history(k, pfn))
        return out
    }

    /// How the page got there, from what the boot recorded: the steps that added it to memblock,
    /// reserved it (with the memblock=debug line that did, naming the caller), dropped the
    /// reservation, or handed it to the buddy allocator. (After boot the model keeps no
    /// per-page history: allocations since are the page state's.)
    static func history(_ k: Kernel, _ pfn: UInt64) -> [String] {
        var out: [String] = []
        func holds(_ ranges: [Range<UInt64>]) -> Bool { ranges.contains { $0.contains(pfn) } }
        let deferredFrom = k.memmap.zoneSlot(Pfn(pfn)).flatMap { k.pageAlloc.nodeIndex($0.nid) }.map { k.nodes[$0].firstDeferredPfn.raw } ?? .max
        for (s, next, c) in BootStepsText.changes(k) {
            if holds(c.memory) { out.append("  \(s.function): added to memblock.memory") }
            if holds(c.reserved) { out.append("  \(s.function): reserved in memblock" + (reserveLine(k, pfn, s, next).map { " — " + $0 } ?? "")) }
            if holds(c.unreserved) { out.append("  \(s.function): its reservation dropped") }
            if holds(c.freed) { out.append("  \(s.function): given to the buddy allocator") }
            if s.function.contains("memblock_free_all"), pfn < deferredFrom,
               holds(BootStepsText.pfnRanges(next.memoryRegions)), !holds(BootStepsText.pfnRanges(next.reservedRegions)) {
                out.append("  \(s.function): given to the buddy allocator (free in memblock)")
            }
        }
        return out.isEmpty ? ["how it got there: no boot step touched it"] : ["how it got there (boot):"] + out
    }

    /// The memblock=debug line of a step that reserved `pfn`: the memblock_reserve covering
    /// it, or for an allocation the memblock_alloc… line before it (which names the caller).
    static func reserveLine(_ k: Kernel, _ pfn: UInt64, _ s: BootStep, _ next: BootStep) -> String? {
        let lines = k.log.lines
        let addr = pfn << pageShift
        var i = Swift.min(next.firstLine, lines.count)
        while i > s.firstLine {
            i -= 1
            let l = lines[i]
            guard l.hasPrefix("memblock_reserve: [0x"), let dash = l.firstIndex(of: "-"), let close = l[dash...].firstIndex(of: "]"),
                  let a = UInt64(l[l.index(l.startIndex, offsetBy: 21)..<dash], radix: 16),
                  let from = l.index(dash, offsetBy: 3, limitedBy: close),
                  let b = UInt64(l[from..<close], radix: 16),
                  a <= addr &+ pageSize &- 1, addr <= b else { continue }
            // An allocation's reserve names memblock itself; the line before names the caller.
            if l.contains("memblock_alloc_range_nid"), i > 0, lines[i - 1].hasPrefix("memblock_") { return lines[i - 1] }
            return l
        }
        return nil
    }

    /// The struct page's fields as dump_page() names them, and its pageblock's type.
    static func descriptor(_ k: Kernel, _ pfn: Pfn) -> [String] {
        let d = k.memmap.page(pfn)
        let buddy = k.memmap.buddyOrder(pfn)
        let order = buddy?.raw ?? (d.flags.contains(.head) ? Int(d.order) : 0)
        let block = pfn.alignedDown(.pageblock)
        return ["struct page: refcount \(d.refcount), mapcount \(k.memmap.dumpMapcount(pfn))\(buddy != nil ? " (PageBuddy)" : ""), order \(order), flags: \(k.pageAlloc.pageFlagsText(pfn))",
                "pageblock \(hex(block))–\(hex(block + pageblockNrPages - 1)): \(k.memmap.pageblockMigratetype(pfn).name)"]
    }

    /// What the page is now, in the model.
    static func state(_ k: Kernel, _ pfn: Pfn) -> String {
        guard pfn < k.memmap.endPfn else { return "page state: outside every zone" }
        let zone = k.memmap.zoneSlot(pfn).map { "node \($0.nid), zone \($0.zoneName)" } ?? "no zone"
        if let o = k.memmap.buddyOrder(pfn) {
            return "page state: free, heads an order-\(o) block on a buddy list (\(zone))"
        }
        let d = k.memmap.page(pfn)
        if d.flags.contains(.reserved) { return "page state: reserved (\(zone))" }
        if d.flags.contains(.tail) { return "page state: tail page of a compound page (\(zone))" }
        if d.flags.contains(.pcp) { return "page state: free, on a per-cpu list (\(zone))" }
        if let sid = k.slabID(ofPfn: pfn) { return "page state: slab of \(k.slub.caches[k.slub.slabs[sid].cache].name) (\(zone))" }
        if d.refcount > 0 { return "page state: allocated, refcount \(d.refcount) (\(zone))" }
        return "page state: free, inside a larger free block (\(zone))"
    }
}
