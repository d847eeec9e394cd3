// The page descriptor: what the model remembers about one simulated page frame.
//
// Linux: include/linux/mm_types.h (struct page), include/linux/page-flags.h (PG_reserved,
//        PG_buddy as a page type, PG_head/tail), include/linux/page_ref.h, mm/internal.h
//        (buddy_order in page_private).
// Exact: the states a page goes through (reserved, free in the buddy lists with an order, on a
//        per-cpu list, allocated with a refcount, compound head or tail) and the page->index
//        migratetype the pcp lists record.
// Simplified: 16 bytes instead of 64. Mapping, LRU, mapcount and the slab fields are not kept here;
//        the list links are 40-bit pfns (enough for the 52-bit physical space of 5-level paging).
// Reference: shared/reference/linux-6.1-mm.md §4.1.

/// Linux: the page flags and page types the page allocator looks at.
@frozen
public struct PageFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Linux: PG_reserved — never given to the buddy allocator (holes, memblock reservations).
    public static let reserved = PageFlags(rawValue: 1 << 0)
    /// Linux: PageBuddy() — the head of a free block; `order` holds its order.
    public static let buddy = PageFlags(rawValue: 1 << 1)
    /// On a per-cpu list (Linux has no flag for this: such a page just has refcount 0 and sits on
    /// pcp->lists; the model keeps the bit so that a double free is seen).
    public static let pcp = PageFlags(rawValue: 1 << 2)
    /// Linux: PG_head — the first page of a __GFP_COMP allocation; `order` holds compound_order.
    public static let head = PageFlags(rawValue: 1 << 3)
    /// Linux: PageTail() (compound_head with bit 0) — `order` holds the compound order, so the
    /// head is the pfn rounded down to it.
    public static let tail = PageFlags(rawValue: 1 << 4)
    /// Linux: PG_slab (set by SLUB on the pages of a slab).
    public static let slab = PageFlags(rawValue: 1 << 5)
    /// Linux: PG_lru — on an LRU list. Set on an anonymous page when the CPU's lru_add batch
    /// drains, cleared when the page leaves the list before it is freed (free_pages_prepare()
    /// reports a page freed with it still set as a bad page). The page cache keeps its own
    /// pages' LRU state beside them.
    public static let lru = PageFlags(rawValue: 1 << 6)
}

/// Linux: struct page, packed into 16 bytes.
@frozen
public struct PageDescriptor: Sendable, Equatable {
    @usableFromInline var nextLo: UInt32 = .max
    @usableFromInline var prevLo: UInt32 = .max
    @usableFromInline var nextHi: UInt8 = .max
    @usableFromInline var prevHi: UInt8 = .max
    public var flags: PageFlags = []
    /// Linux: buddy_order (free), compound_order (head and tail), or the order an allocated
    /// non-compound block was handed out with (which lets the model notice a free of the wrong
    /// order; Linux cannot).
    public var order: UInt8 = 0
    /// Linux: page->index on pcp lists (the migratetype it was freed with); for an allocated page
    /// the migratetype the allocation asked for (what page_owner would record).
    public var migratetype: UInt8 = 0
    @usableFromInline var spare: UInt8 = 0
    /// Linux: page->_refcount.
    public var refcount: Int16 = 0

    @inlinable public init() {}

    /// The "no page" link: 2^40 − 1.
    public static let nilLink = Pfn((1 << 40) - 1)

    @inlinable var next: Pfn {
        get { Pfn(UInt64(nextHi) << 32 | UInt64(nextLo)) }
        set { nextLo = UInt32(truncatingIfNeeded: newValue.raw); nextHi = UInt8(truncatingIfNeeded: newValue.raw >> 32) }
    }
    /// Linux: struct slab overlays the page's list_head with its own fields. A slab page is on
    /// no free or pcp list, so its link word holds the model's slab id instead.
    @inlinable var slabIndex: Int32 {
        get { Int32(bitPattern: nextLo) }
        set { nextLo = UInt32(bitPattern: newValue); nextHi = 0 }
    }
    @inlinable var prev: Pfn {
        get { Pfn(UInt64(prevHi) << 32 | UInt64(prevLo)) }
        set { prevLo = UInt32(truncatingIfNeeded: newValue.raw); prevHi = UInt8(truncatingIfNeeded: newValue.raw >> 32) }
    }
}

/// Linux: enum migratetype (no CMA in Debian's config).
public enum MigrateType: UInt8, CaseIterable, Sendable {
    case unmovable = 0, movable, reclaimable, highAtomic, isolate

    /// A type as the memmap stores it (4 bits per pageblock, one byte per free page). Only the
    /// model writes those bytes, always from a MigrateType; anything else is a model bug.
    @inlinable public init(stored: UInt8) {
        mmAssert(stored < UInt8(migrateTypes), "a stored migratetype out of range")
        self = MigrateType(rawValue: stored) ?? .isolate
    }

    /// The type's position in per-type arrays (free lists, pcp lists, counters).
    @inlinable public var index: Int { Int(rawValue) }

    /// Linux: migratetype < MIGRATE_PCPTYPES — the types with pcp lists (and the ones a
    /// fallback may steal between).
    @inlinable public var isPCPType: Bool { rawValue < UInt8(migratePCPTypes) }

    /// Linux: migratetype_names[].
    public var name: String {
        switch self {
        case .unmovable: return "Unmovable"
        case .movable: return "Movable"
        case .reclaimable: return "Reclaimable"
        case .highAtomic: return "HighAtomic"
        case .isolate: return "Isolate"
        }
    }
}

/// Linux: MIGRATE_TYPES.
public let migrateTypes = 5
/// Linux: MAX_ORDER_NR_PAGES.
public let maxOrderNrPages: UInt64 = 1 << 10
