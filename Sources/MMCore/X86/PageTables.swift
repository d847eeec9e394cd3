// Which kernel page-table pages exist, level by level, for one region of the kernel's address
// space (the direct map, the vmemmap).
//
// Linux: arch/x86/include/asm/pgtable_64_types.h (PGDIR/P4D/PUD/PMD shifts), the table walks of
// arch/x86/mm/init_64.c (phys_p4d_init … phys_pte_init, vmemmap_populate_hugepages).
// Exact: every table page boot allocates, and in which order, follows from which slots are
// already filled; that is all this records. The entries' contents (the physical addresses they
// map) follow from the region's base and are not stored: a translation is computed, not walked.
// Simplified: a large 2 MiB mapping is not remembered per slot (that would cost a bit per 2 MiB on
// a 4 PiB machine). Boot never maps 4 KiB pages over one: a 2 MiB mapping needs the whole block
// inside one memblock region, and no other mapping call covers any part of that region's block.

/// Linux: PGDIR_SHIFT (4-level: 39, 5-level: 48), P4D_SHIFT, PUD_SHIFT, PMD_SHIFT.
public let p4dShift: UInt64 = 39
public let pudShift: UInt64 = 30
public let pmdShift: UInt64 = 21
public let pmdSize: UInt64 = 1 << pmdShift
public let pudSize: UInt64 = 1 << pudShift

/// Linux: PG_LEVEL_2M / PG_LEVEL_1G bits of a map_range's page_size_mask.
public struct PageSizeMask: OptionSet, Sendable, Equatable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let size2M = PageSizeMask(rawValue: 1 << 0)
    public static let size1G = PageSizeMask(rawValue: 1 << 1)
}

public struct PageTableShadow: Sendable, Equatable {
    /// Virtual address of the region's first byte (page_offset_base, vmemmap_base).
    public let base: UInt64
    /// 5-level paging: the top level (PGD) points to P4D pages; otherwise the P4D is folded.
    public let la57: Bool
    /// Top-level (PGD) entries that point to a table.
    public var pgd = Bitset()
    /// P4D entries that point to a PUD page (5-level only).
    public var p4d = Bitset()
    /// PUD entries that point to a PMD page, and PUD entries that map 1 GiB.
    public var pudTable = Bitset()
    public var pudLarge = Bitset()
    /// PMD entries that point to a PTE page (few: only the 4 KiB-mapped edges of RAM), sorted.
    public var pmdTable: [UInt64] = []

    public init(base: UInt64, la57: Bool) { self.base = base; self.la57 = la57 }

    /// Linux: PGDIR_SHIFT.
    public var pgdShift: UInt64 { la57 ? 48 : 39 }

    /// Slot index of `offset` (bytes from the region's start) at the level of `shift`, counted
    /// from the region's first slot so that the bitsets stay small.
    @inlinable public func slot(_ offset: UInt64, _ shift: UInt64) -> UInt64 {
        ((base &+ offset) >> shift) &- (base >> shift)
    }

    /// The region offset where the slot at `shift` holding `offset` ends.
    @inlinable public func slotEnd(_ offset: UInt64, _ shift: UInt64) -> UInt64 {
        let va = base &+ offset
        return ((va >> shift) &+ 1) << shift &- base
    }

    public func hasPTETable(_ slot2M: UInt64) -> Bool { pteIndex(slot2M).found }

    func pteIndex(_ slot2M: UInt64) -> (index: Int, found: Bool) {
        var lo = 0, hi = pmdTable.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if pmdTable[mid] < slot2M { lo = mid + 1 } else { hi = mid }
        }
        return (lo, lo < pmdTable.count && pmdTable[lo] == slot2M)
    }

    mutating func insertPTETable(_ slot2M: UInt64) {
        let (i, found) = pteIndex(slot2M)
        if !found { pmdTable.insert(slot2M, at: i) }
    }
}
