// Readahead against a traced kernel (Tests/Fixtures/oracle/load/readahead-512m: ra.sh on ext2,
// mm_filemap_add_to_page_cache traced): how many pages each sequential read brings in, and the
// window sizes the first reads ramp through.

import Foundation
import MMCore
import MMText
import Testing
import KmemlabTestSupport

@Suite("oracle: readahead (page_cache_sync_ra/async_ra on a traced ext2 read)")
struct ReadaheadOracleTests {
    static let dir = Fixtures.oracle.appendingPathComponent("load/readahead-512m")

    /// The traced count of pages a process added to an inode's cache.
    static func added(_ process: String, _ inode: String) -> Int? {
        for line in Fixtures.text(dir.appendingPathComponent("page-cache-adds.txt").path).split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 3, f[1] == process, f[2] == inode { return Int(f[0]) }
        }
        return nil
    }

    @Test("a 16 MiB file read in 4 KiB reads, and 8 MiB of another in 64 KiB reads: the pages the kernel added")
    func counts() throws {
        let k = try bootPreset("console=ttyS0", mem: 512 << 20)
        var r = WorkloadRunner(kernel: k)
        var windows: [UInt64] = []
        try r.run(try Workload(parsing: "create f 16M\ncreate g 16M\nspawn dd\n", file: "(test)"))
        var last: UInt64 = 0
        for i in 0..<4096 {
            try r.run(try Workload(parsing: "read f \(i * 4096) 4096\n", file: "(test)"))
            let now = r.faults.pageCache.stat.nrFilePages
            if now != last { windows.append(now - last); last = now }
        }
        #expect(Int(last) == Self.added("dd-119", "c"))
        // The trace shows 4 pages, then 88 (8 + 16 + 32 + 32) before the disk's next own read.
        #expect(Array(windows.prefix(5)) == [4, 8, 16, 32, 32])
        // explain names the windows: the first read's synchronous one, then the ramp.
        var e = WorkloadRunner(kernel: try bootPreset("console=ttyS0", mem: 512 << 20))
        try e.run(try Workload(parsing: "create f 16M\nspawn dd\nread f 0 4096\nexplain\nread f 4096 4096\nexplain\n", file: "(test)"))
        #expect(e.output.contains("sync readahead: 4 pages from index 0, PG_readahead on 1"))
        #expect(e.output.contains("async readahead: 8 pages from index 4, PG_readahead on 4"))
        try r.run(try Workload(parsing: "repeat 128\n  read g $i*64K 64K\nend\n", file: "(test)"))
        #expect(Int(r.faults.pageCache.stat.nrFilePages - last) == Self.added("dd-125", "d"),
                "8 MiB and the asynchronous window past it")
    }
}
