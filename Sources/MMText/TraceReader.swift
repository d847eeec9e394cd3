// Reading kmem traces: the text of /sys/kernel/tracing/trace and trace_pipe, and `trace-cmd
// report`, one line at a time, into typed events. The replay onto the model is built on this.
//
// Linux: include/trace/events/kmem.h (6.1) — the TP_printk() formats of kmalloc,
//        kmem_cache_alloc, kfree, kmem_cache_free, mm_page_alloc, mm_page_alloc_zone_locked,
//        mm_page_free, mm_page_free_batched, mm_page_pcpu_drain, mm_page_alloc_extfrag; and
//        the older forms still found in saved traces (kmalloc_node, kmem_cache_alloc_node,
//        "pfn=%lu" in decimal, "call_site=%lx"); kernel/trace/trace_output.c — the line
//        prefix (task-pid, [cpu], irq flags, timestamp, event name).
//
// A line is `TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: key=value …` (FLAGS absent in trace-cmd's
// default report and in older kernels). Other events are counted and skipped; a kmem event
// without the field it needs is an error naming its line and field.

import MMCore
#if canImport(Glibc)
import Glibc
#endif

/// One kmem event of a trace.
public struct TraceEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case kmalloc, kmallocNode = "kmalloc_node", kfree
        case kmemCacheAlloc = "kmem_cache_alloc", kmemCacheAllocNode = "kmem_cache_alloc_node"
        case kmemCacheFree = "kmem_cache_free"
        case mmPageAlloc = "mm_page_alloc", mmPageAllocZoneLocked = "mm_page_alloc_zone_locked"
        case mmPageFree = "mm_page_free", mmPageFreeBatched = "mm_page_free_batched"
        case mmPagePcpuDrain = "mm_page_pcpu_drain", mmPageAllocExtfrag = "mm_page_alloc_extfrag"

        /// The kind's place in `allCases`.
        public var ordinal: Int {
            switch self {
            case .kmalloc: return 0
            case .kmallocNode: return 1
            case .kfree: return 2
            case .kmemCacheAlloc: return 3
            case .kmemCacheAllocNode: return 4
            case .kmemCacheFree: return 5
            case .mmPageAlloc: return 6
            case .mmPageAllocZoneLocked: return 7
            case .mmPageFree: return 8
            case .mmPageFreeBatched: return 9
            case .mmPagePcpuDrain: return 10
            case .mmPageAllocExtfrag: return 11
            }
        }

        /// Events about pages (they carry a pfn), as opposed to slab objects (a pointer).
        public var isPageEvent: Bool {
            switch self {
            case .mmPageAlloc, .mmPageAllocZoneLocked, .mmPageFree, .mmPageFreeBatched, .mmPagePcpuDrain,
                 .mmPageAllocExtfrag: return true
            default: return false
            }
        }
        /// Events that hand something out.
        public var isAlloc: Bool {
            switch self {
            case .kmalloc, .kmallocNode, .kmemCacheAlloc, .kmemCacheAllocNode, .mmPageAlloc: return true
            default: return false
            }
        }
        /// Events that give something back. mm_page_free_batched is not one: 6.1's
        /// free_unref_page_list() emits it for a page whose mm_page_free came just before.
        public var isFree: Bool {
            switch self {
            case .kfree, .kmemCacheFree, .mmPageFree: return true
            default: return false
            }
        }
    }

    // The fields are kept compact (about 100 bytes, no reference-counted field): a replay
    // reads millions of events, and each is copied from the reader to the replay. Absent
    // values are sentinels behind the optional accessors; texts are ids of the reader's
    // interned names (TraceReader.name(_:)).

    public var kind: Kind
    /// Whether the task is one of page_alloc_init_late()'s "pgdatinitN" threads (deferred
    /// struct-page init).
    public var deferredInit = false
    /// mm_page_alloc of an allocation that failed (pfn −1UL).
    public var failedAlloc = false
    @usableFromInline var order8: Int8 = -1
    @usableFromInline var fallbackOrder8: Int8 = -1
    /// Presence and value bits: percpu_refill, change_ownership, gfp, ptr.
    @usableFromInline var bits: UInt8 = 0
    @usableFromInline var migratetype16: Int16 = -1
    @usableFromInline var cpu32: Int32
    /// The task's pid (−1 when the line names none).
    public var pid: Int32 = -1
    @usableFromInline var vmallocPages32: Int32 = -1
    @usableFromInline var node64: Int64 = 0
    @usableFromInline var gfpRaw: UInt32 = 0
    /// The gfp flags as printed, when they hold a name the model does not know; the slab
    /// cache's name (kmem_cache_free); the call site as printed (slab events).
    public var gfpTextID = TraceName.none
    public var cacheNameID = TraceName.none
    public var callSiteID = TraceName.none
    /// The line of the trace it came from.
    public var line: Int
    @usableFromInline var time64: Int64 = .min
    @usableFromInline var pfnRaw: UInt64 = .max
    @usableFromInline var ptrRaw: UInt64 = 0
    @usableFromInline var bytesReq64: Int64 = -1
    @usableFromInline var bytesAlloc64: Int64 = -1

    static let percpuRefillKnown: UInt8 = 1, percpuRefillSet: UInt8 = 2, ownershipKnown: UInt8 = 4,
               ownershipSet: UInt8 = 8, gfpKnown: UInt8 = 16, ptrKnown: UInt8 = 32, nodeKnown: UInt8 = 64

    @inline(__always) mutating func setBit(_ b: UInt8, _ on: Bool) { if on { bits |= b } else { bits &= ~b } }
    @inline(__always) func bit(_ b: UInt8) -> Bool { bits & b != 0 }

    public var cpu: Int {
        get { Int(cpu32) }
        set { cpu32 = Int32(truncatingIfNeeded: newValue) }
    }
    /// The timestamp, in microseconds (trace_clock's seconds as printed).
    public var timeUS: Int64? {
        get { time64 == .min ? nil : time64 }
        set { time64 = newValue ?? .min }
    }
    /// The event's migratetype (migratetype= or alloc_migratetype=), UNMOVABLE when absent or
    /// not one of 6.1's.
    public var migrateType: MigrateType {
        MigrateType(rawValue: UInt8(truncatingIfNeeded: migratetype ?? 0)) ?? .unmovable
    }
    /// Page events: the first page and the order (mm_page_alloc_extfrag: alloc_order).
    public var pfn: Pfn? {
        get { pfnRaw == .max ? nil : Pfn(pfnRaw) }
        set { pfnRaw = newValue?.raw ?? .max }
    }
    /// Orders are below 64 (the reader refuses others).
    public var order: Int? {
        get { order8 < 0 ? nil : Int(order8) }
        set { order8 = newValue.map { Int8(truncatingIfNeeded: $0) } ?? -1 }
    }
    /// Migratetypes are below 256 (the reader refuses others).
    public var migratetype: Int? {
        get { migratetype16 < 0 ? nil : Int(migratetype16) }
        set { migratetype16 = newValue.map { Int16(truncatingIfNeeded: $0) } ?? -1 }
    }
    /// The gfp flags, where every name is one the model knows.
    public var gfp: GFPFlags? {
        get { bit(TraceEvent.gfpKnown) ? GFPFlags(rawValue: gfpRaw) : nil }
        set { setBit(TraceEvent.gfpKnown, newValue != nil); gfpRaw = newValue?.rawValue ?? 0 }
    }
    /// Slab events: the object (a direct-map address, or a hashed pointer: both pair by value).
    public var ptr: UInt64? {
        get { bit(TraceEvent.ptrKnown) ? ptrRaw : nil }
        set { setBit(TraceEvent.ptrKnown, newValue != nil); ptrRaw = newValue ?? 0 }
    }
    /// Sizes are at most 2^40 (the reader refuses others).
    public var bytesReq: Int? {
        get { bytesReq64 < 0 ? nil : Int(bytesReq64) }
        set { bytesReq64 = newValue.map { Int64($0) } ?? -1 }
    }
    public var bytesAlloc: Int? {
        get { bytesAlloc64 < 0 ? nil : Int(bytesAlloc64) }
        set { bytesAlloc64 = newValue.map { Int64($0) } ?? -1 }
    }
    /// The node asked for (−1: any).
    public var node: Int? {
        get { bit(TraceEvent.nodeKnown) ? Int(node64) : nil }
        set { setBit(TraceEvent.nodeKnown, newValue != nil); node64 = Int64(newValue ?? 0) }
    }
    /// mm_page_alloc_zone_locked: taken to refill a per-cpu list.
    public var percpuRefill: Bool? {
        get { bit(TraceEvent.percpuRefillKnown) ? bit(TraceEvent.percpuRefillSet) : nil }
        set { setBit(TraceEvent.percpuRefillKnown, newValue != nil); setBit(TraceEvent.percpuRefillSet, newValue == true) }
    }
    /// mm_page_alloc_extfrag: the order of the block taken from the other list, and whether
    /// its pageblock now belongs to the asking type.
    public var fallbackOrder: Int? {
        get { fallbackOrder8 < 0 ? nil : Int(fallbackOrder8) }
        set { fallbackOrder8 = newValue.map { Int8(truncatingIfNeeded: $0) } ?? -1 }
    }
    public var changeOwnership: Bool? {
        get { bit(TraceEvent.ownershipKnown) ? bit(TraceEvent.ownershipSet) : nil }
        set { setBit(TraceEvent.ownershipKnown, newValue != nil); setBit(TraceEvent.ownershipSet, newValue == true) }
    }
    /// kmalloc of a vmalloc area's page array (call_site __vmalloc_node_range or
    /// __vmalloc_area_node): the number of pages the bulk allocator hands out next, untraced.
    public var vmallocPages: Int? {
        get { vmallocPages32 < 0 ? nil : Int(vmallocPages32) }
        set { vmallocPages32 = newValue.map { Int32(clamping: $0) } ?? -1 }
    }

    public init(kind: Kind, line: Int, cpu: Int) { self.kind = kind; self.line = line; self.cpu32 = Int32(truncatingIfNeeded: cpu) }
}

/// A text the reader interned (a gfp flags string, a cache name, a call site): an index into
/// TraceReader's names, 0 for none.
public struct TraceName: Hashable, Sendable {
    public var raw: UInt32
    public init(raw: UInt32) { self.raw = raw }
    public static let none = TraceName(raw: 0)
}

/// Reads a trace line by line and keeps the counts a summary needs.
public struct TraceReader {
    public let fileName: String
    /// kmem events read, by kind (those read at least once).
    public var counts: [TraceEvent.Kind: Int] {
        var d: [TraceEvent.Kind: Int] = [:]
        for (i, k) in TraceEvent.Kind.allCases.enumerated() where kindCounts[i] > 0 { d[k] = kindCounts[i] }
        return d
    }
    /// The same, by the kind's place in `Kind.allCases` (counted per event: no hashing).
    var kindCounts = [Int](repeating: 0, count: TraceEvent.Kind.allCases.count)
    /// Other events, by name (skipped).
    public private(set) var skipped: [String: Int] = [:]
    /// Lines that are not events (the header, blank lines, trace-cmd's CPU headers).
    public private(set) var otherLines = 0
    /// "# entries-in-buffer/entries-written: A/B" from the header, when present.
    public private(set) var entriesInBuffer: Int?

    public init(fileName: String) { self.fileName = fileName }

    func fail(_ line: Int, _ field: String, _ message: String) -> InputError {
        InputError(file: fileName, line: line, field: field, message)
    }

    /// Interned texts (gfp flags, cache names, call sites): a trace repeats a few dozen of
    /// each hundreds of thousands of times. Id 0 is "none"; each text's bytes lie in one flat
    /// array, and a direct-mapped table of hashes finds a text seen before without a String.
    var nameBytes: [UInt8] = []
    var nameStarts: [Int] = [0, 0]
    var nameIndex: [UInt64: [UInt32]] = [:]
    var recentHash = [UInt64](repeating: 0, count: 1024)
    var recentID = [UInt32](repeating: 0, count: 1024)
    /// Per id: the gfp flags its text parses to (`gfpUnparsed` until asked, `gfpUnknown` when
    /// a name is not one the model knows).
    var gfpOfName: [UInt64] = [TraceReader.gfpUnparsed]
    static let gfpUnparsed: UInt64 = .max, gfpUnknown: UInt64 = 1 << 32

    /// The text an id stands for; nil for `.none` or an id this reader never made.
    public func name(_ id: TraceName) -> String? {
        let i = Int(id.raw)
        guard i > 0, i + 1 < nameStarts.count else { return nil }
        return String(decoding: nameBytes[nameStarts[i]..<nameStarts[i + 1]], as: UTF8.self)
    }

    func nameIs(_ id: UInt32, _ v: UnsafeBufferPointer<UInt8>) -> Bool {
        let a = nameStarts[Int(id)], b = nameStarts[Int(id) + 1]
        guard b - a == v.count else { return false }
        return nameBytes.withUnsafeBufferPointer { nb in v.count == 0 || memcmp(nb.baseAddress! + a, v.baseAddress!, v.count) == 0 }
    }

    /// The id of these bytes, interned on first sight.
    mutating func intern(_ v: UnsafeBufferPointer<UInt8>) -> TraceName {
        let h = TraceReader.hash(v)
        let slot = Int(truncatingIfNeeded: h & 1023)
        if recentHash[slot] == h, recentID[slot] != 0, nameIs(recentID[slot], v) { return TraceName(raw: recentID[slot]) }
        var id: UInt32 = 0
        if let ids = nameIndex[h] { for c in ids where nameIs(c, v) { id = c; break } }
        if id == 0 {
            id = UInt32(nameStarts.count - 1)
            nameBytes.append(contentsOf: v)
            nameStarts.append(nameBytes.count)
            nameIndex[h, default: []].append(id)
            gfpOfName.append(TraceReader.gfpUnparsed)
        }
        recentHash[slot] = h
        recentID[slot] = id
        return TraceName(raw: id)
    }

    /// The gfp flags of an interned gfp_flags text, parsed once.
    mutating func gfpFlags(_ id: TraceName) -> GFPFlags? {
        let i = Int(id.raw)
        if gfpOfName[i] == TraceReader.gfpUnparsed {
            let t = name(id) ?? ""
            let f = t == "0" || t == "none" ? GFPFlags() : GFPFlags(parsing: t)
            gfpOfName[i] = f.map { UInt64($0.rawValue) } ?? TraceReader.gfpUnknown
        }
        return gfpOfName[i] == TraceReader.gfpUnknown ? nil : GFPFlags(rawValue: UInt32(truncatingIfNeeded: gfpOfName[i]))
    }

    /// The event on this line, nil for a line that holds no kmem event.
    public mutating func read(_ raw: Substring, line: Int) throws(InputError) -> TraceEvent? {
        if raw.utf8.first == 35 { header(raw); return nil }   // '#'
        // The line's bytes, read in place (a trace is millions of lines: no Characters here).
        var copy: [UInt8] = []
        let result = raw.utf8.withContiguousStorageIfAvailable { b in Result { () throws(InputError) in try readBytes(b, line) } }
            ?? { () -> Result<TraceEvent?, InputError> in
                copy = Array(raw.utf8)
                return copy.withUnsafeBufferPointer { b in Result { () throws(InputError) in try readBytes(b, line) } }
            }()
        return try result.get()
    }

    /// The event on a line read by `TraceFile.forEachLine`, in place.
    public mutating func read(_ raw: TraceLine, line: Int) throws(InputError) -> TraceEvent? {
        if raw.bytes.first == 35 { header(raw.text); return nil }
        return try readBytes(raw.bytes, line)
    }

    /// A header line: the only one whose text matters is the entry count.
    mutating func header(_ raw: Substring) {
        if let r = raw.firstRange(of: "entries-in-buffer/entries-written: ") {
            entriesInBuffer = Int(raw[r.upperBound...].prefix { $0.isNumber })
        }
        otherLines += 1
    }

    /// Whether `b[at...]` starts with `lit` (and holds it whole).
    @inline(__always)
    static func has(_ b: UnsafeBufferPointer<UInt8>, at: Int, _ lit: StaticString) -> Bool {
        let n = lit.utf8CodeUnitCount
        guard at >= 0, n <= b.count - at, let base = b.baseAddress else { return false }
        return memcmp(base + at, lit.utf8Start, n) == 0
    }

    /// Whether `b` is `lit`.
    @inline(__always)
    static func equals(_ b: UnsafeBufferPointer<UInt8>, _ lit: StaticString) -> Bool {
        b.count == lit.utf8CodeUnitCount && has(b, at: 0, lit)
    }

    /// The event a name stands for, by its length and then its bytes.
    static func kind(_ b: UnsafeBufferPointer<UInt8>) -> TraceEvent.Kind? {
        switch b.count {
        case 5: return equals(b, "kfree") ? .kfree : nil
        case 7: return equals(b, "kmalloc") ? .kmalloc : nil
        case 12: return equals(b, "kmalloc_node") ? .kmallocNode : equals(b, "mm_page_free") ? .mmPageFree : nil
        case 13: return equals(b, "mm_page_alloc") ? .mmPageAlloc : nil
        case 15: return equals(b, "kmem_cache_free") ? .kmemCacheFree : nil
        case 16: return equals(b, "kmem_cache_alloc") ? .kmemCacheAlloc : nil
        case 18: return equals(b, "mm_page_pcpu_drain") ? .mmPagePcpuDrain : nil
        case 20: return equals(b, "mm_page_free_batched") ? .mmPageFreeBatched : nil
        case 21: return equals(b, "kmem_cache_alloc_node") ? .kmemCacheAllocNode : equals(b, "mm_page_alloc_extfrag") ? .mmPageAllocExtfrag : nil
        case 25: return equals(b, "mm_page_alloc_zone_locked") ? .mmPageAllocZoneLocked : nil
        default: return nil
        }
    }

    /// Whether `b[r]` is a timestamp (digits and dots, not empty), and its value
    /// "SECONDS.MICROS" in microseconds (fewer fraction digits scale up; nil with a second dot
    /// or past 10^12 s), read in one pass.
    static func timestamp(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> (isStamp: Bool, us: Int64?) {
        guard !r.isEmpty else { return (false, nil) }
        var whole: Int64 = 0, frac: Int64 = 0, digits = 0, dots = 0, tooLarge = false
        for k in r {
            let c = b[k]
            if c == 46 { dots += 1; continue }
            let d = c &- 48
            guard d < 10 else { return (false, nil) }
            if dots == 0 {
                if whole >= 100_000_000_000 { tooLarge = true } else { whole = whole * 10 + Int64(d) }
            } else if digits < 6 {
                frac = frac * 10 + Int64(d)
                digits += 1
            }
        }
        if dots > 1 || tooLarge { return (true, nil) }
        while digits < 6 { frac *= 10; digits += 1 }
        return (true, whole * 1_000_000 + frac)
    }

    /// The usual shape after "[CPU]": the first colon ends a word that is a timestamp, and the
    /// next colon ends the next word with one, the event's name, each followed by a blank or
    /// the line's end. Nil for anything else (the word-by-word reading then decides), so both
    /// readings agree wherever this one answers.
    @inline(__always)
    static func stampAndName(_ b: UnsafeBufferPointer<UInt8>, from: Int, to n: Int) -> (Int64?, Range<Int>)? {
        guard let c1 = b.firstIndex(of: 58, from: from, to: n) else { return nil }
        func blank(_ k: Int) -> Bool { b[k] == 32 || b[k] == 9 }
        func wordStart(_ end: Int, _ floor: Int) -> Int {
            var k = end
            while k > floor, !blank(k - 1) { k -= 1 }
            return k
        }
        guard c1 + 1 < n, blank(c1 + 1) else { return nil }
        let ts = timestamp(b, wordStart(c1, from)..<c1)
        guard ts.isStamp,
              let c2 = b.firstIndex(of: 58, from: c1 + 1, to: n),
              c2 + 1 == n || blank(c2 + 1)
        else { return nil }
        let nm = wordStart(c2, c1 + 1)..<c2
        return nm.isEmpty ? nil : (ts.us, nm)
    }

    /// The timestamp and the event's name word by word: the first word ending in ':' that is a
    /// timestamp, then the next word ending in ':' (irq flags and anything else between skipped).
    static func stampAndNameByWords(_ b: UnsafeBufferPointer<UInt8>, from: Int, to n: Int) -> (Int64?, Range<Int>?) {
        var i = from, sawTimestamp = false
        var stamp: Int64? = nil
        while i < n {
            while i < n, b[i] == 32 || b[i] == 9 { i += 1 }
            let ws = i
            while i < n, b[i] != 32, b[i] != 9 { i += 1 }
            guard i > ws, b[i - 1] == 58 else { continue }   // ':'
            if !sawTimestamp {
                let ts = timestamp(b, ws..<(i - 1))
                if ts.isStamp { sawTimestamp = true; stamp = ts.us }
                continue
            }
            return (stamp, ws..<(i - 1))
        }
        return (stamp, nil)
    }

    mutating func readBytes(_ b: UnsafeBufferPointer<UInt8>, _ line: Int) throws(InputError) -> TraceEvent? {
        var n = b.count
        if n > 0 && b[n - 1] == 13 { n -= 1 }   // CR
        // "[CPU]": the first '[' followed by digits and ']'.
        var i = 0, cpu = -1
        while let at = b.firstIndex(of: 91, from: i, to: n) {   // [
            i = at
            var j = i + 1, v = 0
            while j < n, b[j] >= 48, b[j] <= 57, v < 1 << 20 { v = v * 10 + Int(b[j] - 48); j += 1 }
            if j > i + 1, j < n, b[j] == 93 { cpu = v; break }
            i += 1
        }
        guard cpu >= 0 else { otherLines += 1; return nil }
        // "TASK-PID" before it: the pid, and whether the task is a deferred-init thread.
        var pid: Int32 = -1, deferredInit = false
        var t = i - 1
        while t >= 0, b[t] == 32 || b[t] == 9 { t -= 1 }
        var digits = 0, scale: Int32 = 1, v: Int32 = 0
        while t >= 0, b[t] >= 48, b[t] <= 57, digits < 9 { v += Int32(b[t] - 48) * scale; scale *= 10; digits += 1; t -= 1 }
        if digits > 0, t >= 0, b[t] == 45 {
            pid = v
            var s = 0
            while s < t, b[s] == 32 || b[s] == 9 { s += 1 }
            deferredInit = t - s >= 9 && TraceReader.has(b, at: s, "pgdatinit")
        }
        while i < n, b[i] != 93 { i += 1 }
        i += 1
        // Then words: optional irq flags, "TIMESTAMP:", "EVENT:". The usual line is read by
        // its first two colons; anything else word by word.
        var stamp: Int64? = nil
        var name: Range<Int>? = nil
        if let (ts, nm) = TraceReader.stampAndName(b, from: i, to: n) {
            (stamp, name) = (ts, nm)
        } else {
            (stamp, name) = TraceReader.stampAndNameByWords(b, from: i, to: n)
        }
        guard let name else { otherLines += 1; return nil }
        i = name.upperBound + 1
        guard let kind = TraceReader.kind(UnsafeBufferPointer(rebasing: b[name])) else {
            skipped[String(decoding: UnsafeBufferPointer(rebasing: b[name]), as: UTF8.self), default: 0] += 1
            return nil
        }
        var e = TraceEvent(kind: kind, line: line, cpu: cpu)
        e.pid = pid
        e.deferredInit = deferredInit
        e.timeUS = stamp
        if let problem = fields(b, from: i, to: n, into: &e) { throw problem }
        if let problem = require(e) { throw problem }
        if e.vmallocPages != nil {
            // __vmalloc_area_node() kmallocs the array only up to a page (512 pages); a larger
            // one is vmalloc'd itself, and its pages are not recognised.
            let array = (e.kind == .kmalloc || e.kind == .kmallocNode) && (e.bytesReq ?? 0) <= 4096
            e.vmallocPages = array ? (e.bytesReq ?? 0) / 8 : nil
        }
        kindCounts[kind.ordinal] += 1
        return e
    }

    /// The key=value fields from `from`; the first malformed one as an error.
    mutating func fields(_ b: UnsafeBufferPointer<UInt8>, from: Int, to n: Int, into e: inout TraceEvent) -> InputError? {
        guard let base = b.baseAddress else { return nil }
        var i = from
        while i < n {
            while i < n, b[i] == 32 || b[i] == 9 { i += 1 }
            guard i < n else { break }
            // A word is KEY=VALUE when an '=' comes before its first blank, and not first.
            let ws = i
            let eq = TraceReader.scan(base, ws, n, orEquals: true)
            guard eq < n, b[eq] == 61 else { i = eq; continue }
            i = TraceReader.scan(base, eq + 1, n, orEquals: false)
            guard eq > ws else { continue }
            let key = UnsafeBufferPointer(rebasing: b[ws..<eq]), value = UnsafeBufferPointer(rebasing: b[(eq + 1)..<i])
            func text() -> String { String(decoding: value, as: UTF8.self) }
            let code = TraceReader.keyCode(key)
            switch code {
            case 1:   // pfn: 6.1 prints 0x%lx; older kernels printed the pfn in decimal.
                guard let v = TraceReader.number(value), v >> 40 == 0 || v == .max else {
                    return fail(e.line, "pfn", "\"\(text())\" is not a page frame number")
                }
                // mm_page_alloc of a failed allocation prints pfn −1UL (no page).
                if v == .max { e.failedAlloc = true } else { e.pfn = Pfn(v) }
            case 2:   // order, alloc_order
                guard let v = TraceReader.number(value, hex: false), v < 64 else {
                    return fail(e.line, String(decoding: key, as: UTF8.self), "\"\(text())\" is not an order")
                }
                e.order = Int(v)
            case 3:   // migratetype, alloc_migratetype
                guard let v = TraceReader.number(value, hex: false), v < 1 << 8 else {
                    return fail(e.line, String(decoding: key, as: UTF8.self), "\"\(text())\" is not a migratetype")
                }
                e.migratetype = Int(v)
            case 4:   // gfp_flags
                let id = intern(value)
                e.gfp = gfpFlags(id)
                if e.gfp == nil { e.gfpTextID = id }
            case 5:   // ptr: a direct-map address or a hashed one; either way hex, paired by value.
                guard let v = TraceReader.number(value, hex: true) else {
                    return fail(e.line, "ptr", "\"\(text())\" is not a pointer")
                }
                e.ptr = v
            case 6, 7:   // bytes_req, bytes_alloc
                guard let v = TraceReader.number(value, hex: false), v <= 1 << 40 else {
                    return fail(e.line, String(decoding: key, as: UTF8.self), "\"\(text())\" is not a size")
                }
                if code == 6 { e.bytesReq = Int(v) } else { e.bytesAlloc = Int(v) }
            case 8:   // node (−1: any)
                e.node = value.first == 45 ? -1 : TraceReader.number(value, hex: false).map { Int(truncatingIfNeeded: $0) }
            case 9:   // name
                e.cacheNameID = intern(value)
            case 10:  // percpu_refill
                e.percpuRefill = value.count == 1 && value[0] == 49
            case 11:  // fallback_order
                guard let v = TraceReader.number(value, hex: false), v < 64 else {
                    return fail(e.line, "fallback_order", "\"\(text())\" is not an order")
                }
                e.fallbackOrder = Int(v)
            case 12:  // change_ownership
                e.changeOwnership = value.count == 1 && value[0] == 49
            case 13:  // call_site, interned: vmalloc's page array matters to the replay
                if (value.count > 21 && TraceReader.has(value, at: 0, "__vmalloc_node_range+"))
                    || (value.count > 20 && TraceReader.has(value, at: 0, "__vmalloc_area_node+")) {
                    e.vmallocPages = 0
                }
                e.callSiteID = intern(value)
            default:
                break
            }
        }
        return nil
    }

    /// The first place in `from..<n` holding a blank (space or tab) or, with `orEquals`, an
    /// '='; `n` if none. Eight bytes at a time: a byte equal to c makes (x − 0x01…) & ~x set
    /// its top bit in x = word ^ c×0x01…, and the lowest such bit is always a real match.
    @inline(__always)
    static func scan(_ base: UnsafePointer<UInt8>, _ from: Int, _ n: Int, orEquals: Bool) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101, tops: UInt64 = 0x8080_8080_8080_8080
        var i = from
        while i + 8 <= n {
            let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            let space = w ^ (ones &* 0x20), tab = w ^ (ones &* 0x09)
            var m = ((space &- ones) & ~space) | ((tab &- ones) & ~tab)
            if orEquals {
                let eq = w ^ (ones &* 0x3d)
                m |= (eq &- ones) & ~eq
            }
            m &= tops
            if m != 0 { return i + m.trailingZeroBitCount >> 3 }
            i += 8
        }
        while i < n {
            let c = base[i]
            if c == 32 || c == 9 || (orEquals && c == 61) { return i }
            i += 1
        }
        return n
    }

    /// A field's key as a small code (0: a key no event here needs), by its length and first
    /// byte, then one comparison of its bytes.
    static func keyCode(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        guard let first = key.first else { return 0 }
        switch (key.count, first) {
        case (3, 112): return equals(key, "pfn") ? 1 : equals(key, "ptr") ? 5 : 0
        case (4, 110): return equals(key, "node") ? 8 : equals(key, "name") ? 9 : 0
        case (5, 111): return equals(key, "order") ? 2 : 0
        case (9, 103): return equals(key, "gfp_flags") ? 4 : 0
        case (9, 98): return equals(key, "bytes_req") ? 6 : 0
        case (9, 99): return equals(key, "call_site") ? 13 : 0
        case (11, 97): return equals(key, "alloc_order") ? 2 : 0
        case (11, 109): return equals(key, "migratetype") ? 3 : 0
        case (11, 98): return equals(key, "bytes_alloc") ? 7 : 0
        case (13, 112): return equals(key, "percpu_refill") ? 10 : 0
        case (14, 102): return equals(key, "fallback_order") ? 11 : 0
        case (16, 99): return equals(key, "change_ownership") ? 12 : 0
        case (17, 97): return equals(key, "alloc_migratetype") ? 3 : 0
        default: return 0
        }
    }

    /// A number: hex with "0x" (or, with `hex`, bare hex), else decimal; nil when malformed or
    /// over 64 bits. Up to 16 hex or 19 decimal digits cannot overflow, so only a 20-digit
    /// decimal is checked digit by digit.
    static func number(_ v: UnsafeBufferPointer<UInt8>, hex: Bool? = nil) -> UInt64? {
        var i = 0
        var isHex = hex == true
        if v.count > 2 && v[0] == 48 && (v[1] | 0x20) == 120 { isHex = true; i = 2 }
        let digits = v.count - i
        guard digits > 0, digits <= (isHex ? 16 : 20) else { return nil }
        var r: UInt64 = 0
        if isHex {
            while i < v.count {
                let c = v[i], l = c | 0x20
                let d: UInt64
                if c &- 48 < 10 { d = UInt64(c &- 48) } else if l &- 97 < 6 { d = UInt64(l &- 87) } else { return nil }
                r = r << 4 | d
                i += 1
            }
            return r
        }
        let safe = v.count - (digits == 20 ? 1 : 0)
        while i < safe {
            let d = v[i] &- 48
            guard d < 10 else { return nil }
            r = r &* 10 &+ UInt64(d)
            i += 1
        }
        if i < v.count {
            let d = v[i] &- 48
            guard d < 10 else { return nil }
            let (m, o1) = r.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            r = s
        }
        return r
    }

    /// A hash of a few bytes, eight at a time (the interning table's key; equality is checked
    /// on a hit).
    static func hash(_ v: UnsafeBufferPointer<UInt8>) -> UInt64 {
        guard let base = v.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base)
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(v.count)
        var i = 0
        while i + 8 <= v.count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9e37_79b9_7f4a_7c15
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < v.count { tail |= UInt64(base[i]) << shift; shift += 8; i += 1 }
        h = (h ^ tail) &* 0x9e37_79b9_7f4a_7c15
        return h ^ (h >> 32)
    }

    /// The fields an event cannot do without.
    func require(_ e: TraceEvent) -> InputError? {
        if e.kind.isPageEvent {
            guard e.pfn != nil || (e.failedAlloc && e.kind == .mmPageAlloc) else {
                return fail(e.line, "pfn", "\(e.kind.rawValue) without pfn=")
            }
            if e.order == nil && e.kind != .mmPageFreeBatched {
                return fail(e.line, "order", "\(e.kind.rawValue) without order=")
            }
        } else if e.ptr == nil {
            return fail(e.line, "ptr", "\(e.kind.rawValue) without ptr=")
        }
        return nil
    }
}
