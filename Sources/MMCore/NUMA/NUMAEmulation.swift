// NUMA emulation: `numa=fake=` carves the real nodes into fake ones, so NUMA behaviour can be
// studied on a machine (or a VM) that has a single node.
//
// Linux: arch/x86/mm/numa_emulation.c — numa_emulation(), split_nodes_interleave(),
//        split_nodes_size_interleave_uniform(), find_end_of_node(), emu_setup_memblk(),
//        setup_emu2phys_nid(); arch/x86/mm/numa.c — numa_alloc_distance(), numa_set_distance().
// Exact: the three forms (`N`, `<size>[MG]`, `NU`), node boundaries in 32 MiB steps, the
//        "Faking node" lines, the distance table and its allocation, CPUs following their
//        physical node.
// Simplified: an explicit distance list after ':' is not parsed (the default distances apply).

extension Kernel {
    /// Linux: FAKE_NODE_MIN_SIZE.
    static let fakeNodeMinSize: UInt64 = 32 * SZ_1M

    /// Linux: mem_hole_size(): bytes of [start, end) that are not RAM.
    func memHoleSize(_ start: UInt64, _ end: UInt64) -> UInt64 {
        let s = Pfn.up(start).raw, e = Pfn.down(end).raw
        return s < e ? absentPagesInRange(nid: maxNumNodes, s, e) << pageShift : 0
    }

    /// Linux: numa_emulation(). Without `numa=fake=` the node mapping stays the identity.
    // tidy: long — one pass over the three numa=fake= forms and the fix-ups after them, in
    // numa_emulation()'s order; split, the shared locals (pi, ei, emuToPhys) would travel as inout.
    mutating func numaEmulation() {
        var spec: String? = nil
        for p in commandLine.params where p.name == "numa" {
            if let v = p.value, v.hasPrefix("fake=") { spec = String(v.dropFirst(5)) }
        }
        guard let spec else { return }
        let maxAddr = maxPfn.physAddr
        var pi = numa.meminfo
        var ei: [NumaMemblk] = []
        var emuToPhys = [Int32](repeating: numaNoNode, count: Int(maxNumNodes))
        let bytes = Array(spec.utf8)
        var ok: Bool
        if bytes.contains(UInt8(ascii: "U")) {
            // The count is an unsigned long handed to an `int nr_nodes`: C keeps its low 32 bits.
            let n = simpleStrtoull(bytes[...]).value
            let nrNodes = Int(Int32(truncatingIfNeeded: n))
            ok = false
            var nid = 0
            for phys in NUMAState.members(numa.nodesParsed) {
                guard !pi.isEmpty else { break }
                let blk0 = pi[0]
                guard let next = splitNodesSizeInterleave(&ei, &pi, &emuToPhys, blk0.start, blk0.end, 0,
                                                          nrNodes: nrNodes, pblkNid: blk0.nid, nid: nid) else { ok = false; break }
                ok = true
                if next == nid { continue }
                if UInt64(bitPattern: Int64(next - nid)) < n {
                    log.info("numa_emulation: phys: \(phys) only got \(next - nid) of \(n) nodes, failing")
                    ok = false
                    break
                }
                nid = next
            }
        } else if bytes.contains(UInt8(ascii: "M")) || bytes.contains(UInt8(ascii: "G")) {
            let size = memparse(bytes[...]).value
            ok = splitNodesSizeInterleave(&ei, &pi, &emuToPhys, 0, maxAddr, size, nrNodes: 0, pblkNid: 0, nid: 0) != nil
        } else {
            let n = simpleStrtoull(bytes[...]).value
            ok = splitNodesInterleave(&ei, &pi, &emuToPhys, 0, maxAddr, Int(Int32(truncatingIfNeeded: n)))
        }
        guard ok else { return }
        let saved = numa.meminfo
        numa.meminfo = ei
        guard numaCleanupMeminfo() else {
            log.info("NUMA: Warning: constructed meminfo invalid, disabling emulation")
            numa.meminfo = saved
            return
        }
        let physDistance = numa.distance
        // setup_emu2phys_nid()
        var maxEmu = 0
        var dflPhys = numaNoNode
        for i in emuToPhys.indices where emuToPhys[i] != numaNoNode {
            maxEmu = i
            if dflPhys == numaNoNode { dflPhys = emuToPhys[i] }
        }
        numa.nodesParsed = Bitset()
        for b in numa.meminfo where b.start != b.end && b.nid != numaNoNode { numa.nodesParsed.insert(UInt64(b.nid)) }
        for cpu in numa.cpuToNode.indices where numa.cpuToNode[cpu] != numaNoNode {
            let phys = numa.cpuToNode[cpu]
            numa.cpuToNode[cpu] = Int32(emuToPhys.firstIndex(of: phys) ?? 0)
        }
        for i in emuToPhys.indices where emuToPhys[i] == numaNoNode { emuToPhys[i] = dflPhys }
        numa.emuToPhys = emuToPhys
        // numa_reset_distance(), then numa_set_distance() for every pair: the first call
        // allocates the table, sized by the highest parsed node.
        numa.distance = []
        var cnt = 0
        for i in 0..<Int(maxNumNodes) where numa.nodesParsed.contains(UInt64(i)) { cnt = i }
        cnt += 1
        numaAllocDistance(count: cnt)
        var table = [[UInt8]](repeating: [UInt8](repeating: 20, count: cnt), count: cnt)
        for i in 0..<cnt { table[i][i] = 10 }
        for i in 0...maxEmu where i < cnt {
            for j in 0...maxEmu where j < cnt {
                let pi = Int(emuToPhys[i]), pj = Int(emuToPhys[j])
                if pi < physDistance.count && pj < physDistance.count {
                    table[i][j] = physDistance[pi][pj]
                } else {
                    table[i][j] = pi == pj ? 10 : 20
                }
            }
        }
        numa.distance = table
    }

    /// Linux: emu_setup_memblk(): the next `size` bytes of physical block `phys` become node `nid`.
    mutating func emuSetupMemblk(_ ei: inout [NumaMemblk], _ pi: inout [NumaMemblk], _ emuToPhys: inout [Int32],
                                 _ nid: Int, _ phys: Int, _ size: UInt64) {
        let pb = pi[phys]
        let eb = NumaMemblk(start: pb.start, end: pb.start + size, nid: Int32(nid))
        ei.append(eb)
        if emuToPhys[nid] == numaNoNode { emuToPhys[nid] = pb.nid }
        pi[phys].start += size
        if pi[phys].start >= pi[phys].end { pi.remove(at: phys) }
        log.info("Faking node \(nid) at [mem \(hexPadded(eb.start, width: 18))-\(hexPadded(eb.end - 1, width: 18))] (\((eb.end - eb.start) >> 20)MB)")
    }

    /// Linux: split_nodes_interleave(): `numa=fake=N`, N nodes of equal RAM, round-robin over
    /// the physical nodes.
    mutating func splitNodesInterleave(_ ei: inout [NumaMemblk], _ pi: inout [NumaMemblk], _ emuToPhys: inout [Int32],
                                       _ addr: UInt64, _ maxAddr: UInt64, _ nrNodesIn: Int) -> Bool {
        var nrNodes = nrNodesIn
        if nrNodes <= 0 { return false }
        if nrNodes > Int(maxNumNodes) {
            log.info("numa=fake=\(nrNodes) too large, reducing to \(maxNumNodes)")
            nrNodes = Int(maxNumNodes)
        }
        let minSize = Kernel.fakeNodeMinSize
        var size = maxAddr - addr - memHoleSize(addr, maxAddr)
        size = ((size >> pageShift) / UInt64(nrNodes)) << pageShift
        let big = Int(((size & (minSize - 1)) * UInt64(nrNodes)) / minSize)
        size &= ~(minSize - 1)
        if size == 0 {
            log.info("Not enough memory for each node.  NUMA emulation disabled.")
            return false
        }
        var physMask = numa.nodesParsed
        var nid = 0
        let dma32End: UInt64 = 1 << 32
        while physMask.count != 0 {
            for i in NUMAState.members(physMask) {
                guard let phys = pi.firstIndex(where: { $0.nid == i }) else { physMask.remove(UInt64(i)); continue }
                let start = pi[phys].start, limit = pi[phys].end
                var end = start + size
                if nid < big { end += minSize }
                while end &- start &- memHoleSize(start, end) < size {
                    end += minSize
                    if end > limit { end = limit; break }
                }
                if end < dma32End && dma32End - end - memHoleSize(end, dma32End) < minSize { end = dma32End }
                if limit &- end &- memHoleSize(end, limit) < size { end = limit }
                emuSetupMemblk(&ei, &pi, &emuToPhys, nid % nrNodes, phys, Swift.min(end, limit) - start)
                nid += 1
            }
        }
        return true
    }

    /// Linux: split_nodes_size_interleave_uniform(): `numa=fake=<size>` (nrNodes 0) or one
    /// physical node split into `nrNodes` equal parts (`numa=fake=NU`). Returns the next node id.
    mutating func splitNodesSizeInterleave(_ ei: inout [NumaMemblk], _ pi: inout [NumaMemblk], _ emuToPhys: inout [Int32],
                                           _ addr: UInt64, _ maxAddr: UInt64, _ sizeIn: UInt64,
                                           nrNodes nrNodesIn: Int, pblkNid: Int32, nid nidIn: Int) -> Int? {
        var size = sizeIn
        if size == 0 && nrNodesIn == 0 { return nil }
        var nrNodes = nrNodesIn
        var physMask = numa.nodesParsed
        var uniform = false
        if nrNodes == 0 {
            nrNodes = Int(maxNumNodes)
        } else {
            physMask = Bitset()
            physMask.insert(UInt64(pblkNid))
            uniform = true
        }
        func uniformSize(_ hole: UInt64) -> UInt64 {
            // unsigned long ÷ int: a negative count converts to a huge divisor, as in C.
            ((Pfn.down(maxAddr).raw &- Pfn.down(addr).raw &- (hole >> pageShift)) / UInt64(bitPattern: Int64(nrNodes))) << pageShift
        }
        let minSize = Kernel.fakeNodeMinSize
        var minimum: UInt64
        if uniform {
            minimum = uniformSize(0)
            size = minimum
        } else {
            minimum = uniformSize(memHoleSize(addr, maxAddr))
        }
        minimum = roundUp(Swift.max(minimum, minSize), minSize)
        if size < minimum {
            log.info("Fake node size \(size >> 20)MB too small, increasing to \(minimum >> 20)MB")
            size = minimum
        }
        size = roundDown(size, minSize)
        var nid = nidIn
        let dma32End: UInt64 = 1 << 32
        while physMask.count != 0 {
            for i in NUMAState.members(physMask) {
                guard let phys = pi.firstIndex(where: { $0.nid == i }) else { physMask.remove(UInt64(i)); continue }
                let start = pi[phys].start, limit = pi[phys].end
                var end: UInt64
                // (A size memparse() wrapped can pass the top of memory: u64 arithmetic wraps
                // in C, and the limit below brings the end back.)
                if uniform {
                    end = start &+ size
                } else {
                    end = start &+ size
                    while end &- start &- memHoleSize(start, end) < size {
                        end &+= minSize
                        if end > limit { end = limit; break }
                    }
                }
                if end < dma32End && dma32End - end - memHoleSize(end, dma32End) < minSize { end = dma32End }
                if !uniform && limit &- end &- memHoleSize(end, limit) < size { end = limit }
                emuSetupMemblk(&ei, &pi, &emuToPhys, nid % Int(maxNumNodes), phys, Swift.min(end, limit) - start)
                nid += 1
            }
        }
        return nid
    }
}
