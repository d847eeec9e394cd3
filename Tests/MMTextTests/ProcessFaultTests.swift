// A workload on a booted machine: every page a process touches comes from the buddy allocator,
// every page-table page too, and all of it goes back when the process unmaps or exits.

import MMCore
import MMText
import Testing
import KmemlabTestSupport

@Suite("processes: page faults on a booted machine")
struct ProcessFaultTests {
    /// Pages on the free lists and the pcp lists.
    static func unused(_ k: Kernel) -> UInt64 {
        var n: UInt64 = 0
        for node in k.nodes { for z in node.zones { n += z.freePages; for p in z.pcp { n += UInt64(p.count) } } }
        return n
    }

    static func run(_ text: String, _ k: Kernel) throws -> WorkloadRunner {
        var r = WorkloadRunner(kernel: k, recordSyscalls: true)
        try r.run(try Workload(parsing: text, file: "(test)"))
        return r
    }

    @Test("malloc(200 KiB) and a write to each page: 51 mapped pages, one heap page, 7 table pages; exit gives them back")
    func anonymous() throws {
        let k = try bootPreset("console=ttyS0", mem: 1 << 30)
        let before = Self.unused(k)
        var r = try Self.run("spawn app\nmalloc big 200K\ntouch big\n", k)
        let s = r.faults.stat
        #expect(s.nrAnonPages == 52, "the heap's first page (tcache) and 51 pages of the mapping")
        #expect(s.pgfault == 52)
        #expect(s.nrPageTablePages == 6, "a PUD, PMD and PTE table for the heap and for the mapping")
        #expect(r.processes[0].task.rssAnon == 52)
        #expect(r.faults.pageCache.stat.nrInactiveAnon == 45, "on the LRU in batches of 15: 7 pages still wait in the CPU's lru_add batch")
        #expect(before - Self.unused(r.kernel!) == 52 + 6 + 1, "52 pages, 6 tables and the PGD")
        r.finish()
        #expect(Self.unused(r.kernel!) == before)
        #expect(r.faults.stat.nrAnonPages == 0 && r.faults.stat.nrPageTablePages == 0)
    }

    @Test("THP: writes to 8 MiB map three 2 MiB pages where whole aligned ranges fit; a read first maps the huge zero page, and a write then splits it")
    func thp() throws {
        let k = try bootPreset("console=ttyS0", mem: 1 << 30)
        let r = try Self.run("spawn app\nmalloc big 8M\ntouch big\n", k)
        #expect(r.faults.stat.thpFaultAlloc == 3)
        #expect(r.faults.stat.nrAnonTransparentHugepages == 3 * 512)
        #expect(r.faults.stat.nrAnonPages == 2049 + 1)
        let r2 = try Self.run("spawn app\nmalloc big 8M\ntouch big read\ntouch big\n", k)
        #expect(r2.faults.stat.thpFaultAlloc == 0 && r2.faults.stat.thpZeroPageAlloc == 1)
        #expect(r2.faults.stat.thpSplitPmd == 3)
        let r3 = try Self.run("spawn app\nmalloc big 8M\ntouch big\nfree big\n", k)
        #expect(r3.faults.stat.nrAnonTransparentHugepages == 0 && r3.faults.stat.nrAnonPages == 1)
        // What stays: the heap page, the PGD, the heap's three tables, and the PUD, PMD and PTE
        // tables of the mapping's span that libc's areas still share.
        #expect(Self.unused(r3.kernel!) == Self.unused(k) - 1 - 1 - 3 - 3)
    }

    @Test("a touch of freed memory ends the process with SIGSEGV; the rest goes on")
    func segv() throws {
        let k = try bootPreset("console=ttyS0", mem: 1 << 30)
        let r = try Self.run("spawn a\nmalloc p 200K\nfree p\ntouch p\nmalloc q 24\nspawn b\nmalloc x 24\n", k)
        #expect(r.output.contains { $0.hasPrefix("a[1000]: segfault at 7ffff7d9c010 error 6") }, "\(r.output)")
        #expect(r.output.contains { $0.contains("has ended (status 139)") })
        #expect(r.strace.contains { $0.contains("SEGV_MAPERR") })
        #expect(r.processes[1].exitStatus == nil && r.processes[1].task.rssAnon == 1)
        var done = r
        done.finish()
        #expect(Self.unused(done.kernel!) == Self.unused(k), "the segfaulted process's pages went back too")
    }

    @Test("explain: the path of malloc(200 KiB)'s first touch, down to the pcp list and the pfn")
    func explain() throws {
        let k = try bootPreset("console=ttyS0", mem: 1 << 30)
        let r = try Self.run("spawn app\nmalloc big 200K\nexplain\n", k)
        #expect(r.output.contains { $0.hasPrefix("mmap(NULL, 208896, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7d9c000") })
        #expect(r.output.contains("page fault: write at 0x7ffff7d9c000"))
        #expect(r.output.contains { $0.contains("mm_page_alloc:") && $0.contains("GFP_HIGHUSER_MOVABLE|__GFP_ZERO") })
    }
}

@Suite("processes: fork and copy-on-write")
struct ForkTests {
    @Test("fork shares every page; the child's writes copy them (4 KiB each: a shared THP is split), and all comes back at exit")
    func cow() throws {
        let k = try bootPreset("console=ttyS0", mem: 1 << 30)
        let before = ProcessFaultTests.unused(k)
        var r = try ProcessFaultTests.run("spawn parent\nmalloc buf 8M\ntouch buf\nfork child\n", k)
        #expect(r.faults.stat.nrAnonPages == 2050, "fork copies no page")
        #expect(r.processes[1].task.rssAnon == 2050, "the child maps them all")
        #expect(r.faults.sharedPages.count == 2050 - 3 * 512)
        var w = try Workload(parsing: "in child\ntouch buf\n", file: "(test)")
        try r.run(w)
        #expect(r.faults.stat.thpSplitPmd == 3, "the child's write to each shared THP splits its PMD")
        #expect(r.faults.stat.nrAnonPages == 2050 + 2049, "every page but the heap's copied")
        #expect(r.faults.stat.nrAnonTransparentHugepages == 3 * 512, "the parent still maps the THPs whole")
        w = try Workload(parsing: "in parent\ntouch buf\n", file: "(test)")
        let faultsBefore = r.faults.stat.pgfault
        try r.run(w)
        #expect(r.faults.stat.pgfault - faultsBefore == 2049 - 3 * 511, "the parent's pages are its own again: reused, one fault each (a THP once)")
        #expect(r.faults.stat.nrAnonPages == 2050 + 2049, "no copy for the parent")
        r.finish()
        #expect(r.faults.stat.nrAnonPages == 0 && r.faults.folios.isEmpty && r.faults.sharedPages.isEmpty)
        #expect(ProcessFaultTests.unused(r.kernel!) == before)
    }
}

@Suite("processes: files, the page cache and file mappings")
struct FileMappingTests {
    @Test("a read-mapped file: read-around on the first fault, fault-around after; unmapping leaves the pages cached; a private write copies")
    func mapped() throws {
        let k = try bootPreset("console=ttyS0", mem: 512 << 20)
        let r = try ProcessFaultTests.run("create data 1M\nspawn app\nmmap_file m data 0 1M\ntouch m read\n", k)
        let pc = r.faults.pageCache.stat
        #expect(pc.nrFilePages == 256 && pc.nrMapped == 256 && pc.pgpgin == 1024)
        #expect(r.processes[0].task.rssFile == 256)
        #expect(pc.pgmajfault == 1, "one read from disk: read-around of 32 pages, then asynchronous windows")
        #expect(r.faults.stat.pgfault < 40, "fault-around maps 16 cached pages a fault")
        var r2 = r
        try r2.run(try Workload(parsing: "munmap m\nmmap_file w data 0 64K rw\ntouch w write\n", file: "(test)"))
        #expect(r2.faults.pageCache.stat.nrMapped == 0 && r2.faults.pageCache.stat.nrFilePages == 256)
        #expect(r2.faults.stat.nrAnonPages == 16, "a private write copies each page to anonymous memory")
        #expect(r2.faults.pageCache.stat.nrDirty == 0)
        try r2.run(try Workload(parsing: "mmap_file s data 0 64K rw shared\ntouch s write\n", file: "(test)"))
        #expect(r2.faults.pageCache.stat.nrDirty == 16 && r2.faults.pageCache.stat.nrMapped == 16)
        r2.finish()
        #expect(r2.faults.pageCache.stat.nrMapped == 0 && r2.processes[0].task.rssFile == 0)
    }
}

@Suite("processes: shared anonymous memory")
struct SharedAnonymousTests {
    @Test("MAP_SHARED|MAP_ANONYMOUS is shmem: one set of pages for parent and child, counted as Shmem and RssShmem")
    func shmem() throws {
        let k = try bootPreset("console=ttyS0", mem: 512 << 20)
        let r = try ProcessFaultTests.run("spawn a\nmmap s 1M shared\ntouch s\nfork b\nin b\ntouch s\n", k)
        let pc = r.faults.pageCache.stat
        #expect(pc.nrShmem == 256 && pc.nrFilePages == 256 && pc.nrMapped == 256 && pc.nrDirty == 0)
        #expect(r.processes[0].task.rssShmem == 256 && r.processes[1].task.rssShmem == 256)
        #expect(r.faults.stat.nrAnonPages == 0)
        #expect(ProcMaps.lines(r.processes[0]).contains { $0.contains(" rw-s 00000000 00:01 ") && $0.hasSuffix(" /dev/zero (deleted)") })
    }
}
