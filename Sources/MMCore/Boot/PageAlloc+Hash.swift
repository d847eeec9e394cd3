// The large system hashes boot sizes from memory: dentry and inode caches, mounts, futexes,
// quota, and the network's IP, TCP, MPTCP and UDP tables.
//
// Linux: mm/page_alloc.c — alloc_large_system_hash(), alloc_pages_exact(); fs/dcache.c —
//        dcache_init_early()/dcache_init() (`dhash_entries=`); fs/inode.c (`ihash_entries=`);
//        fs/namespace.c — mnt_init() (`mhash_entries=`, `mphash_entries=`); kernel/futex/core.c
//        — futex_init(); fs/quota/dquot.c — dquot_init(); net/ipv4/route.c — ip_rt_init();
//        net/ipv4/inet_hashtables.c — inet_hashinfo2_init(); net/ipv4/tcp.c — tcp_init()
//        (`thash_entries=`); net/mptcp/token.c; net/ipv4/udp.c — udp_table_init()
//        (`uhash_entries=`); page_alloc_init() (`hashdist=`).
// Exact: the number of entries, where the table comes from and the line printed. Early tables
//        come from memblock; later ones from the page allocator (alloc_pages_exact) or, when
//        too big or spread over nodes (hashdist), from vmalloc.
// (vmalloc'd tables are real vmap areas: see Vmalloc.swift.)

extension Kernel {
    /// Linux: hashdist after page_alloc_init(): 0 when only one node has memory.
    var hashdist: Bool {
        if let v = commandLine.last("hashdist"), let n = UInt64(v) { if n == 0 { return false } }
        var withMemory = 0
        for node in nodes where node.nodePresentPages != 0 { withMemory += 1 }
        return withMemory > 1
    }

    /// Linux: vfs_caches_init_early().
    mutating func vfsCachesInitEarly() {
        guard !hashdist else { return }
        allocLargeSystemHash("Dentry cache", bucketSize: 8, entries: hashParam("dhash_entries"), scale: 13)
        allocLargeSystemHash("Inode-cache", bucketSize: 8, entries: hashParam("ihash_entries"), scale: 14)
    }

    /// Linux: alloc_large_system_hash(): a power-of-two table scaled to the kernel's memory (one
    /// entry per 2^scale bytes, the scale growing by 2 bits for every 4× beyond 64 GiB unless a
    /// high limit is given), capped at 1/16 of all memory. Returns log2(entries).
    @discardableResult
    mutating func allocLargeSystemHash(_ name: String, bucketSize: UInt64, entries: UInt64, scale: UInt64,
                                       early: Bool = true, zero: Bool = true,
                                       lowLimit: UInt64 = 0, highLimit: UInt64 = 0) -> UInt64 {
        var n = entries
        var scale = scale
        if n == 0 {
            n = roundUp(nrKernelPages, SZ_1M / pageSize)
            if highLimit == 0 {
                var adapt: UInt64 = (64 << 30) >> pageShift
                while adapt < n { scale += 1; adapt <<= 2 }
            }
            n = scale > pageShift ? n >> (scale - pageShift) : n << (pageShift - scale)
            if n * bucketSize < pageSize { n = pageSize / bucketSize }
        }
        n = Kernel.roundupPowOfTwo(n)
        var maxEntries = highLimit
        if maxEntries == 0 { maxEntries = ((nrAllPages << pageShift) >> 4) / bucketSize }
        maxEntries = Swift.min(maxEntries, 0x8000_0000)
        if n < lowLimit { n = lowLimit }
        n = Swift.min(n, maxEntries)
        var log2 = UInt64(63 - Swift.max(n, 1).leadingZeroBitCount)
        var size: UInt64
        var how = "linear"
        while true {
            size = bucketSize << log2
            if early {
                if memblock.allocTryNid(size: size, align: 64, caller: Caller("alloc_large_system_hash+0x15a/0x27c"), log: &log) != 0 { break }
            } else if Kernel.getOrder(size) >= UInt64(maxOrder) || hashdist {
                // vmalloc_huge(): huge pages when each node's share is at least a PMD.
                var gfp = GFPFlags.gfpAtomic
                if zero { gfp.insert(.zero) }
                if let a = vmallocNode(size, gfp: gfp, huge: true, caller: "alloc_large_system_hash+0x197/0x27c") {
                    how = vmalloc.areas.first { $0.start == a }.map { $0.order > 0 ? "vmalloc hugepage" : "vmalloc" } ?? "vmalloc"
                    break
                }
            } else if allocPagesExact(size, zero: zero) {
                break
            }
            if size <= pageSize || log2 == 0 { scratch.pendingPanic = "Failed to allocate \(name) hash table"; return log2 }
            log2 -= 1
        }
        log.info("\(name) hash table entries: \(UInt64(1) << log2) (order: \(Kernel.getOrder(size)), \(size) bytes, \(how))")
        return log2
    }

    /// Linux: alloc_pages_exact(size, GFP_ATOMIC [| __GFP_ZERO]): the covering order, split into
    /// single pages, and the pages past the end given back.
    mutating func allocPagesExact(_ size: UInt64, zero: Bool) -> Bool {
        let order = Order(Int(Kernel.getOrder(size)))
        var gfp = GFPFlags.gfpAtomic
        if zero { gfp.insert(.zero) }
        guard let pfn = allocPages(gfp, order: order) else { return false }
        splitPage(pfn, order: order)
        let used = (size + pageSize - 1) >> pageShift
        var p = pfn + used
        while p < pfn + order.pages { freePages(p, order: 0); p += 1 }
        return true
    }

    /// Linux: split_page(): a non-compound block becomes 2^order independent pages.
    mutating func splitPage(_ pfn: Pfn, order: Order) {
        let mt = memmap.page(pfn).migratetype
        for p in pfn..<(pfn + order.pages) {
            memmap.withPage(p) { d in d.order = 0; d.refcount = 1; d.migratetype = mt }
        }
    }

    /// Linux: vfs_caches_init(): with hashdist the dentry and inode tables come now (vmalloc);
    /// then mnt_init()'s mount and mountpoint tables.
    mutating func vfsCachesInit() {
        if hashdist {
            allocLargeSystemHash("Dentry cache", bucketSize: 8, entries: hashParam("dhash_entries"), scale: 13, early: false)
            allocLargeSystemHash("Inode-cache", bucketSize: 8, entries: hashParam("ihash_entries"), scale: 14, early: false)
        }
        allocLargeSystemHash("Mount-cache", bucketSize: 8, entries: hashParam("mhash_entries"), scale: 19, early: false)
        allocLargeSystemHash("Mountpoint-cache", bucketSize: 8, entries: hashParam("mphash_entries"), scale: 19, early: false)
    }

    /// Linux: futex_init() (core_initcall): 256 buckets of a cache line per possible CPU.
    mutating func futexInit() {
        let n = Kernel.roundupPowOfTwo(256 * UInt64(nrCPUIds))
        allocLargeSystemHash("futex", bucketSize: 64, entries: n, scale: 0, early: false, zero: false, lowLimit: n, highLimit: n)
    }

    /// Linux: dquot_init() (fs_initcall): one page of hlist heads.
    mutating func dquotInit() {
        _ = allocPages(.gfpKernel, order: 0)
        log.info("VFS: Dquot-cache hash table entries: 512 (order 0, 4096 bytes)")
    }

    /// Linux: inet_init() (fs_initcall): ip_rt_init(), tcp_init(), mptcp_init(), udp_init() and
    /// udplite4_register(), in that order.
    mutating func inetInit() {
        allocLargeSystemHash("IP idents", bucketSize: 8, entries: 0, scale: 16, early: false, lowLimit: 2048, highLimit: 256 * 1024)
        let thash = hashParam("thash_entries")
        allocLargeSystemHash("tcp_listen_portaddr_hash", bucketSize: 16, entries: thash, scale: 21, early: false, zero: false, highLimit: 64 * 1024)
        allocLargeSystemHash("Table-perturb", bucketSize: 4, entries: 1 << 16, scale: 0, early: false, zero: false,
                             lowLimit: 1 << 16, highLimit: 1 << 16)
        let ehash = allocLargeSystemHash("TCP established", bucketSize: 8, entries: thash, scale: 17, early: false, zero: false,
                                         highLimit: thash != 0 ? 0 : 512 * 1024)
        let bhash = allocLargeSystemHash("TCP bind", bucketSize: 32, entries: UInt64(1) << ehash, scale: 17, early: false, zero: false,
                                         highLimit: 64 * 1024)
        log.info("TCP: Hash tables configured (established \(UInt64(1) << ehash) bind \(UInt64(1) << bhash))")
        allocLargeSystemHash("MPTCP token", bucketSize: 24, entries: 0, scale: 20, early: false, highLimit: 64 * 1024)
        var uhash = hashParam("uhash_entries")
        if uhash != 0 && uhash < 256 { uhash = 256 }
        for name in ["UDP", "UDP-Lite"] {
            allocLargeSystemHash(name, bucketSize: 32, entries: uhash, scale: 21, early: false, zero: false, lowLimit: 256, highLimit: 64 * 1024)
        }
    }

    /// A `name=N` hash-size parameter (0 when absent: size from memory).
    func hashParam(_ name: String) -> UInt64 {
        guard let v = commandLine.last(name) else { return 0 }
        return simpleStrtoull(Array(v.utf8)[...]).0
    }

    /// Linux: get_order(): the smallest order of pages that holds `size` bytes (in the
    /// caller's integer type: byte counts are UInt64 here, Int in SLUB).
    static func getOrder<T: BinaryInteger>(_ size: T) -> T {
        var order: T = 0
        while (T(pageSize) << order) < size { order += 1 }
        return order
    }
}
