// The page allocator as one value: the nodes with their zones, the zonelists, the memmap, and
// the few boot facts its paths read.
//
// Linux: mm/page_alloc.c — the state behind alloc_pages() and __free_pages(): the pglist_data
//        of each node (NODE_DATA()), node_zonelists, the vmemmap of struct pages;
//        include/linux/topology.h — numa_mem_id(), cpu_to_node().
// Exact: what the allocation and free paths read and write (PageAlloc+Alloc.swift).
// Simplified: the CPU → node map and the online node count are copied in once, when
//        build_all_zonelists() makes allocation possible; no CPU or node is hot-plugged later.

/// Linux: the page allocator's state. `Kernel` owns one and boot fills it (free_area_init(),
/// memmap_init(), build_all_zonelists(), memblock_free_all()). Everything it needs at run time
/// is inside it or passed in: RAM (`PhysMemory`, which init_on_alloc clears) and the kernel log
/// (for Bad page reports). So a test can build a small one without booting a kernel, and
/// `var b = a` forks it.
public struct PageAllocator: Sendable {
    /// Linux: the pg_data_t of each node with memory, in node-id order.
    public var nodes: [PGData] = []
    /// Linux: node_zonelists[ZONELIST_FALLBACK] of every node, and policy_zone.
    public var zonelists = Zonelists()
    /// Every page's descriptor and every pageblock's migratetype.
    public var memmap = Memmap()
    /// Linux: nr_cpu_ids.
    public internal(set) var nrCPUIds = 1
    /// Linux: cpu_to_node() of each possible CPU (NUMA_NO_NODE where none is known).
    public internal(set) var cpuToNode: [NodeID] = []
    /// Linux: num_online_nodes().
    public internal(set) var onlineNodes = 1
    /// Linux: init_on_alloc (Debian: on).
    public internal(set) var initOnAlloc = true
    /// Linux: vmemmap, the address of pfn 0's struct page (dump_page() prints page addresses).
    public internal(set) var vmemmapBase: UInt64 = 0
    /// What a replay as recorded inferred the kernel did untraced (PageAlloc+Replay.swift):
    /// fallbacks that moved a block to the asking type's list, and pages taken off the head of
    /// a CPU's list ahead of the kernel's recorded choice.
    public internal(set) var inferredFallbacks = 0
    public internal(set) var inferredUntraced = 0

    public init() {}

    /// The facts of the machine the allocation paths read, set once by build_all_zonelists()
    /// (or by a test that builds a small allocator).
    public mutating func configure(cpuToNode: [NodeID], onlineNodes: Int, initOnAlloc: Bool, vmemmapBase: UInt64) {
        self.nrCPUIds = Swift.max(1, cpuToNode.count)
        self.cpuToNode = cpuToNode
        self.onlineNodes = onlineNodes
        self.initOnAlloc = initOnAlloc
        self.vmemmapBase = vmemmapBase
    }

    /// Linux: cpu_to_node() (NUMA_NO_NODE for a CPU the map does not know).
    @inline(__always)
    public func cpuNode(_ cpu: Int) -> NodeID { cpu < cpuToNode.count ? cpuToNode[cpu] : .none }

    /// Linux: numa_node_id() on the boot CPU (CPU 0), whose zonelist boot allocations walk.
    public var bootCPUNode: NodeID {
        let n = cpuToNode.first ?? 0
        return n == NodeID.none ? 0 : n
    }

    /// Where node `nid`'s pg_data_t sits in `nodes`.
    @inline(__always)
    public func nodeIndex(_ nid: NodeID) -> Int? {
        for i in nodes.indices where nodes[i].nodeId == nid { return i }
        return nil
    }
}
