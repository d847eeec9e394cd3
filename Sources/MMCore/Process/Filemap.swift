// The page cache: files' pages in memory, how a read brings them in (readahead), how a write
// dirties them, and the LRU lists they join in batches.
//
// Linux: mm/filemap.c (filemap_read, filemap_get_pages, filemap_get_read_batch,
//        filemap_readahead, filemap_add_folio, __filemap_get_folio with FGP_WRITE),
//        mm/readahead.c (page_cache_sync_ra, page_cache_async_ra, ondemand_readahead,
//        get_init_ra_size, get_next_ra_size, do_page_cache_ra, page_cache_ra_unbounded),
//        mm/swap.c (folio_add_lru, folio_mark_accessed, folio_activate, the per-cpu lru_add
//        and activate pagevecs of PAGEVEC_SIZE 15), mm/shmem.c (shmem_get_folio: tmpfs pages
//        on the anon LRU, none for a read of a hole), mm/page-writeback.c (folio_mark_dirty),
//        fs/drop_caches.c and mm/truncate.c (invalidate_mapping_pages: clean, unmapped pages).
//
// The model's filesystem is its own: files with sizes, on a disk (every page read comes from
// it) or on tmpfs. Block-device metadata (Buffers) is not modelled.

/// A page of a file in the page cache.
public struct CachedPage: Sendable, Hashable {
    public var pfn: Pfn
    public var dirty = false
    /// PG_referenced, PG_active, PG_readahead.
    public var referenced = false
    public var active = false
    public var readahead = false
    /// On an LRU list yet (not still in a CPU's lru_add batch).
    public var onLRU = false
    /// How many page-table entries map it.
    public var mapcount: UInt32 = 0
}

public struct CachedFile: Sendable {
    public var name: String
    public var size: UInt64
    /// tmpfs (shmem): swap-backed, on the anon LRU, no readahead.
    public var tmpfs: Bool
    public var pages: [UInt64: CachedPage] = [:]
}

/// struct file_ra_state: one open file's readahead window.
public struct ReadaheadState: Sendable, Hashable {
    public var start: UInt64 = 0
    public var size: UInt64 = 0
    public var asyncSize: UInt64 = 0
    /// Where the last read ended (ra->prev_pos; UInt64.max, the kernel's -1, before any).
    public var prevPos = UInt64.max
    public var mmapMiss: UInt32 = 0
    /// ra_pages: read_ahead_kb (128) in pages.
    public var raPages: UInt64 = 32
    public init() {}
}

/// The page cache's counters (/proc/vmstat and meminfo names), in pages but pgpgin (KiB).
public struct PageCacheStat: Sendable, Equatable {
    public var nrFilePages: UInt64 = 0
    public var nrShmem: UInt64 = 0
    public var nrDirty: UInt64 = 0
    public var nrMapped: UInt64 = 0
    public var nrInactiveFile: UInt64 = 0
    public var nrActiveFile: UInt64 = 0
    public var nrInactiveAnon: UInt64 = 0
    public var nrActiveAnon: UInt64 = 0
    public var pgpgin: UInt64 = 0
    public var pgmajfault: UInt64 = 0
    public var pgactivate: UInt64 = 0
    public var nrDirtied: UInt64 = 0
    public var nrWritten: UInt64 = 0
}

/// A page waiting in a CPU's pagevec: which file and index (file −1: an anonymous page, by
/// pfn, `nr` pages).
struct PendingPage: Sendable, Hashable {
    var file: Int
    var index: UInt64
    var nr: UInt32 = 1
}

public struct PageCache: Sendable {
    public var files: [CachedFile] = []
    public var stat = PageCacheStat()
    /// The lru_add and activate pagevecs of the one CPU the model runs tasks on.
    var lruAdd: [PendingPage] = []
    var activate: [PendingPage] = []
    static let pagevecSize = 15
    /// MAX_LFS_FILESIZE: a file, a read or a write ends below 2^63.
    public static let maxFileSize = UInt64(Int64.max)
    // (Anonymous pages on the inactive anon LRU are marked in their descriptors, PG_lru, as
    // Linux marks them: no table here to look them up in.)
    public init() {}

    /// lru_cache_add_inactive_or_unevictable() of a new anonymous page: into the batch; a
    /// compound page drains it at once.
    public mutating func addAnon(_ pfn: Pfn, nr: UInt32, _ mm: inout Memmap) {
        lruAdd.append(PendingPage(file: -1, index: pfn.raw, nr: nr))
        if nr > 1 || lruAdd.count >= Self.pagevecSize { drainLRUAdd(&mm) }
    }

    /// An anonymous page freed: off its LRU list (or out of the batch), before the free.
    public mutating func removeAnon(_ pfn: Pfn, _ mm: inout Memmap) {
        let onLRU = mm.withPage(pfn) { d -> UInt64 in
            guard d.flags.contains(.lru) else { return 0 }
            d.flags.remove(.lru)
            return d.flags.contains(.head) ? Order(Int(d.order)).pages : 1
        }
        if onLRU > 0 {
            stat.nrInactiveAnon -= onLRU
        } else if let i = lruAdd.firstIndex(where: { $0.file == -1 && $0.index == pfn.raw }) {
            lruAdd.remove(at: i)
        }
    }

    public func file(named name: String) -> Int? { files.firstIndex { $0.name == name } }

    public mutating func create(_ name: String, size: UInt64, tmpfs: Bool) -> Int {
        files.append(CachedFile(name: name, size: size, tmpfs: tmpfs))
        return files.count - 1
    }

    /// page_add_file_rmap(): one more mapping; the first counts in NR_FILE_MAPPED.
    public mutating func mapped(_ f: Int, _ index: UInt64) {
        guard var p = files[f].pages[index] else { return }
        p.mapcount += 1
        if p.mapcount == 1 { stat.nrMapped += 1 }
        files[f].pages[index] = p
    }

    /// page_remove_rmap() of a file page.
    public mutating func unmapped(_ f: Int, _ index: UInt64) {
        guard var p = files[f].pages[index], p.mapcount > 0 else { return }
        p.mapcount -= 1
        if p.mapcount == 0 { stat.nrMapped -= 1 }
        files[f].pages[index] = p
    }

    // MARK: LRU batches

    /// folio_add_lru(): into the CPU's batch; a full batch goes to the lists.
    mutating func addLRU(_ f: Int, _ index: UInt64, _ mm: inout Memmap) {
        lruAdd.append(PendingPage(file: f, index: index))
        if lruAdd.count >= Self.pagevecSize { drainLRUAdd(&mm) }
    }

    mutating func drainLRUAdd(_ mm: inout Memmap) {
        for p in lruAdd {
            if p.file < 0 {
                mm.withPage(Pfn(p.index)) { d in _ = d.flags.insert(.lru) }
                stat.nrInactiveAnon += UInt64(p.nr)
                continue
            }
            guard var page = files[p.file].pages[p.index] else { continue }
            page.onLRU = true
            files[p.file].pages[p.index] = page
            count(p.file, page, +1)
        }
        lruAdd.removeAll(keepingCapacity: true)
    }

    mutating func drainActivate() {
        for p in activate {
            guard var page = files[p.file].pages[p.index], page.onLRU, !page.active else { continue }
            count(p.file, page, -1)
            page.active = true
            files[p.file].pages[p.index] = page
            count(p.file, page, +1)
            stat.pgactivate += 1
        }
        activate.removeAll(keepingCapacity: true)
    }

    /// lru_add_drain(): both batches, as the kernel drains them before reclaim, migration and
    /// at a CPU's request.
    public mutating func drain(_ mm: inout Memmap) {
        drainLRUAdd(&mm)
        drainActivate()
    }

    mutating func count(_ f: Int, _ page: CachedPage, _ d: Int64) {
        let n = UInt64(bitPattern: d)
        if files[f].tmpfs {
            if page.active { stat.nrActiveAnon &+= n } else { stat.nrInactiveAnon &+= n }
        } else {
            if page.active { stat.nrActiveFile &+= n } else { stat.nrInactiveFile &+= n }
        }
    }

    /// folio_mark_accessed(): the first access sets PG_referenced, the second activates (on an
    /// LRU list: through the activate batch; still in the lru_add batch: added active).
    mutating func markAccessed(_ f: Int, _ index: UInt64) {
        guard var page = files[f].pages[index] else { return }
        if !page.referenced {
            page.referenced = true
        } else if !page.active {
            if page.onLRU {
                activate.append(PendingPage(file: f, index: index))
                page.referenced = false
                files[f].pages[index] = page
                if activate.count >= Self.pagevecSize { drainActivate() }
                return
            }
            page.active = true
            page.referenced = false
        }
        files[f].pages[index] = page
    }
}
