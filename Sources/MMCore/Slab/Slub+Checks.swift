// A full consistency walk of SLUB's state, for tests and the shell's `check`.
//
// Linux: no single counterpart; it is what validate_slab_cache() and the list/counter
//        assertions of mm/slub.c would say together, plus the model's own allocation bits.

extension SlubState {
    /// nil when every cache's lists, counters, freelists and allocation bits agree; otherwise
    /// the first disagreement, in words.
    public func checkInvariants(_ pages: PageAllocator, _ mem: PhysMemory) -> String? {
        var slabsSeen = [Int](repeating: 0, count: slabs.count)
        for id in list {
            let s = caches[id]
            var perNodeSlabs = [Int](repeating: 0, count: s.node.count)
            var perNodeObjects = [Int](repeating: 0, count: s.node.count)
            for (nid, n) in s.node.enumerated() where n.present {
                var count = 0
                var prev = SlabID.none
                var sid = n.partialHead
                while !sid.isNone {
                    let slab = slabs[sid]
                    if slab.where_ != .nodePartial || slab.frozen { return "\(s.name): slab \(sid) on node \(nid)'s partial list is \(slab.where_)\(slab.frozen ? ", frozen" : "")" }
                    if slab.prev != prev { return "\(s.name): partial list link broken at slab \(sid)" }
                    if slab.inuse == slab.objects { return "\(s.name): a full slab \(sid) on the partial list" }
                    count += 1
                    prev = sid
                    sid = slab.next
                    if count > slabs.count { return "\(s.name): node \(nid)'s partial list loops" }
                }
                if count != n.nrPartial { return "\(s.name): node \(nid) nr_partial \(n.nrPartial), list holds \(count)" }
                if prev != n.partialTail { return "\(s.name): node \(nid)'s partial tail is wrong" }
            }
            for cpu in 0..<possibleCPUs {
                let cs = hot[cpuIndex(id, cpu)]
                var p = cs.partial
                var n = 0
                while !p.isNone {
                    if slabs[p].where_ != .cpuPartial || !slabs[p].frozen { return "\(s.name): cpu \(cpu) partial slab \(p) is not a frozen cpu-partial slab" }
                    n += 1
                    p = slabs[p].next
                    if n > slabs.count { return "\(s.name): cpu \(cpu)'s partial list loops" }
                }
                let c = cs.slab
                if !c.isNone && (slabs[c].where_ != .cpuSlab || !slabs[c].frozen) { return "\(s.name): cpu \(cpu)'s slab is not a frozen cpu slab" }
            }
            for sid in slabs(of: id) {
                let slab = slabs[sid]
                slabsSeen[sid.index] += 1
                perNodeSlabs[slab.nid.number] += 1
                perNodeObjects[slab.nid.number] += Int(slab.objects)
                // Free objects: the slab's own freelist, and the CPU freelist if it is a cpu slab.
                var free = Set<UInt64>()
                var lists = [slab.freelist]
                for c in cpuSlabs(of: id) where c.slab == sid { lists.append(c.freelist) }
                for head in lists {
                    var o = head
                    while o != 0 {
                        guard let i = objectIndex(id, sid, o) else { return "\(s.name): slab \(sid)'s freelist has 0x\(String(o, radix: 16)), not an object" }
                        if isAllocatedObject(sid, i) { return "\(s.name): object \(i) of slab \(sid) is free and allocated" }
                        guard free.insert(o).inserted else { return "\(s.name): object 0x\(String(o, radix: 16)) twice on freelists" }
                        o = getFreepointer(id, o, mem)
                    }
                }
                var allocated = 0
                for i in 0..<Int(slab.objects) where isAllocatedObject(sid, i) { allocated += 1 }
                if allocated + free.count != Int(slab.objects) { return "\(s.name): slab \(sid): \(allocated) allocated + \(free.count) free ≠ \(slab.objects)" }
                // inuse counts what is not on the slab's own freelist (a cpu slab's CPU freelist
                // counts as in use, as in Linux).
                let own = countList(id, slab.freelist, mem)
                if Int(slab.inuse) != Int(slab.objects) - own {
                    return "\(s.name): slab \(sid) inuse \(slab.inuse), but \(own) objects are on its own freelist"
                }
                let d = pages.memmap.page(slab.pfn)
                if !d.flags.contains(.slab) || slabID(ofPfn: slab.pfn, pages) != sid { return "\(s.name): slab \(sid)'s page is not marked as its slab" }
            }
            for (nid, n) in s.node.enumerated() where n.present {
                if n.nrSlabs != perNodeSlabs[nid] { return "\(s.name): node \(nid) nr_slabs \(n.nrSlabs), found \(perNodeSlabs[nid])" }
                if n.totalObjects != perNodeObjects[nid] { return "\(s.name): node \(nid) total_objects \(n.totalObjects), found \(perNodeObjects[nid])" }
            }
        }
        return nil
    }

    func countList(_ id: CacheID, _ head: UInt64, _ mem: PhysMemory) -> Int {
        var n = 0
        var o = head
        while o != 0 { n += 1; o = getFreepointer(id, o, mem) }
        return n
    }
}
