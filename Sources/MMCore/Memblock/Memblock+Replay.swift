// Replaying a real boot's memblock=debug log: the reservations exactly as that boot made them.
//
// Linux: every memblock_reserve / memblock_phys_free / memblock_add / memblock_remove line that
// `memblock=debug` prints (mm/memblock.c, memblock_dbg()). Allocations print their request and
// then the memblock_reserve of the result, so replaying the range lines alone reproduces them.
// Reservations made before `memblock=debug` is parsed (the kernel image, the first 64 KiB, the
// initrd, setup_data, the BIOS regions) are silent; they come from the machine as in a model boot.

/// Pages reserved by one memblock and not by another, and the other way round.
public struct ReservedDifference: Equatable, Sendable {
    public var onlyInFirst: UInt64
    public var onlyInSecond: UInt64
}

extension Kernel {
    /// The memblock state after the silent early reservations and the first `count` logged calls.
    /// Reservations made before the first NODE_DATA get their nodes (from this kernel's NUMA
    /// state) where numa_clear_kernel_node_hotplug() gave them theirs.
    public func replayedMemblock(count: Int) -> Memblock {
        var k = Kernel(machine: machine)
        k.log.enabled = false
        k.earlyReserveMemory()
        var mb = k.memblock
        // The log already contains the reservations of any array doubling: never double here.
        mb.memory.max = Int.max / 2
        mb.reserved.max = Int.max / 2
        var silent = KernelLog()
        silent.enabled = false
        for (i, call) in machine.memblockLog.prefix(count).enumerated() {
            if i == machine.memblockLogNumaIndex {
                for b in numa.meminfo { mb.setNode(b.start, b.end - b.start, in: .reserved, nid: b.nid, log: &silent) }
            }
            // (Free-text records such as "memblock: reserved is doubled …" carry no range.)
            guard case let .range(fn, base, last) = call.kind, last > base else { continue }
            let size = last &- base &+ 1
            switch fn {
            case "memblock_reserve": mb.reserve(base, size, log: &silent)
            case "memblock_phys_free", "memblock_free": mb.physFree(base, size, log: &silent)
            case "memblock_add", "memblock_add_node": mb.add(base, size, log: &silent)
            case "memblock_remove": mb.remove(base, size, log: &silent)
            default: break
            }
        }
        return mb
    }

    /// Pages (PFN_DOWN(base) … PFN_UP(end), as memblock_free_all() marks them) reserved in one
    /// array and not in the other.
    public static func reservedDifference(_ a: MemblockType, _ b: MemblockType) -> ReservedDifference {
        func pages(_ t: MemblockType) -> [(UInt64, UInt64)] {
            var out: [(UInt64, UInt64)] = []
            for r in t.regions where r.size != 0 {
                let s = Pfn.down(r.base).raw, e = Pfn.up(r.end).raw
                if let last = out.last, s <= last.1 { out[out.count - 1].1 = Swift.max(last.1, e) } else { out.append((s, e)) }
            }
            return out
        }
        func minus(_ x: [(UInt64, UInt64)], _ y: [(UInt64, UInt64)]) -> UInt64 {
            var total: UInt64 = 0
            var j = 0
            for (s, e) in x {
                var cursor = s
                while j < y.count && y[j].1 <= cursor { j += 1 }
                var k = j
                while cursor < e {
                    if k < y.count && y[k].0 < e {
                        if y[k].0 > cursor { total += y[k].0 - cursor }
                        cursor = Swift.max(cursor, y[k].1)
                        k += 1
                    } else {
                        total += e - cursor
                        cursor = e
                    }
                }
            }
            return total
        }
        let pa = pages(a), pb = pages(b)
        return ReservedDifference(onlyInFirst: minus(pa, pb), onlyInSecond: minus(pb, pa))
    }

    /// `--replay-memblock`: the reserved array becomes the logged boot's.
    public mutating func applyReplayedReservations(count: Int) {
        memblock.reserved = replayedMemblock(count: count).reserved
    }
}
