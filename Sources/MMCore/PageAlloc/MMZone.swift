// Nodes and zones: the structures free_area_init() fills in.
//
// Linux: include/linux/mmzone.h — enum zone_type, struct zone, pg_data_t (struct pglist_data),
//        struct zonelist.
// Exact: the sizes, managed pages, watermarks, lowmem_reserve and pageset limits /proc/zoneinfo
//        prints.
// Simplified: only what is modelled so far; the free lists come with the buddy allocator.

/// Linux: enum zone_type, as configured by Debian (DMA, DMA32, Normal, Movable, Device).
public enum ZoneType: Int, CaseIterable, Sendable, Comparable {
    case dma = 0, dma32, normal, movable, device

    /// Linux: zone_names[].
    public var name: String {
        switch self {
        case .dma: return "DMA"
        case .dma32: return "DMA32"
        case .normal: return "Normal"
        case .movable: return "Movable"
        case .device: return "Device"
        }
    }

    public static func < (a: ZoneType, b: ZoneType) -> Bool { a.rawValue < b.rawValue }
}

/// Linux: MAX_NR_ZONES.
public let maxNrZones = 5
/// Linux: MAX_ORDER (6.1: orders 0 … 10, so the largest block is 4 MiB).
public let maxOrder = 11
/// Linux: pageblock_order and pageblock_nr_pages (x86-64: a 2 MiB huge page).
public let pageblockOrder: UInt64 = 9
public let pageblockNrPages: UInt64 = 1 << 9
/// Linux: MIGRATE_PCPTYPES — the types with their own per-cpu lists (unmovable, movable,
/// reclaimable).
public let migratePCPTypes = 3

/// Linux: struct zone (the sizing part).
public struct Zone: Equatable, Sendable {
    public let type: ZoneType
    public let nid: NodeID
    public var zoneStartPfn = Pfn(0)
    public var spannedPages: UInt64 = 0
    public var presentPages: UInt64 = 0
    /// Linux: zone->managed_pages. free_area_init_core() sets an estimate; memblock_free_all()
    /// replaces it with the pages really freed.
    public var managedPages: UInt64 = 0
    /// Linux: NR_FREE_PAGES (pages on this zone's free lists).
    public var freePages: UInt64 = 0

    /// Linux: zone->_watermark[WMARK_MIN, LOW, HIGH, PROMO], without the boost.
    public var watermark = Watermarks()
    /// Linux: zone->watermark_boost (added to every watermark when it is read).
    public var watermarkBoost: UInt64 = 0
    /// Linux: zone->lowmem_reserve[]: pages this zone keeps back from an allocation whose
    /// highest usable zone is the index.
    public var lowmemReserve = [UInt64](repeating: 0, count: maxNrZones)
    /// Linux: zone->pageset_high and pageset_batch, copied into every CPU's per_cpu_pages. The
    /// boot pagesets (high 0, batch 1) stay in force for zones that never get real ones.
    public var pagesetHigh: UInt64 = 0
    public var pagesetBatch: UInt64 = 1
    /// Linux: the per-cpu vmstat threshold ("vm stats threshold").
    public var statThreshold: UInt64 = 0

    /// Linux: zone->free_area[order].free_list[migratetype], as order × 5 + migratetype.
    public var freeLists = [FreeList](repeating: FreeList(), count: maxOrder * migrateTypes)
    /// Linux: zone->free_area[order].nr_free.
    public var nrFree = [UInt64](repeating: 0, count: maxOrder)
    /// Linux: zone->nr_reserved_highatomic.
    public var nrReservedHighatomic: UInt64 = 0
    /// Linux: watermark_boost_factor (a global sysctl; each zone keeps a copy so that the
    /// fallback path needs nothing but its zone).
    public var boostFactor: UInt64 = 15000
    /// Linux: ZONE_BOOSTED_WATERMARK.
    public var boostedWatermark = false
    /// Linux: zone->per_cpu_pageset, one per possible CPU (its count and free factor).
    public var pcp: [PerCPUPages] = []
    /// The per-cpu pagesets' lists (Linux: per_cpu_pages.lists), every CPU's in one flat array
    /// sized at boot: CPU c's list p is at c × NR_PCP_LISTS + p (`pcpIndex`). The hot path
    /// indexes one array instead of a CPU's array of lists.
    public var pcpLists: [FreeList] = []

    /// Where CPU `cpu`'s pcp list `pindex` is in `pcpLists`.
    @inlinable public static func pcpIndex(_ cpu: Int, _ pindex: Int) -> Int { cpu &* nrPCPLists &+ pindex }

    /// Gives the zone a pageset per CPU, all lists empty (Linux: setup_zone_pageset()).
    public mutating func setupPagesets(cpus: Int) {
        pcp = [PerCPUPages](repeating: PerCPUPages(), count: cpus)
        pcpLists = [FreeList](repeating: FreeList(), count: cpus * nrPCPLists)
    }

    public init(type: ZoneType, nid: NodeID) { self.type = type; self.nid = nid }

    /// Linux: page_zone_id() of this zone's pages.
    public var slot: ZoneID { ZoneID(nid: nid, type) }

    /// Linux: min_wmark_pages(), low_wmark_pages(), high_wmark_pages(): boost included.
    public var minWmark: UInt64 { watermark.min + watermarkBoost }
    public var lowWmark: UInt64 { watermark.low + watermarkBoost }
    public var highWmark: UInt64 { watermark.high + watermarkBoost }

    /// Linux: zone_end_pfn().
    public var zoneEndPfn: Pfn { zoneStartPfn + spannedPages }
    /// Linux: populated_zone().
    public var isPopulated: Bool { presentPages != 0 }
}

/// Linux: enum zone_watermarks (WMARK_MIN … WMARK_PROMO), in pages.
public struct Watermarks: Equatable, Sendable {
    public var min: UInt64 = 0
    public var low: UInt64 = 0
    public var high: UInt64 = 0
    public var promo: UInt64 = 0
    public init() {}
}

/// Linux: pg_data_t.
public struct PGData: Equatable, Sendable {
    public let nodeId: NodeID
    public var nodeStartPfn = Pfn(0)
    public var nodeSpannedPages: UInt64 = 0
    public var nodePresentPages: UInt64 = 0
    public var zones: [Zone]
    /// Linux: pgdat->first_deferred_pfn (ULONG_MAX: nothing deferred).
    public var firstDeferredPfn = Pfn(.max)
    /// Where NODE_DATA lives (0 for a node allocated as memoryless).
    public var physAddr: PhysAddr = 0
    /// FLATMEM: pgdat->node_mem_map (the physical address of node_start_pfn's struct page).
    public var nodeMemMap: PhysAddr = 0

    public init(nodeId: NodeID) {
        self.nodeId = nodeId
        var z: [Zone] = []
        for t in ZoneType.allCases { z.append(Zone(type: t, nid: nodeId)) }
        self.zones = z
    }

    public var nodeEndPfn: Pfn { nodeStartPfn + nodeSpannedPages }
}

/// Linux: arch_zone_lowest_possible_pfn[], arch_zone_highest_possible_pfn[], zone_movable_pfn[],
/// movable_zone.
public struct ZoneBoundaries: Sendable {
    public var lowest = [UInt64](repeating: 0, count: maxNrZones)
    public var highest = [UInt64](repeating: 0, count: maxNrZones)
    /// Per node (indexed by nid); 0: no Movable zone on that node.
    public var movableStart: [UInt64] = []
    public var movableZone: ZoneType = .normal
    public init() {}
}

/// A node's fallback zonelist: zones as (nid, zone type), best first.
public struct Zonelists: Sendable {
    /// Linux: node_zonelists[ZONELIST_FALLBACK] per node id.
    public var fallback: [[(nid: NodeID, zone: ZoneType)]] = []
    /// Linux: the node order build_zonelists() printed per node.
    public var nodeOrder: [[NodeID]] = []
    /// Linux: policy_zone.
    public var policyZone: ZoneType = .dma
    /// Linux: page_group_by_mobility_disabled.
    public var mobilityGroupingDisabled = false
    /// The "Total pages" build_all_zonelists() printed.
    public var totalPages: UInt64 = 0
    public init() {}
}
