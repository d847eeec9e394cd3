// The large system hashes boot sizes from memory: the dentry and inode caches' tables.
//
// Linux: mm/page_alloc.c — alloc_large_system_hash(); fs/dcache.c — dcache_init_early()
//        (`dhash_entries=`); fs/inode.c — inode_init_early() (`ihash_entries=`);
//        page_alloc_init() (`hashdist=`).
// Exact: the number of entries, the allocation and the line printed. On one node the tables
//        come from memblock here; with several, hashdist spreads them over the nodes later
//        with vmalloc, so nothing is reserved now.

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
        let dentries = commandLine.last("dhash_entries").flatMap { UInt64($0) } ?? 0
        let inodes = commandLine.last("ihash_entries").flatMap { UInt64($0) } ?? 0
        _ = allocLargeSystemHash("Dentry cache", bucketSize: 8, entries: dentries, scale: 13)
        _ = allocLargeSystemHash("Inode-cache", bucketSize: 8, entries: inodes, scale: 14)
    }

    /// Linux: alloc_large_system_hash() with HASH_EARLY | HASH_ZERO: a power-of-two table scaled
    /// to the kernel's memory (one entry per 2^scale bytes, the scale growing by 2 bits for every
    /// 4× beyond 64 GiB), capped at 1/16 of all memory, taken from memblock. Returns log2(entries).
    mutating func allocLargeSystemHash(_ name: String, bucketSize: UInt64, entries: UInt64, scale: UInt64) -> UInt64 {
        var n = entries
        var scale = scale
        if n == 0 {
            n = roundUp(nrKernelPages, SZ_1M / pageSize)
            var adapt: UInt64 = (64 << 30) >> pageShift
            while adapt < n { scale += 1; adapt <<= 2 }
            n = scale > pageShift ? n >> (scale - pageShift) : n << (pageShift - scale)
            if n * bucketSize < pageSize { n = pageSize / bucketSize }
        }
        n = Kernel.roundupPowOfTwo(n)
        var maxEntries = ((nrAllPages << pageShift) >> 4) / bucketSize
        maxEntries = Swift.min(maxEntries, 0x8000_0000)
        n = Swift.min(n, maxEntries)
        var log2 = UInt64(63 - Swift.max(n, 1).leadingZeroBitCount)
        var size: UInt64
        while true {
            size = bucketSize << log2
            if memblock.allocTryNid(size: size, align: 64, caller: Caller("alloc_large_system_hash+0x15a/0x27c"), log: &log) != 0 { break }
            if size <= pageSize || log2 == 0 { pendingPanic = "Failed to allocate \(name) hash table"; return log2 }
            log2 -= 1
        }
        log.info("\(name) hash table entries: \(UInt64(1) << log2) (order: \(Kernel.getOrder(size)), \(size) bytes, linear)")
        return log2
    }

    /// Linux: get_order(): the smallest order of pages that holds `size` bytes.
    static func getOrder(_ size: UInt64) -> UInt64 {
        var order: UInt64 = 0
        while (pageSize << order) < size { order += 1 }
        return order
    }
}
