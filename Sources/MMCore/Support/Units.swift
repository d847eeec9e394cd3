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
