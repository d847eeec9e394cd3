// The slab allocator's vocabulary: cache flags, the kmalloc size classes, poison values, and
// what a caller asks kmem_cache_create() for.
//
// Linux: include/linux/slab.h (SLAB_* flags, kmalloc_index(), KMALLOC_* limits),
//        include/linux/poison.h (POISON_*, SLUB_RED_*), mm/slab.h (flag masks),
//        mm/slab_common.c (kmalloc_info[], size_index[], kmalloc_type()).
// Exact: flag values and masks, the 6.1 kmalloc table (8 … 8k with 96 and 192), the four kmalloc
//        types of a MEMCG_KMEM + ZONE_DMA kernel and their names.
// Reference: shared/reference/linux-6.1-mm.md §5.

/// Linux: slab_flags_t.
@frozen
public struct SlabFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Linux: SLAB_CONSISTENCY_CHECKS (slub_debug F).
    public static let consistencyChecks = SlabFlags(rawValue: 0x100)
    /// Linux: SLAB_RED_ZONE (slub_debug Z).
    public static let redZone = SlabFlags(rawValue: 0x400)
    /// Linux: SLAB_POISON (slub_debug P).
    public static let poison = SlabFlags(rawValue: 0x800)
    /// Linux: SLAB_KMALLOC.
    public static let kmalloc = SlabFlags(rawValue: 0x1000)
    public static let hwcacheAlign = SlabFlags(rawValue: 0x2000)
    public static let cacheDMA = SlabFlags(rawValue: 0x4000)
    public static let cacheDMA32 = SlabFlags(rawValue: 0x8000)
    /// Linux: SLAB_STORE_USER (slub_debug U).
    public static let storeUser = SlabFlags(rawValue: 0x10000)
    public static let reclaimAccount = SlabFlags(rawValue: 0x20000)
    public static let panic = SlabFlags(rawValue: 0x40000)
    public static let typesafeByRCU = SlabFlags(rawValue: 0x80000)
    public static let memSpread = SlabFlags(rawValue: 0x100000)
    /// Linux: SLAB_TRACE (slub_debug T).
    public static let trace = SlabFlags(rawValue: 0x200000)
    public static let noLeakTrace = SlabFlags(rawValue: 0x800000)
    public static let failSlab = SlabFlags(rawValue: 0x2000000)
    public static let account = SlabFlags(rawValue: 0x4000000)
    public static let noUserFlags = SlabFlags(rawValue: 0x10000000)
    /// Linux: __OBJECT_POISON (internal: poison the object itself, not only the padding).
    public static let objectPoison = SlabFlags(rawValue: 0x80000000)

    /// Linux: DEBUG_DEFAULT_FLAGS (slub_debug with no letters).
    public static let debugDefault: SlabFlags = [.consistencyChecks, .redZone, .poison, .storeUser]
    /// Linux: SLAB_DEBUG_FLAGS.
    public static let debugFlags: SlabFlags = [.redZone, .poison, .storeUser, .trace, .consistencyChecks]
    /// Linux: SLAB_NEVER_MERGE (failslab and KASAN are off in Debian's build).
    public static let neverMerge: SlabFlags = [.redZone, .poison, .storeUser, .trace, .typesafeByRCU, .noLeakTrace, .failSlab]
    /// Linux: SLAB_MERGE_SAME.
    public static let mergeSame: SlabFlags = [.reclaimAccount, .cacheDMA, .cacheDMA32, .account]
    /// Linux: CACHE_CREATE_MASK — what kmem_cache_create() keeps of the caller's flags.
    public static let createMask: SlabFlags = [.hwcacheAlign, .cacheDMA, .cacheDMA32, .panic, .typesafeByRCU,
                                               .debugObjects, .noLeakTrace, .reclaimAccount, .memSpread, .kmalloc,
                                               .account, .noUserFlags, .debugFlags]
    /// Linux: SLAB_DEBUG_OBJECTS (kept for the mask; not modelled).
    public static let debugObjects = SlabFlags(rawValue: 0x400000)
}

/// Linux: include/linux/poison.h.
public enum SlabPoison {
    /// Linux: POISON_INUSE — padding and not-yet-used slab memory.
    public static let inUse: UInt8 = 0x5a
    /// Linux: POISON_FREE — a freed object's bytes.
    public static let free: UInt8 = 0x6b
    /// Linux: POISON_END — the last byte of a poisoned object.
    public static let end: UInt8 = 0xa5
    /// Linux: SLUB_RED_INACTIVE — red zones of a free object.
    public static let redInactive: UInt8 = 0xbb
    /// Linux: SLUB_RED_ACTIVE — red zones of an allocated object.
    public static let redActive: UInt8 = 0xcc
}

/// Linux: enum kmalloc_cache_type, in creation order.
public enum KmallocType: Int, CaseIterable, Sendable {
    case normal = 0, cgroup, reclaim, dma

    /// Linux: the name prefixes of kmalloc_info[].
    public func name(_ sizeName: String) -> String {
        switch self {
        case .normal: return "kmalloc-" + sizeName
        case .cgroup: return "kmalloc-cg-" + sizeName
        case .reclaim: return "kmalloc-rcl-" + sizeName
        case .dma: return "dma-kmalloc-" + sizeName
        }
    }

    /// Linux: kmalloc_type(): normal unless the gfp asks for DMA, reclaimable or accounted memory.
    @inlinable public static func of(_ gfp: GFPFlags) -> KmallocType {
        if gfp.isDisjoint(with: [.dma, .reclaimable, .account]) { return .normal }
        if gfp.contains(.dma) { return .dma }
        if gfp.contains(.reclaimable) { return .reclaim }
        return .cgroup
    }
}

public enum Kmalloc {
    /// Linux: KMALLOC_SHIFT_LOW, KMALLOC_SHIFT_HIGH (x86-64: 8 bytes to two pages).
    public static let shiftLow = 3
    public static let shiftHigh = 13
    /// Linux: KMALLOC_MAX_CACHE_SIZE — larger requests go to the page allocator.
    public static let maxCacheSize = 1 << shiftHigh
    /// Linux: KMALLOC_MAX_SIZE (an order-10 block).
    public static let maxSize = 1 << (maxOrder - 1 + Int(pageShift))
    /// Linux: ZERO_SIZE_PTR.
    public static let zeroSizePtr: UInt64 = 16

    /// Linux: kmalloc_info[i].size for the created indices (1, 2 and 3…13).
    @inlinable public static func size(index i: Int) -> Int {
        i == 1 ? 96 : i == 2 ? 192 : 1 << i
    }

    /// Linux: kmalloc_info[i].name's size part.
    public static func sizeName(index i: Int) -> String {
        let s = size(index: i)
        return s >= 1024 ? "\(s >> 10)k" : "\(s)"
    }

    /// Linux: the creation order create_kmalloc_caches() follows (96 after 64, 192 after 128).
    public static let creationOrder = [3, 4, 5, 6, 1, 7, 2, 8, 9, 10, 11, 12, 13]

    /// Linux: size_index[] for sizes up to 192, then fls(size − 1); 0 means ZERO_SIZE_PTR.
    @inlinable public static func index(ofSize size: Int) -> Int {
        if size == 0 { return 0 }
        if size <= 192 {
            let e = (size - 1) / 8
            switch e {
            case 0: return 3
            case 1: return 4
            case 2, 3: return 5
            case 4...7: return 6
            case 8...11: return 1
            case 12...15: return 7
            default: return 2
            }
        }
        return Int.bitWidth - (size - 1).leadingZeroBitCount
    }
}

/// What a caller hands kmem_cache_create_usercopy(): the built-in boot table, `--slab-caches`
/// and the shell all speak this.
public struct KmemCacheSpec: Sendable, Equatable {
    public var name: String
    public var size: Int
    public var align: Int
    public var flags: SlabFlags
    public var useroffset: Int
    public var usersize: Int
    /// The constructor's name (the model cannot run it, but a constructor changes the layout:
    /// the free pointer moves out of the object, and the cache is never merged).
    public var ctor: String?

    public init(name: String, size: Int, align: Int = 0, flags: SlabFlags = [], useroffset: Int = 0,
                usersize: Int = 0, ctor: String? = nil) {
        self.name = name; self.size = size; self.align = align; self.flags = flags
        self.useroffset = useroffset; self.usersize = usersize; self.ctor = ctor
    }
}
