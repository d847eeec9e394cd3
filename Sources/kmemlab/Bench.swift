// `kmemlab bench`: how fast the model boots machines of growing size and what that costs in host
// memory; how fast its page and slab allocators run; and, in the same run, the host's own
// allocators (glibc, and jemalloc and mimalloc when installed) and the bare limit of a hardened
// freelist on the same operations. Ratios between figures of one run are meaningful; absolute
// times on shared machines are not.

import ArgumentParser
import Foundation
import MMCore
import MMText
import MMExplorer

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time boots (4 GiB … 4 PiB), the page and slab allocators, and glibc/jemalloc/mimalloc on the same work.",
        discussion: """
        Each boot size runs --repeat times (default 5, 2 with --quick; the 4 PiB boot
        once) and reports the median, with the process's peak resident memory after it
        (sizes run in ascending order). The allocator workloads run on a booted 4 GiB
        machine, best of --repeat: a 64-byte kmem_cache_alloc+free pair on the fast
        path, kmalloc+kfree cycling through 8 … 4096 bytes, 100 000 objects out and
        back in random order, and page pairs of orders 0, 3, 9 (pcp) and 4, 10
        (buddy); the same counts of malloc/free on glibc, jemalloc (libjemalloc2) and
        mimalloc (libmimalloc2.0) when their libraries load; and a bare inlined
        freelist pop+push with the same pointer hardening (the fast path's limit).
        Trace replay (deciding, from trace_init()) on the oracle's traced boot, run
        from the repository's root: events per second end to end from the gzip'd
        text, and applying events already parsed.
        Build with -c release for meaningful numbers: swift run -c release kmemlab
        bench
        """)

    @Flag(help: "Fewer repetitions (every workload still runs).") var quick = false
    @Flag(help: "Print one JSON object of named figures instead of tables.") var json = false
    @Option(help: "Repetitions per workload.") var `repeat`: Int?
    @Option(help: "alloc+free pairs per workload (default 1000000, 200000 with --quick).") var iterations: Int?
    @Option(help: ArgumentHelp("Run only the workloads whose name starts with this (for profiling); skips the boots.", valueName: "prefix")) var only: String?
    @Option(name: .customLong("native"), help: ArgumentHelp(visibility: .hidden)) var nativeChild: String?
    @Option(name: .customLong("max-boot"), help: ArgumentHelp("Skip boots larger than this (e.g. 64T); their figures print as null.", valueName: "size")) var maxBoot: String?

    static let mixedSizes = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096]
    static let slowpathObjects = 100_000

    /// alloc_pages/__free_pages pairs: orders 0, 3 and 9 go through the pcp lists as in Linux;
    /// 4 and 10 always split from and merge into the buddy lists.
    static let pageWorkloads: [(String, GFPFlags, Order)] = [
        ("page_order0_pair_ns", .gfpKernel, 0), ("page_order3_pair_ns", .gfpKernel, 3),
        ("page_order9_pair_ns", .gfpTranshugeLight, 9), ("page_order4_buddy_ns", .gfpKernel, 4),
        ("page_order10_buddy_ns", .gfpHighuserMovable, 10),
    ]

    /// The boots: QEMU pc machines, the last one the most a 5-level x86-64 machine can hold
    /// below the 52-bit limit (QEMU keeps the top 2 TiB for its PCI hole).
    static let sizes: [(String, UInt64)] = [("4gib", 4 << 30), ("64gib", 64 << 30), ("1tib", 1 << 40),
                                            ("64tib", 64 << 40), ("4pib", (1 << 52) - (1 << 41))]

    /// Named figures in the order they were measured (nil: not measured).
    struct Figures {
        var items: [(String, Double?)] = []
        subscript(_ key: String) -> Double? {
            get { items.first { $0.0 == key }?.1 ?? nil }
            set {
                if let i = items.firstIndex(where: { $0.0 == key }) { items[i].1 = newValue } else { items.append((key, newValue)) }
            }
        }
    }

    func wanted(_ key: String) -> Bool { only.map { key.hasPrefix($0) } ?? true }

    func run() throws {
        let n = Swift.max(1, `repeat` ?? (quick ? 2 : 5))
        let iterations = Swift.max(1024, iterations ?? (quick ? 200_000 : 1_000_000))
        var f = Figures()
        if let name = nativeChild {
            // The child side of childFigures(): malloc here is the preloaded library's.
            nativeFigures(&f, name, .glibc, n, iterations)
            print(f.items.map { "\($0.0)=\($0.1 ?? -1)" }.joined(separator: " "))
            return
        }
        try boots(&f, n)
        allocators(&f, n, iterations)
        processes(&f, n, iterations)
        replay(&f)
        web(&f, n)
        if json {
            let parts = f.items.map { key, v -> String in
                guard let v else { return "\"\(key)\": null" }
                return key.hasSuffix("_bytes")
                    ? "\"\(key)\": \(String(format: "%.0f", v))" : "\"\(key)\": \(String(format: "%.6g", v))"
            }
            print("{" + parts.joined(separator: ", ") + "}")
            return
        }
        if only == nil {
            print("machine   boot (median)     per GiB     peak host RSS")
            for (name, _) in Bench.sizes {
                guard let t = f["boot_\(name)_s"], let rss = f["boot_\(name)_peak_rss_bytes"], let g = f["boot_\(name)_ns_per_gib"] else {
                    print("\(name.padding(toLength: 9, withPad: " ", startingAt: 0)) skipped (--max-boot)")
                    continue
                }
                print("\(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(String(format: "%10.4f s", t))  \(String(format: "%8.1f µs", g / 1000))  \(String(format: "%8d", Int(rss) >> 20)) MiB")
            }
            if let b = f["host_bytes_per_page"] { print(String(format: "host memory per simulated page (largest boot): %.4f bytes", b)) }
            print("")
        }
        print("workload (4 GiB pc), ns per alloc+free, best of \(n) × \(iterations)")
        for (key, v) in f.items where key.hasSuffix("_ns") && !key.hasPrefix("boot_") {
            print("\(key.padding(toLength: 28, withPad: " ", startingAt: 0)) " + (v.map { String(format: "%9.2f", $0) } ?? "      n/a"))
        }
        for (key, v) in f.items where key.hasSuffix("_ms") {
            print("\(key.padding(toLength: 28, withPad: " ", startingAt: 0)) " + (v.map { String(format: "%9.2f", $0) } ?? "      n/a"))
        }
        for (key, v) in f.items where key.hasSuffix("_per_s") {
            print("\(key.padding(toLength: 28, withPad: " ", startingAt: 0)) " + (v.map { String(format: "%9.0f", $0) } ?? "      n/a"))
        }
        let ratios = f.items.filter { $0.0.hasSuffix("_ratio") || $0.0.contains("_vs_") }
        if !ratios.isEmpty {
            print("\nratios (kmemlab ÷ other, same run)")
            for (key, v) in ratios {
                print("\(key.padding(toLength: 36, withPad: " ", startingAt: 0)) " + (v.map { String(format: "%8.3f", $0) } ?? "     n/a"))
            }
        }
    }

    func boots(_ f: inout Figures, _ n: Int) throws {
        guard only == nil else { return }
        var limit = UInt64.max
        if let maxBoot {
            guard let v = MachineOptions.parseSize(maxBoot) else {
                throw InputError(file: "(options)", field: "--max-boot", "\"\(maxBoot)\" is not a size such as 64T")
            }
            limit = v
        }
        var largest: (bytes: UInt64, rss: Int)?
        for (name, bytes) in Bench.sizes {
            guard bytes <= limit else {
                f["boot_\(name)_s"] = nil; f["boot_\(name)_peak_rss_bytes"] = nil; f["boot_\(name)_ns_per_gib"] = nil
                continue
            }
            var m = QEMUPreset(type: .pc, memBytes: bytes, cpus: 2).machine()
            if bytes > 64 << 40 { m.cpus.la57 = true }
            var times: [Double] = []
            for _ in 0..<(bytes > 64 << 40 ? 1 : n) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                var k = Kernel(machine: m)
                k.log.enabled = false
                try? k.boot()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                precondition(!k.nodes.isEmpty)
            }
            times.sort()
            let t = times[times.count / 2]
            let rss = Bench.peakRSSBytes()
            f["boot_\(name)_s"] = t
            f["boot_\(name)_peak_rss_bytes"] = Double(rss)
            f["boot_\(name)_ns_per_gib"] = t * 1e9 / Double(bytes >> 30)
            largest = (bytes, rss)
        }
        if let largest { f["host_bytes_per_page"] = Double(largest.rss) / Double(largest.bytes >> 12) }
    }

    /// The explorer's server side (issue 19): the whole page map's cells, and the slowest tile
    /// over every zoom level (GET /api/tile), on a 4 GiB machine and on a 1 TiB one, whose map
    /// must cost about the same (no byte per page: free blocks and allocated pages only).
    func web(_ f: inout Figures, _ n: Int) {
        for (suffix, bytes) in [("", UInt64(4) << 30), ("_1t", UInt64(1) << 40)] {
            guard wanted("web_map" + suffix) || wanted("web_tile" + suffix) else { continue }
            var k = Kernel(machine: QEMUPreset(type: .pc, memBytes: bytes, cpus: 2).machine())
            k.log.enabled = false
            try? k.boot()
            func ms(_ body: () -> Void) -> Double {
                var best = Double.infinity
                for _ in 0..<n {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    body()
                    best = Swift.min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                }
                return best
            }
            f["web_map\(suffix)_ms"] = ms { _ = PageMap(k) }
            // A pfn in the middle of RAM above 4 GiB's hole (or of the 4 GiB machine's DMA32).
            let pfn = k.maxPfn.raw / 2
            var worst = 0.0
            for level in 0...PageMap.topLevel(k) {
                worst = Swift.max(worst, ms { _ = PageMap(k, tileHolding: pfn, level: level) })
            }
            f["web_tile\(suffix)_ms"] = worst
        }
    }

    func allocators(_ f: inout Figures, _ n: Int, _ iterations: Int) {
        var k = Kernel(machine: QEMUPreset(type: .pc, memBytes: 4 << 30, cpus: 2).machine())
        k.log.enabled = false
        try? k.boot()
        func best(_ key: String, _ ops: Int, _ body: (inout Kernel) -> Void) {
            guard wanted(key) else { return }
            f[key] = Bench.bestNs(n, ops) { body(&k); return 0 }
        }
        // The slab allocator. A cache of its own (no merging), 64-byte objects.
        let saved = k.slub.nomerge
        k.slub.nomerge = true
        let cache = try! k.kmemCacheCreate(KmemCacheSpec(name: "bench_64", size: 64))
        k.slub.nomerge = saved
        best("slab_pair_ns", iterations) { k in
            for _ in 0..<iterations {
                let o = k.slabAllocNode(cache, .gfpKernel)!
                _ = k.slabFree(cache, o)
            }
        }
        best("kmalloc_mixed_ns", iterations) { k in
            var i = 0
            for _ in 0..<iterations {
                let o = k.kmalloc(Bench.mixedSizes[i], .gfpKernel)!
                k.kfree(o)
                i += 1
                if i == Bench.mixedSizes.count { i = 0 }
            }
        }
        let order = Bench.slowpathOrder
        let rounds = Swift.max(1, iterations / Bench.slowpathObjects)
        var objs = [UInt64](repeating: 0, count: Bench.slowpathObjects)
        best("slab_slowpath_ns", rounds * Bench.slowpathObjects) { k in
            for _ in 0..<rounds {
                for i in 0..<Bench.slowpathObjects { objs[i] = k.slabAllocNode(cache, .gfpKernel)! }
                for i in order { _ = k.slabFree(cache, objs[i]) }
            }
        }
        // The page allocator.
        for (key, gfp, order) in Bench.pageWorkloads {
            best(key, iterations) { k in
                for _ in 0..<iterations {
                    guard let p = k.allocPages(gfp, order: order) else { fatalError("bench: allocation failed") }
                    k.freePages(p, order: order)
                }
            }
        }
        var held = [MMCore.Pfn](repeating: .max, count: 1024)
        best("page_order0_burst1024_ns", iterations / 1024 * 1024) { k in
            for _ in 0..<(iterations / 1024) {
                for i in 0..<1024 { held[i] = k.allocPages(.gfpKernel, order: 0)! }
                for i in 0..<1024 { k.freePages(held[i], order: 0) }
            }
        }
        // The same work on the host's allocators, and the bare freelist.
        nativeFigures(&f, "glibc", .glibc, n, iterations)
        if FileManager.default.fileExists(atPath: NativeAllocator.jemallocLibrary) {
            childFigures(&f, "jemalloc", preload: NativeAllocator.jemallocLibrary, n, iterations)
        } else {
            nativeFigures(&f, "jemalloc", nil, n, iterations)
        }
        nativeFigures(&f, "mimalloc", .mimalloc, n, iterations)
        if wanted("freelist_limit_pair_ns") {
            var bare = BareFreelist()
            f["freelist_limit_pair_ns"] = Bench.bestNs(n, iterations) { bare.pairs(iterations) }
        }
        if wanted("slab_limit_pair_ns") {
            var limit = BareSlabLimit()
            f["slab_limit_pair_ns"] = Bench.bestNs(n, iterations) { limit.pairs(iterations) }
        }
        // kmemlab ÷ each, for the three workloads, and the distance to the limit.
        for (mine, work) in [("slab_pair_ns", "pair"), ("kmalloc_mixed_ns", "mixed"), ("slab_slowpath_ns", "slowpath")] {
            for other in ["glibc", "jemalloc", "mimalloc"] {
                guard let a = f[mine], f.items.contains(where: { $0.0 == "\(other)_\(work)_ns" }) else { continue }
                f["\(mine.dropLast(3))_vs_\(other)_ratio"] = f["\(other)_\(work)_ns"].map { a / $0 }
            }
        }
        if let a = f["slab_pair_ns"], let b = f["freelist_limit_pair_ns"] { f["slab_pair_vs_freelist_limit_ratio"] = a / b }
        if let a = f["page_order0_pair_ns"], let b = f["slab_pair_ns"] { f["page_order0_pair_vs_slab_pair_ratio"] = a / b }
        // Issue 16's targets, by their names (null when either side did not run).
        for (key, mine, other) in [("slab_vs_limit", "slab_pair_ns", "slab_limit_pair_ns"),
                                   ("slab_vs_mimalloc", "slab_pair_ns", "mimalloc_pair_ns"),
                                   ("kmalloc_vs_mimalloc", "kmalloc_mixed_ns", "mimalloc_mixed_ns"),
                                   ("slowpath_vs_glibc", "slab_slowpath_ns", "glibc_slowpath_ns"),
                                   ("page0_vs_slab", "page_order0_pair_ns", "slab_pair_ns")] where wanted(mine) {
            if let a = f[mine], let b = f[other] { f[key] = a / b } else { f[key] = nil }
        }
    }

    /// Workloads 1–3 on one C allocator (nil: not installed, the figures are null).
    func nativeFigures(_ f: inout Figures, _ name: String, _ a: NativeAllocator?, _ n: Int, _ iterations: Int) {
        let rounds = Swift.max(1, iterations / Bench.slowpathObjects)
        for (work, ops) in [("pair", iterations), ("mixed", iterations), ("slowpath", rounds * Bench.slowpathObjects)] {
            let key = "\(name)_\(work)_ns"
            guard wanted(key) else { continue }
            guard let a else { f[key] = nil; continue }
            f[key] = Bench.bestNs(n, ops) {
                switch work {
                case "pair": return a.pair(ops)
                case "mixed": return a.mixed(ops)
                default: return a.slowpath(count: Bench.slowpathObjects, rounds: rounds, order: Bench.slowpathOrder)
                }
            }
        }
    }

    /// Workload 3's free order: one seeded permutation, the same for kmemlab and the others.
    static let slowpathOrder: [Int] = {
        var rng = SplitMix64(seed: 7)
        var order = Array(0..<slowpathObjects)
        order.shuffle(using: &rng)
        return order
    }()

    /// The best of `n` runs of `body`, in ns per operation; what body returns is kept
    /// observable so the work is not optimised away.
    /// Processes: an anonymous write fault (VMA lookup, zeroed page from the allocator, page
    /// tables, PTE) on base pages, a read of a cached page (1 MiB reads of a cached 64 MiB file),
    /// and the model's glibc malloc+free of 24 bytes.
    func processes(_ f: inout Figures, _ n: Int, _ iterations: Int) {
        if wanted("anon_fault_ns") {
            var k = Kernel(machine: QEMUPreset(type: .pc, memBytes: 4 << 30, cpus: 2).machine())
            k.log.enabled = false
            try? k.boot()
            var c = FaultContext()
            c.thpEnabled = .never
            let pages: UInt64 = 16384
            var best = Double.infinity
            for _ in 0..<n {
                var p = UserProcess(pid: 1, comm: "bench")
                guard let a = p.task.mmap(0, pages << 12, .readWrite, .privateAnonymous) else { break }
                var l = NoListener()
                let t0 = DispatchTime.now().uptimeNanoseconds
                for i in 0..<pages { _ = p.task.handleFault(a + (i << 12), write: true, &c, &k, &l) }
                best = Swift.min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(pages))
                p.task.exitMmap(&c, &k)
            }
            f["anon_fault_ns"] = best.isFinite ? best : nil
        }
        if wanted("pagecache_read_ns") {
            var k = Kernel(machine: QEMUPreset(type: .pc, memBytes: 4 << 30, cpus: 2).machine())
            k.log.enabled = false
            try? k.boot()
            var cache = PageCache()
            let file = cache.create("bench", size: 64 << 20, tmpfs: false)
            var ra = ReadaheadState()
            var l = NoListener()
            _ = cache.read(file, &ra, pos: 0, count: 64 << 20, cpu: 0, &k, &l)
            let pages = (64 << 20) / 4096
            f["pagecache_read_ns"] = Bench.bestNs(n, pages) {
                var r = ReadaheadState()
                var pos: UInt64 = 0
                while pos < 64 << 20 { _ = cache.read(file, &r, pos: pos, count: 1 << 20, cpu: 0, &k, &l); pos += 1 << 20 }
                return 0
            }
        }
        if wanted("glibc_model_pair_ns") {
            var p = UserProcess(pid: 1, comm: "bench")
            f["glibc_model_pair_ns"] = Bench.bestNs(n, iterations) {
                for _ in 0..<iterations {
                    let m = p.libc.malloc(24, &p.task)
                    try? p.libc.free(m, &p.task)
                }
                return 0
            }
        }
    }

    /// Trace replay on the oracle's traced boot (--trace, default the fixture's), deciding, from
    /// trace_init(): end to end from the gzip'd text (read, parse, apply), and applying events
    /// already parsed. Null when the trace or its log is not there.
    func replay(_ f: inout Figures) {
        guard wanted("replay_") else { return }
        let dir = "Tests/Fixtures/oracle/cases/pc-2g-trace"
        guard let text = try? String(contentsOfFile: dir + "/dmesg.txt", encoding: .utf8),
              let m = try? DmesgParser(fileName: "dmesg.txt").parse(text) else {
            f["replay_events_per_s"] = nil
            f["replay_apply_events_per_s"] = nil
            return
        }
        var k = Kernel(machine: m)
        k.log.enabled = false
        k.scratch.stopAtTraceInit = true
        guard (try? k.boot()) != nil else { return }
        // End to end: read, inflate, parse, apply, as `kmemlab replay` does.
        var reader = TraceReader(fileName: "trace")
        var run = DecideReplay(kernel: k)
        var count = 0
        let t0 = DispatchTime.now().uptimeNanoseconds
        let read: ()? = try? TraceFile.forEachLine(dir + "/trace.txt.gz") { (line, number) throws(InputError) in
            if let e = try reader.read(line, line: number) { run.apply(e); count += 1 }
        }
        guard read != nil else { return }
        let t1 = DispatchTime.now().uptimeNanoseconds
        f["replay_events_per_s"] = Double(count) / (Double(t1 - t0) / 1e9)
        // The events parsed once more, untimed, for the apply-only figure.
        var events: [TraceEvent] = []
        events.reserveCapacity(count)
        var again = DecideReplay(kernel: k)
        var reader2 = TraceReader(fileName: "trace")
        guard (try? TraceFile.forEachLine(dir + "/trace.txt.gz") { (line, number) throws(InputError) in
            if let e = try reader2.read(line, line: number) { events.append(e) }
        }) != nil else { return }
        let t2 = DispatchTime.now().uptimeNanoseconds
        for e in events { again.apply(e) }
        let t3 = DispatchTime.now().uptimeNanoseconds
        f["replay_apply_events_per_s"] = Double(events.count) / (Double(t3 - t2) / 1e9)
        if again.pageAllocMatches != run.pageAllocMatches { print("replay: the two runs differ") }
    }

    static func bestNs(_ n: Int, _ ops: Int, _ body: () -> UInt) -> Double {
        var b = Double.infinity
        var sink: UInt = 0
        for _ in 0..<n {
            let t0 = DispatchTime.now().uptimeNanoseconds
            sink &+= body()
            b = Swift.min(b, Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(ops))
        }
        if sink == 42 { print("") }
        return b
    }

    /// Runs workloads 1–3 in a child kmemlab with `preload` as its malloc (LD_PRELOAD), for a
    /// library that cannot be loaded with dlopen(); null figures if the child fails.
    func childFigures(_ f: inout Figures, _ name: String, preload: String, _ n: Int, _ iterations: Int) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        if !FileManager.default.isExecutableFile(atPath: p.executableURL!.path),
           let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            p.executableURL = URL(fileURLWithPath: exe)
        }
        p.arguments = ["bench", "--native", name, "--repeat", "\(n)", "--iterations", "\(iterations)"] + (only.map { ["--only", $0] } ?? [])
        var env = ProcessInfo.processInfo.environment
        env["LD_PRELOAD"] = preload
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        var values: [String: Double] = [:]
        if (try? p.run()) != nil {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            for item in String(decoding: data, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }) {
                let kv = item.split(separator: "=")
                if kv.count == 2, let v = Double(kv[1]), v >= 0 { values[String(kv[0]).replacingOccurrences(of: "\(name)_", with: "")] = v }
            }
        }
        for work in ["pair", "mixed", "slowpath"] where wanted("\(name)_\(work)_ns") {
            f["\(name)_\(work)_ns"] = values["\(work)_ns"]
        }
    }

    /// getrusage's ru_maxrss (KiB on Linux).
    static func peakRSSBytes() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Int(u.ru_maxrss) * 1024
    }
}
