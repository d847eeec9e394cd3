// The three memory models: how each allocates the memmap at boot, and how each turns a pfn into
// a struct page (kmemlab pfn).

import KmemlabTestSupport
import MMCore
import MMText
import Testing


@Suite("memory models: FLATMEM, SPARSEMEM, SPARSEMEM_VMEMMAP")
struct MemoryModelTests {
    @Test("each model's memmap allocations at boot", arguments: MemoryModel.allCases)
    func bootAllocations(_ model: MemoryModel) throws {
        let k = try bootCase("pc-1g-2cpu", model: model)
        let lines = k.log.lines
        let vmemmapTables = lines.filter { $0.contains("vmemmap_alloc_block_zero") && $0.hasPrefix("memblock_alloc_try_nid_raw") }.count
        let sparseBuffer = lines.contains { $0.hasPrefix("memblock_alloc_exact_nid_raw") && $0.hasSuffix("sparse_init_nid+0x11f/0x34d") }
        let flatMap = lines.first { $0.hasSuffix("alloc_node_mem_map+0x0/0x0") }
        switch model {
        case .vmemmap:
            #expect(vmemmapTables == 2 && sparseBuffer && flatMap == nil)
            #expect(k.nodes[0].firstDeferredPfn != .max)
        case .sparse:
            #expect(vmemmapTables == 0 && sparseBuffer && flatMap == nil)
        case .flat:
            // One array from pfn 0 to the MAX_ORDER-aligned end: 0x3ffe0 pfns → 0x40000 × 64 bytes.
            #expect(vmemmapTables == 0 && !sparseBuffer)
            #expect(flatMap?.hasPrefix("memblock_alloc_try_nid: 16777216 bytes align=0x40 nid=0 ") == true)
            #expect(k.nodes[0].firstDeferredPfn == .max, "no deferred struct page init without SPARSEMEM")
            #expect(!lines.contains { $0.contains("sparse_init") })
        }
        #expect(k.checkPageAllocInvariants() == nil)
        #expect(k.checkSlubInvariants() == nil)
    }

    @Test("pfn_to_page and page_to_pfn agree, and each model puts the struct page where it says", arguments: MemoryModel.allCases)
    func translation(_ model: MemoryModel) throws {
        let k = try bootCase("pc-1g-2cpu", model: model)
        for pfn in [1, 0x9f, 0x100, 0x12345, 0x3ffdf].map(Pfn.init) {
            let loc = try #require(k.structPage(pfn), "pfn \(pfn)")
            let text = PfnExplain.lines(k, pfn).joined(separator: "\n")
            #expect(text.contains("= \(hex(pfn))"), "page_to_pfn gives the pfn back")
            switch model {
            case .vmemmap: #expect(loc.virt == k.vmemmapBase + pfn.raw * 64)
            case .sparse, .flat: #expect(loc.virt == k.directMapVirt(try #require(loc.phys)))
            }
            // Consecutive pfns of one section (or mem_map) have consecutive struct pages.
            if let next = k.structPage(pfn + 1), (pfn + 1).indexInSection != 0 { #expect(next.virt == loc.virt + 64) }
        }
        // Beyond memory: no struct page (FLATMEM's mem_map ends at the aligned end of the node).
        #expect(k.structPage(Pfn(0x1_0000_0000)) == nil)
        // The descriptor as dump_page() names it: a free block's head is PageBuddy, with its order.
        let head = try #require((Pfn(0x1000)..<Pfn(0x3_0000)).first { k.memmap.buddyOrder($0) != nil })
        let order = try #require(k.memmap.buddyOrder(head))
        #expect(PfnExplain.lines(k, head).contains("struct page: refcount 0, mapcount -128 (PageBuddy), order \(order), flags: \(k.pageAlloc.pageFlagsText(head))"))
    }

    @Test("kmemlab pfn says how a page got there: the step that reserved it, with the memblock=debug line naming the caller, or the step that freed it")
    func history() throws {
        let k = try bootCase("pc-1g-2cpu", model: .vmemmap)
        // The 32 MiB log buffer (log_buf_len=32M): the real boot's lines name where it went.
        let real = Fixtures.messages(Fixtures.text(Fixtures.casePath("pc-1g-2cpu", "dmesg.txt")))
        let alloc = try #require(real.firstIndex { $0.hasPrefix("memblock_alloc_try_nid: 33554432 bytes") && $0.contains("setup_log_buf") })
        let reserve = real[alloc + 1]
        let start = try #require(UInt64(reserve.dropFirst("memblock_reserve: [0x".count).prefix { $0 != "-" }, radix: 16))
        let text = PfnExplain.lines(k, Pfn.down(start) + 100)
        #expect(text.contains("  setup_log_buf(), reserve_initrd(), ACPI tables: reserved in memblock — \(real[alloc])"))
        #expect(text.contains("page state: reserved (node 0, zone DMA32)"))
        // Free pages: below the deferred cut memblock_free_all() freed them, above it the
        // deferred init did.
        let cut = k.nodes[0].firstDeferredPfn
        try #require(cut != .max)
        let early = try #require((Pfn(0x1000)..<cut).first { k.memmap.buddyOrder($0) != nil })
        #expect(PfnExplain.lines(k, early).contains("  mem_init(): memblock_free_all() hands memory to the buddy allocator: given to the buddy allocator (free in memblock)"))
        let late = try #require((cut..<(cut + 0x10000)).first { k.memmap.buddyOrder($0) != nil })
        let lateText = PfnExplain.lines(k, late)
        #expect(lateText.contains("  page_alloc_init_late(): deferred struct pages: given to the buddy allocator"))
        #expect(!lateText.contains { $0.contains("memblock_free_all") })
    }

    @Test("FLATMEM counts every hole page as unavailable, SPARSEMEM only those in present sections")
    func unavailableRanges() throws {
        let flat = try bootCase("pc-1g-2cpu", model: .flat).log.lines.filter { $0.contains("unavailable ranges") }
        let vm = try bootCase("pc-1g-2cpu", model: .vmemmap).log.lines.filter { $0.contains("unavailable ranges") }
        #expect(vm.contains("On node 0, zone DMA32: 32 pages in unavailable ranges"), "the kernel's: the rest of the last section")
        #expect(!flat.contains("On node 0, zone DMA32: 32 pages in unavailable ranges"), "FLATMEM's mem_map ends with the memory")
    }
}
