// Where the oracle fixtures live in the repository (copied from shared/oracle so a fresh clone
// tests alone), and the comparisons every oracle test shares.

import Foundation

public enum Fixtures {
    /// Tests/Fixtures/oracle
    public static let oracle: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/oracle")

    /// Tests/Fixtures/i386: 32-bit boot logs (no QEMU oracle exists for i386).
    public static func i386Path(_ name: String) -> String {
        oracle.deletingLastPathComponent().appendingPathComponent("i386/\(name)").path
    }

    public static var caseNames: [String] {
        let dir = oracle.appendingPathComponent("cases")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
    }

    public static var hardwareLogs: [String] {
        let dir = oracle.appendingPathComponent("hardware")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.hasSuffix(".txt") && $0 != "README.md" }.sorted()
    }

    public static func casePath(_ name: String, _ file: String) -> String {
        oracle.appendingPathComponent("cases/\(name)/\(file)").path
    }

    public static func hardwarePath(_ name: String) -> String {
        oracle.appendingPathComponent("hardware/\(name)").path
    }

    public static func text(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    public static func caseJSON(_ name: String) -> [String: Any] {
        let data = (try? Data(contentsOf: URL(fileURLWithPath: casePath(name, "case.json")))) ?? Data()
        return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:]
    }

    /// A log's messages without the "[    0.000000] " timestamps.
    public static func messages(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).compactMap { raw -> String? in
            var s = Substring(raw)
            if s.hasPrefix("#") { return nil }
            if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
                s = s[s.index(after: close)...]
                if s.hasPrefix(" ") { s = s.dropFirst() }
            }
            return String(s)
        }
    }

    /// The e820 lines of a boot log (the ones kmemlab must reproduce byte for byte).
    public static func e820Lines(_ lines: [String]) -> [String] {
        let prefixes = ["BIOS-provided physical RAM map:", "BIOS-e820:", "BIOS-e801:", "BIOS-88:", "e820: update ",
                        "e820: remove ", "user-defined physical RAM map:", "user: ", "last_pfn = ",
                        "extended physical RAM map:", "reserve setup_data: ", "extended: ",
                        "modified physical RAM map:", "modified: "]
        var out: [String] = []
        for l in lines {
            if l.hasPrefix("Memory: ") { break }
            if prefixes.contains(where: { l.hasPrefix($0) }) { out.append(l) }
        }
        return out
    }

    /// setup_arch()'s lines from reserve_real_mode() to the zones: every memblock=debug line, the
    /// log buffer, RAMDISK, ACPI reservations, NUMA, NODE_DATA, the memblock dump, sparse_init.
    public static func setupArchLines(_ lines: [String]) -> [String] {
        let prefixes = ["memblock_", "MEMBLOCK configuration:", " memory", " reserved", "printk: log_buf_len",
                        "RAMDISK: ", "ACPI: Reserving ", "ACPI: SRAT: Node ", "NUMA: ", "No NUMA", "NUMA turned off",
                        "Faking ", "NODE_DATA(", "    NODE_DATA(", "Initializing node",
                        "Reserving ", "crashkernel", "Cannot reserve "]
        var out: [String] = []
        var started = false
        for l in lines {
            if !started { started = l.hasSuffix("setup_arch+0x7e0/0xd4f"); continue }
            if l.hasPrefix("Zone ranges:") { break }
            if prefixes.contains(where: { l.hasPrefix($0) }) { out.append(l) }
        }
        return out
    }

    /// free_area_init()'s and build_all_zonelists()'s lines: zone ranges, node ranges, unavailable
    /// ranges, fallback orders, "Built N zonelists", "Policy zone".
    public static func zoneLines(_ lines: [String]) -> [String] {
        let prefixes = ["Zone ranges:", "Movable zone start for each node", "Early memory node ranges", "Initmem setup node",
                        "On node ", "Fallback order for Node", "Built ", "Policy zone: ", "Initializing node"]
        var out: [String] = []
        var started = false
        for l in lines {
            if !started { started = l.hasPrefix("Zone ranges:"); if !started { continue } }
            if l.hasPrefix("  ") && !l.hasPrefix("   ") && (l.contains("[mem ") || l.hasSuffix("empty") || l.hasPrefix("  Node ")) {
                out.append(l)
            } else if prefixes.contains(where: { l.hasPrefix($0) }) {
                out.append(l)
            }
            if l.hasPrefix("Policy zone: ") { break }
        }
        return out
    }

    /// (node, zone name, spanned, present, managed) from a /proc/zoneinfo.
    public static func zoneinfoSizes(_ text: String) -> [(Int, String, UInt64, UInt64, UInt64)] {
        var out: [(Int, String, UInt64, UInt64, UInt64)] = []
        var node = 0, zone = "", spanned: UInt64 = 0, present: UInt64 = 0
        for raw in text.split(separator: "\n") {
            let words = raw.split(separator: " ")
            if raw.hasPrefix("Node ") && words.count >= 4 {
                node = Int(words[1].dropLast()) ?? -1
                zone = String(words[3])
            } else if words.first == "spanned" {
                spanned = UInt64(words[1]) ?? 0
            } else if words.first == "present" {
                present = UInt64(words[1]) ?? 0
            } else if words.first == "managed" {
                out.append((node, zone, spanned, present, UInt64(words[1]) ?? 0))
            }
        }
        return out
    }

    /// The /proc/zoneinfo lines the oracle's README calls deterministic (sizes, watermarks,
    /// protection, pageset high and batch, stat thresholds, start_pfn), with their zone headers.
    public static func zoneinfoDeterministicLines(_ lines: [String]) -> [String] {
        let keys = ["min", "low", "high", "spanned", "present", "managed", "protection:", "high:", "batch:", "start_pfn:"]
        return lines.filter { line in
            if line.hasPrefix("Node ") || line.hasPrefix("  vm stats threshold:") { return true }
            guard let first = line.split(separator: " ").first else { return false }
            return keys.contains(String(first))
        }
    }

    /// The first difference of two line lists, for a readable failure.
    public static func firstDifference(_ expected: [String], _ actual: [String]) -> String? {
        for i in 0..<max(expected.count, actual.count) {
            let e = i < expected.count ? expected[i] : "(none)"
            let a = i < actual.count ? actual[i] : "(none)"
            if e != a { return "line \(i + 1):\n  kernel:  \(e)\n  kmemlab: \(a)" }
        }
        return nil
    }
}
