// `kmemlab bench`: how fast the model boots machines of growing size, and what it costs in host
// memory. Ratios between runs on one machine are meaningful; absolute times on shared machines
// are not.

import ArgumentParser
import Foundation
import MMCore
import MMText

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot QEMU-preset machines of 4 GiB … 64 TiB to the end of boot; print time and host memory.",
        discussion: """
        Each size is booted --repeat times (default 5, 2 with --quick) in this process; the median
        time is reported, with the process's peak resident memory after the size's boots (sizes
        run in ascending order, so each peak includes the smaller ones'). Build with -c release
        for meaningful numbers: swift run -c release kmemlab bench
        """)

    @Flag(help: "Fewer repetitions.") var quick = false
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Boots per size.") var `repeat`: Int?

    static let sizes: [(String, UInt64)] = [("4gib", 4 << 30), ("64gib", 64 << 30), ("1tib", 1 << 40), ("64tib", 64 << 40)]

    func run() throws {
        let n = Swift.max(1, `repeat` ?? (quick ? 2 : 5))
        var figures: [(String, Double, Int)] = []
        for (name, bytes) in Bench.sizes {
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
        if json {
            var parts: [String] = []
            for (name, t, rss) in figures {
                parts.append("\"boot_\(name)_s\": \(String(format: "%.6f", t))")
                parts.append("\"boot_\(name)_peak_rss_bytes\": \(rss)")
            }
            print("{" + parts.joined(separator: ", ") + "}")
        } else {
            print("machine   boot (median of \(n))   peak host RSS")
            for (name, t, rss) in figures {
                print("\(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(String(format: "%10.4f s", t))                   \(rss >> 20) MiB")
            }
        }
    }

    /// getrusage's ru_maxrss (KiB on Linux).
    static func peakRSSBytes() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Int(u.ru_maxrss) * 1024
    }
}
