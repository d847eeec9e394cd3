// The per-cpu first chunk: each CPU's copy of the kernel's per-cpu variables, embedded in the
// direct map.
//
// Linux: arch/x86/kernel/setup_percpu.c — setup_per_cpu_areas(), pcpu_cpu_distance(),
//        setup_node_to_cpumask_map() (arch/x86/mm/numa.c), setup_cpu_local_masks();
//        mm/percpu.c — pcpu_build_alloc_info(), pcpu_alloc_alloc_info(), pcpu_fc_alloc(),
//        pcpu_embed_first_chunk(), pcpu_setup_first_chunk(), pcpu_alloc_first_chunk(),
//        pcpu_dump_alloc_info().
// Exact: the unit size, the groups (one per node), every memblock call with its size and
//        caller, and the "percpu:" / "pcpu-alloc:" lines.
// Simplified: only the embedding allocator (x86-64 never needs the page-by-page fallback unless
//        the groups lie more than ¾ of the vmalloc area apart).

/// The first chunk's geometry (Linux: struct pcpu_alloc_info).
public struct PcpuAllocInfo: Equatable, Sendable {
    public var staticSize: UInt64
    public var reservedSize: UInt64
    public var dynSize: UInt64
    public var unitSize: UInt64
    public var atomSize: UInt64
    public var allocSize: UInt64
    /// Per group: the CPUs of its units (nil: a unit no CPU uses).
    public var groups: [[Int?]]
    /// Where each group's units were allocated.
    public var groupBase: [PhysAddr] = []
}

extension Kernel {
    /// Linux: PERCPU_MODULE_RESERVE, PERCPU_DYNAMIC_RESERVE, PERCPU_DYNAMIC_EARLY_SIZE,
    /// PCPU_MIN_UNIT_SIZE.
    static let percpuModuleReserve: UInt64 = 8 << 10
    static let percpuDynamicReserve: UInt64 = 28 << 10
    static let percpuDynamicEarlySize: UInt64 = 12 << 10
    static let pcpuMinUnitSize: UInt64 = 32 << 10

    /// Linux: nr_cpu_ids (every possible CPU) and nr_node_ids (the highest possible node + 1).
    var nrCPUIds: Int { Swift.max(1, machine.cpus.possible) }
    var nrNodeIds: Int {
        var last: Int32 = 0
        for n in NUMAState.members(numa.nodePossible) { last = Swift.max(last, n) }
        return Int(last) + 1
    }

    /// Linux: early_cpu_to_node().
    func earlyCPUToNode(_ cpu: Int) -> Int32 { cpu < numa.cpuToNode.count ? numa.cpuToNode[cpu] : numaNoNode }

    /// Linux: setup_per_cpu_areas().
    mutating func setupPerCPUAreas() {
        let (cpus, nodeIds) = (nrCPUIds, nrNodeIds)
        log.info("setup_percpu: NR_CPUS:8192 nr_cpumask_bits:\(cpus) nr_cpu_ids:\(cpus) nr_node_ids:\(nodeIds)")
        let dyn = Kernel.percpuModuleReserve + Kernel.percpuDynamicReserve - Kernel.percpuModuleReserve
        pcpuEmbedFirstChunk(reserved: Kernel.percpuModuleReserve, dyn: dyn, atom: 2 * SZ_1M)
        // setup_node_to_cpumask_map(), then setup_cpu_local_masks()' four masks.
        for _ in 0..<(nrNodeIds + 4) { allocBootmemCpumaskVar() }
    }

    /// Linux: alloc_bootmem_cpumask_var() (CPUMASK_OFFSTACK: NR_CPUS is 8192).
    mutating func allocBootmemCpumaskVar() {
        let size = UInt64((nrCPUIds + 63) / 64 * 8)
        _ = memblock.allocTryNid(size: size, align: 64, caller: Caller("alloc_bootmem_cpumask_var+0x28/0x5b"), log: &log)
    }

    /// Linux: pcpu_build_alloc_info(): the unit size and how many units share one atom-sized
    /// allocation. CPUs of one node form a group; the most units per allocation that wastes at
    /// most a third of a unit per CPU (and needs no more allocations) wins.
    func pcpuBuildAllocInfo(reserved: UInt64, dyn: UInt64, atom: UInt64) -> PcpuAllocInfo {
        let staticSize = machine.kernel.percpuStaticSize
        let sizeSum = roundUp(staticSize + reserved + Swift.max(dyn, Kernel.percpuDynamicEarlySize), pageSize)
        let minUnit = Swift.max(sizeSum, Kernel.pcpuMinUnitSize)
        let allocSize = (minUnit + atom - 1) / atom * atom
        var upa = allocSize / minUnit
        while allocSize % upa != 0 || (allocSize / upa) % pageSize != 0 { upa -= 1 }
        let maxUpa = upa
        // Groups: each takes the lowest remaining CPU and every remaining CPU on its node.
        var groupOf = [Int](repeating: -1, count: nrCPUIds)
        var groupCPUs: [[Int]] = []
        for cpu in 0..<nrCPUIds where groupOf[cpu] < 0 {
            let g = groupCPUs.count
            var members = [cpu]
            groupOf[cpu] = g
            for t in (cpu + 1)..<Swift.max(cpu + 1, nrCPUIds) where groupOf[t] < 0 && earlyCPUToNode(t) == earlyCPUToNode(cpu) {
                groupOf[t] = g
                members.append(t)
            }
            groupCPUs.append(members)
        }
        var lastAllocs = UInt64.max, best: UInt64 = 0
        for u in stride(from: maxUpa, through: 1, by: -1) {
            if allocSize % u != 0 || (allocSize / u) % pageSize != 0 { continue }
            var allocs: UInt64 = 0, wasted: UInt64 = 0
            for g in groupCPUs {
                let n = (UInt64(g.count) + u - 1) / u
                allocs += n
                wasted += n * u - UInt64(g.count)
            }
            if wasted > UInt64(nrCPUIds) / 3 { continue }
            if allocs > lastAllocs { break }
            lastAllocs = allocs
            best = u
        }
        let groups = groupCPUs.map { cpus -> [Int?] in
            let units = (UInt64(cpus.count) + best - 1) / best * best
            return cpus.map { Optional($0) } + [Int?](repeating: nil, count: Int(units) - cpus.count)
        }
        return PcpuAllocInfo(staticSize: staticSize, reservedSize: reserved, dynSize: sizeSum - staticSize - reserved,
                             unitSize: allocSize / best, atomSize: atom, allocSize: allocSize, groups: groups)
    }

    /// Linux: pcpu_embed_first_chunk().
    mutating func pcpuEmbedFirstChunk(reserved: UInt64, dyn: UInt64, atom: UInt64) {
        var ai = pcpuBuildAllocInfo(reserved: reserved, dyn: dyn, atom: atom)
        // pcpu_alloc_alloc_info(): the info and its CPU maps in whole pages.
        var units = 0
        for g in ai.groups { units += g.count }
        let aiSize = roundUp(64 + 24 * UInt64(ai.groups.count) + 4 * UInt64(units), pageSize)
        let aiAddr = memblock.allocTryNid(size: aiSize, align: pageSize, caller: Caller("pcpu_build_alloc_info+0x346/0x488"), log: &log)
        let sizeSum = ai.staticSize + ai.reservedSize + ai.dynSize
        let areasSize = roundUp(UInt64(ai.groups.count) * 8, pageSize)
        let areas = memblock.allocTryNid(size: areasSize, align: 64, caller: Caller("pcpu_embed_first_chunk+0x69/0x70f"), log: &log)
        for g in ai.groups {
            // pcpu_fc_alloc(): on the first CPU's node, above MAX_DMA_ADDRESS.
            let cpu = g.compactMap { $0 }.first ?? 0
            let node = earlyCPUToNode(cpu)
            let size = UInt64(g.count) * ai.unitSize
            let base: PhysAddr
            if node == numaNoNode || !numa.nodeOnline.contains(UInt64(node)) {
                base = memblock.allocTryNid(size: size, align: atom, minAddr: 16 * SZ_1M, caller: Caller("pcpu_fc_alloc+0x0/0x0"), log: &log)
                log.info("percpu: cpu \(cpu) has no node \(node) or node-local memory")
            } else {
                base = memblock.allocTryNid(size: size, align: atom, minAddr: 16 * SZ_1M, nid: node,
                                            caller: Caller("pcpu_fc_alloc+0xf2/0x148"), log: &log)
            }
            ai.groupBase.append(base)
        }
        // Each unit keeps what the CPU needs; the rest of the atom goes back.
        for (g, cpus) in ai.groups.enumerated() {
            for (i, cpu) in cpus.enumerated() {
                let unit = ai.groupBase[g] + UInt64(i) * ai.unitSize
                if cpu == nil {
                    memblock.physFree(unit, ai.unitSize, caller: Caller("pcpu_embed_first_chunk+0x1e6/0x70f"), log: &log)
                } else {
                    memblock.physFree(unit + sizeSum, ai.unitSize - sizeSum, caller: Caller("pcpu_embed_first_chunk+0x216/0x70f"), log: &log)
                }
            }
        }
        log.info("percpu: Embedded \(sizeSum >> pageShift) pages/cpu s\(ai.staticSize) r\(ai.reservedSize) d\(ai.dynSize) u\(ai.unitSize)")
        pcpuSetupFirstChunk(ai)
        percpuFirstChunk = ai
        memblock.physFree(aiAddr, aiSize, caller: Caller("pcpu_embed_first_chunk+0x285/0x70f"), log: &log)
        memblock.physFree(areas, areasSize, caller: Caller("pcpu_embed_first_chunk+0x2cf/0x70f"), log: &log)
    }

    /// Linux: pcpu_setup_first_chunk(): the group and unit maps, the chunk slot lists, and the
    /// two first-chunk regions (reserved for modules, then dynamic).
    mutating func pcpuSetupFirstChunk(_ ai: PcpuAllocInfo) {
        let ng = UInt64(ai.groups.count), ncpu = UInt64(nrCPUIds)
        for (size, off) in [(ng * 8, "0x2ff"), (ng * 8, "0x324"), (ncpu * 4, "0x34d"), (ncpu * 8, "0x38c")] {
            _ = memblock.allocTryNid(size: size, align: 64, caller: Caller("pcpu_setup_first_chunk+\(off)/0x7af"), log: &log)
        }
        pcpuDumpAllocInfo(ai)
        // pcpu_nr_slots: the size slots up to the unit size, plus sidelined, free, to-depopulate.
        let slot = Swift.max(fls(ai.unitSize) + 2, 6) - 5
        _ = memblock.allocTryNid(size: (slot + 4) * 16, align: 64, caller: Caller("pcpu_setup_first_chunk+0x696/0x7af"), log: &log)
        let staticSize = roundUp(ai.staticSize, 4)
        let dynSize = ai.dynSize - (staticSize - ai.staticSize)
        pcpuAllocFirstChunk(offset: staticSize, mapSize: ai.reservedSize != 0 ? ai.reservedSize : dynSize)
        if ai.reservedSize != 0 { pcpuAllocFirstChunk(offset: staticSize + ai.reservedSize, mapSize: dynSize) }
    }

    /// Linux: pcpu_alloc_first_chunk(): a chunk and its allocation, boundary and block maps
    /// (one bit per 4 bytes, one block per page).
    mutating func pcpuAllocFirstChunk(offset: UInt64, mapSize: UInt64) {
        let startOffset = offset % pageSize
        let regionSize = roundUp(startOffset + mapSize, pageSize)
        let pages = regionSize >> pageShift
        let bits = pages * (pageSize / 4)
        let sizes = [136 + (pages + 63) / 64 * 8, (bits + 63) / 64 * 8, (bits + 64) / 64 * 8, pages * 32]
        for (size, off) in zip(sizes, ["0x80", "0xf2", "0x11b", "0x141"]) {
            _ = memblock.allocTryNid(size: size, align: 64, caller: Caller("pcpu_alloc_first_chunk+\(off)/0x251"), log: &log)
        }
    }

    /// Linux: pcpu_dump_alloc_info(): the unit map, as many allocations per line as fit in 60
    /// columns (a power of two).
    mutating func pcpuDumpAllocInfo(_ ai: PcpuAllocInfo) {
        func digits(_ v: Int) -> Int { v < 10 ? 1 : 1 + digits(v / 10) }
        let groupWidth = digits(ai.groups.count), cpuWidth = digits(nrCPUIds)
        let empty = String(repeating: "-", count: Swift.min(cpuWidth, 8))
        let upa = Int(ai.allocSize / ai.unitSize)
        let width = upa * (cpuWidth + 1) + groupWidth + 3
        let apl = Int(roundDownPowOfTwo(UInt64(Swift.max(60 / width, 1))))
        func zpad(_ v: Int, _ w: Int) -> String { String(repeating: "0", count: Swift.max(0, w - digits(v))) + String(v) }
        log.info("pcpu-alloc: s\(ai.staticSize) r\(ai.reservedSize) d\(ai.dynSize) u\(ai.unitSize) alloc=\(ai.allocSize / ai.atomSize)*\(ai.atomSize)")
        var line = ""
        var alloc = 0
        for (g, cpus) in ai.groups.enumerated() {
            var unit = 0
            for _ in 0..<(cpus.count / upa) {
                if alloc % apl == 0 {
                    if !line.isEmpty { log.info(line) }
                    line = "pcpu-alloc: "
                }
                line += "[\(zpad(g, groupWidth))] "
                for _ in 0..<upa {
                    line += (cpus[unit].map { zpad($0, cpuWidth) } ?? empty) + " "
                    unit += 1
                }
                alloc += 1
            }
        }
        if !line.isEmpty { log.info(line) }
    }
}
