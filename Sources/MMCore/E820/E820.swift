// The firmware memory map (e820) and the kernel's edits to it.
//
// Linux: arch/x86/kernel/e820.c — e820__update_table() (sanitise), __e820__range_add(),
// __e820__range_update(), e820__range_remove(), e820_end_pfn(), e820__print_table(),
// e820_print_type(); arch/x86/include/asm/e820/types.h.
// Exact: the sanitising sweep (highest type wins an overlap, PRAM and soft-reserved never merge,
//        the table's 3200-entry limit), the order in which update/remove append split pieces, and
//        every line these functions print.
// Simplified: the kernel keeps three tables (e820_table, _kexec, _firmware); kmemlab keeps the
//        main and the kexec one, which is all that boot prints or consults.
// Invariants: after sanitize() entries are sorted, non-empty and non-overlapping.

/// An e820 memory type. Any 32-bit value can come from firmware ("type 20" on EFI machines).
@frozen
public struct E820Type: Hashable, Comparable, Sendable {
    public var rawValue: UInt32
    @inlinable public init(_ raw: UInt32) { rawValue = raw }
    @inlinable public static func < (a: E820Type, b: E820Type) -> Bool { a.rawValue < b.rawValue }

    /// Linux: E820_TYPE_RAM, "usable".
    public static let ram = E820Type(1)
    /// Linux: E820_TYPE_RESERVED.
    public static let reserved = E820Type(2)
    /// Linux: E820_TYPE_ACPI, "ACPI data".
    public static let acpi = E820Type(3)
    /// Linux: E820_TYPE_NVS, "ACPI NVS".
    public static let nvs = E820Type(4)
    /// Linux: E820_TYPE_UNUSABLE.
    public static let unusable = E820Type(5)
    /// Linux: E820_TYPE_PMEM.
    public static let pmem = E820Type(7)
    /// Linux: E820_TYPE_PRAM (legacy persistent memory, `memmap=nn!ss`).
    public static let pram = E820Type(12)
    /// Linux: E820_TYPE_SOFT_RESERVED (EFI specific-purpose memory).
    public static let softReserved = E820Type(0xefff_ffff)
    /// Linux: E820_TYPE_RESERVED_KERN — RAM the kernel keeps for setup_data; prints as "usable".
    public static let reservedKern = E820Type(128)

    /// The name e820_print_type() prints.
    public var printName: String {
        switch self {
        case .ram, .reservedKern: return "usable"
        case .reserved: return "reserved"
        case .softReserved: return "soft reserved"
        case .acpi: return "ACPI data"
        case .nvs: return "ACPI NVS"
        case .unusable: return "unusable"
        case .pmem, .pram: return "persistent (type \(rawValue))"
        default: return "type \(rawValue)"
        }
    }

    /// Types the sanitiser never merges with a neighbour (they may mark platform boundaries).
    var neverMerged: Bool { self == .pram || self == .softReserved }
}

@frozen
public struct E820Entry: Equatable, Sendable {
    public var addr: PhysAddr
    public var size: UInt64
    public var type: E820Type
    @inlinable public init(addr: PhysAddr, size: UInt64, type: E820Type) {
        self.addr = addr; self.size = size; self.type = type
    }
    /// One past the last byte (wraps to 0 for an entry that reaches 2^64, as in the kernel).
    @inlinable public var end: PhysAddr { addr &+ size }
}

/// An e820 table: at most `capacity` entries, in the order they were added until sanitised.
public struct E820Table: Equatable, Sendable {
    /// Linux: E820_MAX_ENTRIES = 128 + 3 * MAX_NUMNODES (NODES_SHIFT 10).
    public static let maxEntries = 128 + 3 * 1024

    public var entries: [E820Entry]

    public init(_ entries: [E820Entry] = []) { self.entries = entries }

    /// Linux: __e820__range_add(). A full table drops the range and says so.
    public mutating func add(_ start: PhysAddr, _ size: UInt64, _ type: E820Type, log: inout KernelLog) {
        if entries.count >= E820Table.maxEntries {
            log.info("too many entries; ignoring [mem \(hexPadded(start, width: 10))-\(hexPadded(start &+ size &- 1, width: 10))]")
            return
        }
        entries.append(E820Entry(addr: start, size: size, type: type))
    }

    /// Linux: e820__update_table(). Returns false, leaving the table as it was, when there are
    /// fewer than two entries or an entry wraps past 2^64 (the kernel's -1).
    @discardableResult
    public mutating func sanitize() -> Bool {
        if entries.count < 2 { return false }
        for e in entries where e.addr &+ e.size < e.addr { return false }

        // Change points: a start and an end per non-empty entry; starts sort before ends at the
        // same address, so touching entries of one type merge.
        struct ChangePoint { var addr: UInt64; var isEnd: Bool; var entry: Int }
        var points: [ChangePoint] = []
        points.reserveCapacity(entries.count * 2)
        for (i, e) in entries.enumerated() where e.size != 0 {
            points.append(ChangePoint(addr: e.addr, isEnd: false, entry: i))
            points.append(ChangePoint(addr: e.addr &+ e.size, isEnd: true, entry: i))
        }
        points.sort { a, b in
            if a.addr != b.addr { return a.addr < b.addr }
            return !a.isEnd && b.isEnd
        }

        var overlap: [Int] = []
        var result: [E820Entry] = []
        var lastType = E820Type(0)
        var lastAddr: UInt64 = 0
        var pending: E820Entry? = nil
        for p in points {
            if !p.isEnd {
                overlap.append(p.entry)
            } else if let k = overlap.firstIndex(of: p.entry) {
                overlap.swapAt(k, overlap.count - 1)
                overlap.removeLast()
            }
            var current = E820Type(0)
            for i in overlap where entries[i].type > current { current = entries[i].type }
            if current != lastType || current.neverMerged {
                if lastType.rawValue != 0, var open = pending {
                    open.size = p.addr &- lastAddr
                    if open.size != 0 {
                        result.append(open)
                        if result.count >= E820Table.maxEntries { pending = nil; break }
                    }
                    pending = nil
                }
                if current.rawValue != 0 {
                    pending = E820Entry(addr: p.addr, size: 0, type: current)
                    lastAddr = p.addr
                }
                lastType = current
            }
        }
        entries = result
        checkInvariants()
        return true
    }

    /// Linux: __e820__range_update(). Retypes [start, start+size) from `old` to `new`, appending
    /// split pieces at the end (the caller sanitises). Returns the bytes actually retyped.
    @discardableResult
    public mutating func update(_ start: PhysAddr, _ size: UInt64, from old: E820Type, to new: E820Type,
                                log: inout KernelLog, quiet: Bool = false) -> UInt64 {
        precondition(old != new, "e820 update to the same type")
        let size = min(size, UInt64.max - start)
        let end = start + size
        if !quiet {
            log.info("e820: update [mem \(hexPadded(start, width: 10))-\(hexPadded(end &- 1, width: 10))] \(old.printName) ==> \(new.printName)")
        }
        var updated: UInt64 = 0
        var i = 0
        while i < entries.count {
            defer { i += 1 }
            let e = entries[i]
            if e.type != old { continue }
            let entryEnd = e.end
            if e.addr >= start && entryEnd <= end {
                entries[i].type = new
                updated &+= e.size
                continue
            }
            if e.addr < start && entryEnd > end {
                add(start, size, new, log: &log)
                add(end, entryEnd - end, e.type, log: &log)
                entries[i].size = start - e.addr
                updated &+= size
                continue
            }
            let finalStart = max(start, e.addr)
            let finalEnd = min(end, entryEnd)
            if finalStart >= finalEnd { continue }
            add(finalStart, finalEnd - finalStart, new, log: &log)
            updated &+= finalEnd - finalStart
            entries[i].size -= finalEnd - finalStart
            if e.addr < finalStart { continue }
            entries[i].addr = finalEnd
        }
        return updated
    }

    /// Linux: e820__range_remove(). With `checkType` false every type in the range goes.
    /// The total removed wraps, a u64 as in the kernel: before e820__finish_early_params()
    /// sanitizes it, a table edited by several `memmap=` items may hold overlapping entries.
    @discardableResult
    public mutating func remove(_ start: PhysAddr, _ size: UInt64, type old: E820Type, checkType: Bool,
                                log: inout KernelLog) -> UInt64 {
        let size = min(size, UInt64.max - start)
        let end = start + size
        // With no type the kernel still prints the separating space before the newline.
        let what = checkType ? old.printName : ""
        log.info("e820: remove [mem \(hexPadded(start, width: 10))-\(hexPadded(end &- 1, width: 10))] \(what)")
        var removed: UInt64 = 0
        var i = 0
        while i < entries.count {
            defer { i += 1 }
            let e = entries[i]
            if checkType && e.type != old { continue }
            let entryEnd = e.end
            if e.addr >= start && entryEnd <= end {
                removed &+= e.size
                entries[i] = E820Entry(addr: 0, size: 0, type: E820Type(0))
                continue
            }
            if e.addr < start && entryEnd > end {
                add(end, entryEnd - end, e.type, log: &log)
                entries[i].size = start - e.addr
                removed &+= size
                continue
            }
            let finalStart = max(start, e.addr)
            let finalEnd = min(end, entryEnd)
            if finalStart >= finalEnd { continue }
            removed &+= finalEnd - finalStart
            entries[i].size -= finalEnd - finalStart
            if e.addr < finalStart { continue }
            entries[i].addr = finalEnd
        }
        return removed
    }

    /// Linux: e820_end_pfn(). The end of the last `type` range below `limit`, in table order; a
    /// range that crosses the limit stops the scan at the limit. Prints "last_pfn = ...".
    public func endPfn(limit: Pfn, type: E820Type, maxArchPfn: Pfn, log: inout KernelLog) -> Pfn {
        var last: UInt64 = 0
        for e in entries where e.type == type {
            let startPfn = e.addr >> pageShift
            let endPfn = (e.addr &+ e.size) >> pageShift
            if startPfn >= limit.raw { continue }
            if endPfn > limit.raw { last = limit.raw; break }
            if endPfn > last { last = endPfn }
        }
        if last > maxArchPfn.raw { last = maxArchPfn.raw }
        log.info("last_pfn = \(hex(last)) max_arch_pfn = \(hex(maxArchPfn.raw))")
        return Pfn(last)
    }

    /// Linux: e820__print_table(who).
    public func print(who: String, log: inout KernelLog) {
        for e in entries {
            log.info("\(who): [mem \(pa(e.addr))-\(pa(e.addr &+ e.size &- 1))] \(e.type.printName)")
        }
    }

    /// True when any byte of [start, end) is of `type` (Linux: e820__mapped_any).
    public func mappedAny(_ start: PhysAddr, _ end: PhysAddr, type: E820Type?) -> Bool {
        for e in entries {
            if let type, e.type != type { continue }
            if e.addr >= end || e.addr &+ e.size <= start { continue }
            return true
        }
        return false
    }

    /// True when [start, end) is wholly covered by `type` (Linux: e820__mapped_all; needs a
    /// sanitised table).
    public func mappedAll(_ start: PhysAddr, _ end: PhysAddr, type: E820Type?) -> Bool {
        var start = start
        for e in entries {
            if let type, e.type != type { continue }
            if e.addr >= end || e.addr &+ e.size <= start { continue }
            if e.addr <= start { start = e.addr &+ e.size }
            if start >= end { return true }
        }
        return false
    }

    /// Sorted, non-empty, disjoint; checked after every sanitise in debug builds.
    public func checkInvariants() {
        guard mmChecksEnabled else { return }
        for (i, e) in entries.enumerated() {
            mmAssert(e.size != 0, "sanitised e820 entry is empty")
            if i > 0 {
                let p = entries[i - 1]
                mmAssert(p.addr &+ p.size <= e.addr, "sanitised e820 entries overlap or are unsorted")
            }
        }
    }
}
