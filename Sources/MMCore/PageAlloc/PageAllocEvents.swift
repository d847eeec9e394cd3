// The path an allocation or free took, for explaining and tracing.
//
// Linux: the tracepoints of include/trace/events/kmem.h (mm_page_alloc, mm_page_free,
//        mm_page_alloc_zone_locked, mm_page_pcpu_drain, mm_page_alloc_extfrag) and the
//        decisions they leave out (watermark failures, which list served, the slow path).
// Exact: one event per decision, in the order Linux takes them.
// Simplified: the model reports; it does not time anything.

/// One step of an allocation or free.
public enum PageAllocEvent: Sendable, Equatable {
    /// A zone failed its watermark check (mark includes the boost).
    case watermarkFailed(zone: ZoneID, order: Order, mark: UInt64, free: UInt64)
    /// The zonelist walk restarted without ALLOC_NOFRAGMENT.
    case noFragmentDropped
    /// Served from the CPU's per-cpu list.
    case pcpHit(zone: ZoneID, cpu: Int, order: Order, migratetype: MigrateType)
    /// The per-cpu list was empty and got `blocks` blocks from the buddy lists.
    case pcpRefill(zone: ZoneID, cpu: Int, order: Order, blocks: Int)
    /// A buddy block of order `from` was taken and split down to `to`.
    case split(zone: ZoneID, pfn: Pfn, from: Order, to: Order, migratetype: MigrateType)
    /// No block of the wanted migratetype: a block of `from` was taken from `fallback`'s list;
    /// `claimedPageblock` says whether its pageblock changed owner (Linux:
    /// mm_page_alloc_extfrag's change_ownership).
    case fallback(zone: ZoneID, order: Order, foundOrder: Order, wanted: MigrateType,
                  fallback: MigrateType, claimedPageblock: Bool)
    /// Watermarks were boosted after a fallback.
    case watermarkBoosted(zone: ZoneID, boost: UInt64)
    /// The highatomic reserve grew by a pageblock.
    case highatomicReserved(zone: ZoneID, pfn: Pfn)
    /// The page allocator gave out a block (Linux: mm_page_alloc).
    case allocated(pfn: Pfn, order: Order, gfp: GFPFlags, migratetype: MigrateType)
    /// The fast path failed; Linux would now do this before retrying.
    case slowPath(SlowPathStep)
    /// Allocation failed (Linux: the "page allocation failure" warning unless __GFP_NOWARN).
    case failed(order: Order, gfp: GFPFlags)
    /// A block went back onto a per-cpu list.
    case pcpFree(zone: ZoneID, cpu: Int, pfn: Pfn, order: Order, migratetype: MigrateType)
    /// The per-cpu list went over high and freed `pages` pages to the buddy lists.
    case pcpDrain(zone: ZoneID, cpu: Int, pages: Int)
    /// A block reached the buddy lists after merging up to `mergedOrder` (Linux: mm_page_free).
    case freedToBuddy(zone: ZoneID, pfn: Pfn, order: Order, mergedOrder: Order, toTail: Bool)
    /// Misuse caught: the report Linux prints is in the kernel log.
    case badPage(pfn: Pfn, reason: BadPageReason)
}

/// What the slow path would do next (reclaim itself is not modelled yet).
public enum SlowPathStep: Sendable, Equatable {
    case wakeKswapd
    case retryMinWatermark
    case directCompaction
    case directReclaim
    case oomKiller
    case giveUp
}

/// Someone who wants to hear the path. Generic, so that `NoListener` compiles to nothing.
public protocol PageAllocListener {
    mutating func pageAlloc(_ event: PageAllocEvent)
    mutating func slab(_ event: SlabEvent)
}

/// Nobody listens: every report folds away.
public struct NoListener: PageAllocListener {
    @inlinable public init() {}
    @inline(__always) public mutating func pageAlloc(_ event: PageAllocEvent) {}
}

/// Keeps every event, for the CLI, the shell and tests.
public struct EventRecorder: PageAllocListener {
    public var events: [PageAllocEvent] = []
    public var slabEvents: [SlabEvent] = []
    public init() {}
    public mutating func pageAlloc(_ event: PageAllocEvent) { events.append(event) }
    public mutating func slab(_ event: SlabEvent) { slabEvents.append(event) }
}
