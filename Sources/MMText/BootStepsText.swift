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

    /// What one step did, page by page (pfn ranges, ascending): the reservations it made and
    /// dropped, the memory it added to memblock, and what it handed to the buddy allocator late
    /// (after memblock_free_all(): deferred pages, the initrd, the image's freed parts).
    public struct Change: Equatable {
        public var reserved: [Range<UInt64>] = []
        public var unreserved: [Range<UInt64>] = []
        public var memory: [Range<UInt64>] = []
        public var freed: [Range<UInt64>] = []
    }

    /// Each step with the mark after it (the next step, or the end of boot) and its change.
    public static func changes(_ k: Kernel) -> [(step: BootStep, next: BootStep, change: Change)] {
        let steps = k.bootSteps
        return steps.indices.map { i in
            let s = steps[i], next = i + 1 < steps.count ? steps[i + 1] : k.bootEnd
            let before = pfnRanges(s.reservedRegions), after = pfnRanges(next.reservedRegions)
            var c = Change()
            c.reserved = minus(after, before)
            c.unreserved = minus(before, after)
            c.memory = minus(pfnRanges(next.memoryRegions), pfnRanges(s.memoryRegions))
            c.freed = merged(Array(k.scratch.lateFreed[s.lateFreedCount..<next.lateFreedCount]))
            return (s, next, c)
        }
    }

    /// Regions as the pfn ranges they touch (a partly covered page counts), merged.
    public static func pfnRanges(_ regions: [PhysRange]) -> [Range<UInt64>] {
        merged(regions.compactMap { r in
            let s = r.start >> pageShift, e = (r.end &+ pageSize &- 1) >> pageShift
            return s < e ? s..<e : nil
        })
    }

    /// Sorted, with overlapping and touching ranges joined.
    static func merged(_ ranges: [Range<UInt64>]) -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !r.isEmpty {
            if let last = out.last, r.lowerBound <= last.upperBound {
                out[out.count - 1] = last.lowerBound..<Swift.max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    /// The pages of `a` not in `b` (both merged).
    static func minus(_ a: [Range<UInt64>], _ b: [Range<UInt64>]) -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        var j = 0
        for r in a {
            var s = r.lowerBound
            while j < b.count && b[j].upperBound <= s { j += 1 }
            var k = j
            while k < b.count && b[k].lowerBound < r.upperBound && s < r.upperBound {
                if b[k].lowerBound > s { out.append(s..<b[k].lowerBound) }
                s = Swift.max(s, b[k].upperBound)
                k += 1
            }
            if s < r.upperBound { out.append(s..<r.upperBound) }
        }
        return out
    }

    /// What happened between two marks, in words.
    public static func summary(_ a: BootStep, _ b: BootStep) -> String {
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
