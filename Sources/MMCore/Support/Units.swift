// Units and the x86-64 constants every other file uses.
//
// Linux: arch/x86/include/asm/page_types.h (PAGE_SHIFT), include/linux/pfn.h (PFN_UP/PFN_DOWN/
// PFN_PHYS), include/linux/types.h (phys_addr_t is u64 on x86-64).
// Physical addresses and sizes stay UInt64 here, as phys_addr_t is in the kernel: e820 and memblock
// do their arithmetic (and their overflow clamping) on exactly that type. Page frame numbers get
// their own type so that a pfn is never passed where an address is meant.

/// A physical address (Linux: phys_addr_t).
public typealias PhysAddr = UInt64

public let pageShift: UInt64 = 12
public let pageSize: UInt64 = 1 << 12
/// Linux: PHYS_ADDR_MAX.
public let physAddrMax: UInt64 = .max

/// A page frame number: a physical address >> PAGE_SHIFT.
@frozen
public struct Pfn: Hashable, Comparable, Sendable {
    public var raw: UInt64
    @inlinable public init(_ raw: UInt64) { self.raw = raw }
    /// Linux: PFN_DOWN(addr).
    @inlinable public static func down(_ addr: PhysAddr) -> Pfn { Pfn(addr >> pageShift) }
    /// Linux: PFN_UP(addr).
    @inlinable public static func up(_ addr: PhysAddr) -> Pfn { Pfn((addr &+ pageSize &- 1) >> pageShift) }
    /// Linux: PFN_PHYS(pfn).
    @inlinable public var physAddr: PhysAddr { raw << pageShift }
    @inlinable public static func < (a: Pfn, b: Pfn) -> Bool { a.raw < b.raw }
}

/// Page frame arithmetic, spelled as Linux spells it: `pfn + nr_pages`, `end_pfn - start_pfn`,
/// the buddy of a block (__find_buddy_pfn()), its section (pfn_to_section_nr()). Adding pages
/// traps on overflow as UInt64 arithmetic does; callers that clamp do so before.
extension Pfn: Strideable, CustomStringConvertible {
    /// The highest pfn, which no page has: a "none" for tables that keep a pfn per slot.
    @inlinable public static var max: Pfn { Pfn(.max) }
    /// Interpolation prints the number, as the kernel's "pfn %lu" does.
    public var description: String { String(raw) }
    @inlinable public func distance(to other: Pfn) -> Int { Int(bitPattern: UInt(other.raw &- raw)) }
    @inlinable public func advanced(by n: Int) -> Pfn { Pfn(raw &+ UInt64(bitPattern: Int64(n))) }
    @inlinable public static func + (a: Pfn, pages: UInt64) -> Pfn { Pfn(a.raw + pages) }
    @inlinable public static func - (a: Pfn, pages: UInt64) -> Pfn { Pfn(a.raw - pages) }
    /// The pages from `b` up to `a`.
    @inlinable public static func - (a: Pfn, b: Pfn) -> UInt64 { a.raw - b.raw }
    @inlinable public static func += (a: inout Pfn, pages: UInt64) { a.raw += pages }
    @inlinable public static func -= (a: inout Pfn, pages: UInt64) { a.raw -= pages }
    /// Linux: __find_buddy_pfn(): the other half of the `order + 1` block this `order` block is in.
    @inlinable public func buddy(_ order: Order) -> Pfn { Pfn(raw ^ order.pages) }
    /// The head of the `order`-aligned block that holds this pfn (Linux: pfn & ~(nr_pages - 1)).
    @inlinable public func alignedDown(_ order: Order) -> Pfn { Pfn(raw & ~(order.pages &- 1)) }
    /// Whether a block of `order` may start here.
    @inlinable public func isAligned(_ order: Order) -> Bool { raw & (order.pages &- 1) == 0 }
    /// Rounded down or up to a multiple of `pages` (a power of two).
    @inlinable public func roundedDown(_ pages: UInt64) -> Pfn { Pfn(raw & ~(pages &- 1)) }
    @inlinable public func roundedUp(_ pages: UInt64) -> Pfn { Pfn((raw &+ pages &- 1) & ~(pages &- 1)) }
    /// Linux: pfn_to_section_nr().
    @inlinable public var section: Int { Int(truncatingIfNeeded: raw >> pfnSectionShift) }
    /// The page's place in its section (pfn & (PAGES_PER_SECTION − 1)).
    @inlinable public var indexInSection: Int { Int(truncatingIfNeeded: raw & (pagesPerSection &- 1)) }
    /// Linux: section_nr_to_pfn().
    @inlinable public static func first(ofSection s: Int) -> Pfn { Pfn(UInt64(s) << pfnSectionShift) }
}

/// A block's size as a power of two pages (Linux: the `unsigned int order` of alloc_pages(),
/// the buddy lists' index, compound_order()). Literals read as orders (`order: 0`), and
/// interpolation prints the number, as the kernel's "order:%u" does.
@frozen
public struct Order: Hashable, Strideable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var raw: Int
    @inlinable public init(_ raw: Int) { self.raw = raw }
    @inlinable public init(integerLiteral value: Int) { self.raw = value }
    /// The pages a block of this order holds (1 << order).
    @inlinable public var pages: UInt64 { 1 &<< UInt64(truncatingIfNeeded: raw) }
    /// The order one up (a block and its buddy) or down (a block's halves).
    @inlinable public var up: Order { Order(raw &+ 1) }
    @inlinable public var down: Order { Order(raw &- 1) }
    /// Whether the buddy allocator hands out blocks of this order (0 … MAX_ORDER − 1).
    @inlinable public var isBuddyOrder: Bool { raw >= 0 && raw < maxOrder }
    @inlinable public static func < (a: Order, b: Order) -> Bool { a.raw < b.raw }
    @inlinable public func distance(to other: Order) -> Int { other.raw &- raw }
    @inlinable public func advanced(by n: Int) -> Order { Order(raw &+ n) }
    /// Linux: MAX_ORDER, one past the largest order the buddy allocator keeps.
    @inlinable public static var limit: Order { Order(maxOrder) }
    /// Linux: PAGE_ALLOC_COSTLY_ORDER, the largest order the allocator tries hard for.
    @inlinable public static var costly: Order { Order(3) }
    /// Linux: pageblock_order (x86-64: 9, a 2 MiB huge page).
    @inlinable public static var pageblock: Order { Order(9) }
    /// Linux: HPAGE_PMD_ORDER, a transparent huge page mapped by one PMD (x86-64: 9, 2 MiB).
    @inlinable public static var hpagePMD: Order { Order(9) }
    /// Linux: MAX_ORDER − 1, the largest block the buddy lists keep (4 MiB).
    @inlinable public static var top: Order { Order(maxOrder &- 1) }
    public var description: String { String(raw) }
}

/// A physical range [start, start + size) (Linux: struct resource's start and end + 1).
public struct PhysRange: Equatable, Sendable {
    public var start: PhysAddr
    public var size: UInt64
    @inlinable public init(start: PhysAddr, size: UInt64) { self.start = start; self.size = size }
    /// One past the last byte.
    @inlinable public var end: PhysAddr { start &+ size }
}

@inlinable public func roundDown(_ x: UInt64, _ align: UInt64) -> UInt64 { x & ~(align &- 1) }
@inlinable public func roundUp(_ x: UInt64, _ align: UInt64) -> UInt64 {
    (x &+ align &- 1) & ~(align &- 1)
}

public let SZ_1K: UInt64 = 1 << 10
public let SZ_1M: UInt64 = 1 << 20
public let SZ_1G: UInt64 = 1 << 30
