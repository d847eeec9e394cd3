// free_area_init(): zone boundaries, ZONE_MOVABLE, every node's zones with their spanned, present
// and estimated managed pages, the "unavailable ranges" of the memmap; then the zonelists.
//
// Linux: mm/page_alloc.c — free_area_init(), find_zone_movable_pfns_for_nodes(),
//        cmdline_parse_kernelcore()/movablecore(), free_area_init_node(),
//        calculate_node_totalpages(), zone_spanned_pages_in_node(), zone_absent_pages_in_node(),
//        adjust_zone_range_for_zone_movable(), free_area_init_core(), calc_memmap_size(),
//        memmap_init(), init_unavailable_range(), build_all_zonelists(), build_zonelists(),
//        find_next_best_node(), nr_free_zone_pages(); arch/x86/mm/init.c — zone_sizes_init().
// Exact: every number and line these print.
// Simplified: kernelcore=mirror is not modelled (no machine has mirrored memory yet); nodes
//        without memory are initialised without the memblock allocation Linux makes for them.
// Reference: shared/reference/linux-6.1-mm.md §2.6, §3.1–§3.4, §3.12.

extension Kernel {
    /// The memblock pfn ranges after NUMA set-up, a region no node claimed counted as node 0.
    public func memPfnRanges(nid: Int32 = maxNumNodes) -> [PfnRange] {
        var out: [PfnRange] = []
        for var r in memblock.pfnRanges() {
            if r.nid == maxNumNodes { r.nid = 0 }
            if nid == maxNumNodes || r.nid == nid { out.append(r) }
        }
        return out
    }

    /// Linux: get_pfn_range_for_nid().
    public func pfnRange(forNode nid: NodeID) -> (start: UInt64, end: UInt64) {
        var s = UInt64.max, e: UInt64 = 0
        for r in memPfnRanges(nid: nid.raw) { s = Swift.min(s, r.start); e = Swift.max(e, r.end) }
        return s == .max ? (0, 0) : (s, e)
    }

    /// Linux: zone_sizes_init(): DMA below 16 MiB, DMA32 below 4 GiB, Normal up to max_low_pfn.
    mutating func zoneSizesInit() {
        var maxZonePfn = [UInt64](repeating: 0, count: maxNrZones)
        maxZonePfn[ZoneType.dma.rawValue] = Swift.min(16 * SZ_1M >> pageShift, maxLowPfn.raw)
        maxZonePfn[ZoneType.dma32.rawValue] = Swift.min(1 << (32 - pageShift), maxLowPfn.raw)
        maxZonePfn[ZoneType.normal.rawValue] = maxLowPfn.raw
        freeAreaInit(maxZonePfn)
    }

    /// Linux: free_area_init().
    mutating func freeAreaInit(_ maxZonePfn: [UInt64]) {
        var zb = ZoneBoundaries()
        let zones = ZoneType.allCases.filter { $0 != .movable }
        let bounds = zoneRangesFromMax(zones.map { maxZonePfn[$0.rawValue] })
        for (i, z) in zones.enumerated() {
            zb.lowest[z.rawValue] = bounds[i].lo
            zb.highest[z.rawValue] = bounds[i].hi
        }
        zoneBoundaries = zb
        findZoneMovablePfnsForNodes()

        var printed: [(name: String, lo: UInt64, hi: UInt64)] = []
        for z in zones where z != .device || machine.kernel.zoneDevice {
            printed.append((z.name, zoneBoundaries.lowest[z.rawValue], zoneBoundaries.highest[z.rawValue]))
        }
        logZoneRanges(printed)
        log.info("Movable zone start for each node")
        for (nid, pfn) in zoneBoundaries.movableStart.enumerated() where pfn != 0 {
            log.info("  Node \(nid): \(hexPadded(pfn << pageShift, width: 18))")
        }
        logEarlyNodeRanges(memPfnRanges())

        nodes = []
        nrKernelPages = 0
        nrAllPages = 0
        for nid in NUMAState.members(numa.nodePossible) {
            if !numa.nodeOnline.contains(UInt64(nid)) {
                log.info("Initializing node \(nid) as memoryless")
                // arch_alloc_nodedata(): memblock_alloc(sizeof(pg_data_t), SMP_CACHE_BYTES). The
                // model knows only the page-rounded size alloc_node_data() uses (0x2b000).
                let pa = memblock.allocTryNid(size: Kernel.pgDataSize, align: memblock.smpCacheBytes,
                                              caller: .unknownOffset("free_area_init"), log: &log)
                if pa == 0 {
                    log.info("Cannot allocate \(Kernel.pgDataSize)B for node \(nid).")
                    continue
                }
                // free_area_init_memoryless_node() → free_area_init_node().
                var pgdat = freeAreaInitNode(NodeID(nid))
                pgdat.physAddr = pa
                nodes.append(pgdat)
                continue
            }
            nodes.append(freeAreaInitNode(NodeID(nid)))
        }
        memmapInit()
    }

    /// Linux: free_area_init()'s arch_zone_lowest/highest_possible_pfn: each zone (in index
    /// order, Movable excluded) runs from the previous one's end, or the start of DRAM, to its
    /// max_zone_pfn, and is empty when that lies below.
    func zoneRangesFromMax(_ maxZonePfn: [UInt64]) -> [(lo: UInt64, hi: UInt64)] {
        var start = Pfn.down(memblock.startOfDRAM).raw
        var out: [(lo: UInt64, hi: UInt64)] = []
        for m in maxZonePfn {
            let end = Swift.max(m, start)
            out.append((start, end))
            start = end
        }
        return out
    }

    /// free_area_init()'s "Zone ranges:" block.
    mutating func logZoneRanges(_ zones: [(name: String, lo: UInt64, hi: UInt64)]) {
        log.info("Zone ranges:")
        for z in zones {
            let range = z.lo == z.hi ? "empty" : "[mem \(hexPadded(z.lo << pageShift, width: 18))-\(hexPadded((z.hi << pageShift) - 1, width: 18))]"
            log.info("  \(padRight(z.name, 8)) \(range)")
        }
    }

    /// free_area_init()'s "Early memory node ranges" block.
    mutating func logEarlyNodeRanges(_ ranges: [PfnRange]) {
        log.info("Early memory node ranges")
        for r in ranges {
            log.info("  node \(padLeft(String(r.nid), 3)): [mem \(hexPadded(r.start << pageShift, width: 18))-\(hexPadded((r.end << pageShift) - 1, width: 18))]")
        }
    }

    /// free_area_init_node()'s line for a node with memory.
    mutating func logInitmemSetup(_ nid: NodeID, _ start: UInt64, _ end: UInt64) {
        log.info("Initmem setup node \(nid) [mem \(hexPadded(start << pageShift, width: 18))-\(hexPadded(end != 0 ? (end << pageShift) - 1 : 0, width: 18))]")
    }

    /// memmap_init()'s report of a hole's pages that have a struct page.
    mutating func logUnavailable(_ nid: NodeID, _ zone: String, _ count: UInt64) {
        if count != 0 { log.info("On node \(nid), zone \(zone): \(count) pages in unavailable ranges") }
    }

    /// Linux: find_zone_movable_pfns_for_nodes(), with `kernelcore=` / `movablecore=` /
    /// `movable_node`.
    mutating func findZoneMovablePfnsForNodes() {
        var movable = [UInt64](repeating: 0, count: Int(maxNumNodes))
        let ranges = memPfnRanges()
        var totalPages: UInt64 = 0
        var memoryNodes = Bitset()
        for r in ranges { totalPages += r.end - r.start; memoryNodes.insert(UInt64(r.nid)) }
        var usableNodes = UInt64(memoryNodes.count)
        // find_usable_zone_for_movable(): the highest zone below Movable with a non-empty range.
        var mz = ZoneType.dma
        for z in [ZoneType.normal, .dma32, .dma] where zoneBoundaries.highest[z.rawValue] > zoneBoundaries.lowest[z.rawValue] {
            mz = z
            break
        }
        zoneBoundaries.movableZone = mz

        var out2 = false
        if movableNode {
            for r in memblock.memory.regions where r.size != 0 && r.flags.contains(.hotplug) {
                let nid = Int(r.nid == maxNumNodes ? 0 : r.nid)
                let pfn = Pfn.down(r.base).raw
                movable[nid] = movable[nid] != 0 ? Swift.min(pfn, movable[nid]) : pfn
            }
            out2 = true
        } else {
            var (requiredKernelcore, kernelcorePercent) = coreOption("kernelcore")
            var (requiredMovablecore, movablecorePercent) = coreOption("movablecore")
            // (unsigned long arithmetic: a huge percentage wraps, as it does in Linux)
            if kernelcorePercent != 0 { requiredKernelcore = totalPages &* 100 &* kernelcorePercent / 10000 }
            if movablecorePercent != 0 { requiredMovablecore = totalPages &* 100 &* movablecorePercent / 10000 }
            if requiredMovablecore != 0 {
                requiredMovablecore = Swift.min(totalPages, roundUp(requiredMovablecore, 1024))
                requiredKernelcore = Swift.max(requiredKernelcore, totalPages - requiredMovablecore)
            }
            if requiredKernelcore != 0 && requiredKernelcore < totalPages {
                let usableStart = zoneBoundaries.lowest[mz.rawValue]
                repeat {
                    var kernelcoreNode = requiredKernelcore / usableNodes
                    for nidU in 0..<UInt64(maxNumNodes) where memoryNodes.contains(nidU) {
                        let nid = Int(nidU)
                        if requiredKernelcore < kernelcoreNode { kernelcoreNode = requiredKernelcore / usableNodes }
                        var remaining = kernelcoreNode
                        for r in ranges where r.nid == Int32(nid) {
                            var s = Swift.max(r.start, movable[nid])
                            let e = r.end
                            if s >= e { continue }
                            if s < usableStart {
                                let kernelPages = Swift.min(e, usableStart) - s
                                remaining -= Swift.min(kernelPages, remaining)
                                requiredKernelcore -= Swift.min(kernelPages, requiredKernelcore)
                                if e <= usableStart { movable[nid] = e; continue }
                                s = usableStart
                            }
                            var size = e - s
                            if size > remaining { size = remaining }
                            movable[nid] = s + size
                            requiredKernelcore -= Swift.min(requiredKernelcore, size)
                            remaining -= size
                            if remaining == 0 { break }
                        }
                    }
                    usableNodes -= 1
                } while usableNodes != 0 && requiredKernelcore > usableNodes
                out2 = true
            }
        }
        if out2 {
            for nid in 0..<Int(maxNumNodes) where movable[nid] != 0 || memoryNodes.contains(UInt64(nid)) {
                movable[nid] = roundUp(movable[nid], 1024)
                if movable[nid] >= pfnRange(forNode: NodeID(Int32(nid))).end { movable[nid] = 0 }
            }
        }
        zoneBoundaries.movableStart = movable
    }

    /// Linux: cmdline_parse_core(): `nn[KMG]` in pages, or `nn%`. The last occurrence wins.
    func coreOption(_ name: String) -> (pages: UInt64, percent: UInt64) {
        guard let v = commandLine.last(name), !v.isEmpty else { return (0, 0) }
        if name == "kernelcore" && v == "mirror" { return (0, 0) }
        return Kernel.parseCore(v)
    }

    /// Linux: cmdline_parse_core(): a percentage of all memory ("50%"), else a size in bytes.
    static func parseCore(_ v: String) -> (pages: UInt64, percent: UInt64) {
        let bytes = Array(v.utf8)
        let (n, used) = simpleStrtoull(bytes[...])
        if used < bytes.count && bytes[used] == UInt8(ascii: "%") { return (0, n) }
        return (memparse(bytes[...]).value >> pageShift, 0)
    }

    /// Linux: free_area_init_node().
    mutating func freeAreaInitNode(_ nid: NodeID) -> PGData {
        var pgdat = PGData(nodeId: nid)
        pgdat.physAddr = nid.number < numa.nodeData.count ? numa.nodeData[nid.number] : 0
        let (start, end) = pfnRange(forNode: nid)
        pgdat.nodeStartPfn = Pfn(start)
        if start != end {
            logInitmemSetup(nid, start, end)
        } else {
            log.info("Initmem setup node \(nid) as memoryless")
        }
        calculateNodeTotalpages(&pgdat, start, end)
        if memoryModel == .flat { allocNodeMemMap(&pgdat) }
        freeAreaInitCore(&pgdat)
        return pgdat
    }

    /// Linux: alloc_node_mem_map() (FLATMEM): the node's struct pages in one array from the
    /// MAX_ORDER-aligned start below node_start_pfn to the aligned end.
    mutating func allocNodeMemMap(_ pgdat: inout PGData) {
        guard pgdat.nodeSpannedPages > 0 else { return }
        let start = pgdat.nodeStartPfn.alignedDown(.top).raw
        let end = pgdat.nodeEndPfn.roundedUp(maxOrderNrPages).raw
        let size = (end - start) * 64
        let map = memblock.allocTryNid(size: size, align: memblock.smpCacheBytes, nid: pgdat.nodeId.raw,
                                       caller: .unknownOffset("alloc_node_mem_map"), log: &log)
        if map == 0 {
            scratch.pendingPanic = "Failed to allocate \(size) bytes for node \(pgdat.nodeId) memory map"
            return
        }
        pgdat.nodeMemMap = map + (pgdat.nodeStartPfn.raw - start) * 64
    }

    /// Linux: zone_spanned_pages_in_node() / zone_absent_pages_in_node()'s shared clamping, with
    /// adjust_zone_range_for_zone_movable().
    func zoneRange(_ nid: NodeID, _ z: ZoneType, _ nodeStart: UInt64, _ nodeEnd: UInt64) -> (UInt64, UInt64) {
        let lo = zoneBoundaries.lowest[z.rawValue], hi = zoneBoundaries.highest[z.rawValue]
        var zs = Swift.min(Swift.max(nodeStart, lo), hi)
        var ze = Swift.min(Swift.max(nodeEnd, lo), hi)
        let mv = nid.number < zoneBoundaries.movableStart.count ? zoneBoundaries.movableStart[nid.number] : 0
        if mv != 0 {
            if z == .movable {
                zs = mv
                ze = Swift.min(nodeEnd, zoneBoundaries.highest[zoneBoundaries.movableZone.rawValue])
            } else if zs < mv && ze > mv {
                ze = mv
            } else if zs >= mv {
                zs = ze
            }
        }
        return (zs, ze)
    }

    /// Linux: calculate_node_totalpages().
    func calculateNodeTotalpages(_ pgdat: inout PGData, _ nodeStart: UInt64, _ nodeEnd: UInt64) {
        var spannedTotal: UInt64 = 0, presentTotal: UInt64 = 0
        for z in ZoneType.allCases {
            var spanned: UInt64 = 0, zoneStart: UInt64 = 0, absent: UInt64 = 0
            if nodeStart != 0 || nodeEnd != 0 {
                // Spanned pages clamp the zone's range to the node; absent pages count holes in
                // the unclamped range, as zone_absent_pages_in_node() does.
                let (zs, ze) = zoneRange(pgdat.nodeId, z, nodeStart, nodeEnd)
                if !(ze < nodeStart || zs > nodeEnd) {
                    zoneStart = Swift.max(zs, nodeStart)
                    let zoneEnd = Swift.min(ze, nodeEnd)
                    // (A zone that ends before it starts — a firmware map with RAM past what
                    // the paging mode addresses — spans nothing here; Linux's subtraction would
                    // wrap. docs/DIVERGENCES.md.)
                    spanned = zoneEnd > zoneStart ? zoneEnd - zoneStart : 0
                }
                absent = ze >= zs ? absentPagesInRange(nid: pgdat.nodeId.raw, zs, ze) : 0
            }
            // (Holes can outnumber the span only for firmware maps Linux itself mis-sizes, such as
            // RAM past MAX_PHYSMEM_BITS; the model counts such a zone as empty rather than wrap.)
            let present = spanned >= absent ? spanned - absent : 0
            pgdat.zones[z.rawValue].zoneStartPfn = Pfn(spanned != 0 ? zoneStart : 0)
            pgdat.zones[z.rawValue].spannedPages = spanned
            pgdat.zones[z.rawValue].presentPages = present
            spannedTotal += spanned
            presentTotal += present
        }
        pgdat.nodeSpannedPages = spannedTotal
        pgdat.nodePresentPages = presentTotal
    }

    /// Linux: calc_memmap_size(): the struct pages a zone's memmap costs (its present pages
    /// when the zone is mostly holes).
    static func calcMemmapSize(spanned: UInt64, present: UInt64, sparse: Bool = true) -> UInt64 {
        var pages = spanned
        // Only SPARSEMEM leaves large holes without struct pages.
        if sparse && spanned > present + (present >> 4) { pages = present }
        return roundUp(pages * 64, pageSize) >> pageShift
    }

    /// Linux: free_area_init_core(): the provisional managed pages (present − memmap, and the
    /// DMA zone also less dma_reserve), nr_kernel_pages and nr_all_pages.
    mutating func freeAreaInitCore(_ pgdat: inout PGData) {
        for j in 0..<maxNrZones {
            let z = pgdat.zones[j]
            var freesize = z.presentPages
            let memmap = Kernel.calcMemmapSize(spanned: z.spannedPages, present: freesize, sparse: memoryModel != .flat)
            if freesize >= memmap {
                freesize -= memmap
            } else {
                log.info("  \(z.type.name) zone: \(memmap) memmap pages exceeds freesize \(freesize)")
            }
            if j == 0 && freesize > dmaReserve { freesize -= dmaReserve }
            nrKernelPages += freesize
            nrAllPages += freesize
            pgdat.zones[j].managedPages = freesize
        }
    }

    /// Linux: memmap_init(): pages in holes between RAM ranges (and up to the end of the last
    /// section) get reserved struct pages; each hole is reported against the zone above it.
    mutating func memmapInit() {
        var hole: UInt64 = 0
        var zoneId = ZoneType.dma
        var lastNid: NodeID = 0
        var lastEnd: UInt64 = 0
        var counted = (zoneEnd: UInt64.max, pages: UInt64(0))
        for r in memPfnRanges() {
            lastNid = NodeID(r.nid)
            lastEnd = r.end
            guard let n = nodeIndex(lastNid) else { continue }
            for z in nodes[n].zones where z.isPopulated {
                zoneId = z.type
                let s = Swift.min(Swift.max(r.start, z.zoneStartPfn.raw), z.zoneEndPfn.raw)
                let e = Swift.min(Swift.max(r.end, z.zoneStartPfn.raw), z.zoneEndPfn.raw)
                if s >= e { continue }
                if hole < s { initUnavailableRange(hole, s, z.type, lastNid) }
                hole = e
                deferInit(node: n, zone: z, start: s, end: e, counted: &counted)
            }
        }
        // The hole up to the end of the last section: SPARSEMEM only.
        let end = memoryModel == .flat ? lastEnd : roundUp(lastEnd, pagesPerSection)
        if hole < end { initUnavailableRange(hole, end, zoneId, lastNid) }
    }

    /// Linux: defer_init(): DEFERRED_STRUCT_PAGE_INIT initialises only the first section's worth of
    /// a node's highest zone at boot — enough to allocate from until the rest is initialised in
    /// parallel after the CPUs are up. Lower zones are always initialised whole, because
    /// allocations that need them (DMA) cannot fall back. The count restarts with every zone and
    /// skips holes; the cut falls on the first section boundary after more than a section.
    mutating func deferInit(node n: Int, zone z: Zone, start s: UInt64, end e: UInt64,
                            counted: inout (zoneEnd: UInt64, pages: UInt64)) {
        if memoryModel == .flat { return }   // DEFERRED_STRUCT_PAGE_INIT needs SPARSEMEM
        if !machine.kernel.deferredStructPageInit { return }
        if counted.zoneEnd != z.zoneEndPfn.raw { counted = (z.zoneEndPfn.raw, 0) }
        guard z.zoneEndPfn >= nodes[n].nodeEndPfn, nodes[n].firstDeferredPfn == .max else { return }
        let firstEligible = s + (counted.pages >= pagesPerSection ? 0 : pagesPerSection - counted.pages)
        let cut = roundUp(firstEligible, pagesPerSection)
        if cut < e {
            nodes[n].firstDeferredPfn = Pfn(cut)
        } else {
            counted.pages += e - s
        }
    }

    /// Linux: init_unavailable_range(): counts the pfns whose pageblock has a memmap.
    mutating func initUnavailableRange(_ spfn: UInt64, _ epfn: UInt64, _ zone: ZoneType, _ nid: NodeID) {
        var count: UInt64 = 0
        for run in sections.present {
            let s = Swift.max(spfn, run.start << pfnSectionShift)
            let e = Swift.min(epfn, run.end << pfnSectionShift)
            if s < e { count += e - s }
        }
        logUnavailable(nid, zone.name, count)
    }

    /// Linux: numa_node_id() on the boot CPU (CPU 0), whose zonelist boot allocations walk.
    var bootCPUNode: NodeID {
        let n = numa.cpuToNode.first ?? 0
        return n == numaNoNode ? 0 : NodeID(n)
    }

    /// Where node `nid`'s pg_data_t sits in `nodes`.
    func nodeIndex(_ nid: NodeID) -> Int? { pageAlloc.nodeIndex(nid) }

    /// Linux: build_all_zonelists(NULL) at boot: every node's fallback order, "Total pages"
    /// (provisional managed pages; no watermarks exist yet) and the policy zone.
    mutating func buildAllZonelists() {
        var zl = Zonelists()
        zl.fallback = Array(repeating: [], count: Int(maxNumNodes))
        zl.nodeOrder = Array(repeating: [], count: Int(maxNumNodes))
        var nodeLoad = [Int](repeating: 0, count: Int(maxNumNodes))
        var memoryNodes: [NodeID] = []
        for n in nodes where n.nodePresentPages != 0 { memoryNodes.append(n.nodeId) }
        for pgdat in nodes {
            let local = pgdat.nodeId
            var used = Bitset()
            var order: [NodeID] = []
            var prev = local
            while true {
                // find_next_best_node()
                var best = NodeID.none
                if !used.contains(UInt64(local.raw)) {
                    best = local
                } else {
                    var minVal = Int.max
                    for n in memoryNodes where !used.contains(UInt64(n.raw)) {
                        var val = numa.nodeDistance(local.raw, n.raw)
                        if n < local { val += 1 }
                        // PENALTY_FOR_NODE_WITH_CPUS: no CPU is in any node's cpumask yet when
                        // the boot-time zonelists are built (identify_cpu() adds them later).
                        val = val * Int(maxNumNodes) + nodeLoad[n.number]
                        if val < minVal { minVal = val; best = n }
                    }
                }
                if best == NodeID.none { break }
                used.insert(UInt64(best.raw))
                if numa.nodeDistance(local.raw, best.raw) != numa.nodeDistance(local.raw, prev.raw) { nodeLoad[best.number] += 1 }
                order.append(best)
                prev = best
            }
            var refs: [(nid: NodeID, zone: ZoneType)] = []
            for n in order {
                guard let i = nodeIndex(n) else { continue }
                let node = nodes[i]
                for z in node.zones.reversed() where z.isPopulated {
                    refs.append((n, z.type))
                    if z.type > zl.policyZone && z.type != .movable { zl.policyZone = z.type }
                }
            }
            zl.fallback[local.number] = refs
            zl.nodeOrder[local.number] = order
            var text = "Fallback order for Node \(local): "
            for n in order { text += "\(n) " }
            log.info(text)
        }
        // nr_free_zone_pages(ZONE_MOVABLE) on the boot CPU's node.
        var total: UInt64 = 0
        if bootCPUNode.number < zl.fallback.count {
            for ref in zl.fallback[bootCPUNode.number] {
                if let n = nodeIndex(ref.nid) { total += nodes[n].zones[ref.zone.rawValue].managedPages }
            }
        }
        zl.totalPages = total
        zl.mobilityGroupingDisabled = total < 512 * 5
        zonelists = zl
        // From here on the page allocator can allocate: it takes the facts its paths read.
        pageAlloc.configure(cpuToNode: (0..<nrCPUIds).map { NodeID(earlyCPUToNode($0)) }, onlineNodes: numa.nodeOnline.count,
                            initOnAlloc: initOnAlloc, vmemmapBase: sections.vmemmap.base)
        log.info("Built \(numa.nodeOnline.count) zonelists, mobility grouping \(zl.mobilityGroupingDisabled ? "off" : "on").  Total pages: \(total)")
        log.info("Policy zone: \(zl.policyZone.name)")
    }
}
