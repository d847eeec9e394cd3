// Where physical KASLR put the kernel image, inferred from a log that does not say.
//
// Without `nokaslr` the decompressor may load the image anywhere in RAM, and no line prints
// where; with `memblock=debug` the brk reservation shows it, and kmemlab reads it from there.
// Otherwise the "Memory:" line tells one thing: whether the image lies below or above the node's
// first deferred pfn. mem_init_print_info() counts "available" as the pages free at mem_init() —
// memory above the first deferred pfn is not free yet — and "reserved" as the pages memblock
// never handed over, wherever they are. So the image lowers "available" by its size only when
// it lies below the cut. With the model's image at 16 MiB, (log reserved − model reserved) −
// (model available − log available) is then the image's size when the real one was above the
// cut, and about zero when it was below; reservations the model misses below the cut cancel out.

import MMCore

extension DmesgParser {
    /// "Memory: 1021544K/33332536K available (…, 821688K reserved, …)" → (available, reserved),
    /// in KiB.
    static func memoryFigures(_ m: Substring) -> (available: UInt64, reserved: UInt64)? {
        let words = m.split(separator: " ")
        guard words.count > 2, let slash = words[1].firstIndex(of: "/"), words[1].hasSuffix("K"),
              let available = UInt64(words[1][..<slash].dropLast()), available < 1 << 50 else { return nil }
        guard let i = words.firstIndex(where: { $0 == "reserved," }), i > 0, words[i - 1].hasSuffix("K"),
              let reserved = UInt64(words[i - 1].dropLast()), reserved < 1 << 50 else { return nil }
        return (available, reserved)
    }

    /// Boots the machine with the image where it is (16 MiB). When the log's figures show a kernel
    /// that does not defer struct-page init, says so; when they show the real image above the
    /// first deferred pfn, moves it into the middle of the largest RAM range of one node above
    /// that node's first deferred pfn, 1 GiB-aligned so that its mapping needs no new page tables.
    func placeKASLRImage(_ machine: inout Machine, logMemory: (available: UInt64, reserved: UInt64)) {
        var k = Kernel(machine: machine)
        do { try k.boot() } catch { return }
        guard let line = k.log.lines.first(where: { $0.hasPrefix("Memory: ") }),
              let model = DmesgParser.memoryFigures(Substring(line)) else { return }
        // A kernel without DEFERRED_STRUCT_PAGE_INIT has almost everything free at mem_init():
        // far more available than the model's deferred boot can have (it frees at most one
        // section of the last zone of each node beyond the lower zones).
        let sectionKB = UInt64(pagesPerSection) * 4 * UInt64(Swift.max(1, k.nodes.count))
        if logMemory.available > model.available + 2 * sectionKB {
            machine.kernel.deferredStructPageInit = false
            return
        }
        let imagePages = Int64((machine.kernel.brkEnd - machine.kernel.start) >> 12)
        // (log reserved − model reserved) − (model available − log available), in pages.
        let high = (Int64(logMemory.reserved) - Int64(model.reserved) - (Int64(model.available) - Int64(logMemory.available))) / 4
        // `high` is the real image's size plus whatever else the model misses above the cut; the
        // image's extent is an estimate (a 2 MiB step either way), so the test is half of it.
        guard imagePages > 0, high * 2 > imagePages else { return }
        // The largest RAM range inside one node, above that node's first deferred pfn, clear of
        // the initrd.
        let gib: UInt64 = 1 << 30
        var best: (UInt64, UInt64)? = nil
        for node in k.nodes where node.firstDeferredPfn != .max {
            let lo = node.firstDeferredPfn.physAddr, hi = node.nodeEndPfn.physAddr
            for e in machine.e820 where e.type == .ram {
                let start = Swift.max(e.addr, lo), end = Swift.min(e.addr &+ e.size, hi)
                guard end > start, end - start >= 2 * gib else { continue }
                if best.map({ end - start > $0.1 - $0.0 }) ?? true { best = (start, end) }
            }
        }
        guard let (start, end) = best else { return }
        let newStart = roundUp(start + (end - start) / 2 - gib / 2, gib)
        // Within the 46 bits a 4-level kernel maps, and the image fits its 1 GiB window.
        guard newStart >= start, newStart + gib <= end, newStart + gib <= 1 << 46 else { return }
        if let rd = machine.initrd, rd.addr < newStart + gib, newStart < rd.addr &+ rd.size { return }
        let shift = newStart &- machine.kernel.start
        machine.kernel.start = newStart
        machine.kernel.reserveEnd &+= shift
        machine.kernel.end &+= shift
    }
}
