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

/// One kmem event of a trace.
public struct TraceEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case kmalloc, kmallocNode = "kmalloc_node", kfree
        case kmemCacheAlloc = "kmem_cache_alloc", kmemCacheAllocNode = "kmem_cache_alloc_node"
        case kmemCacheFree = "kmem_cache_free"
        case mmPageAlloc = "mm_page_alloc", mmPageAllocZoneLocked = "mm_page_alloc_zone_locked"
        case mmPageFree = "mm_page_free", mmPageFreeBatched = "mm_page_free_batched"
        case mmPagePcpuDrain = "mm_page_pcpu_drain", mmPageAllocExtfrag = "mm_page_alloc_extfrag"

        /// Events about pages (they carry a pfn), as opposed to slab objects (a pointer).
        public var isPageEvent: Bool { rawValue.hasPrefix("mm_page") }
        /// Events that hand something out.
        public var isAlloc: Bool {
            switch self {
            case .kmalloc, .kmallocNode, .kmemCacheAlloc, .kmemCacheAllocNode, .mmPageAlloc: return true
            default: return false
            }
        }
        /// Events that give something back.
        public var isFree: Bool {
            switch self {
            case .kfree, .kmemCacheFree, .mmPageFree, .mmPageFreeBatched: return true
            default: return false
            }
        }
    }

    public var kind: Kind
    /// The line of the trace it came from.
    public var line: Int
    public var cpu: Int
    /// Page events: the first page and the order (mm_page_alloc_extfrag: alloc_order).
    public var pfn: UInt64?
    public var order: Int?
    public var migratetype: Int?
    /// The gfp flags as printed, and parsed where every name is one the model knows.
    public var gfpText: String?
    public var gfp: GFPFlags?
    /// Slab events: the object (a direct-map address, or a hashed pointer: both pair by value).
    public var ptr: UInt64?
    public var bytesReq: Int?
    public var bytesAlloc: Int?
    public var node: Int?
    /// kmem_cache_free's cache name.
    public var cacheName: String?
    /// mm_page_alloc_zone_locked: taken to refill a per-cpu list.
    public var percpuRefill: Bool?

    public init(kind: Kind, line: Int, cpu: Int) { self.kind = kind; self.line = line; self.cpu = cpu }
}

/// Reads a trace line by line and keeps the counts a summary needs.
public struct TraceReader {
    public let fileName: String
    /// kmem events read, by kind.
    public private(set) var counts: [TraceEvent.Kind: Int] = [:]
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

    /// The event on this line, nil for a line that holds no kmem event.
    public mutating func read(_ raw: Substring, line: Int) throws(InputError) -> TraceEvent? {
        var s = raw
        if s.hasSuffix("\r") { s = s.dropLast() }
        if s.hasPrefix("#") {
            if let r = s.firstRange(of: "entries-in-buffer/entries-written: ") {
                entriesInBuffer = Int(s[r.upperBound...].prefix { $0.isNumber })
            }
            otherLines += 1
            return nil
        }
        guard let (cpu, afterCPU) = TraceReader.cpuField(s) else { otherLines += 1; return nil }
        // After the CPU: optional irq flags, then "TIMESTAMP:", then "EVENT:".
        var rest = afterCPU
        var name: Substring? = nil
        var sawTimestamp = false
        while let word = TraceReader.nextWord(&rest) {
            guard word.hasSuffix(":") else { continue }
            let body = word.dropLast()
            if !sawTimestamp {
                if !body.isEmpty && body.allSatisfy({ $0.isNumber || $0 == "." }) { sawTimestamp = true }
                continue
            }
            name = body
            break
        }
        guard let name else { otherLines += 1; return nil }
        guard let kind = TraceEvent.Kind(rawValue: String(name)) else {
            skipped[String(name), default: 0] += 1
            return nil
        }
        var e = TraceEvent(kind: kind, line: line, cpu: cpu)
        try fields(rest, into: &e)
        try require(e)
        counts[kind, default: 0] += 1
        return e
    }

    /// "[003]" → 3 and the text after it.
    static func cpuField(_ s: Substring) -> (Int, Substring)? {
        var i = s.startIndex
        while let open = s[i...].firstIndex(of: "[") {
            let digits = s[s.index(after: open)...].prefix { $0.isNumber }
            let close = digits.endIndex
            if !digits.isEmpty, close < s.endIndex, s[close] == "]", let cpu = Int(digits) {
                return (cpu, s[s.index(after: close)...])
            }
            i = s.index(after: open)
        }
        return nil
    }

    /// The next blank-separated word of `s`, which moves past it.
    static func nextWord(_ s: inout Substring) -> Substring? {
        s = s.drop { $0 == " " || $0 == "\t" }
        guard !s.isEmpty else { return nil }
        let word = s.prefix { $0 != " " && $0 != "\t" }
        s = s[word.endIndex...]
        return word
    }

    mutating func fields(_ text: Substring, into e: inout TraceEvent) throws(InputError) {
        var rest = text
        while let word = TraceReader.nextWord(&rest) {
            guard let eq = word.firstIndex(of: "=") else { continue }
            let key = word[..<eq], value = word[word.index(after: eq)...]
            switch key {
            case "pfn":
                // 6.1 prints 0x%lx; older kernels printed the pfn in decimal.
                guard let v = value.hasPrefix("0x") ? UInt64(value.dropFirst(2), radix: 16) : UInt64(value),
                      v >> 40 == 0 else { throw fail(e.line, "pfn", "\"\(value)\" is not a page frame number") }
                e.pfn = v
            case "order", "alloc_order":
                guard let v = Int(value), (0..<64).contains(v) else { throw fail(e.line, String(key), "\"\(value)\" is not an order") }
                e.order = v
            case "migratetype", "alloc_migratetype":
                guard let v = Int(value) else { throw fail(e.line, String(key), "\"\(value)\" is not a number") }
                e.migratetype = v
            case "gfp_flags":
                e.gfpText = String(value)
                e.gfp = value == "0" || value == "none" ? GFPFlags() : GFPFlags(parsing: String(value))
            case "ptr":
                // %p: a direct-map address, or a hashed one; either way hex, paired by value.
                let hex = value.hasPrefix("0x") ? value.dropFirst(2) : value
                guard let v = UInt64(hex, radix: 16) else { throw fail(e.line, "ptr", "\"\(value)\" is not a pointer") }
                e.ptr = v
            case "bytes_req": e.bytesReq = try count(value, e.line, "bytes_req")
            case "bytes_alloc": e.bytesAlloc = try count(value, e.line, "bytes_alloc")
            case "node": e.node = Int(value)
            case "name": e.cacheName = String(value)
            case "percpu_refill": e.percpuRefill = value == "1"
            default: break
            }
        }
    }

    func count(_ value: Substring, _ line: Int, _ field: String) throws(InputError) -> Int {
        guard let v = Int(value), v >= 0, v <= 1 << 40 else { throw fail(line, field, "\"\(value)\" is not a size") }
        return v
    }

    /// The fields an event cannot do without.
    func require(_ e: TraceEvent) throws(InputError) {
        if e.kind.isPageEvent {
            guard e.pfn != nil else { throw fail(e.line, "pfn", "\(e.kind.rawValue) without pfn=") }
            if e.order == nil && e.kind != .mmPageFreeBatched {
                throw fail(e.line, "order", "\(e.kind.rawValue) without order=")
            }
        } else {
            guard e.ptr != nil else { throw fail(e.line, "ptr", "\(e.kind.rawValue) without ptr=") }
        }
    }
}
