// `kmemlab bench`: how fast the model boots machines of growing size, and what it costs in host
// memory. Ratios between runs on one machine are meaningful; absolute times on shared machines
// are not.

import ArgumentParser
import Foundation
import MMCore
import MMText

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot QEMU-preset machines of 4 GiB … 64 TiB; time the page and slab allocators' alloc+free paths.",
        discussion: """
        Each size is booted --repeat times (default 5, 2 with --quick) in this process; the median
        time is reported, with the process's peak resident memory after the size's boots (sizes
        run in ascending order, so each peak includes the smaller ones'). Build with -c release
        for meaningful numbers: swift run -c release kmemlab bench
        """)

    @Flag(help: "Fewer repetitions.") var quick = false
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Boots per size.") var `repeat`: Int?
    @Option(help: "alloc+free pairs per page workload (default 1000000, 100000 with --quick).") var iterations: Int?
    @Option(help: ArgumentHelp("Run only the workloads whose name starts with this (for profiling); skips the boots.", valueName: "prefix")) var only: String?

    /// alloc_pages/__free_pages pairs: orders 0, 3 and 9 go through the pcp lists as in Linux;
    /// 4 and 10 always split from and merge into the buddy lists.
    static let pageWorkloads: [(String, GFPFlags, Int)] = [
        ("page_order0_pcp_ns", .gfpKernel, 0), ("page_order3_pcp_ns", .gfpKernel, 3),
        ("page_order9_pcp_ns", .gfpTranshugeLight, 9), ("page_order4_buddy_ns", .gfpKernel, 4),
        ("page_order10_buddy_ns", .gfpHighuserMovable, 10),
    ]

    static let sizes: [(String, UInt64)] = [("4gib", 4 << 30), ("64gib", 64 << 30), ("1tib", 1 << 40), ("64tib", 64 << 40)]

    func run() throws {
        let n = Swift.max(1, `repeat` ?? (quick ? 2 : 5))
        var figures: [(String, Double, Int)] = []
        for (name, bytes) in Bench.sizes where only == nil {
            let m = QEMUPreset(type: .pc, memBytes: bytes, cpus: 2).machine()
            var times: [Double] = []
            for _ in 0..<n {
                let t0 = DispatchTime.now().uptimeNanoseconds
                var k = Kernel(machine: m)
                k.log.enabled = false
                try? k.boot()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                precondition(!k.nodes.isEmpty)
            }
            times.sort()
            figures.append((name, times[times.count / 2], Bench.peakRSSBytes()))
        }
        // The page allocator on a booted 4 GiB machine: ns per alloc+free pair.
        var pageFigures: [(String, Double)] = []
        var k = Kernel(machine: QEMUPreset(type: .pc, memBytes: 4 << 30, cpus: 2).machine())
        k.log.enabled = false
        try? k.boot()
        let iterations = Swift.max(1024, iterations ?? (quick ? 100_000 : 1_000_000))
        for (label, gfp, order) in Bench.pageWorkloads where only.map({ label.hasPrefix($0) }) ?? true {
            var best = Double.infinity
            for _ in 0..<n {
                let t0 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<iterations {
                    guard let p = k.allocPages(gfp, order: order) else { fatalError("bench: allocation failed") }
                    k.freePages(p, order: order)
                }
                best = Swift.min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(iterations))
            }
            pageFigures.append((label, best))
        }
        // A burst: 1024 order-0 pages out, then back (refills, spills, merges).
        var burst = Double.infinity
        var held = [UInt64](repeating: 0, count: 1024)
        for _ in 0..<n where only.map({ "page_order0_burst1024_ns".hasPrefix($0) }) ?? true {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<(iterations / 1024) {
                for i in 0..<1024 { held[i] = k.allocPages(.gfpKernel, order: 0)! }
                for i in 0..<1024 { k.freePages(held[i], order: 0) }
            }
            burst = Swift.min(burst, Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(iterations / 1024 * 1024))
        }
        if burst.isFinite { pageFigures.append(("page_order0_burst1024_ns", burst)) }
        // SLUB on the same machine. The fast path: one 64-byte object out and back on one CPU (the cpu
        // freelist both ways). kmalloc+kfree of three sizes. A slow-path pattern: 4096 objects
        // out (new slabs), every other one back (slabs to the cpu partial list and the node
        // lists), the rest back (empty slabs to the page allocator); ns per alloc+free.
        let saved = k.slub.nomerge
        k.slub.nomerge = true
        let cache = try! k.kmemCacheCreate(KmemCacheSpec(name: "bench_64", size: 64))
        k.slub.nomerge = saved
        func best(_ pairs: Int, _ body: (inout Kernel) -> Void) -> Double {
            var b = Double.infinity
            if let only, !pendingName.hasPrefix(only) { return .nan }
            for _ in 0..<n {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body(&k)
                b = Swift.min(b, Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(pairs))
            }
            return b
        }
        var pendingName = "slab_cache_alloc_free_fast_ns"
        pageFigures.append((pendingName, best(iterations) { k in
            for _ in 0..<iterations {
                let o = k.slabAllocNode(cache, .gfpKernel)!
                _ = k.slabFree(cache, o)
            }
        }))
        for size in [16, 256, 4096] {
            pendingName = "kmalloc_kfree_\(size)_ns"
            pageFigures.append((pendingName, best(iterations) { k in
                for _ in 0..<iterations {
                    let o = k.kmalloc(size, .gfpKernel)!
                    k.kfree(o)
                }
            }))
        }
        var objs = [UInt64](repeating: 0, count: 4096)
        let rounds = Swift.max(1, iterations / 4096)
        pendingName = "slab_slowpath_4096_ns"
        pageFigures.append((pendingName, best(rounds * 4096) { k in
            for _ in 0..<rounds {
                for i in 0..<4096 { objs[i] = k.slabAllocNode(cache, .gfpKernel)! }
                for i in stride(from: 0, to: 4096, by: 2) { _ = k.slabFree(cache, objs[i], cpu: 1) }
                for i in stride(from: 1, to: 4096, by: 2) { _ = k.slabFree(cache, objs[i]) }
                k.kmemCacheShrink(cache)
            }
        }))
        if json {
            var parts: [String] = []
            for (name, t, rss) in figures {
                parts.append("\"boot_\(name)_s\": \(String(format: "%.6f", t))")
                parts.append("\"boot_\(name)_peak_rss_bytes\": \(rss)")
            }
            for (name, ns) in pageFigures where !ns.isNaN { parts.append("\"\(name)\": \(String(format: "%.1f", ns))") }
            print("{" + parts.joined(separator: ", ") + "}")
        } else {
            print("machine   boot (median of \(n))   peak host RSS")
            for (name, t, rss) in figures {
                print("\(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(String(format: "%10.4f s", t))                   \(rss >> 20) MiB")
            }
            print("\npage and slab allocators, 4 GiB pc, ns per alloc+free (best of \(n) × \(iterations))")
            for (name, ns) in pageFigures where !ns.isNaN { print("\(name.padding(toLength: 30, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", ns))") }
        }
    }

    /// getrusage's ru_maxrss (KiB on Linux).
    static func peakRSSBytes() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Int(u.ru_maxrss) * 1024
    }
}
