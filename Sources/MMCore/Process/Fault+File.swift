// Faults on file mappings: the page cache's pages mapped into a process, read ahead around the
// fault, copied on a private write.
//
// Linux: mm/memory.c (do_fault, do_read_fault, do_cow_fault, do_shared_fault,
//        do_fault_around, should_fault_around: fault_around_bytes 64 KiB), mm/filemap.c
//        (filemap_fault, do_sync_mmap_readahead: read-around of ra_pages with a quarter ahead,
//        MMAP_LOTSAMISS; do_async_mmap_readahead; filemap_map_pages, next_uptodate_page:
//        PG_readahead pages are left for a fault to find), mm/rmap.c (page_add_file_rmap).

extension TaskMemory {
    /// do_fault() for a file mapping: a read maps the cached pages around the address first
    /// (fault-around) and is done when that maps the one asked for; otherwise filemap_fault()
    /// finds the page (reading it and its neighbours when missing: a major fault). A private
    /// write copies the page to anonymous memory; a shared write maps it writable and dirty.
    mutating func fileFault<L: FaultListener>(_ addr: UInt64, write: Bool, _ v: VMA, _ f: Int, _ c: inout FaultContext,
                                              _ k: inout Kernel, _ l: inout L) -> FaultOutcome {
        let pgoff = v.pgoff &+ ((addr - v.start) >> 12)
        let vpn = addr >> 12
        let shared = v.flags.contains(.shared)
        // Past the end of the file: SIGBUS (shmem and filemap_fault alike).
        if pgoff >= (c.pageCache.files[f].size &+ 0xfff) >> 12 { return .sigbus }
        // A private page already copied (anonymous now): the anonymous copy-on-write path.
        if write, !shared, let old = tables.ptes[vpn], old.file < 0, !old.zeroPage {
            return copyOnWrite(addr, old, &c, &k, &l)
        }
        guard Self.tableFor(addr >> 21, level: 1, &tables.pteTables, &c, &k, &l) else { return .oom }
        if !write {
            faultAround(addr, v, f, &c)
            if let e = tables.ptes[vpn] { return .file(pfn: e.pfn, major: false) }
        }
        var ra = readahead[f] ?? ReadaheadState()
        defer { readahead[f] = ra }
        var major = false
        if c.pageCache.files[f].tmpfs {
            // shmem_fault(): the page is made here, zeroed, if the file has none yet.
            guard c.pageCache.shmemPage(f, pgoff, cpu: c.cpu, &k, &l) != nil else { return .oom }
        } else if let page = c.pageCache.files[f].pages[pgoff] {
            if ra.mmapMiss > 0 { ra.mmapMiss -= 1 }
            if page.readahead { c.pageCache.asyncReadahead(f, &ra, pgoff, ra.raPages, cpu: c.cpu, &k, &l) }
        } else {
            major = true
            c.pageCache.stat.pgmajfault += 1
            if ra.mmapMiss < 1000 { ra.mmapMiss += 1 }
            if ra.mmapMiss <= 100 {
                ra.start = pgoff >= ra.raPages / 2 ? pgoff - ra.raPages / 2 : 0
                ra.size = ra.raPages
                ra.asyncSize = ra.raPages / 4
                c.pageCache.readPages(f, ra.start, ra.size, lookahead: ra.asyncSize, c.cpu, &k, &l)
            }
            if c.pageCache.files[f].pages[pgoff] == nil { c.pageCache.readPages(f, pgoff, 1, lookahead: 0, c.cpu, &k, &l) }
        }
        guard let page = c.pageCache.files[f].pages[pgoff] else { return .segv(mapErr: false) }
        if write, !shared {
            // do_cow_fault(): a private copy, anonymous from now on.
            prepareAnonVMA(addr)
            guard let pfn = k.allocPages(.gfpHighuserMovable, order: 0, cpu: c.cpu, listener: &l) else { return .oom }
            if let old = tables.ptes[vpn], old.file >= 0 {
                countMapped(Int(old.file), -1, c)
                c.pageCache.unmapped(Int(old.file), old.index)
            }
            tables.ptes[vpn] = UserPTE(pfn: pfn, writable: true, zeroPage: false)
            rssAnon += 1
            c.stat.nrAnonPages += 1
            c.pageCache.addAnon(pfn, nr: 1, &k.memmap)
            return .copyOnWrite(pfn: pfn)
        }
        if write, !page.dirty, !c.pageCache.files[f].tmpfs {
            // (shmem cannot write back, so its dirty pages are not counted as dirty.)
            c.pageCache.files[f].pages[pgoff]!.dirty = true
            c.pageCache.stat.nrDirty += 1
            c.pageCache.stat.nrDirtied += 1
        }
        if let old = tables.ptes[vpn], old.file >= 0 {
            tables.ptes[vpn]!.writable = write
            return .file(pfn: old.pfn, major: false)
        }
        tables.ptes[vpn] = UserPTE(pfn: page.pfn, writable: write, zeroPage: false, file: Int32(f), index: pgoff)
        countMapped(f, 1, c)
        c.pageCache.mapped(f, pgoff)
        return .file(pfn: page.pfn, major: major)
    }

    /// do_fault_around() and filemap_map_pages(): up to 16 pages (64 KiB, aligned), within the
    /// area and its page table, that are cached, not marked PG_readahead and not yet mapped,
    /// are mapped read-only.
    mutating func faultAround(_ addr: UInt64, _ v: VMA, _ f: Int, _ c: inout FaultContext) {
        let nr: UInt64 = 16
        let start = max(addr & ~(nr * 4096 - 1), v.start)
        let pgoff = v.pgoff + ((addr - v.start) >> 12)
        let off = ((addr - start) >> 12) & 511
        let startPgoff = pgoff &- off
        // pgoff_t arithmetic: the intermediate may wrap, as it does in the kernel.
        var endPgoff = startPgoff &- ((start >> 12) & 511) &+ 511
        endPgoff = min(endPgoff, v.pages + v.pgoff - 1, startPgoff + nr - 1)
        guard startPgoff <= endPgoff else { return }
        for i in startPgoff...endPgoff {
            let a = start + ((i - startPgoff) << 12)
            guard tables.ptes[a >> 12] == nil, let page = c.pageCache.files[f].pages[i], !page.readahead else { continue }
            tables.ptes[a >> 12] = UserPTE(pfn: page.pfn, writable: false, zeroPage: false, file: Int32(f), index: i)
            countMapped(f, 1, c)
            c.pageCache.mapped(f, i)
            var ra = readahead[f] ?? ReadaheadState()
            if ra.mmapMiss > 0 { ra.mmapMiss -= 1 }
            readahead[f] = ra
        }
    }
}

extension TaskMemory {
    /// A page-cache page mapped or unmapped here: RssShmem for tmpfs and shared anonymous
    /// memory (swap-backed), RssFile for the rest (mm_counter_file()).
    mutating func countMapped(_ f: Int, _ d: Int64, _ c: FaultContext) {
        if c.pageCache.files[f].tmpfs { rssShmem = rssShmem &+ UInt64(bitPattern: d) } else { rssFile = rssFile &+ UInt64(bitPattern: d) }
    }
}
