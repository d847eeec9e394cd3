// glibc 2.36's malloc against the real one: the memory system calls of whole programs, as
// strace recorded them on Debian 12 (Tests/Fixtures/glibc; Scripts/glibc-oracle.sh remakes them).

import Foundation
import MMCore
import MMText
import Testing
import KmemlabTestSupport

@Suite("glibc malloc: system calls equal strace's")
struct GlibcMallocTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let glibc = root.appendingPathComponent("Fixtures/glibc")
    static let workloads = root.deletingLastPathComponent().appendingPathComponent("Workloads")

    /// strace's lines from the first marker on, without the pid column and exit lines, with
    /// the padding before "=" folded (strace pads to a column that depends on the pid column).
    static func measured(_ text: String, hasPid: Bool) -> [String] {
        var lines = text.split(separator: "\n").map(String.init)
        if hasPid { lines = lines.map { String($0.drop { $0 != " " }.drop { $0 == " " }) } }
        guard let start = lines.firstIndex(where: { $0.hasPrefix("madvise(NULL, 0, MADV_NORMAL)") }) else { return [] }
        return lines[start...].filter { !$0.hasPrefix("+++") }.map(fold)
    }

    static func fold(_ l: String) -> String {
        l.replacingOccurrences(of: #" +="#, with: " =", options: .regularExpression)
    }

    /// The model as the oracle host ran: a 2-CPU machine whose kernel (6.18) aligns 2 MiB
    /// multiples of anonymous memory.
    static func model(_ path: String) throws -> (strace: [String], output: [String]) {
        let w = try Workload(parsing: Fixtures.text(path), file: path)
        var r = WorkloadRunner(recordSyscalls: true)
        r.thpAlignAnonymous = true
        r.nprocs = 2
        try r.run(w)
        r.finish()
        return (measured(r.strace.joined(separator: "\n"), hasPid: true), r.output)
    }

    @Test("the oracle's programs (10000 × malloc(24); 100 × 200 KiB; realloc to 1 MiB)",
          arguments: ["malloc-small", "malloc-200k", "realloc-grow"])
    func programs(_ name: String) throws {
        let real = Self.measured(Fixtures.text(Self.glibc.appendingPathComponent("programs/\(name).strace.txt").path), hasPid: true)
        let (model, _) = try Self.model(Self.workloads.appendingPathComponent("\(name).txt").path)
        #expect(real.count > 3)
        #expect(Fixtures.firstDifference(real, model) == nil)
    }

    @Test("random workloads: 2500–3000 mallocs, frees, reallocs, callocs, memaligns, mallopts and trims each",
          arguments: ["seed-1", "seed-23", "seed-101", "seed-700"])
    func random(_ name: String) throws {
        let real = Self.measured(Fixtures.text(Self.glibc.appendingPathComponent("random/\(name).strace.txt").path), hasPid: true)
        let (model, _) = try Self.model(Self.glibc.appendingPathComponent("random/\(name).txt").path)
        #expect(real.count > 200)
        #expect(Fixtures.firstDifference(real, model) == nil)
    }

    @Test("threads: arenas (new, reused round the list past 8 × 2 CPUs, from the free list), thread stacks and their cache",
          arguments: ["arena-limit", "seed-500", "seed-517", "seed-703"])
    func threads(_ name: String) throws {
        let real = Self.measured(Fixtures.text(Self.glibc.appendingPathComponent("threads/\(name).strace.txt").path), hasPid: true)
        let (model, _) = try Self.model(Self.glibc.appendingPathComponent("threads/\(name).txt").path)
        #expect(real.count > 100)
        #expect(real.contains { $0.contains("MAP_NORESERVE") })
        #expect(Fixtures.firstDifference(real, model) == nil)
    }

    @Test("misuse: glibc's message, the page abort() maps, the signal",
          arguments: ["double-free-tcache", "double-free-2", "double-free-prev", "fasttop", "free-unmapped"])
    func misuse(_ name: String) throws {
        let base = Self.glibc.appendingPathComponent("misuse/\(name)").path
        let real = Self.measured(Fixtures.text(base + ".strace.txt"), hasPid: true)
            .map { $0.replacingOccurrences(of: #"si_pid=[0-9]+"#, with: "si_pid=PID", options: .regularExpression) }
        let (model, output) = try Self.model(base + ".txt")
        let modelLines = model.map { $0.replacingOccurrences(of: #"si_pid=[0-9]+"#, with: "si_pid=PID", options: .regularExpression) }
        #expect(Fixtures.firstDifference(real, modelLines) == nil)
        let said = Fixtures.text(base + ".err.txt").split(separator: "\n").first.map(String.init) ?? ""
        if said == "Segmentation fault" {
            #expect(output.contains { $0.contains("segfault at") })
        } else {
            #expect(output.contains { $0.hasSuffix(": " + said) }, "\(output) should say \(said)")
        }
    }

    @Test("mallinfo2() after a quirk: free() with a 32-byte top and trim threshold 0 grows the heap a page")
    func trimQuirk() throws {
        let text = """
        spawn q brk=0x555556659000
        mallopt M_MMAP_MAX 0
        mallopt M_TOP_PAD 0
        mallopt M_TRIM_THRESHOLD 0
        malloc a 100000
        malloc b 136856
        free a
        mallinfo
        """
        // a and b take all of top but 32 bytes; freeing a (≥ 64 KiB) calls systrim with top
        // 32 bytes: glibc's signed/unsigned compare lets it "release" −4096 bytes.
        let w = try Workload(parsing: text, file: "(test)")
        var r = WorkloadRunner(recordSyscalls: true)
        try r.run(w)
        let brks = r.strace.filter { $0.contains("brk(0x") }
        #expect(brks.count == 4, "\(r.strace)")
        #expect(r.output.last?.hasPrefix("mallinfo 241664 ") == true, "\(r.output)")
        #expect(r.output.last?.contains(" 4128 brk=") == true, "\(r.output)")
    }
}
