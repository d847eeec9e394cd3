// SLUB's user-visible files: /proc/slabinfo, /sys/kernel/slab/<cache>/*, and the
// slab-attrs.tsv table format the oracle captures (which `--slab-caches` reads).
//
// Linux: mm/slab_common.c — slab_show(), cache_show(), print_slabinfo_header();
//        mm/slub.c — the sysfs attributes (slab_size_show() … usersize_show()).

import MMCore

public enum SlabFiles {
    /// /proc/slabinfo (version 2.1), newest cache first.
    public static func slabinfo(_ k: Kernel) -> [String] {
        var out = ["slabinfo - version: 2.1",
                   "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>"]
        for id in k.slabCachesNewestFirst {
            let s = k.slub.caches[id]
            let i = k.slub.slabInfo(id)
            out.append(padRight(s.name, 17) + " " + padLeft(String(i.activeObjs), 6) + " " + padLeft(String(i.numObjs), 6)
                       + " " + padLeft(String(s.size), 6) + " " + padLeft(String(s.objects), 4) + " " + padLeft(String(1 << s.order), 4)
                       + " : tunables    0    0    0 : slabdata " + padLeft(String(i.numSlabs), 6) + " "
                       + padLeft(String(i.numSlabs), 6) + "      0")
        }
        return out
    }

    /// The sysfs attributes `kmemlab slab` prints, in slab_attrs[] order.
    public static func attributes(_ k: Kernel, _ id: CacheID) -> [(String, String)] {
        let s = k.slub.caches[id]
        let info = k.slub.slabInfo(id)
        // Linux: n->nr_partial, and count_partial(count_inuse) over each node's partial list.
        var partialSlabs = 0, partialObjects = 0
        for nid in s.node.indices where s.node[nid].present {
            partialSlabs += s.node[nid].nrPartial
            for sid in k.slub.nodePartialSlabs(id, nid: nid) { partialObjects += Int(k.slub.slabs[sid].inuse) }
        }
        var cpuSlabs = 0, cpuPartialSlabs = 0
        for c in k.slub.cpuSlabs(of: id) {
            if !c.slab.isNone { cpuSlabs += 1 }
            var p = c.partial
            while !p.isNone { cpuPartialSlabs += 1; p = k.slub.nextCPUPartial(p) }
        }
        func b(_ f: SlabFlags) -> String { s.flags.contains(f) ? "1" : "0" }
        return [
            ("slab_size", "\(s.size)"), ("object_size", "\(s.objectSize)"), ("objs_per_slab", "\(s.objects)"),
            ("order", "\(s.order)"), ("min_partial", "\(s.minPartial)"), ("cpu_partial", "\(s.cpuPartial)"),
            ("objects", "\(info.activeObjs)"), ("objects_partial", "\(partialObjects)"), ("partial", "\(partialSlabs)"),
            ("cpu_slabs", "\(cpuSlabs + cpuPartialSlabs)"), ("ctor", s.ctor ?? ""),
            ("aliases", "\(s.refcount < 0 ? 0 : s.refcount - 1)"), ("align", "\(s.align)"),
            ("hwcache_align", b(.hwcacheAlign)), ("reclaim_account", b(.reclaimAccount)),
            ("destroy_by_rcu", b(.typesafeByRCU)), ("slabs_cpu_partial", "\(cpuPartialSlabs * s.objects / 2)(\(cpuPartialSlabs))"),
            ("total_objects", "\(info.numObjs)"), ("slabs", "\(info.numSlabs)"), ("sanity_checks", b(.consistencyChecks)),
            ("trace", b(.trace)), ("red_zone", b(.redZone)), ("poison", b(.poison)), ("store_user", b(.storeUser)),
            ("cache_dma", b(.cacheDMA)), ("remote_node_defrag_ratio", "100"), ("usersize", "\(s.usersize)"),
        ]
    }

    /// `kmemlab slab CACHE`: the attributes, the merged names, and where each slab is.
    public static func describe(_ k: Kernel, _ id: CacheID) -> [String] {
        let s = k.slub.caches[id]
        var out: [String] = []
        let dir = k.slub.hasUniqueSysfsName(id) ? s.uniqueID : s.name
        out.append("/sys/kernel/slab/\(dir)/" + (dir != s.name ? "  (\(([s.name] + s.aliases).joined(separator: ", ")) link here)" : ""))
        for (name, value) in attributes(k, id) { out.append("  " + padRight(name, 25) + " " + value) }
        out.append("free pointer at offset \(s.offset), metadata from \(s.inuse), left red zone \(s.redLeftPad) bytes; slabs of order \(s.order) (fallback order \(s.minOrder), \(s.minObjects) objects)")
        let slabs = k.slub.slabs(of: id)
        if slabs.isEmpty { out.append("no slabs") }
        for sid in slabs {
            let slab = k.slub.slabs[sid]
            let place: String
            switch slab.where_ {
            case .cpuSlab: place = "cpu slab"
            case .cpuPartial: place = "cpu partial list"
            case .nodePartial: place = "node \(slab.nid) partial list"
            case .nodeFull: place = "node \(slab.nid) full list"
            case .none: place = "full (on no list)"
            }
            out.append("  slab pfn \(hex(slab.pfn)) order \(slab.order) node \(slab.nid): \(slab.inuse)/\(slab.objects) in use\(slab.frozen ? ", frozen" : ""), \(place)")
        }
        return out
    }
}

/// Reads a cache table in the oracle's slab-attrs.tsv format for `--slab-caches`.
///
/// Columns by header name; required: name, object_size. Optional: align, reclaim_account,
/// hwcache_align, destroy_by_rcu, cache_dma, usersize, ctor (`-` for none), alias_of. Rows
/// whose name starts with ':' are sysfs directories of merged caches: they give the geometry
/// of the names whose alias_of points at them (and the ':A-', ':a-', ':d-' letters their
/// flags). Rows for kmem_cache, kmem_cache_node and the kmalloc caches are skipped: boot makes
/// those itself.
public enum SlabCacheTable {
    public static func parse(_ text: String, file: String) throws(InputError) -> [KmemCacheSpec] {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { String($0) }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let header = lines.first else { throw InputError(file: file, line: 1, field: "header", "empty file") }
        let cols = header.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        var index: [String: Int] = [:]
        for (i, c) in cols.enumerated() { index[c] = i }
        for required in ["name", "object_size"] where index[required] == nil {
            throw InputError(file: file, line: 1, field: required, "missing column (the header must name the columns, tab-separated)")
        }
        struct Row { var fields: [String]; var line: Int }
        var rows: [Row] = []
        var byName: [String: Row] = [:]
        for (i, l) in lines.enumerated().dropFirst() {
            if l.isEmpty || l.hasPrefix("#") { continue }
            let f = l.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == cols.count else {
                throw InputError(file: file, line: i + 1, field: "row", "\(f.count) fields, the header has \(cols.count)")
            }
            let r = Row(fields: f, line: i + 1)
            rows.append(r)
            byName[f[index["name"]!]] = r
        }
        func field(_ r: Row, _ name: String) -> String? { index[name].map { r.fields[$0] } }
        func int(_ r: Row, _ name: String, _ dflt: Int) throws(InputError) -> Int {
            guard let v = field(r, name) else { return dflt }
            guard let n = Int(v), n >= 0, n <= Int(Int32.max) else {
                throw InputError(file: file, line: r.line, field: name, "\"\(v)\" is not a non-negative number")
            }
            return n
        }
        func flag(_ r: Row, _ name: String) throws(InputError) -> Bool {
            guard let v = field(r, name) else { return false }
            guard v == "0" || v == "1" else { throw InputError(file: file, line: r.line, field: name, "\"\(v)\": expected 0 or 1") }
            return v == "1"
        }
        func spec(name: String, _ r: Row, uniqueID: String?) throws(InputError) -> KmemCacheSpec {
            var flags: SlabFlags = []
            if try flag(r, "reclaim_account") { flags.insert(.reclaimAccount) }
            if try flag(r, "hwcache_align") { flags.insert(.hwcacheAlign) }
            if try flag(r, "destroy_by_rcu") { flags.insert(.typesafeByRCU) }
            if try flag(r, "cache_dma") { flags.insert(.cacheDMA) }
            if let id = uniqueID, let dash = id.firstIndex(of: "-") {
                let letters = id[id.index(after: id.startIndex)..<dash]
                if letters.contains("A") { flags.insert(.account) }
                if letters.contains("D") { flags.insert(.cacheDMA32) }
            }
            let size = try int(r, "object_size", 0)
            guard size >= 8 else { throw InputError(file: file, line: r.line, field: "object_size", "\(size): a cache's objects are at least 8 bytes") }
            var ctor = field(r, "ctor")
            if ctor == "-" || ctor == "" { ctor = nil }
            if let c = ctor, let plus = c.firstIndex(of: "+") { ctor = String(c[..<plus]) }
            return KmemCacheSpec(name: name, size: size, align: try int(r, "align", 0), flags: flags,
                                 usersize: try int(r, "usersize", 0), ctor: ctor)
        }
        var out: [KmemCacheSpec] = []
        for r in rows {
            let name = r.fields[index["name"]!]
            if name.isEmpty { throw InputError(file: file, line: r.line, field: "name", "empty cache name") }
            if name.hasPrefix(":") { continue }
            if name == "kmem_cache" || name == "kmem_cache_node" || name.hasPrefix("kmalloc-") || name.hasPrefix("dma-kmalloc-") { continue }
            let target = field(r, "alias_of") ?? "-"
            if target == "-" || target.isEmpty {
                out.append(try spec(name: name, r, uniqueID: nil))
            } else {
                guard let t = byName[target] else {
                    throw InputError(file: file, line: r.line, field: "alias_of", "\"\(target)\" is not a row of this table")
                }
                out.append(try spec(name: name, t, uniqueID: target))
            }
        }
        return out
    }
}
