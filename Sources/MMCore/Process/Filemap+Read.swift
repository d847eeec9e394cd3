// read() and write() through the page cache, and the readahead that sizes each read from disk.
//
// Linux: mm/filemap.c (filemap_read, filemap_get_pages, filemap_get_read_batch,
//        filemap_readahead, generic_perform_write via ext4's write_begin/write_end),
//        mm/readahead.c (page_cache_sync_ra, page_cache_async_ra, ondemand_readahead,
//        get_init_ra_size, get_next_ra_size, do_page_cache_ra, page_cache_ra_unbounded,
//        readahead_gfp_mask), mm/shmem.c (shmem_file_read_iter, shmem_write_begin).

extension PageCache {
    /// filemap_read() of `count` bytes at `pos`: batches of cached pages (up to 15); a miss
    /// starts synchronous readahead, a page marked PG_readahead asynchronous readahead; each
    /// page read is marked accessed unless the read stays on the page the last one ended on.
    /// Returns the bytes read (0 at or past the end).
    public mutating func read<L: FaultListener>(_ f: Int, _ ra: inout ReadaheadState, pos: UInt64, count: UInt64,
                                                    cpu: Int, _ k: inout Kernel, _ l: inout L) -> UInt64 {
        let size = files[f].size
        guard pos < size, count > 0 else { return 0 }
        let (sum, wrapped) = pos.addingReportingOverflow(count)
        let end = wrapped ? size : min(sum, size)
        if files[f].tmpfs {
            // shmem_file_read_iter(): a hole reads as zeros, with no page; pages there are
            // marked accessed.
            let first = pos >> 12, last = (end + 0xfff) >> 12
            for index in files[f].pages.keys.sorted() where index >= first && index < last { markAccessed(f, index) }
            return end - pos
        }
        var p = pos
        while p < end {
            let index = p >> 12
            let last = (end + 0xfff) >> 12
            var batch = readBatch(f, index, last)
            if batch == 0 {
                syncReadahead(f, &ra, index, last - index, cpu: cpu, &k, &l)
                batch = readBatch(f, index, last)
                if batch == 0 { return p - pos }
            }
            let lastIndex = index + batch - 1
            if files[f].pages[lastIndex]?.readahead == true {
                asyncReadahead(f, &ra, lastIndex, last - lastIndex, cpu: cpu, &k, &l)
            }
            for i in index...lastIndex {
                if p >> 12 != ra.prevPos >> 12 || ra.prevPos == UInt64.max {
                    markAccessed(f, i)
                }
                let next = min((i + 1) << 12, end)
                ra.prevPos = next
                p = next
            }
        }
        return end - pos
    }

    /// filemap_get_read_batch(): how many pages from `index` on (before `last`) are cached, up
    /// to a pagevec, ending early with a page marked PG_readahead (so the caller sees it last).
    func readBatch(_ f: Int, _ index: UInt64, _ last: UInt64) -> UInt64 {
        var n: UInt64 = 0
        while index + n < last, n < UInt64(Self.pagevecSize), let p = files[f].pages[index + n] {
            n += 1
            if p.readahead { break }
        }
        return n
    }

    /// page_cache_sync_ra() → ondemand_readahead() without a page.
    mutating func syncReadahead<L: FaultListener>(_ f: Int, _ ra: inout ReadaheadState, _ index: UInt64, _ req: UInt64,
                                                      cpu: Int, _ k: inout Kernel, _ l: inout L) {
        ondemand(f, &ra, index, req, hit: false, cpu, &k, &l)
    }

    /// page_cache_async_ra(): the marked page loses its mark, then ondemand_readahead().
    mutating func asyncReadahead<L: FaultListener>(_ f: Int, _ ra: inout ReadaheadState, _ index: UInt64, _ req: UInt64,
                                                       cpu: Int, _ k: inout Kernel, _ l: inout L) {
        files[f].pages[index]?.readahead = false
        ondemand(f, &ra, index, req, hit: true, cpu, &k, &l)
    }

    static func initSize(_ size: UInt64, _ max: UInt64) -> UInt64 {
        var n: UInt64 = 1
        while n < size { n <<= 1 }
        if n <= max / 32 { return n * 4 }
        if n <= max / 4 { return n * 2 }
        return max
    }

    static func nextSize(_ cur: UInt64, _ max: UInt64) -> UInt64 {
        if cur < max / 16 { return 4 * cur }
        if cur <= max / 2 { return 2 * cur }
        return max
    }

    /// ondemand_readahead(): sequential reads ramp the window up (×4, ×2, to ra_pages), with
    /// its last part read ahead asynchronously; a random read reads just what was asked.
    // tidy: long — ondemand_readahead's cases in the kernel's order.
    mutating func ondemand<L: FaultListener>(_ f: Int, _ ra: inout ReadaheadState, _ index: UInt64, _ req: UInt64, hit: Bool,
                                                 _ cpu: Int, _ k: inout Kernel, _ l: inout L) {
        let maxPages = ra.raPages
        var initial = index == 0
        if !initial {
            let expected = ra.start + ra.size - ra.asyncSize
            if index == expected || index == ra.start + ra.size {
                ra.start += ra.size
                ra.size = max(ra.size, Self.nextSize(ra.size, maxPages))
                ra.asyncSize = ra.size
                submit(f, &ra, index, async: hit, cpu, &k, &l)
                return
            }
            if hit {
                var start = index + 1
                while start < index + 1 + maxPages, files[f].pages[start] != nil { start += 1 }
                if start - index > maxPages { return }
                ra.start = start
                ra.size = start - index + req
                ra.size = Self.nextSize(ra.size, maxPages)
                ra.asyncSize = ra.size
                submit(f, &ra, index, async: hit, cpu, &k, &l)
                return
            }
            if req > maxPages {
                initial = true
            } else {
                let prev = ra.prevPos == UInt64.max ? UInt64.max : ra.prevPos >> 12
                if prev != UInt64.max, index &- prev <= 1 { initial = true }
            }
            if !initial {
                // Context readahead needs the page cache's history; a random read reads what
                // it asked for.
                readPages(f, index, req, lookahead: 0, async: hit, cpu, &k, &l)
                return
            }
        }
        ra.start = index
        ra.size = Self.initSize(req, maxPages)
        ra.asyncSize = ra.size > req ? ra.size - req : ra.size
        submit(f, &ra, index, async: hit, cpu, &k, &l)
    }

    /// The `readit:` tail of ondemand_readahead() and page_cache_ra_order() for order 0.
    mutating func submit<L: FaultListener>(_ f: Int, _ ra: inout ReadaheadState, _ index: UInt64, async: Bool,
                                               _ cpu: Int, _ k: inout Kernel, _ l: inout L) {
        if index == ra.start, ra.size == ra.asyncSize {
            let add = Self.nextSize(ra.size, ra.raPages)
            if ra.size + add <= ra.raPages {
                ra.asyncSize = add
                ra.size += add
            } else {
                ra.size = ra.raPages
                ra.asyncSize = ra.raPages >> 1
            }
        }
        readPages(f, ra.start, ra.size, lookahead: ra.asyncSize, async: async, cpu, &k, &l)
    }

    /// do_page_cache_ra() and page_cache_ra_unbounded(): pages not yet cached, up to the end of
    /// the file, each a new page (GFP_HIGHUSER_MOVABLE | __GFP_NORETRY | __GFP_NOWARN) added to
    /// the cache and the LRU batch; the page `lookahead` from the end gets PG_readahead.
    mutating func readPages<L: FaultListener>(_ f: Int, _ index: UInt64, _ nr0: UInt64, lookahead: UInt64, async: Bool = false,
                                                  _ cpu: Int, _ k: inout Kernel, _ l: inout L) {
        let size = files[f].size
        guard size > 0 else { return }
        let endIndex = (size - 1) >> 12
        if index > endIndex { return }
        let nr = min(nr0, endIndex - index + 1)
        let mark: UInt64? = lookahead > 0 && nr0 &- lookahead < nr ? index + (nr0 &- lookahead) : nil
        l.fault(.readahead(file: f, index: index, count: nr, mark: mark, async: async))
        var gfp = GFPFlags.gfpHighuserMovable
        gfp.formUnion([.noretry, .nowarn])
        for i in 0..<nr where files[f].pages[index + i] == nil {
            guard let pfn = k.allocPages(gfp, order: 0, cpu: cpu, listener: &l) else { break }
            var page = CachedPage(pfn: pfn)
            if i == nr0 &- lookahead { page.readahead = true }
            files[f].pages[index + i] = page
            stat.nrFilePages += 1
            stat.pgpgin += 4
            addLRU(f, index + i, &k.memmap)
        }
    }

    /// A write of `count` bytes at `pos` (generic_perform_write()): each page found or made
    /// (__GFP_WRITE on a disk file; shmem's own on tmpfs), marked dirty; the file grows.
    public mutating func write<L: FaultListener>(_ f: Int, pos: UInt64, count: UInt64, cpu: Int,
                                                     _ k: inout Kernel, _ l: inout L) -> UInt64 {
        guard count > 0 else { return 0 }
        let (end, o) = pos.addingReportingOverflow(count)
        // generic_write_checks(): past MAX_LFS_FILESIZE is EFBIG.
        guard !o, end <= Self.maxFileSize else { return 0 }
        var gfp = GFPFlags.gfpHighuserMovable
        if !files[f].tmpfs { gfp.insert(.write) }
        var index = pos >> 12
        while index << 12 < end {
            if files[f].pages[index] == nil {
                guard let pfn = k.allocPages(gfp, order: 0, cpu: cpu, listener: &l) else { break }
                files[f].pages[index] = CachedPage(pfn: pfn)
                stat.nrFilePages += 1
                if files[f].tmpfs { stat.nrShmem += 1 }
                addLRU(f, index, &k.memmap)
            }
            if files[f].pages[index]!.dirty == false {
                files[f].pages[index]!.dirty = true
                if !files[f].tmpfs {
                    stat.nrDirty += 1
                    stat.nrDirtied += 1
                }
            }
            index += 1
        }
        let written = index << 12 > pos ? min(end, index << 12) - pos : 0
        files[f].size = max(files[f].size, pos + written)
        return written
    }

    /// shmem_get_folio() for a fault: a tmpfs page at `index`, made (zeroed) when missing.
    public mutating func shmemPage<L: FaultListener>(_ f: Int, _ index: UInt64, cpu: Int,
                                                         _ k: inout Kernel, _ l: inout L) -> CachedPage? {
        if let p = files[f].pages[index] { return p }
        var gfp = GFPFlags.gfpHighuserMovable
        gfp.insert(.zero)
        guard let pfn = k.allocPages(gfp, order: 0, cpu: cpu, listener: &l) else { return nil }
        let page = CachedPage(pfn: pfn)
        files[f].pages[index] = page
        stat.nrFilePages += 1
        stat.nrShmem += 1
        addLRU(f, index, &k.memmap)
        return page
    }

    /// sync(): every dirty disk page written back and clean.
    public mutating func sync() {
        for f in files.indices where !files[f].tmpfs {
            for (i, p) in files[f].pages where p.dirty {
                files[f].pages[i]!.dirty = false
                stat.nrDirty -= 1
                stat.nrWritten += 1
            }
        }
    }

    /// drop_caches (1): every clean, unmapped page of a disk file leaves the cache.
    public mutating func dropCaches(cpu: Int, _ k: inout Kernel) {
        drain(&k.memmap)
        for f in files.indices where !files[f].tmpfs {
            for i in files[f].pages.keys.sorted() {
                let p = files[f].pages[i]!
                guard !p.dirty, p.mapcount == 0 else { continue }
                files[f].pages[i] = nil
                count(f, p, -1)
                stat.nrFilePages -= 1
                k.freePages(p.pfn, order: 0, cpu: cpu)
            }
        }
    }
}
