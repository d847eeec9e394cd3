// gfp flags: what an allocation may do, and where it may come from.
//
// Linux: include/linux/gfp_types.h (the __GFP_* bits and GFP_* combinations), include/linux/gfp.h
//        (gfp_zone(), gfp_migratetype(), gfpflags_allow_blocking()), mm/internal.h (ALLOC_*).
// Exact: the bit values, the zone each combination allows (with HIGHMEM meaning Normal on
//        x86-64), the migratetype, and the ALLOC_* flags the fast and slow paths derive.
// Reference: shared/reference/linux-6.1-mm.md §4.2, §4.3.

/// Linux: gfp_t.
@frozen
public struct GFPFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Linux: __GFP_DMA.
    @inlinable public static var dma: GFPFlags { GFPFlags(rawValue: 0x01) }
    /// Linux: __GFP_HIGHMEM.
    @inlinable public static var highmem: GFPFlags { GFPFlags(rawValue: 0x02) }
    /// Linux: __GFP_DMA32.
    @inlinable public static var dma32: GFPFlags { GFPFlags(rawValue: 0x04) }
    /// Linux: __GFP_MOVABLE.
    @inlinable public static var movable: GFPFlags { GFPFlags(rawValue: 0x08) }
    /// Linux: __GFP_RECLAIMABLE.
    @inlinable public static var reclaimable: GFPFlags { GFPFlags(rawValue: 0x10) }
    /// Linux: __GFP_HIGH.
    @inlinable public static var high: GFPFlags { GFPFlags(rawValue: 0x20) }
    /// Linux: __GFP_IO.
    @inlinable public static var io: GFPFlags { GFPFlags(rawValue: 0x40) }
    /// Linux: __GFP_FS.
    @inlinable public static var fs: GFPFlags { GFPFlags(rawValue: 0x80) }
    /// Linux: __GFP_ZERO.
    @inlinable public static var zero: GFPFlags { GFPFlags(rawValue: 0x100) }
    /// Linux: __GFP_ATOMIC.
    @inlinable public static var atomic: GFPFlags { GFPFlags(rawValue: 0x200) }
    /// Linux: __GFP_DIRECT_RECLAIM.
    @inlinable public static var directReclaim: GFPFlags { GFPFlags(rawValue: 0x400) }
    /// Linux: __GFP_KSWAPD_RECLAIM.
    @inlinable public static var kswapdReclaim: GFPFlags { GFPFlags(rawValue: 0x800) }
    /// Linux: __GFP_WRITE.
    @inlinable public static var write: GFPFlags { GFPFlags(rawValue: 0x1000) }
    /// Linux: __GFP_NOWARN.
    @inlinable public static var nowarn: GFPFlags { GFPFlags(rawValue: 0x2000) }
    /// Linux: __GFP_RETRY_MAYFAIL.
    @inlinable public static var retryMayfail: GFPFlags { GFPFlags(rawValue: 0x4000) }
    /// Linux: __GFP_NOFAIL.
    @inlinable public static var nofail: GFPFlags { GFPFlags(rawValue: 0x8000) }
    /// Linux: __GFP_NORETRY.
    @inlinable public static var noretry: GFPFlags { GFPFlags(rawValue: 0x10000) }
    /// Linux: __GFP_MEMALLOC.
    @inlinable public static var memalloc: GFPFlags { GFPFlags(rawValue: 0x20000) }
    /// Linux: __GFP_COMP.
    @inlinable public static var comp: GFPFlags { GFPFlags(rawValue: 0x40000) }
    /// Linux: __GFP_NOMEMALLOC.
    @inlinable public static var nomemalloc: GFPFlags { GFPFlags(rawValue: 0x80000) }
    /// Linux: __GFP_HARDWALL.
    @inlinable public static var hardwall: GFPFlags { GFPFlags(rawValue: 0x100000) }
    /// Linux: __GFP_THISNODE.
    @inlinable public static var thisnode: GFPFlags { GFPFlags(rawValue: 0x200000) }
    /// Linux: __GFP_ACCOUNT.
    @inlinable public static var account: GFPFlags { GFPFlags(rawValue: 0x400000) }

    /// Linux: __GFP_RECLAIM.
    @inlinable public static var reclaim: GFPFlags { [.directReclaim, .kswapdReclaim] }
    /// Linux: GFP_ATOMIC.
    @inlinable public static var gfpAtomic: GFPFlags { [.high, .atomic, .kswapdReclaim] }
    /// Linux: GFP_KERNEL.
    @inlinable public static var gfpKernel: GFPFlags { [.reclaim, .io, .fs] }
    /// Linux: GFP_NOWAIT.
    @inlinable public static var gfpNowait: GFPFlags { [.kswapdReclaim] }
    /// Linux: GFP_NOIO.
    @inlinable public static var gfpNoio: GFPFlags { [.reclaim] }
    /// Linux: GFP_NOFS.
    @inlinable public static var gfpNofs: GFPFlags { [.reclaim, .io] }
    /// Linux: GFP_USER.
    @inlinable public static var gfpUser: GFPFlags { [.reclaim, .io, .fs, .hardwall] }
    /// Linux: GFP_DMA.
    @inlinable public static var gfpDMA: GFPFlags { [.dma] }
    /// Linux: GFP_DMA32.
    @inlinable public static var gfpDMA32: GFPFlags { [.dma32] }
    /// Linux: GFP_HIGHUSER.
    @inlinable public static var gfpHighuser: GFPFlags { [.reclaim, .io, .fs, .hardwall, .highmem] }
    /// Linux: GFP_HIGHUSER_MOVABLE.
    @inlinable public static var gfpHighuserMovable: GFPFlags { [.reclaim, .io, .fs, .hardwall, .highmem, .movable] }
    /// Linux: GFP_TRANSHUGE_LIGHT (THP faults that must not reclaim).
    @inlinable public static var gfpTranshugeLight: GFPFlags { [.highmem, .movable, .comp, .nomemalloc, .nowarn] }
    /// Linux: GFP_TRANSHUGE.
    @inlinable public static var gfpTranshuge: GFPFlags { [.highmem, .movable, .comp, .nomemalloc, .nowarn, .directReclaim] }

    /// Linux: gfp_zone(): the highest zone the flags allow; nil for a combination Linux rejects.
    @inlinable public var zone: ZoneType? {
        switch rawValue & 0x0f {
        case 0, 0x02, 0x08: return .normal
        case 0x01, 0x09: return .dma
        case 0x04, 0x0c: return .dma32
        case 0x0a: return .movable
        default: return nil
        }
    }

    /// Linux: gfp_migratetype(); nil for MOVABLE|RECLAIMABLE.
    @inlinable public var migratetype: MigrateType? {
        switch (rawValue & 0x18) >> 3 {
        case 0: return .unmovable
        case 1: return .movable
        case 2: return .reclaimable
        default: return nil
        }
    }

    /// Linux: gfpflags_allow_blocking().
    @inlinable public var allowsBlocking: Bool { contains(.directReclaim) }
}

/// Linux: ALLOC_* (mm/internal.h): how far into the reserves an allocation may go.
@frozen
public struct AllocFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Linux: ALLOC_WMARK_MIN is 0; the low two bits pick the watermark.
    public static let wmarkLow = AllocFlags(rawValue: 0x01)
    public static let wmarkHigh = AllocFlags(rawValue: 0x02)
    public static let noWatermarks = AllocFlags(rawValue: 0x04)
    public static let oom = AllocFlags(rawValue: 0x08)
    public static let nonBlock = AllocFlags(rawValue: 0x10)
    public static let minReserve = AllocFlags(rawValue: 0x20)
    public static let cpuset = AllocFlags(rawValue: 0x40)
    public static let noFragment = AllocFlags(rawValue: 0x100)
    public static let highAtomic = AllocFlags(rawValue: 0x200)
    public static let kswapd = AllocFlags(rawValue: 0x800)
    /// Linux: ALLOC_RESERVES.
    public static let reserves: AllocFlags = [.nonBlock, .minReserve, .highAtomic, .oom]

    /// Linux: alloc_flags & ALLOC_WMARK_MASK.
    @inlinable public var watermark: Int { Int(rawValue & 3) }
}

extension GFPFlags {
    /// Linux: the names %pGg prints (include/trace/events/mmflags.h, __def_gfpflag_names),
    /// combinations first, as the kernel matches them.
    public static let names: [(name: String, flags: GFPFlags)] = [
        ("GFP_TRANSHUGE", .gfpTranshuge), ("GFP_TRANSHUGE_LIGHT", .gfpTranshugeLight),
        ("GFP_HIGHUSER_MOVABLE", .gfpHighuserMovable), ("GFP_HIGHUSER", .gfpHighuser), ("GFP_USER", .gfpUser),
        ("GFP_KERNEL_ACCOUNT", GFPFlags.gfpKernel.union(.account)), ("GFP_KERNEL", .gfpKernel),
        ("GFP_NOFS", .gfpNofs), ("GFP_ATOMIC", .gfpAtomic), ("GFP_NOIO", .gfpNoio), ("GFP_NOWAIT", .gfpNowait),
        ("GFP_DMA", .dma), ("__GFP_HIGHMEM", .highmem), ("GFP_DMA32", .dma32), ("__GFP_HIGH", .high),
        ("__GFP_ATOMIC", .atomic), ("__GFP_IO", .io), ("__GFP_FS", .fs), ("__GFP_NOWARN", .nowarn),
        ("__GFP_RETRY_MAYFAIL", .retryMayfail), ("__GFP_NOFAIL", .nofail), ("__GFP_NORETRY", .noretry),
        ("__GFP_COMP", .comp), ("__GFP_ZERO", .zero), ("__GFP_NOMEMALLOC", .nomemalloc),
        ("__GFP_MEMALLOC", .memalloc), ("__GFP_HARDWALL", .hardwall), ("__GFP_THISNODE", .thisnode),
        ("__GFP_RECLAIMABLE", .reclaimable), ("__GFP_MOVABLE", .movable), ("__GFP_ACCOUNT", .account),
        ("__GFP_WRITE", .write), ("__GFP_RECLAIM", .reclaim), ("__GFP_DIRECT_RECLAIM", .directReclaim),
        ("__GFP_KSWAPD_RECLAIM", .kswapdReclaim),
    ]

    /// Linux: %pGg: the names of the set flags joined by "|", greedily from `names`.
    public var description: String {
        var left = self, parts: [String] = []
        for (n, f) in GFPFlags.names where !f.isEmpty && left.isSuperset(of: f) && !left.isDisjoint(with: f) {
            parts.append(n)
            left.subtract(f)
        }
        if !left.isEmpty { parts.append(hex(UInt64(left.rawValue))) }
        if parts.isEmpty { return "0" }
        var s = parts[0]
        for p in parts.dropFirst() { s += "|" + p }
        return s
    }
}
