// `kmemlab boot --steps`: the boot log with a heading before each step and what it did.

import MMCore

public enum BootStepsText {
    /// The log in dmesg's format, each step's lines under a heading naming the Linux function
    /// and file, followed by one line saying what the step changed: memblock's reservations and
    /// memory, and the pages on the buddy allocator's lists.
    public static func lines(_ k: Kernel) -> [String] {
        let steps = k.bootSteps
        var out: [String] = []
        let log = k.log.rendered()
        if let first = steps.first, first.firstLine > 0 { out.append(contentsOf: log[0..<first.firstLine]) }
        for (i, s) in steps.enumerated() {
            let next = i + 1 < steps.count ? steps[i + 1] : k.bootEnd
            out.append("")
            out.append("── \(s.function)   [\(s.file)]")
            out.append(contentsOf: log[s.firstLine..<Swift.min(next.firstLine, log.count)])
            out.append("   ⇒ " + summary(s, next))
        }
        return out
    }

    /// What happened between two marks, in words.
    static func summary(_ a: BootStep, _ b: BootStep) -> String {
        var parts: [String] = []
        if b.memory != a.memory { parts.append("memblock.memory \(signed(b.memory, a.memory)) (now \(size(b.memory)))") }
        if b.reserved != a.reserved { parts.append("reserved \(signed(b.reserved, a.reserved)) (now \(size(b.reserved)))") }
        if b.freePages != a.freePages {
            let d = b.freePages > a.freePages ? "+\(b.freePages - a.freePages)" : "−\(a.freePages - b.freePages)"
            parts.append("free pages \(d) (now \(b.freePages), \(size(b.freePages << pageShift)))")
        }
        return parts.isEmpty ? "no change to memblock or the free lists" : parts.joined(separator: "; ")
    }

    static func signed(_ now: UInt64, _ before: UInt64) -> String {
        now >= before ? "+" + size(now - before) : "−" + size(before - now)
    }

    /// Bytes in the largest unit that keeps three digits: 4 KiB, 12.5 MiB, 3.97 GiB.
    static func size(_ bytes: UInt64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var v = Double(bytes), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        if u == 0 { return "\(bytes) bytes" }
        let rounded = v >= 100 ? (v).rounded() : v >= 10 ? (v * 10).rounded() / 10 : (v * 100).rounded() / 100
        let text = rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
        return "\(text) \(units[u])"
    }
}
