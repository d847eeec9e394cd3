// The kernel page tables boot builds in simulated memory: walks against the model's own address
// arithmetic, ptdump's format, mark_rodata_ro's lines and /proc/meminfo's DirectMap lines.

import MMCore
import MMText
import KmemlabTestSupport
import Testing

/// Every address worth walking in [start, end): both edges, every 2 MiB boundary, and `n`
/// random ones (a fixed seed).
func sampleAddresses(_ start: UInt64, _ end: UInt64, n: Int, rng: inout SplitMix64) -> [UInt64] {
    var out: [UInt64] = [start, end - 1, end &- pageSize]
    var a = roundUp(start, pmdSize)
    while a < end { out.append(a); out.append(a &- 8); a += pmdSize }
    for _ in 0..<n { out.append(start + rng.next() % (end - start)) }
    return out.filter { $0 >= start && $0 < end }
}

@Suite("kernel page tables")
struct PageTableTests {
    @Test("a walk of direct-map addresses lands on __pa(); addresses outside the mapped ranges fault",
          arguments: Fixtures.caseNames)
    func directMap(_ name: String) throws {
        let k = try bootCase(name)
        var rng = SplitMix64(seed: 42)
        var walked = 0
        for (s, e) in k.pfnMapped {
            for a in sampleAddresses(s << pageShift, e << pageShift, n: 500, rng: &rng) {
                let va = k.pageOffset &+ a
                #expect(k.translate(va) == a, "\(name): \(ptr(va))")
                walked += 1
            }
        }
        #expect(walked > 500)
        // The page after the last mapped one, and a hole between mapped ranges, are not mapped.
        let top = k.pfnMapped.last!.1 << pageShift
        if top & (pmdSize - 1) != 0 { #expect(k.translate(k.pageOffset &+ top) == nil) }
        if k.pfnMapped.count > 1 {
            let hole = k.pfnMapped[0].1 << pageShift
            if hole & (pmdSize - 1) != 0 { #expect(k.translate(k.pageOffset &+ hole) == nil, "\(name): hole") }
        }
    }

    @Test("vmemmap: the walk of pfn_to_page(pfn) lands in the section's memmap block; the image maps _text at its load address",
          arguments: Fixtures.caseNames)
    func vmemmapAndImage(_ name: String) throws {
        let k = try bootCase(name)
        var rng = SplitMix64(seed: 7)
        for (s, e) in k.pfnMapped {
            for _ in 0..<200 {
                let pfn = s + rng.next() % (e - s)
                guard let loc = k.structPage(Pfn(pfn)), let phys = loc.phys else { continue }
                #expect(k.translate(loc.virt) == phys, "\(name): pfn \(hex(pfn))")
            }
        }
        #expect(k.translate(k.kernelTextVirt) == k.machine.kernel.start)
        #expect(k.translate(k.kernelTextVirt - 1) == nil, "below _text: cleared by cleanup_highmap()")
        let brkEnd = k.machine.kernel.brkEnd
        #expect(k.translate(k.imageVirt(brkEnd)) == brkEnd)
        #expect(k.translate(k.imageVirt(roundUp(brkEnd, pmdSize))) == nil)
    }

    @Test("vmalloc'd hash tables: every page of every area walks to the page the area holds")
    func vmalloc() throws {
        for name in ["pc-16g-numa2", "q35-32g-numa4"] {
            let k = try bootCase(name)
            #expect(!k.vmalloc.areas.isEmpty)
            for a in k.vmalloc.areas {
                for (i, pfn) in a.blocks.enumerated() {
                    let va = a.start + UInt64(i) << (pageShift + UInt64(a.order))
                    #expect(k.translate(va) == pfn.physAddr, "\(name) \(a.caller) block \(i)")
                    #expect(k.translate(va + (pageSize << a.order) - 1) == pfn.physAddr + (pageSize << a.order) - 1)
                }
                #expect(k.translate(a.end - pageSize) == nil, "the guard page is not mapped")
            }
        }
    }

    @Test("a user-space address and a non-canonical one do not walk")
    func holes() throws {
        let k = try bootPreset("nokaslr")
        #expect(k.pageWalk(0x1000).end == .notPresent(.pgd), "init_top_pgt's user half is empty")
        #expect(k.pageWalk(0x0000_8000_0000_0000).end == .nonCanonical)
        let k5 = try bootPreset("nokaslr", la57: true)
        #expect(k5.pageWalk(0x0000_8000_0000_0000).end == .notPresent(.pgd), "canonical with 5 levels")
        #expect(k5.translate(k5.pageOffset + 0x10_0000) == 0x10_0000)
    }

    @Test("mark_rodata_ro()'s lines and the W+X verdict equal dmesg", arguments: Fixtures.caseNames)
    func rodataLines(_ name: String) throws {
        let k = try bootCase(name)
        let prefixes = ["Write protecting the kernel read-only data", "Freeing unused kernel image (text/rodata gap)",
                        "Freeing unused kernel image (rodata/data gap)", "x86/mm: Checked W+X mappings"]
        let pick = { (lines: [String]) in lines.filter { l in prefixes.contains { l.hasPrefix($0) } } }
        let expected = pick(Fixtures.messages(Fixtures.text(Fixtures.casePath(name, "dmesg.txt"))))
        let actual = pick(k.log.lines)
        #expect(expected.count == 4)
        #expect(actual == expected)
    }

    @Test("DirectMap lines: the sizes add up to the kernel's; 4k pages are init_mem_mapping's plus mark_rodata_ro's splits",
          arguments: Fixtures.caseNames)
    func directMapMeminfo(_ name: String) throws {
        let k = try bootCase(name)
        let kb = { (lines: [String], key: String) -> UInt64? in
            guard let l = lines.first(where: { $0.hasPrefix(key + ":") }) else { return nil }
            return UInt64(l.split(separator: " ")[1])
        }
        let oracle = Fixtures.text(Fixtures.casePath(name, "meminfo.txt")).split(separator: "\n").map(String.init)
        let model = ProcFiles.meminfo(k)
        let o4 = try #require(kb(oracle, "DirectMap4k")), o2 = try #require(kb(oracle, "DirectMap2M"))
        let m4 = try #require(kb(model, "DirectMap4k")), m2 = try #require(kb(model, "DirectMap2M"))
        #expect(m4 + m2 == o4 + o2, "the direct map covers exactly the RAM Linux maps")
        #expect(kb(model, "DirectMap1G") == nil, "QEMU's CPU has no GB pages")
        // Later set_memory_*() calls (BPF, ftrace, modules) split more 2 MiB pages in a real
        // boot; the model has 4 splits (the two gaps, in the image and in its direct-map alias).
        #expect(m4 <= o4 && (o4 - m4) % 2048 == 0)
    }

    @Test("pc-1g-2cpu: the Low and High Kernel Mapping of ptdump, derived by hand from init_mem_mapping and mark_rodata_ro")
    func ptdumpLines() throws {
        let k = try bootCase("pc-1g-2cpu")
        let lines = PageTableDump.dump(k).lines
        let expected = [
            "---[ LDT remap ]---",
            // [0, 1 MiB) and [1 MiB, 2 MiB) are 4 KiB pages (the ISA range, then RAM not in one 2 MiB region)
            "0xffff888000000000-0xffff888000001000           4K     RW                 GLB NX pte",
            "---[ Low Kernel Mapping ]---",
            "0xffff888000001000-0xffff888000200000        2044K     RW                 GLB NX pte",
            "0xffff888000200000-0xffff888001000000          14M     RW         PSE     GLB NX pmd",
            // the image's alias (cpa_process_alias): text and rodata read-only, the gaps writable
            // again when freed; split where that happens inside a 2 MiB page
            "0xffff888001000000-0xffff888001e00000          14M     ro         PSE     GLB NX pmd",
            "0xffff888001e00000-0xffff888001e02000           8K     ro                 GLB NX pte",
            "0xffff888001e02000-0xffff888002000000        2040K     RW                 GLB NX pte",
            "0xffff888002000000-0xffff888002800000           8M     ro         PSE     GLB NX pmd",
            "0xffff888002800000-0xffff8880028eb000         940K     ro                 GLB NX pte",
            "0xffff8880028eb000-0xffff888002a00000        1108K     RW                 GLB NX pte",
            "0xffff888002a00000-0xffff88803fe00000         980M     RW         PSE     GLB NX pmd",
            // RAM ends at 0x3ffe0000: the last 2 MiB is 4 KiB pages, the rest of its PTE page empty
            "0xffff88803fe00000-0xffff88803ffe0000        1920K     RW                 GLB NX pte",
            "0xffff88803ffe0000-0xffff888040000000         128K                               pte",
            "0xffff888040000000-0xffff890000000000         511G                               pud",
        ]
        let i = try #require(lines.firstIndex(of: "---[ LDT remap ]---"))
        #expect(Array(lines[i..<(i + expected.count)]) == expected)
        let h = try #require(lines.firstIndex(of: "---[ High Kernel Mapping ]---"))
        #expect(Array(lines[(h + 1)...(h + 9)]) == [
            "0xffffffff80000000-0xffffffff81000000          16M                               pmd",
            "0xffffffff81000000-0xffffffff81e00000          14M     ro         PSE     GLB x  pmd",
            "0xffffffff81e00000-0xffffffff81e02000           8K     ro                 GLB x  pte",
            "0xffffffff81e02000-0xffffffff82000000        2040K     RW                 GLB NX pte",
            "0xffffffff82000000-0xffffffff82800000           8M     ro         PSE     GLB NX pmd",
            "0xffffffff82800000-0xffffffff828eb000         940K     ro                 GLB NX pte",
            "0xffffffff828eb000-0xffffffff82a00000        1108K     RW                 GLB NX pte",
            // up to roundup(_brk_end, 2 MiB): 0x4411000 → 0x4600000
            "0xffffffff82a00000-0xffffffff84600000          28M     RW         PSE     GLB NX pmd",
            "0xffffffff84600000-0xffffffffc0000000         954M                               pmd",
        ])
        #expect(lines.first == "---[ User Space ]---")
        #expect(lines.last == "0xffffffffff800000-0x0000000000000000           8M                               pmd")
        #expect(PageTableDump.dump(k).wxPages == 0)
    }

    @Test("ptdump's linear-table shortcut prints what the entry-by-entry walk prints")
    func shortcut() throws {
        for k in [try bootCase("q35-32g-numa4"), try bootPreset("console=ttyS0", seed: 3), try bootPreset("nokaslr", la57: true)] {
            let fast = PageTableDump.dump(k)
            let slow = PageTableDump.dump(k, linearShortcut: false)
            #expect(fast.lines == slow.lines)
            #expect(fast.wxPages == slow.wxPages)
            #expect(fast.lines.count > 30)
        }
    }

    @Test("PTI: the kernel's pages lose _PAGE_GLOBAL; nopti gives it back")
    func pti() throws {
        var m = QEMUPreset(type: .pc, memBytes: 2 << 30, cpus: 2).machine()
        m.cpus.pti = true
        m.commandLine = "nokaslr"
        var k = Kernel(machine: m)
        k.log.enabled = false
        try k.boot()
        let e = try #require(k.pageWalk(k.pageOffset + 0x20_0000).steps.last?.entry)
        #expect(e & PTE.global == 0 && e & PTE.nx != 0 && e & PTE.pse != 0)
        m.commandLine = "nokaslr nopti"
        var k2 = Kernel(machine: m)
        k2.log.enabled = false
        try k2.boot()
        #expect(try #require(k2.pageWalk(k2.pageOffset + 0x20_0000).steps.last?.entry) & PTE.global != 0)
    }

    @Test("ioremap: firmware ranges map uncached in VM_IOREMAP areas (vmallocinfo's phys= lines); RAM in use is refused with Linux's warning")
    func ioremap() throws {
        var k = try bootPreset("nokaslr", mem: 1 << 30)
        k.log.enabled = true
        // HPET's page and an ACPI table that does not start on a page (QEMU's pc layout).
        let hpetAddr = k.ioremap(0xfed0_0000, 0x400, caller: "hpet_enable+0xef/0x46d")
        let acpiAddr = k.ioremap(0x3ffe_1040, 0x1100, caller: "acpi_os_map_iomem+0x1b6/0x1d0")
        let hpet = try #require(hpetAddr), acpi = try #require(acpiAddr)
        #expect(hpet == k.vmallocStart)
        #expect(acpi == k.vmallocStart + 0x2000 + 0x40, "two pages: aligned to 8 KiB (the size's order, before the guard page)")
        #expect(k.translate(hpet + 0x3f8) == 0xfed0_03f8)
        #expect(k.translate(acpi) == 0x3ffe_1040)
        let e = try #require(k.pageWalk(hpet).steps.last?.entry)
        #expect(e & PTE.pcd != 0 && e & PTE.nx != 0 && e & PTE.rw != 0)
        #expect(ProcFiles.vmallocinfo(k) == [
            "0xffffc90000000000-0xffffc90000002000    8192 hpet_enable+0xef/0x46d phys=0x00000000fed00000 ioremap",
            "0xffffc90000002000-0xffffc90000005000   12288 acpi_os_map_iomem+0x1b6/0x1d0 phys=0x000000003ffe1000 ioremap",
        ])
        let ram = k.ioremap(0x20_0000, pageSize)
        #expect(ram == nil)
        #expect(k.log.lines.contains("ioremap on RAM at 0x0000000000200000 - 0x0000000000200fff"))
        let unmapped = k.iounmap(hpet + 8), again = k.iounmap(hpet)
        #expect(unmapped && !again)
        #expect(k.translate(hpet) == nil)
    }
}
