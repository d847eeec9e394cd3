// Where the oracle fixtures live in the repository (copied from shared/oracle so a fresh clone
// tests alone), and the comparisons every oracle test shares.

import Foundation

public enum Fixtures {
    /// Tests/Fixtures/oracle
    public static let oracle: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/oracle")

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
