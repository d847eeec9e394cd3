// Nodes and zones: the structures free_area_init() fills in.
//
// Linux: include/linux/mmzone.h — enum zone_type, struct zone, pg_data_t (struct pglist_data),
//        struct zonelist.
// Exact: the fields /proc/zoneinfo prints for a node and its zones before the page allocator runs.
// Simplified: only what is modelled so far; free lists, watermarks and pcp come with the buddy
//        allocator.

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

/// Linux: struct zone (the sizing part).
public struct Zone: Equatable, Sendable {
    public let type: ZoneType
    public let nid: Int32
    public var zoneStartPfn: UInt64 = 0
    public var spannedPages: UInt64 = 0
    public var presentPages: UInt64 = 0
    /// Linux: zone->managed_pages. free_area_init_core() sets an estimate; memblock_free_all()
    /// replaces it with the pages really freed.
    public var managedPages: UInt64 = 0

    public init(type: ZoneType, nid: Int32) { self.type = type; self.nid = nid }

    /// Linux: zone_end_pfn().
    public var zoneEndPfn: UInt64 { zoneStartPfn + spannedPages }
    /// Linux: populated_zone().
    public var isPopulated: Bool { presentPages != 0 }
}

/// Linux: pg_data_t.
public struct PGData: Equatable, Sendable {
    public let nodeId: Int32
    public var nodeStartPfn: UInt64 = 0
    public var nodeSpannedPages: UInt64 = 0
    public var nodePresentPages: UInt64 = 0
    public var zones: [Zone]
    /// Linux: pgdat->first_deferred_pfn (ULONG_MAX: nothing deferred).
    public var firstDeferredPfn: UInt64 = .max
    /// Where NODE_DATA lives (0 for a node allocated as memoryless).
    public var physAddr: PhysAddr = 0

    public init(nodeId: Int32) {
        self.nodeId = nodeId
        var z: [Zone] = []
        for t in ZoneType.allCases { z.append(Zone(type: t, nid: nodeId)) }
        self.zones = z
    }

    public var nodeEndPfn: UInt64 { nodeStartPfn + nodeSpannedPages }
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
    public var fallback: [[(nid: Int32, zone: ZoneType)]] = []
    /// Linux: the node order build_zonelists() printed per node.
    public var nodeOrder: [[Int32]] = []
    /// Linux: policy_zone.
    public var policyZone: ZoneType = .dma
    /// Linux: page_group_by_mobility_disabled.
    public var mobilityGroupingDisabled = false
    /// The "Total pages" build_all_zonelists() printed.
    public var totalPages: UInt64 = 0
    public init() {}
}
