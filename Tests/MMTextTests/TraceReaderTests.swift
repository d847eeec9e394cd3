// The kmem trace reader against a real trace (pc-2g-trace: 661 765 events of a QEMU boot
// recorded with trace_event=kmem:…), and the forms of a line other tools and kernels print.

import Foundation
import MMCore
@testable import MMText
import KmemlabTestSupport
import Testing

@Suite("kmem traces are read as the kernel wrote them")
struct TraceReaderTests {
    func event(_ line: String) throws -> TraceEvent? {
        var r = TraceReader(fileName: "t")
        return try r.read(Substring(line), line: 1)
    }

    @Test("the oracle's trace: every event, counted by kind as the capture counted them")
    func oracleTrace() throws {
        var s = TraceSummary(fileName: "trace.txt.gz")
        try TraceFile.forEachLine(Fixtures.casePath("pc-2g-trace", "trace.txt.gz")) { (line, n) throws(InputError) in
            try s.add(line, number: n)
        }
        var expected: [String: Int] = [:]
        var total = 0
        for l in Fixtures.text(Fixtures.casePath("pc-2g-trace", "trace-summary.txt")).split(separator: "\n") {
            let w = l.split(separator: " ")
            if w.first == "event", w.count == 3 { expected[String(w[1])] = Int(w[2]) }
            if w.first == "events_in_file", w.count == 2 { total = Int(w[1]) ?? -1 }
        }
        #expect(expected.count == 7 && total == 661_765)
        #expect(Dictionary(uniqueKeysWithValues: s.reader.counts.map { ($0.key.rawValue, $0.value) }) == expected)
        #expect(s.reader.counts.values.reduce(0, +) == total && s.reader.entriesInBuffer == total)
        #expect(s.reader.skipped.isEmpty)
        // Every free pairs with an allocation or is counted as one from before tracing.
        #expect(s.objectAllocs == 35_069 + 295_308 && s.objectFrees == 24_217 + 221_115)
        #expect(s.objectAllocs - (s.objectFrees - s.objectFreesUntraced) == s.objectsLive)
        #expect(s.pageAllocs - (s.pageFrees - s.pageFreesUntraced) == s.pagesLive)
    }

    @Test("6.1's lines: fields by name, gfp flags parsed")
    func linux61() throws {
        let a = try #require(try event("          <idle>-0       [001] d..1.     1.055582: mm_page_alloc: page=ffffea000022bd80 pfn=0x8af6 order=1 migratetype=0 gfp_flags=__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP"))
        #expect(a.kind == .mmPageAlloc && a.cpu == 1 && a.pfn == Pfn(0x8af6) && a.order == 1 && a.migratetype == 0)
        #expect(a.gfp == [.nowarn, .noretry, .comp])
        let k = try #require(try event("  kthreadd-2  [000] ....  1.0: kmalloc: call_site=alloc_desc+0x35/0x250 ptr=ffff888008aa5200 bytes_req=448 bytes_alloc=512 gfp_flags=GFP_KERNEL|__GFP_ZERO node=0 accounted=false"))
        #expect(k.kind == .kmalloc && k.ptr == 0xffff888008aa5200 && k.bytesReq == 448 && k.bytesAlloc == 512 && k.node == 0)
        #expect(k.gfp == GFPFlags.gfpKernel.union(.zero))
        // Texts are interned: the same bytes are the same id, and the id gives them back.
        var r = TraceReader(fileName: "t")
        let line = "<idle>-0 [000] .N.1. 1.333369: kmem_cache_free: call_site=do_set_mempolicy+0x106/0x150 ptr=ffff888008afc550 name=numa_policy"
        let f = try #require(try r.read(Substring(line), line: 1))
        #expect(f.kind == .kmemCacheFree && r.name(f.cacheNameID) == "numa_policy" && r.name(f.callSiteID) == "do_set_mempolicy+0x106/0x150")
        let g = try #require(try r.read(Substring(line.replacingOccurrences(of: "numa_policy", with: "numa_polic2")), line: 2))
        let h = try #require(try r.read(Substring(line), line: 3))
        #expect(h.cacheNameID == f.cacheNameID && g.cacheNameID != f.cacheNameID && g.callSiteID == f.callSiteID)
        #expect(r.name(g.cacheNameID) == "numa_polic2" && r.name(.none) == nil && r.name(TraceName(raw: 99)) == nil)
        let u = try #require(try r.read("  a-1 [000] 1.0: mm_page_alloc: pfn=0x10 order=0 migratetype=0 gfp_flags=GFP_KERNEL|__GFP_MADE_UP", line: 4))
        #expect(u.gfp == nil && r.name(u.gfpTextID) == "GFP_KERNEL|__GFP_MADE_UP")
        #expect(MemoryLayout<TraceEvent>.size <= 104, "an event is copied from the reader to the replay: keep it small")
        // Values past an int read back as printed; the kinds' ordinals are their places.
        for v in ["2147483648", "4294967295", "-1", "0", "7"] {
            let n = try #require(try event("a-1 [000] 1.0: kmalloc_node: call_site=x ptr=10 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL node=\(v)"))
            #expect(n.node == (v == "-1" ? -1 : Int(v)), "node=\(v)")
        }
        #expect(TraceEvent.Kind.allCases.enumerated().allSatisfy { $0.offset == $0.element.ordinal })
        // vmalloc's page array: the call site's function, followed by anything.
        for (site, array) in [("__vmalloc_area_node+x", true), ("__vmalloc_area_node+", false),
                              ("__vmalloc_node_range+0x1/0x2", true), ("__vmalloc_node_range+", false), ("vmalloc+0x1", false)] {
            let a = try #require(try event("a-1 [000] 1.0: kmalloc: call_site=\(site) ptr=10 bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL node=-1"))
            #expect((a.vmallocPages != nil) == array, "\(site)")
        }
    }

    @Test("trace-cmd report, older kernels, hashed pointers and CRLF read the same")
    func otherForms() throws {
        // trace-cmd report: no irq-flags column, padded event names.
        let t = try #require(try event("          <idle>-0     [000]     1.053424: kmalloc:              call_site=tracepoint_add_func+0xf7/0x3f0 ptr=0xffff888008a978c0 bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL"))
        #expect(t.kind == .kmalloc && t.ptr == 0xffff888008a978c0)
        // Older kernels: decimal pfn=, kmalloc_node, call_site as a number.
        let old = try #require(try event("bash-1234 [002] .... 5.000: mm_page_free: page=ffffea0000011d40 pfn=18293 order=0"))
        #expect(old.pfn == Pfn(18293))
        let node = try #require(try event("bash-1234 [002] .... 5.000: kmalloc_node: call_site=ffffffff81234567 ptr=000000003c2f8f7a bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL node=1"))
        #expect(node.kind == .kmallocNode && node.ptr == 0x3c2f8f7a && node.node == 1)
        #expect(try event("x-1 [000] d..1. 1.0: mm_page_free: page=0 pfn=0x10 order=2\r")?.order == 2)
        // Other events are skipped and counted; headers are not events.
        var r = TraceReader(fileName: "t")
        #expect(try r.read("x-1 [000] d..1. 1.0: sched_switch: prev_comm=a", line: 1) == nil)
        #expect(try r.read("# tracer: nop", line: 2) == nil)
        #expect(r.skipped == ["sched_switch": 1] && r.otherLines == 1)
    }

    @Test("a kmem event without the field it needs names its line and field", arguments: [
        ("x-1 [000] d..1. 1.0: mm_page_alloc: page=0 order=0 migratetype=0 gfp_flags=GFP_KERNEL", "pfn"),
        ("x-1 [000] d..1. 1.0: mm_page_free: page=0 pfn=0x10 order=99", "order"),
        ("x-1 [000] d..1. 1.0: mm_page_free: page=0 pfn=0xffffffffffffffffff order=0", "pfn"),
        ("x-1 [000] d..1. 1.0: kfree: call_site=x ptr=(____ptrval____)", "ptr"),
        ("x-1 [000] d..1. 1.0: kmalloc: call_site=x bytes_req=64", "ptr"),
        ("x-1 [000] d..1. 1.0: kmalloc: call_site=x ptr=ffff888000001000 bytes_req=-1", "bytes_req"),
    ])
    func malformed(_ line: String, _ field: String) {
        var r = TraceReader(fileName: "t.txt")
        do { _ = try r.read(Substring(line), line: 42); Issue.record("accepted: \(line)") } catch {
            #expect(error.line == 42 && error.field == field, "\(error)")
        }
    }

    @Test("the fast readings equal the plain ones: colons, the eight-byte scan, numbers, on mutated oracle lines")
    func fastPathsAgree() throws {
        var lines: [[UInt8]] = []
        try TraceFile.forEachLine(Fixtures.casePath("pc-2g-trace", "trace.txt.gz")) { (line, n) throws(InputError) in
            if n <= 3000 { lines.append(Array(line.bytes)) }
        }
        var rng = SplitMix64(seed: 21)
        let alphabet: [UInt8] = Array(" \t:.=0123456789abx[]-".utf8)
        var fastAnswered = 0
        for round in 0..<30_000 {
            var l = lines[round % lines.count]
            for _ in 0..<Int(rng.next() % 4) {
                let at = Int(rng.next() % UInt64(l.count + 1))
                if rng.next() % 2 == 0 || l.isEmpty {
                    l.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                } else {
                    l.remove(at: min(at, l.count - 1))
                }
            }
            l.withUnsafeBufferPointer { b in
                // Half the time where readBytes starts (after the first ']'), else anywhere.
                let bracket = b.firstIndex(of: 93).map { $0 + 1 } ?? 0
                let from = round % 2 == 0 ? bracket : Int(rng.next() % UInt64(max(b.count, 1)))
                let slow = TraceReader.stampAndNameByWords(b, from: from, to: b.count)
                if let fast = TraceReader.stampAndName(b, from: from, to: b.count) {
                    fastAnswered += 1
                    #expect(fast.0 == slow.0 && fast.1 == slow.1, "\(String(decoding: b, as: UTF8.self))")
                }
                guard let base = b.baseAddress else { return }
                for orEquals in [false, true] {
                    var plain = from
                    while plain < b.count, !(b[plain] == 32 || b[plain] == 9 || (orEquals && b[plain] == 61)) { plain += 1 }
                    #expect(TraceReader.scan(base, from, b.count, orEquals: orEquals) == plain)
                }
                // A word of the line as a number, against Swift's own reading.
                let end = TraceReader.scan(base, from, b.count, orEquals: false)
                let word = UnsafeBufferPointer(rebasing: b[from..<end])
                let text = String(decoding: word, as: UTF8.self)
                let hex = text.hasPrefix("0x") || text.hasPrefix("0X")
                let expected = hex ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text, radix: 10)
                let plainText = text.allSatisfy { $0.isASCII && ($0.isNumber || (hex && $0.isHexDigit) || $0 == "x" || $0 == "X") }
                if plainText && !text.hasPrefix("+") { #expect(TraceReader.number(word) == expected, "\(text)") }
            }
        }
        #expect(fastAnswered > 14_000, "\(fastAnswered)")
    }

    @Test("files: missing, empty, plain or gzip'd")
    func files() throws {
        var lines = 0
        try TraceFile.forEachLine(Fixtures.casePath("pc-2g-trace", "trace-summary.txt")) { (_, n) throws(InputError) in lines = n }
        #expect(lines == 14)
        do { try TraceFile.forEachLine("/dev/null") { (_, _) throws(InputError) in }; Issue.record("read /dev/null") } catch {
            #expect(error.message == "the file is empty")
        }
        // A newline among the first two bytes (the gzip probe's) splits lines like any other.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kmemlab-lines-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (text, want) in [("a\nb\n", ["a", "b"]), ("\n\n", ["", ""]), ("x", ["x"]), ("\nyz\nw", ["", "yz", "w"])] {
            let path = dir.appendingPathComponent("t.txt").path
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            var got: [String] = []
            try TraceFile.forEachLine(path) { (line, n) throws(InputError) in
                #expect(n == got.count + 1)
                got.append(String(line.text))
            }
            #expect(got == want, "\(text.debugDescription)")
        }
    }

    @Test("gzip'd in the process: the same lines as the text; concatenated members read on; trailing bytes ignored; a cut stream fails after its whole lines")
    func gzipStreams() throws {
        let gz = try Data(contentsOf: URL(fileURLWithPath: Fixtures.casePath("pc-2g-trace", "trace.txt.gz")))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kmemlab-gzip-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func lines(_ data: Data, _ name: String) -> (count: Int, last: String, error: InputError?) {
            let path = dir.appendingPathComponent(name).path
            _ = FileManager.default.createFile(atPath: path, contents: data)
            var n = 0, last = ""
            do {
                try TraceFile.forEachLine(path) { (line, number) throws(InputError) in n = number; last = String(line.text) }
                return (n, last, nil)
            } catch { return (n, last, error) }
        }
        let whole = lines(gz, "whole.gz")
        #expect(whole.count == 661_777 && whole.error == nil)
        #expect(whole.last.hasSuffix("kmem_cache_free: call_site=do_sys_openat2+0x9b/0x170 ptr=ffff88800d591000 name=names_cache"))
        let twice = lines(gz + gz, "twice.gz")
        #expect(twice.count == 2 * whole.count && twice.error == nil)
        let padded = lines(gz + Data(repeating: 0, count: 100), "padded.gz")
        #expect(padded.count == whole.count && padded.error == nil)
        let cut = lines(gz.prefix(gz.count / 2), "cut.gz")
        #expect(cut.error?.field == "(gzip)" && cut.error?.message == "the gzip stream ends early: the file is truncated")
        // Every whole line before the cut, as many as gzip -dc gets out of the same bytes.
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["gzip", "-dc", dir.appendingPathComponent("cut.gz").path]
        let out = Pipe()
        gzip.standardOutput = out
        gzip.standardError = FileHandle.nullDevice
        try gzip.run()
        let partial = out.fileHandleForReading.readDataToEndOfFile()
        gzip.waitUntilExit()
        #expect(cut.count == partial.reduce(0) { $0 + ($1 == 10 ? 1 : 0) } && cut.count > 300_000, "\(cut.count)")
        #expect(cut.last.contains(": "), "the last line handed over is a whole one")
        // A reader that stops early (a malformed line) stops the inflating thread and returns.
        var seen = 0
        do {
            try TraceFile.forEachLine(Fixtures.casePath("pc-2g-trace", "trace.txt.gz")) { (_, n) throws(InputError) in
                seen = n
                if n == 1000 { throw InputError(file: "t", line: n, field: "f", "stop") }
            }
            Issue.record("the reader's error was lost")
        } catch { #expect(error.message == "stop" && seen == 1000) }
        let damaged = lines(gz.prefix(20) + Data(repeating: 0xff, count: 4000), "damaged.gz")
        #expect(damaged.error?.field == "(gzip)" && damaged.count == 0, "\(String(describing: damaged.error))")
    }
}

/// A 256 MiB, 2-CPU QEMU pc, booted to the end.
func smallBooted() throws -> Kernel {
    var k = Kernel(machine: QEMUPreset(type: .pc, memBytes: 256 << 20, cpus: 2).machine())
    try k.boot()
    return k
}

/// The events of these trace lines.
func traceEvents(_ lines: [String]) throws -> [TraceEvent] {
    var r = TraceReader(fileName: "t")
    var out: [TraceEvent] = []
    for (i, l) in lines.enumerated() { if let e = try r.read(Substring(l), line: i + 1) { out.append(e) } }
    return out
}

@Suite("replaying page events as recorded")
struct TraceReplayTests {
    @Test("a refill, the allocation from the CPU's list, and the free follow the recorded pfn")
    func refillAllocFree() throws {
        var k = try smallBooted()
        // A free order-0 block the model has: take the head of the movable order-3 list, say.
        let zone = k.nodes[0].zones[ZoneType.dma32.rawValue]
        let free = try #require(zone.freeLists.first { !$0.isEmpty && $0.head != PageDescriptor.nilLink }?.head)
        let before = zone.freePages
        var replay = TraceReplay(kernel: k)
        for e in try traceEvents([
            "x-1 [001] d..4. 1.0: mm_page_alloc_zone_locked: page=0 pfn=\(hex(free)) order=0 migratetype=0 percpu_refill=1",
            "x-1 [001] d..1. 1.0: mm_page_alloc: page=0 pfn=\(hex(free)) order=0 migratetype=0 gfp_flags=GFP_KERNEL",
            "x-1 [001] ...1. 1.0: mm_page_free: page=0 pfn=\(hex(free)) order=0",
            "x-1 [001] d..1. 1.0: mm_page_alloc: page=0 pfn=0x6a00 order=0 migratetype=0 gfp_flags=GFP_KERNEL",
        ]) { replay.apply(e) }
        #expect(replay.applied == [.mmPageAllocZoneLocked: 1, .mmPageAlloc: 1, .mmPageFree: 1])
        #expect(replay.refused == [.mmPageAlloc: 1])
        #expect(replay.firstRefusals == ["line 4: mm_page_alloc pfn 0x6a00 order 0: neither on a CPU's list nor free in the model"])
        // The freed page sits on CPU 1's list; the buddy lists are one page short.
        let after = replay.kernel.nodes[0].zones[ZoneType.dma32.rawValue]
        #expect(after.freePages == before - 1 && after.pcp[1].count == 1)
        #expect(replay.kernel.checkPageAllocInvariants() == nil)
    }

    @Test("the oracle's trace replays onto its finished boot (--start booted): most page events apply, and DMA ends as the real kernel's did")
    func oracleTrace() throws {
        let m = try DmesgParser(fileName: "dmesg.txt").parse(Fixtures.text(Fixtures.casePath("pc-2g-trace", "dmesg.txt")))
        var k = Kernel(machine: m)
        try k.boot()
        var replay = TraceReplay(kernel: k)
        var reader = TraceReader(fileName: "trace")
        try TraceFile.forEachLine(Fixtures.casePath("pc-2g-trace", "trace.txt.gz")) { (line, n) throws(InputError) in
            if let e = try reader.read(line, line: n) { replay.apply(e) }
        }
        #expect(replay.applied[.mmPageAlloc] == 37_313 && replay.refused[.mmPageAlloc] == 72)
        #expect(replay.applied[.mmPageAllocZoneLocked] == 27_971 && replay.applied[.mmPageFree] == 16_984)
        let real = Fixtures.text(Fixtures.casePath("pc-2g-trace", "buddyinfo.txt")).split(separator: "\n")
        let model = ProcFiles.render("buddyinfo", replay.kernel) ?? []
        #expect(model.first == real.first.map(String.init), "the DMA zone")
        #expect(replay.kernel.checkPageAllocInvariants() == nil)
    }
}

@Suite("perf kmem stat's tables from a text trace")
struct KmemStatTests {
    @Test("the full-event-set capture: totals agree with the trace's own pairing, the grid sums to the allocations, 6.1's type names")
    func fullTrace() throws {
        var stat = KmemStat(cpuToNode: [0, 0])
        var s = TraceSummary(fileName: "trace")
        try TraceFile.forEachLine(Fixtures.casePath("pc-1g-trace-full", "trace.txt.gz")) { (line, n) throws(InputError) in
            if let e = try s.add(line, number: n) { stat.add(e, names: s.reader) }
        }
        let slab = stat.slabText(lines: 5), page = stat.pageText(lines: 5)
        #expect(slab.contains("Cross CPU allocations: 0/330,314"))
        #expect(page.contains("Total allocation requests     :           37,450   [          172,456 KB ]"))
        #expect(page.contains("Total free-only requests      :            4,180   [          631,980 KB ]"))
        #expect(s.pageAllocs == 37_450 && s.pageFreesUntraced == 4_180 && s.objectAllocs == 330_314)
        #expect(page.contains("Order     Unmovable       Movable   Reclaimable    HighAtomic       Isolate"))
        #expect(page.contains("    0        21,849        11,645         1,492             .             ."))
        let grid = page.drop { !$0.hasPrefix("-----  ") }.dropFirst().map { $0.split(separator: " ").dropFirst().map { Int($0.replacingOccurrences(of: ",", with: "")) ?? 0 }.reduce(0, +) }
        #expect(grid.reduce(0, +) == 37_450)
        #expect(slab.first == String(repeating: "-", count: 105) && slab[1].hasPrefix(" Callsite                           | Total_alloc/Per"))
        #expect(KmemStat.fixed(87.5, 3) == "87.500" && KmemStat.fixed(0.7496371, 6) == "0.749637")
    }
}

@Suite("replaying a trace with the model deciding")
struct DecideReplayTests {
    @Test("the model's own choice matches, a different one is explained, frees find the model's page, consequences are counted")
    func smallTrace() throws {
        let k = try smallBooted()
        // What the model gives CPU 1 for GFP_KERNEL, asked on a copy.
        var probe = k
        let firstPfn = probe.allocPages(.gfpKernel, order: 0, cpu: 1)
        let secondPfn = probe.allocPages(.gfpKernel, order: 0, cpu: 1)
        let first = try #require(firstPfn), second = try #require(secondPfn)
        let freeBefore = k.nodes[0].zones.map { $0.freePages + $0.pcp.reduce(0) { $0 + $1.count } }
        var replay = DecideReplay(kernel: k)
        for e in try traceEvents([
            "x-1 [001] d..4. 1.0: mm_page_alloc_zone_locked: page=0 pfn=\(hex(first)) order=0 migratetype=0 percpu_refill=1",
            "x-1 [001] d..1. 1.0: mm_page_alloc: page=0 pfn=\(hex(first)) order=0 migratetype=0 gfp_flags=GFP_KERNEL",
            "x-1 [001] d..1. 1.0: mm_page_alloc: page=0 pfn=0x6a00 order=0 migratetype=0 gfp_flags=GFP_KERNEL",
            "x-1 [001] ...1. 1.0: mm_page_free: page=0 pfn=0x6a00 order=0",
            "x-1 [001] ...2. 1.0: mm_page_free_batched: page=0 pfn=0x6a00 order=0",
            "x-1 [001] ...1. 1.0: mm_page_free: page=0 pfn=\(hex(first)) order=0",
            "x-1 [000] ...1. 1.0: mm_page_free: page=0 pfn=0x7000 order=0",
            "x-1 [000] d..3. 1.0: mm_page_alloc_extfrag: page=0 pfn=0x9000 alloc_order=0 fallback_order=10 pageblock_order=9 alloc_migratetype=0 fallback_migratetype=1 fragmenting=0 change_ownership=1",
        ]) { replay.apply(e) }
        #expect(replay.pageAllocs == 2 && replay.pageAllocMatches == 1 && replay.matchRate == 0.5)
        #expect(replay.firstDivergence.first == "line 3: mm_page_alloc order 0 GFP_KERNEL on cpu 1: the kernel gave pfn 0x6a00, the model \(hex(second))")
        #expect(replay.firstDivergence.contains { $0.contains("pcp list of cpu 1 empty: refilled with 1 order-0 blocks") }, "\(replay.firstDivergence)")
        // Both frees reach the model's pages; 0x7000 was never allocated by anyone.
        #expect(replay.pageFrees == 2 && replay.pageFreesRefused == 1)
        #expect(replay.firstRefusals == ["line 7: mm_page_free pfn 0x7000 order 0: allocated before tracing began, and not allocated in the model"])
        #expect(replay.recordedZoneLocked == 1 && replay.recordedBatched == 1)
        #expect(replay.recordedExtfrag == { var c = ExtfragCounters(); c.count(allocMigratetype: .unmovable, fallbackOrder: 10, changedOwnership: true); return c }())
        let freeAfter = replay.kernel.nodes[0].zones.map { $0.freePages + $0.pcp.reduce(0) { $0 + $1.count } }
        #expect(freeAfter == freeBefore)
        #expect(replay.kernel.checkPageAllocInvariants() == nil)
    }

    @Test("vmalloc's bulk allocator: the CPU list's pages in order, refilled as needed, and no mm_page_alloc")
    func bulk() throws {
        let k = try smallBooted()
        var single = k, bulk = k
        let one = (0..<6).compactMap { _ in single.allocPages(TraceReplay.vmallocGFP, order: 0, cpu: 1) }
        var rec = EventRecorder()
        let many = bulk.pageAlloc.allocPagesBulk(TraceReplay.vmallocGFP, count: 6, cpu: 1, &bulk.physMem, listener: &rec)
        #expect(many.count == 6 && many == one)
        #expect(!rec.events.contains { if case .allocated = $0 { return true } else { return false } })
        #expect(rec.events.contains { if case .pcpRefill = $0 { return true } else { return false } })
        var r = TraceReader(fileName: "t")
        let timed = try #require(try r.read("  x-12  [001] d..1.  123.4567: kfree: call_site=f+0x1/0x2 ptr=ffff888004000000", line: 1))
        #expect(timed.timeUS == 123_456_700 && timed.pid == 12)
        #expect(TraceReplay.bulkChunks(4) == [4] && TraceReplay.bulkChunks(101) == [100] && TraceReplay.bulkChunks(250) == [100, 100, 50])
        #expect(bulk.checkPageAllocInvariants() == nil)
    }

    @Test("--json and --every: one object with the issue's keys, and figures per zone")
    func json() throws {
        var run = ReplayRun(kernel: try smallBooted(), asRecorded: false)
        var s = TraceSummary(fileName: "t")
        for (i, l) in ["x-1 [001] d..1. 1.0: mm_page_alloc: page=0 pfn=0x6a00 order=0 migratetype=0 gfp_flags=GFP_KERNEL",
                       "x-1 [001] ...1. 1.0: kfree: call_site=x+0x1/0x2 ptr=ffff888004000000"].enumerated() {
            if let e = try s.add(Substring(l), number: i + 1) { run.apply(e) }
        }
        let j = ReplayReport.summaryJSON(run, summary: s, events: 2, seconds: 0.5)
        for key in ["\"events\":2", "\"skipped\":0", "\"page_allocs\":1", "\"page_alloc_pfn_match\":0.000000",
                    "\"object_alloc_match\":null", "\"events_per_s\":4", "\"zones\":[{\"node\":0,\"zone\":\"DMA\"",
                    "\"unusable_index\":[", "\"extfrag_index\":[-1.000", "\"nodes\":[{\"node\":0,\"score\":"] {
            #expect(j.contains(key), "\(key)")
        }
        #expect(j.hasPrefix("{") && j.hasSuffix("}}"))
        let rows = ReplayReport.csvRows(run.kernel, events: 2)
        #expect(rows.count == 2 && rows[1].hasPrefix("2,,0,DMA32,"))
        #expect(ReplayReport.csvRows(run.kernel, events: 7, timeUS: 1_500_042)[0].hasPrefix("7,1.500042,0,DMA,"))
        #expect(ReplayReport.csvHeader.split(separator: ",", omittingEmptySubsequences: false).count == rows[1].split(separator: ",", omittingEmptySubsequences: false).count)
    }

    @Test("--vs: two machines side by side, the figures that differ starred")
    func sideBySide() throws {
        let a = ReplayRun(kernel: try smallBooted(), asRecorded: false)
        var k = try smallBooted()
        try k.writeSysctl("vm.min_free_kbytes", "8192")
        let b = ReplayRun(kernel: k, asRecorded: false)
        let rows = ReplayReport.sideBySide(a, b, vsLabel: "with --sysctl vm.min_free_kbytes=8192")
        #expect(rows.first?.hasSuffix("this machine    with --sysctl vm.min_free_kbytes=8192") == true)
        #expect(rows.contains { $0.hasPrefix("node 0 DMA32: watermarks min/low/high") && $0.hasSuffix("  *") })
        #expect(rows.contains { $0.hasPrefix("node 0 DMA32: free pages") && !$0.hasSuffix("*") })
        #expect(rows.contains { $0.hasPrefix("mm_page_alloc given the kernel's pfn") })
    }

    /// The oracle trace's own machine, booted to trace_init() (the trace's first event).
    static func atTraceInit(_ name: String) throws -> Kernel {
        let m = try DmesgParser(fileName: "dmesg.txt").parse(Fixtures.text(Fixtures.casePath(name, "dmesg.txt")))
        var k = Kernel(machine: m)
        k.scratch.stopAtTraceInit = true
        try k.boot()
        return k
    }

    @Test("as recorded from trace_init(): the boot's own frees come from the trace, and buddyinfo and pagetypeinfo end as the real kernel's")
    func asRecordedFromTraceInit() throws {
        var replay = TraceReplay(kernel: try Self.atTraceInit("pc-2g-trace"))
        var reader = TraceReader(fileName: "trace")
        try TraceFile.forEachLine(Fixtures.casePath("pc-2g-trace", "trace.txt.gz")) { (line, n) throws(InputError) in
            if let e = try reader.read(line, line: n) { replay.apply(e) }
        }
        // From the finished boot 45 allocations and 4,610 frees were refused; from trace_init()
        // the deferred pages, the initrd and the init sections are freed where the kernel freed
        // them, and what is left are pages allocated before tracing that the model never had.
        // vmalloc's pages come from the bulk allocator, which the trace does not show: the
        // replay takes them off the CPU's list when the area's page array is kmalloc'd, so
        // their vfree()s apply too (942 refused frees without that).
        #expect(replay.applied[.mmPageAlloc] == 37_379 && replay.refused[.mmPageAlloc] == 6)
        #expect(replay.applied[.mmPageFree] == 20_368 && replay.refused[.mmPageFree] == 7)
        #expect(replay.bulkPages == 2_192)
        // Where the trace was silent (before trace_init(), or while events were re-enabled), the
        // kernel's own choices show what it took: blocks ahead of its choice on the lists it
        // takes the head of, and fallbacks that moved a block to the asking type's list.
        #expect(replay.kernel.pageAlloc.inferredFallbacks == 27 && replay.kernel.pageAlloc.inferredUntraced == 349)
        // The model's next choice on the kernel's own state: nearly always the kernel's.
        #expect(replay.buddyChoices.asked == 28_296 && replay.buddyChoices.same >= 28_261)
        #expect(replay.pcpChoices.asked == 37_353 && replay.pcpChoices.same >= 37_350)
        #expect(replay.lateBoot?.pagesetsAt == 154 && replay.lateBoot?.initcallsAt == 53_782)
        let real = Fixtures.text(Fixtures.casePath("pc-2g-trace", "buddyinfo.txt")).split(separator: "\n").map(String.init)
        let model = ProcFiles.render("buddyinfo", replay.kernel) ?? []
        #expect(model.first == real.first, "the DMA zone")
        // The free lists end exactly as the real kernel's: the boot CPU's 64 MiB ring buffer
        // and ftrace's records (allocated before tracing) are modelled, and the rest inferred.
        #expect(model == real, "buddyinfo, every order of both zones")
        let realTypes = Fixtures.text(Fixtures.casePath("pc-2g-trace", "pagetypeinfo.txt"))
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(ProcFiles.render("pagetypeinfo", replay.kernel) == realTypes, "pagetypeinfo: free blocks per type and order, pageblocks per type")
        #expect(replay.kernel.checkPageAllocInvariants() == nil)
    }

    @Test("boot --trace: the boot part ends with the mm_page_free of the rodata/data gap's last page, the gap the log names",
          arguments: [("pc-2g-trace", 160_108), ("pc-1g-trace-full", 159_163)])
    func bootPart(_ name: String, endLine: Int) throws {
        let k = try Self.atTraceInit(name)
        let gapPages = k.machine.kernel.rodataDataGapSize >> 12
        #expect(gapPages == 277, "the log's \"(rodata/data gap) memory: 1108K\"")
        let part = try TraceReplay.bootPart(Fixtures.casePath(name, "trace.txt.gz"), k)
        let end = try #require(part.end, "the trace holds kernel_init()'s last free")
        #expect(end.line == endLine && end.pfn == Pfn(0x29ff) && part.endPfn == Pfn(0x29ff))
        // The whole gap was freed by the trace (the model's range is the kernel's), the page
        // below it (read-only data) is still the kernel image's.
        let first = 0x29ff - gapPages + 1
        #expect((first...0x29ff).allSatisfy { !part.replay.kernel.memmap.page(Pfn($0)).flags.contains(.reserved) })
        #expect(part.replay.kernel.memmap.page(Pfn(first - 1)).flags.contains(.reserved))
        // Nothing after the boot is applied; every event is either.
        var total = 0
        var reader = TraceReader(fileName: "trace")
        try TraceFile.forEachLine(Fixtures.casePath(name, "trace.txt.gz")) { (line, n) throws(InputError) in
            if try reader.read(line, line: n) != nil { total += 1 }
        }
        #expect(part.after > 400_000 && part.applied + part.after == total)
        #expect(part.replay.kernel.checkPageAllocInvariants() == nil)
    }

    @Test("the oracle's trace: every mm_page_alloc asked, the share given the kernel's pfn at least its floor")
    func oracleTrace() throws {
        let k = try Self.atTraceInit("pc-2g-trace")
        var replay = DecideReplay(kernel: k)
        var reader = TraceReader(fileName: "trace")
        try TraceFile.forEachLine(Fixtures.casePath("pc-2g-trace", "trace.txt.gz")) { (line, n) throws(InputError) in
            if let e = try reader.read(line, line: n) { replay.apply(e) }
        }
        #expect(replay.pageAllocs == 37_385 && replay.pageAllocFailed == 0 && replay.pageAllocSkipped == 0)
        // The floor (README). The first divergence is the 64th line: allocations between
        // mm_init() and trace_init() (sched_init(), workqueues, rcu) are not modelled, so the
        // kernel's free lists already differ there; raise the floor as they are.
        #expect(replay.pageAllocMatches >= 11_648)
        #expect(replay.bulkPages == 2_333 && replay.pageFreesRefused <= 154)
        #expect(replay.lateBoot?.initcallsAt == 53_782)
        #expect(replay.recordedZoneLocked == 28_296)
        #expect(replay.kernel.checkPageAllocInvariants() == nil)
    }

    @Test("a full page event set: mm_page_free_batched marks frees already made, extfrag claims pageblocks as recorded")
    func fullEventSet() throws {
        var s = TraceSummary(fileName: "trace")
        let m = try DmesgParser(fileName: "dmesg.txt").parse(Fixtures.text(Fixtures.casePath("pc-1g-trace-full", "dmesg.txt")))
        var k = Kernel(machine: m)
        try k.boot()
        var replay = TraceReplay(kernel: k)
        try TraceFile.forEachLine(Fixtures.casePath("pc-1g-trace-full", "trace.txt.gz")) { (line, n) throws(InputError) in
            if let e = try s.add(line, number: n) { replay.apply(e) }
        }
        // 15,138 batched markers: not frees (the summary's pairing would otherwise miss 15,138
        // allocations), and applied as nothing.
        #expect(s.pageFrees == 19_825 && s.reader.counts[.mmPageFreeBatched] == 15_138)
        #expect(replay.applied[.mmPageFreeBatched] == 15_138)
        #expect(replay.applied[.mmPageAllocExtfrag] == 26 && replay.refused[.mmPageAllocExtfrag] == nil)
        #expect(replay.extfrag.events == 26)
        #expect(replay.kernel.checkPageAllocInvariants() == nil)
    }
}

@Suite("U64Map, the pairing table of trace replay")
struct U64MapTests {
    /// Keys as traces have them: page-aligned pointers, pfns close together, direct-map
    /// pointers, and keys that differ only in their top bits.
    static func key(_ i: UInt64, _ seed: UInt64) -> UInt64 {
        switch seed {
        case 1: return i << 12
        case 3: return i | 0xffff_8880_0000_0000
        case 4: return 0x1234 | i << 48
        default: return i
        }
    }

    @Test("a million random inserts, updates and removals over clustered keys agree with Dictionary", arguments: [1, 2, 3, 4] as [UInt64])
    func agreesWithDictionary(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var map = U64Map<Int>(), dict: [UInt64: Int] = [:]
        for i in 0..<1_000_000 {
            let key = U64MapTests.key(rng.next() % 5000, seed)
            switch rng.next() % 3 {
            case 0, 1:
                #expect(map.updateValue(i, forKey: key) == dict.updateValue(i, forKey: key))
            default:
                #expect(map.removeValue(forKey: key) == dict.removeValue(forKey: key))
            }
            if i % 50_000 == 0 {
                #expect(map.count == dict.count)
                for k in 0..<UInt64(5000) {
                    let key = U64MapTests.key(k, seed)
                    if map[key] != dict[key] { Issue.record("key \(key): \(String(describing: map[key])) vs \(String(describing: dict[key]))"); return }
                }
            }
        }
        #expect(map.count == dict.count)
    }
}
