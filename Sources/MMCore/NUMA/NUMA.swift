// NUMA nodes: which memory belongs to which node, and each node's pg_data_t.
//
// Linux: arch/x86/mm/numa.c — numa_setup(), x86_numa_init(), numa_init(), dummy_numa_init(),
//        numa_add_memblk_to(), numa_cleanup_meminfo(), numa_register_memblks(),
//        numa_clear_kernel_node_hotplug(), numa_meminfo_cover_memory(), alloc_node_data(),
//        numa_init_array(); drivers/acpi/numa/srat.c — acpi_numa_memory_affinity_init();
//        arch/x86/mm/srat.c.
// Exact: the SRAT and fallback lines, node merging and its lines, node ids of memblock memory and
//        reservations, NODE_DATA placement (0x2b000 bytes per node in this configuration).
// Reference: shared/reference/linux-6.1-mm.md §2.4.

/// Linux: struct numa_memblk.
public struct NumaMemblk: Equatable, Sendable {
    public var start: PhysAddr
    public var end: PhysAddr
    public var nid: Int32
}

/// What NUMA initialisation leaves behind.
public struct NUMAState: Sendable {
    /// Linux: numa_off (`numa=off`).
    public var off = false
    /// Linux: numa_meminfo and numa_reserved_meminfo.
    public var meminfo: [NumaMemblk] = []
    public var reservedMeminfo: [NumaMemblk] = []
    /// Linux: numa_nodes_parsed, node_possible_map, node_online_map.
    public var nodesParsed = Bitset()
    public var nodePossible = Bitset()
    public var nodeOnline = Bitset()
    /// Linux: numa_distance[] (empty: no table, distances are 10 local and 20 remote).
    public var distance: [[UInt8]] = []
    /// Linux: the early cpu → node map (x86_cpu_to_node_map), per possible CPU.
    public var cpuToNode: [Int32] = []
    /// Linux: node_data[nid] — where each node's pg_data_t lives (0: none).
    public var nodeData: [PhysAddr] = []
    /// Linux: emu_nid_to_phys[] under `numa=fake` (empty otherwise): which real node each
    /// emulated node was carved from.
    public var emuToPhys: [Int32] = []

    public init() {}

    /// Linux: cpumask_weight(cpumask_of_node(nid)) once `online` CPUs are up (numa_add_cpu()).
    /// Under emulation a CPU joins every emulated node of its real node.
    public func cpusOnNode(_ nid: Int32, online: Int) -> Int {
        var n = 0
        for cpu in 0..<Swift.min(online, cpuToNode.count) {
            let c = cpuToNode[cpu]
            if emuToPhys.isEmpty {
                if c == nid { n += 1 }
            } else if c >= 0, Int(c) < emuToPhys.count, Int(nid) < emuToPhys.count, emuToPhys[Int(c)] == emuToPhys[Int(nid)] {
                n += 1
            }
        }
        return n
    }

    /// Linux: node_distance(a, b).
    public func nodeDistance(_ a: Int32, _ b: Int32) -> Int {
        let n = distance.count
        if Int(a) >= n || Int(b) >= n || a < 0 || b < 0 { return a == b ? 10 : 20 }
        return Int(distance[Int(a)][Int(b)])
    }

    /// Node ids in a bitset, ascending.
    public static func members(_ set: Bitset) -> [Int32] {
        var out: [Int32] = []
        for i in 0..<Int(maxNumNodes) where set.contains(UInt64(i)) { out.append(Int32(i)) }
        return out
    }
}

extension Kernel {
    /// Linux: sizeof(pg_data_t) rounded up to a page in Debian's build (two zonelists of
    /// MAX_NUMNODES × MAX_NR_ZONES + 1 entries dominate it).
    public static let pgDataSize: UInt64 = 0x2b000

    /// Linux: initmem_init() = x86_numa_init(): SRAT if there is one (and `numa=off` / `numa=noacpi`
    /// do not forbid it), otherwise one node covering all memory.
    mutating func initmemInit() throws(BootPanic) {
        var noACPI = false
        for p in commandLine.params where p.name == "numa" {
            guard let v = p.value else { continue }
            if v.hasPrefix("off") { numa.off = true }
            if v.hasPrefix("noacpi") { noACPI = true }
        }
        if !numa.off && !noACPI && !machine.numaMemory.isEmpty {
            if numaInit(.srat) { return }
        }
        _ = numaInit(.dummy)
    }

    enum NUMASource { case srat, dummy }

    /// Linux: numa_init(init_func). Returns false when that source gives no usable configuration.
    mutating func numaInit(_ source: NUMASource) -> Bool {
        numa.nodesParsed = Bitset()
        numa.nodePossible = Bitset()
        numa.nodeOnline = Bitset()
        numa.meminfo = []
        numa.cpuToNode = Array(repeating: numaNoNode, count: machine.cpus.possible)
        memblock.setNode(0, physAddrMax, in: .memory, nid: maxNumNodes, log: &log)
        memblock.setNode(0, physAddrMax, in: .reserved, nid: maxNumNodes, log: &log)
        memblock.setFlag(0, physAddrMax, .hotplug, false, log: &log)
        numa.distance = []

        switch source {
        case .srat:
            guard acpiNumaInit() else { return false }
        case .dummy:
            log.info(numa.off ? "NUMA turned off" : "No NUMA configuration found")
            log.info("Faking a node at [mem \(pa(0))-\(pa(maxPfn.physAddr &- 1))]")
            numa.nodesParsed.insert(0)
            numaAddMemblk(0, 0, maxPfn.physAddr)
        }
        memblock.bottomUp = false
        guard numaCleanupMeminfo() else { return false }
        numaEmulation()
        guard numaRegisterMemblks() else { return false }
        for cpu in numa.cpuToNode.indices {
            let nid = numa.cpuToNode[cpu]
            if nid != numaNoNode && !numa.nodeOnline.contains(UInt64(nid)) { numa.cpuToNode[cpu] = numaNoNode }
        }
        numaInitArray()
        return true
    }

    /// Linux: x86_acpi_numa_init() → acpi_numa_init(): the SRAT's CPU and memory affinities and
    /// the SLIT. Fails when no memory affinity was parsed.
    mutating func acpiNumaInit() -> Bool {
        for (cpu, nid) in machine.cpus.nodeOfCPU.enumerated() where cpu < numa.cpuToNode.count && nid >= 0 {
            numa.cpuToNode[cpu] = nid
            numa.nodesParsed.insert(UInt64(nid))
        }
        var parsed = 0
        for ma in machine.numaMemory {
            numaAddMemblk(ma.node, ma.start, ma.end)
            numa.nodesParsed.insert(UInt64(ma.node))
            parsed += 1
            log.info("ACPI: SRAT: Node \(ma.node) PXM \(ma.pxm) [mem \(hexPadded(ma.start, width: 10))-\(hexPadded(ma.end - 1, width: 10))]\(ma.hotplug ? " hotplug" : "")")
            if ma.hotplug { memblock.setFlag(ma.start, ma.end - ma.start, .hotplug, true, log: &log) }
            let endPfn = Pfn.up(ma.end - 1)
            if endPfn > maxPossiblePfn { maxPossiblePfn = endPfn }
        }
        guard parsed > 0 else { return false }
        if !machine.numaDistance.isEmpty {
            numaAllocDistance(count: machine.numaDistance.count)
            numa.distance = machine.numaDistance
        }
        return true
    }

    /// Linux: numa_alloc_distance(): the distance table comes from memblock below max_pfn_mapped.
    mutating func numaAllocDistance(count: Int) {
        let size = UInt64(count * count)
        _ = memblock.physAllocRange(size: size, align: pageSize, start: 0, end: maxPfnMapped.physAddr,
                                    caller: Caller("numa_alloc_distance+0x9f/0x13b"), log: &log)
        log.info("NUMA: Initialized distance table, cnt=\(count)")
    }

    /// Linux: numa_add_memblk().
    mutating func numaAddMemblk(_ nid: Int32, _ start: PhysAddr, _ end: PhysAddr) {
        if start == end { return }
        if start > end || nid < 0 || nid >= maxNumNodes {
            log.info("Warning: invalid memblk node \(nid) [mem \(hexPadded(start, width: 10))-\(hexPadded(end &- 1, width: 10))]")
            return
        }
        numa.meminfo.append(NumaMemblk(start: start, end: end, nid: nid))
    }

    /// Linux: numa_cleanup_meminfo(): drop blocks without RAM, clip to max_pfn, merge blocks of
    /// one node when no other node's memory lies between them.
    mutating func numaCleanupMeminfo() -> Bool {
        let high = maxPfn.physAddr
        var mi = numa.meminfo
        var i = 0
        while i < mi.count {
            let b = mi[i]
            if !memblock.overlapsRegion(.memory, b.start, b.end - b.start) {
                numa.reservedMeminfo.append(b)
                mi.remove(at: i)
                continue
            }
            if b.end > high {
                numa.reservedMeminfo.append(NumaMemblk(start: high, end: b.end, nid: b.nid))
                mi[i].end = high
            }
            if mi[i].start >= mi[i].end { mi.remove(at: i); continue }
            i += 1
        }
        i = 0
        while i < mi.count {
            var j = i + 1
            while j < mi.count {
                let bi = mi[i], bj = mi[j]
                if bi.end > bj.start && bi.start < bj.end {
                    if bi.nid != bj.nid {
                        log.info("node \(bi.nid) [mem \(hexPadded(bi.start, width: 10))-\(hexPadded(bi.end - 1, width: 10))] overlaps with node \(bj.nid) [mem \(hexPadded(bj.start, width: 10))-\(hexPadded(bj.end - 1, width: 10))]")
                        return false
                    }
                    log.info("Warning: node \(bi.nid) [mem \(hexPadded(bi.start, width: 10))-\(hexPadded(bi.end - 1, width: 10))] overlaps with itself [mem \(hexPadded(bj.start, width: 10))-\(hexPadded(bj.end - 1, width: 10))]")
                }
                if bi.nid != bj.nid { j += 1; continue }
                let start = Swift.min(bi.start, bj.start), end = Swift.max(bi.end, bj.end)
                var blocked = false
                for bk in mi where bk.nid != bi.nid && start < bk.end && end > bk.start { blocked = true; break }
                if blocked { j += 1; continue }
                log.info("NUMA: Node \(bi.nid) [mem \(hexPadded(bi.start, width: 10))-\(hexPadded(bi.end - 1, width: 10))] + [mem \(hexPadded(bj.start, width: 10))-\(hexPadded(bj.end - 1, width: 10))] -> [mem \(hexPadded(start, width: 10))-\(hexPadded(end - 1, width: 10))]")
                mi[i].start = start
                mi[i].end = end
                mi.remove(at: j)
            }
            i += 1
        }
        numa.meminfo = mi
        return true
    }

    /// Linux: numa_register_memblks(): tag memblock with node ids, check coverage, allocate
    /// every node's pg_data_t on the node itself (top-down), dump memblock.
    mutating func numaRegisterMemblks() -> Bool {
        numa.nodePossible = numa.nodesParsed
        for b in numa.meminfo where b.start != b.end && b.nid != numaNoNode { numa.nodePossible.insert(UInt64(b.nid)) }
        if numa.nodePossible.count == 0 { return false }
        for b in numa.meminfo { memblock.setNode(b.start, b.end - b.start, in: .memory, nid: b.nid, log: &log) }
        numaClearKernelNodeHotplug()
        guard numaMeminfoCoverMemory() else { return false }
        numa.nodeData = Array(repeating: 0, count: Int(maxNumNodes))
        for nid in NUMAState.members(numa.nodePossible) {
            var start = maxPfn.physAddr, end: PhysAddr = 0
            for b in numa.meminfo where b.nid == nid {
                start = Swift.min(start, b.start)
                end = Swift.max(end, b.end)
            }
            if start >= end { continue }
            allocNodeData(nid)
        }
        memblock.dumpAll(log: &log)
        return true
    }

    /// Linux: numa_clear_kernel_node_hotplug(): reservations get node ids; nodes holding any are
    /// not hot-removable.
    mutating func numaClearKernelNodeHotplug() {
        for b in numa.meminfo { memblock.setNode(b.start, b.end - b.start, in: .reserved, nid: b.nid, log: &log) }
        var kernelNodes = Bitset()
        for r in memblock.reserved.regions where r.nid != maxNumNodes && r.size != 0 { kernelNodes.insert(UInt64(r.nid)) }
        for b in numa.meminfo where kernelNodes.contains(UInt64(b.nid)) {
            memblock.setFlag(b.start, b.end - b.start, .hotplug, false, log: &log)
        }
    }

    /// Linux: numa_meminfo_cover_memory(): the nodes must cover all RAM but 1 MiB.
    mutating func numaMeminfoCoverMemory() -> Bool {
        var numaram: Int64 = 0
        for b in numa.meminfo {
            let s = b.start >> pageShift, e = b.end >> pageShift
            numaram += Int64(e - s)
            numaram -= Int64(absentPagesInRange(nid: b.nid, s, e))
            if numaram < 0 { numaram = 0 }
        }
        let e820ram = Int64(maxPfn.raw) - Int64(absentPagesInRange(nid: maxNumNodes, 0, maxPfn.raw))
        if e820ram - numaram >= 1 << (20 - pageShift) {
            log.info("NUMA: nodes only cover \((UInt64(numaram) << pageShift) >> 20)MB of your \((UInt64(e820ram) << pageShift) >> 20)MB e820 RAM. Not used.")
            return false
        }
        return true
    }

    /// Linux: __absent_pages_in_range(): pfns of [start, end) not in memblock memory of `nid`
    /// (MAX_NUMNODES: any node).
    public func absentPagesInRange(nid: Int32, _ start: UInt64, _ end: UInt64) -> UInt64 {
        var present: UInt64 = 0
        for r in memblock.pfnRanges(nid: nid) {
            let s = Swift.min(Swift.max(r.start, start), end), e = Swift.min(Swift.max(r.end, start), end)
            if s < e { present += e - s }
        }
        return (end - start) - present
    }

    /// Linux: alloc_node_data().
    mutating func allocNodeData(_ nid: Int32) {
        let size = Kernel.pgDataSize
        let addr = memblock.physAllocTryNid(size: size, align: memblock.smpCacheBytes, nid: nid, log: &log)
        if addr == 0 {
            log.info("Cannot find \(size) bytes in any node (initial node: \(nid))")
            return
        }
        log.info("NODE_DATA(\(nid)) allocated [mem \(hexPadded(addr, width: 10))-\(hexPadded(addr + size - 1, width: 10))]")
        let tnid = earlyPfnToNid(Pfn.down(addr))
        if tnid != nid { log.info("    NODE_DATA(\(nid)) on node \(tnid)") }
        numa.nodeData[Int(nid)] = addr
        numa.nodeOnline.insert(UInt64(nid))
    }

    /// Linux: early_pfn_to_nid() (memblock_search_pfn_nid(); 0 when the pfn is in no region).
    public func earlyPfnToNid(_ pfn: Pfn) -> Int32 {
        let addr = pfn.physAddr
        for r in memblock.memory.regions where r.size != 0 && r.base <= addr && addr < r.end {
            return r.nid == maxNumNodes ? 0 : r.nid
        }
        return 0
    }

    /// Linux: numa_init_array(): CPUs without a node are spread round-robin over online nodes.
    mutating func numaInitArray() {
        let online = NUMAState.members(numa.nodeOnline)
        guard !online.isEmpty else { return }
        var rr = 0
        for cpu in numa.cpuToNode.indices where numa.cpuToNode[cpu] == numaNoNode {
            numa.cpuToNode[cpu] = online[rr]
            rr = (rr + 1) % online.count
        }
    }
}
