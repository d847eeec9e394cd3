// The shell's slab commands: create caches, allocate and free objects, kmalloc and kfree, and
// look at a cache, with each call's path in words.

import MMCore

/// Page and slab events in the order they happened.
public struct PathRecorder: PageAllocListener {
    public enum Event: Sendable, Equatable { case page(PageAllocEvent), slab(SlabEvent) }
    public var events: [Event] = []
    public init() {}
    public mutating func pageAlloc(_ event: PageAllocEvent) { events.append(.page(event)) }
    public mutating func slab(_ event: SlabEvent) { events.append(.slab(event)) }
}

extension SlabFlags {
    /// Parses "SLAB_HWCACHE_ALIGN|SLAB_POISON" or the names without the prefix, lower case.
    public init?(parsing text: String) {
        let table: [(String, SlabFlags)] = [
            ("HWCACHE_ALIGN", .hwcacheAlign), ("RECLAIM_ACCOUNT", .reclaimAccount), ("TYPESAFE_BY_RCU", .typesafeByRCU),
            ("CACHE_DMA", .cacheDMA), ("CACHE_DMA32", .cacheDMA32), ("ACCOUNT", .account), ("RED_ZONE", .redZone),
            ("POISON", .poison), ("STORE_USER", .storeUser), ("CONSISTENCY_CHECKS", .consistencyChecks),
            ("TRACE", .trace), ("NO_USER_FLAGS", .noUserFlags), ("PANIC", .panic), ("MEM_SPREAD", .memSpread),
            ("NOLEAKTRACE", .noLeakTrace), ("TEMPORARY", .reclaimAccount),
        ]
        var f = SlabFlags()
        for part in text.split(separator: "|") {
            var p = Substring(part.uppercased())
            if p.hasPrefix("SLAB_") { p = p.dropFirst(5) }
            if p == "0" || p.isEmpty { continue }
            guard let hit = table.first(where: { $0.0 == p }) else { return nil }
            f.formUnion(hit.1)
        }
        self = f
    }
}

extension AllocShell {
    mutating func runSlab(_ w: [String], line: Int) throws(InputError) -> [String]? {
        let a = Args(words: w, source: source, line: line)
        func bad(_ field: String, _ msg: String) -> InputError { a.bad(field, msg) }
        func number(_ s: String, _ field: String) throws(InputError) -> UInt64 { try a.number(s, field) }
        func option(_ name: String) throws(InputError) -> UInt64? { try a.option(name) }
        func cpuOption() throws(InputError) -> Int {
            let cpu = try a.smallOption("cpu", limit: 1 << 20)
            guard cpu < kernel.machine.cpus.possible else { throw bad("cpu", "\(cpu): the machine has \(kernel.machine.cpus.possible) CPUs") }
            return cpu
        }
        func gfpArg(_ i: Int) throws(InputError) -> GFPFlags {
            guard i < w.count, w[i] != "cpu", w[i] != "node" else { return .gfpKernel }
            guard let g = GFPFlags(parsing: w[i]) else { throw bad("gfp", "\"\(w[i])\": unknown flag (e.g. GFP_KERNEL|__GFP_ZERO)") }
            guard g.zone != nil, g.migratetype != nil else { throw bad("gfp", "\"\(w[i])\": no valid zone or migratetype") }
            return g
        }
        func cache(_ i: Int) throws(InputError) -> CacheID {
            guard i < w.count else { throw bad("cache", "missing cache name") }
            guard let id = kernel.slub.find(w[i]) else { throw bad("cache", "\"\(w[i])\": no such cache (see show slabinfo)") }
            return id
        }
        func path(_ rec: PathRecorder) -> [String] { rec.events.map { "  " + describe($0) } }
        let before = kernel.log.lines.count
        func newLog() -> [String] { kernel.log.lines[before...].map { "  " + $0 } }

        switch w[0] {
        case "kmalloc", "kzalloc":
            guard w.count >= 2 else { throw bad(w[0], "expected: \(w[0]) SIZE [GFP] [cpu N] [node N]") }
            let size = try number(w[1], "size")
            guard size <= UInt64(Kmalloc.maxSize) else { throw bad("size", "\(size): above KMALLOC_MAX_SIZE (\(Kmalloc.maxSize)); kmalloc would warn and fail") }
            var gfp = try gfpArg(2)
            if w[0] == "kzalloc" { gfp.insert(.zero) }
            let cpu = try cpuOption()
            let node = try option("node") == nil ? NodeID.none : NodeID(Int32(try a.smallOption("node", limit: Int(maxNumNodes) - 1)))
            var rec = PathRecorder()
            let p = kernel.kmalloc(Int(size), gfp, nid: node, cpu: cpu, &rec)
            let where_ = kernel.kmallocSlab(Int(size), gfp).map { " (\(kernel.slub.caches[$0].name))" } ?? (size > UInt64(Kmalloc.maxCacheSize) ? " (pages)" : "")
            return path(rec) + [p.map { "\(w[0])(\(size), \(gfp.description)) = \(pa($0))\(where_)" } ?? "\(w[0])(\(size), \(gfp.description)) failed"]
        case "kfree":
            guard w.count >= 2 else { throw bad("kfree", "expected: kfree ADDR [cpu N]") }
            let addr = try number(w[1], "addr")
            var rec = PathRecorder()
            let r = kernel.kfree(addr, cpu: try cpuOption(), &rec)
            return path(rec) + newLog() + [r == .freed ? "kfree(\(pa(addr))): done" : "kfree(\(pa(addr))): refused"]
        case "cache_create":
            guard w.count >= 3 else { throw bad("cache_create", "expected: cache_create NAME SIZE [align N] [flags F|F] [ctor NAME] [usersize N]") }
            let size = try number(w[2], "size")
            guard size <= UInt64(Int32.max) else { throw bad("size", "\(size) is too large") }
            var spec = KmemCacheSpec(name: w[1], size: Int(size))
            spec.align = try a.smallOption("align", limit: 1 << 30)
            if let a = try option("align"), a & (a &- 1) != 0 { throw bad("align", "\(a) is not a power of two") }
            spec.usersize = try a.smallOption("usersize", limit: Int(Int32.max))
            if let i = w.firstIndex(of: "flags") {
                guard i + 1 < w.count, let f = SlabFlags(parsing: w[i + 1]) else { throw bad("flags", "unknown flag in \"\(i + 1 < w.count ? w[i + 1] : "")\"") }
                spec.flags = f
            }
            if let i = w.firstIndex(of: "ctor") {
                guard i + 1 < w.count else { throw bad("ctor", "needs a name") }
                spec.ctor = w[i + 1]
            }
            let existing = kernel.slub.caches.count
            do {
                let id = try kernel.kmemCacheCreate(spec)
                let c = kernel.slub.caches[id]
                let merged = id.index < existing
                return newLog() + [merged ? "\(w[1]): merged into \(c.name) (size \(c.size))"
                                          : "\(w[1]): object_size \(c.objectSize), size \(c.size), align \(c.align), \(c.objects) objects per order-\(c.order) slab, free pointer at \(c.offset)"]
            } catch {
                return newLog() + ["\(w[1]): kmem_cache_create failed (\(error))"]
            }
        case "cache_alloc":
            let id = try cache(1)
            let gfp = try gfpArg(2)
            let node = try option("node") == nil ? NodeID.none : NodeID(Int32(try a.smallOption("node", limit: Int(maxNumNodes) - 1)))
            var rec = PathRecorder()
            let p = kernel.slabAllocNode(id, gfp, nid: node, cpu: try cpuOption(), origSize: -1, &rec)
            return path(rec) + newLog() + [p.map { "kmem_cache_alloc(\(kernel.slub.caches[id].name)) = \(pa($0))" } ?? "kmem_cache_alloc(\(kernel.slub.caches[id].name)) failed"]
        case "cache_free":
            let id = try cache(1)
            guard w.count >= 3 else { throw bad("cache_free", "expected: cache_free CACHE ADDR [cpu N]") }
            let addr = try number(w[2], "addr")
            var rec = PathRecorder()
            let r = kernel.slabFree(id, addr, cpu: try cpuOption(), &rec)
            return path(rec) + newLog() + [r == .freed ? "kmem_cache_free(\(kernel.slub.caches[id].name), \(pa(addr))): done" : "kmem_cache_free(\(kernel.slub.caches[id].name), \(pa(addr))): refused"]
        case "cache_shrink":
            let id = try cache(1)
            var rec = PathRecorder()
            kernel.kmemCacheShrink(id, &rec)
            return path(rec) + ["\(kernel.slub.caches[id].name): shrunk"]
        case "cache_destroy":
            let id = try cache(1)
            kernel.kmemCacheDestroy(id)
            return newLog() + ["\(w[1]): " + (kernel.slub.caches[id].destroyed ? "destroyed" : "still in use")]
        case "validate":
            let id = try cache(1)
            guard kernel.slub.caches[id].isDebug else { return ["\(w[1]): validate: EINVAL (the cache has no debugging enabled)"] }
            let errors = kernel.slub.errors
            let n = kernel.validateSlabCache(id)
            return newLog() + ["\(w[1]): validated \(n) slabs, \(kernel.slub.errors - errors) errors"]
        case "slab":
            return SlabFiles.describe(kernel, try cache(1))
        case "vmalloc":
            guard w.count == 2 else { throw bad("vmalloc", "expected: vmalloc SIZE") }
            let size = try number(w[1], "size")
            guard size > 0 else { throw bad("size", "0: vmalloc of nothing") }
            guard let a = kernel.vmallocNode(size, caller: "kmemlab") else { return ["vmalloc(\(size)) failed"] }
            let area = kernel.vmalloc.areas.first { $0.start == a }!
            return ["vmalloc(\(size)) = \(pa(a)): \(area.nrPages) pages\(area.order > 0 ? " in 2 MiB pages" : ""), area \(area.end - area.start) bytes with its guard page"]
        case "vfree":
            guard w.count == 2 else { throw bad("vfree", "expected: vfree ADDR") }
            let addr = try number(w[1], "addr")
            return [kernel.vfree(addr) ? "vfree(\(pa(addr))): done" : "vfree(\(pa(addr))): no vmalloc area starts there"]
        case "ioremap":
            guard w.count == 3 else { throw bad("ioremap", "expected: ioremap PHYS SIZE") }
            let phys = try number(w[1], "phys"), size = try number(w[2], "size")
            guard size > 0 else { throw bad("size", "0: ioremap of nothing") }
            guard let a = kernel.ioremap(phys, size, caller: "kmemlab") else { return newLog() + ["ioremap(\(pa(phys)), \(size)) failed"] }
            return newLog() + ["ioremap(\(pa(phys)), \(size)) = \(pa(a)) (PAGE_KERNEL_IO | _PAGE_PCD: uncached minus)"]
        case "iounmap":
            guard w.count == 2 else { throw bad("iounmap", "expected: iounmap ADDR") }
            let addr = try number(w[1], "addr")
            return [kernel.iounmap(addr) ? "iounmap(\(pa(addr))): done" : "iounmap(\(pa(addr))): no ioremap area there"]
        case "translate":
            guard w.count == 2 else { throw bad("translate", "expected: translate ADDR") }
            return PageTableText.translate(kernel, try number(w[1], "addr"))
        default:
            return nil
        }
    }

    func cacheName(_ id: CacheID) -> String { kernel.slub.caches[id].name }

    public func describe(_ e: PathRecorder.Event) -> String {
        switch e {
        case .page(let p): return describe(p)
        case .slab(let s): return describe(s)
        }
    }

    /// One slab event in words.
    public func describe(_ e: SlabEvent) -> String {
        switch e {
        case let .cpuFreelist(c, o): return "\(cacheName(c)): cpu freelist hit (\(pa(o)))"
        case let .cpuSlabRefill(c, s): return "\(cacheName(c)): cpu freelist empty: took the objects freed to the cpu slab \(pa(s))"
        case let .cpuPartial(c, s): return "\(cacheName(c)): slab \(pa(s)) from the cpu partial list becomes the cpu slab"
        case let .nodePartial(c, s, nid, extra):
            return "\(cacheName(c)): slab \(pa(s)) from node \(nid)'s partial list" + (extra > 0 ? " (+\(extra) more to the cpu partial list)" : "")
        case let .newSlab(c, s, o, nid, z, fb):
            return "\(cacheName(c)): new slab \(pa(s)) of order \(o) from node \(nid) \(z?.name ?? "?")" + (fb ? " (order fallback)" : "")
        case let .deactivated(c, s, to, discarded):
            return "\(cacheName(c)): cpu slab \(pa(s)) deactivated: " + (discarded ? "empty, freed" : place(to))
        case let .freeFast(c, o): return "\(cacheName(c)): \(pa(o)) onto the cpu freelist"
        case let .freeSlow(c, o, s, to): return "\(cacheName(c)): \(pa(o)) back to slab \(pa(s)) (\(place(to)))"
        case let .slabFreed(c, s, o): return "\(cacheName(c)): slab \(pa(s)) (order \(o)) back to the page allocator"
        case let .cpuPartialDrained(c, n): return "\(cacheName(c)): cpu partial list full: \(n) slabs unfrozen to the node lists"
        case let .largeKmalloc(pfn, o): return "kmalloc: large: order-\(o) pages at pfn \(hex(pfn))"
        case let .misuse(c, o, what): return "\(cacheName(c)): \(pa(o)): \(what.text)"
        case let .outOfMemory(c): return "\(cacheName(c)): out of memory"
        }
    }

    func place(_ p: SlabPlace) -> String {
        switch p {
        case .none: return "full or freed: on no list"
        case .cpuSlab: return "the cpu slab"
        case .cpuPartial: return "on the cpu partial list"
        case .nodePartial: return "on the node partial list"
        case .nodeFull: return "on the node full list"
        }
    }
}
