// What if: two booted machines side by side — the same machine with another command line or
// other vm sysctls — as rows of the numbers a reader compares, the changed ones marked.

import MMCore

public enum BootComparison {
    /// One compared figure: its name and its value on each machine.
    public struct Row: Equatable, Sendable {
        public var what: String
        public var base: String
        public var variant: String
        public var changed: Bool { base != variant }
    }

    /// The figures of both machines, in the base machine's order (a figure only one machine
    /// has, such as a zone the other lacks, shows "—" on the other side).
    public static func rows(_ a: Kernel, _ b: Kernel) -> [Row] {
        let fa = facts(a), fb = facts(b)
        var seen = Set<String>()
        var out: [Row] = []
        let lookup = Dictionary(fb, uniquingKeysWith: { first, _ in first })
        for (what, value) in fa where seen.insert(what).inserted {
            out.append(Row(what: what, base: value, variant: lookup[what] ?? "—"))
        }
        for (what, value) in fb where seen.insert(what).inserted {
            out.append(Row(what: what, base: "—", variant: value))
        }
        return out
    }

    /// The figures of one machine: its command line and "Memory:" line, /proc/meminfo, the vm
    /// sysctls, and per zone the sizes, watermarks, protection and pageset limits.
    public static func facts(_ k: Kernel) -> [(String, String)] {
        var out: [(String, String)] = [("command line", k.machine.commandLine)]
        if let memory = k.log.lines.first(where: { $0.hasPrefix("Memory: ") }) {
            out.append(("Memory:", String(memory.dropFirst("Memory: ".count))))
        }
        for line in ProcFiles.meminfo(k) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            out.append(("meminfo " + line[..<colon], line[line.index(after: colon)...].trimmingCharacters(" ")))
        }
        for line in ProcFiles.sysctl(k) {
            let parts = line.split(separator: " = ", maxSplits: 1)
            if parts.count == 2 { out.append((String(parts[0]), String(parts[1]).replacingTabs())) }
        }
        for node in k.nodes {
            for z in node.zones where z.isPopulated {
                let name = "node \(node.nodeId) \(z.type.name)"
                out.append((name + ": managed pages", String(z.managedPages)))
                out.append((name + ": free pages", String(z.freePages)))
                out.append((name + ": watermarks min/low/high", "\(z.minWmark) / \(z.lowWmark) / \(z.highWmark)"))
                out.append((name + ": protection", z.lowmemReserve.prefix(maxNrZones - 1).map { String($0) }.joined(separator: ", ")))
                out.append((name + ": pcp high/batch", "\(z.pagesetHigh) / \(z.pagesetBatch)"))
            }
        }
        return out
    }
}

extension Substring {
    /// Without leading and trailing blanks.
    func trimmingCharacters(_ c: Character) -> String {
        String(drop { $0 == c }.reversed().drop { $0 == c }.reversed())
    }
}

extension String {
    /// Tabs (sysctl's separator inside one value) as single spaces.
    func replacingTabs() -> String { String(map { $0 == "\t" ? " " : $0 }) }
}
