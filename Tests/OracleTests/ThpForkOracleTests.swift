// The oracle's thpfork workload (load-thp-fork-1g): 256 MiB malloc'd and written with THP
// "always", fork, the child rewriting the first half. The numbers the workload alone decides
// must equal the kernel's; the rest of the guest (the shell, the snapshot commands, the static
// binary's own pages) is not modelled, so totals are compared as the workload's deltas.

import Foundation
import MMCore
import MMText
import Testing
import KmemlabTestSupport

@Suite("oracle: thpfork (THP, fork, copy-on-write)")
struct ThpForkOracleTests {
    static let dir = Fixtures.oracle.appendingPathComponent("load/load-thp-fork-1g")

    static func vmstat(_ snap: String) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for line in Fixtures.text(dir.appendingPathComponent("snap-\(snap)-vmstat.txt").path).split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 2, let v = Int64(f[1]) { out[String(f[0])] = v }
        }
        return out
    }

    static func rollup(_ name: String, _ field: String) -> UInt64? {
        for line in Fixtures.text(dir.appendingPathComponent("snap-\(name)-smaps_rollup.txt").path).split(separator: "\n")
        where line.hasPrefix(field + ":") {
            return UInt64(line.split(separator: " ").dropFirst().first ?? "")
        }
        return nil
    }

    @Test("THP faults, splits on copy-on-write, copies, AnonHugePages: as the kernel counted them")
    func thpFork() throws {
        let (start, touched, forked, cow, exited) = (Self.vmstat("start"), Self.vmstat("touched"), Self.vmstat("child-forked"),
                                                     Self.vmstat("after-cow"), Self.vmstat("child-exited"))
        // The capture's machine: a QEMU pc, 1 GiB, one CPU.
        var k = Kernel(machine: QEMUPreset(type: .pc, memBytes: 1 << 30, cpus: 1,
                                           commandLine: "console=ttyS0 loglevel=8 memblock=debug no_hash_pointers log_buf_len=32M nokaslr").machine())
        k.log.enabled = false
        try k.boot()
        var r = WorkloadRunner(kernel: k)
        try r.run(try Workload(parsing: "spawn thpfork\nmalloc p 256M\ntouch p\n", file: "(test)"))
        let afterTouch = r.faults.stat
        // 127 aligned 2 MiB ranges in 256 MiB that does not start on one (run 2 of the capture,
        // its malloc placed by ASLR, found 128).
        #expect(Int64(afterTouch.thpFaultAlloc) == touched["thp_fault_alloc"]! - start["thp_fault_alloc"]!)
        #expect(Int64(afterTouch.nrAnonTransparentHugepages / 512) == touched["nr_anon_transparent_hugepages"]!)
        let parentTouched = r.processes[0].task.smapsRollup(r.faults)
        #expect(parentTouched.anonHugePages >> 10 == Self.rollup("parent-touched", "AnonHugePages"))
        try r.run(try Workload(parsing: "fork child\nin child\ntouch p write 0 128M\n", file: "(test)"))
        let afterCow = r.faults.stat
        #expect(Int64(afterCow.thpSplitPmd) == cow["thp_split_pmd"]! - forked["thp_split_pmd"]!, "64 THPs split")
        #expect(Int64(afterCow.nrAnonPages - afterTouch.nrAnonPages) == cow["nr_anon_pages"]! - forked["nr_anon_pages"]!,
                "the pages the child's writes copied")
        #expect(Int64(afterCow.nrAnonTransparentHugepages / 512) == cow["nr_anon_transparent_hugepages"]!)
        let child = r.processes[1].task.smapsRollup(r.faults)
        #expect(child.anonHugePages >> 10 == Self.rollup("child-after-cow", "AnonHugePages"))
        #expect(r.processes[0].task.smapsRollup(r.faults).anonHugePages >> 10 == Self.rollup("parent-after-cow", "AnonHugePages"))
        try r.run(try Workload(parsing: "in child\nexit\n", file: "(test)"))
        #expect(Int64(r.faults.stat.nrAnonPages) - Int64(afterTouch.nrAnonPages) == exited["nr_anon_pages"]! - touched["nr_anon_pages"]!,
                "the child's exit gives its copies back")
    }
}
