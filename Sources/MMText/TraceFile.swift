// A trace file as a stream of lines: plain text, or gzip'd (inflated in the process on a
// thread of its own, Inflate.swift), never loaded whole (a minute of kmem events is a few hundred megabytes of
// text).

import Foundation
import MMCore
#if canImport(Glibc)
import Glibc
#endif

/// One line of a trace as the bytes of the reading buffer, without its newline. Valid only
/// inside the `forEachLine` callback that is handed it (the buffer is reused for the next
/// chunk); `text` copies it out.
public struct TraceLine {
    public let bytes: UnsafeBufferPointer<UInt8>
    public init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }
    public var text: Substring { Substring(String(decoding: bytes, as: UTF8.self)) }
}

public enum TraceFile {
    /// The field of the error a gzip stream ends with when it is cut short or damaged: thrown
    /// after every whole line before it, so a caller may report what was read first.
    public static let streamField = "(gzip)"

    /// Whether `error` is that error (the lines before it were all handed over).
    public static func isStreamError(_ error: InputError) -> Bool { error.field == streamField }

    /// Calls `body` with each line and its number. Lines are found by their bytes in a
    /// reused buffer: no String is made for a line (a trace is millions of them). A gzip'd
    /// file is inflated in the process (GzipInflater), a chunk ahead on another thread. A gzip
    /// stream that ends early is an error (`streamField`) thrown after every line before the
    /// cut has been handed to `body`, so a caller can report what was read and then fail.
    public static func forEachLine(_ path: String,
                                   _ body: (TraceLine, Int) throws(InputError) -> Void) throws(InputError) {
        // The first two bytes say whether it is gzip'd; the rest is streamed, never read whole.
        let file = try openFile(path)
        defer { try? file.close() }
        let fd = file.fileDescriptor
        var probe: [UInt8] = [0, 0]
        let got = probe.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 2) }
        guard got > 0 else {
            throw InputError(file: path, field: "(file)", got < 0 ? "cannot read: \(String(cString: strerror(errno)))" : "the file is empty")
        }
        probe.removeLast(2 - got)
        let gzipped = probe == [0x1f, 0x8b]
        if !gzipped {
            var source = FileSource(fd: fd, path: path)
            try splitLines(prefix: probe, &source, body); return
        }
        let inflater = InflateThread(GzipInflater(fd: fd, path: path, prefix: probe))
        defer { inflater.stop() }
        var source = inflater
        try splitLines(prefix: [], &source, body)
    }

    /// Where the bytes come from: the file itself, or inflated.
    protocol Source {
        /// Up to `into.count` bytes; 0 at the end.
        mutating func read(into: UnsafeMutableBufferPointer<UInt8>) throws(InputError) -> Int
    }

    struct FileSource: Source {
        let fd: Int32
        let path: String
        mutating func read(into b: UnsafeMutableBufferPointer<UInt8>) throws(InputError) -> Int {
            while true {
                let n = Glibc.read(fd, b.baseAddress, b.count)
                if n >= 0 { return n }
                if errno != EINTR { throw InputError(file: path, field: "(file)", "cannot read: \(String(cString: strerror(errno)))") }
            }
        }
    }

    /// The lines of `source` (after `prefix`), each handed to `body` from one buffer that is
    /// refilled in place: the unfinished line moves to its front, and the buffer doubles only
    /// for a line longer than itself.
    static func splitLines<S: Source>(prefix: [UInt8], _ source: inout S,
                                      _ body: (TraceLine, Int) throws(InputError) -> Void) throws(InputError) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var have = prefix.count
        buffer.replaceSubrange(0..<have, with: prefix)
        var lineNo = 0
        var late: InputError? = nil
        while late == nil {
            if have == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
            let n: Int
            do {
                n = try buffer.withUnsafeMutableBufferPointer { (b) throws(InputError) -> Int in
                    try source.read(into: UnsafeMutableBufferPointer(rebasing: b[have...]))
                }
            } catch where TraceFile.isStreamError(error) {
                late = error   // hand over the lines before the cut first
                n = 0
            }
            if n == 0 && late == nil { break }
            let scanFrom = have
            have += n
            // Every complete line, found with memchr; the unfinished one moves to the front.
            try buffer.withUnsafeMutableBufferPointer { (b) throws(InputError) in
                guard let base = b.baseAddress else { return }
                var start = 0
                var from = scanFrom
                while from < have, let hit = memchr(base + from, 0x0a, have - from) {
                    let end = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    lineNo += 1
                    try body(TraceLine(bytes: UnsafeBufferPointer(rebasing: b[start..<end])), lineNo)
                    start = end + 1
                    from = start
                }
                if start > 0 {
                    if have > start { memmove(base, base + start, have - start) }
                    have -= start
                }
            }
        }
        // A stream cut short ends inside a line: that part of a line is not handed over.
        if have > 0 && late == nil {
            lineNo += 1
            try buffer.withUnsafeBufferPointer { (b) throws(InputError) in
                try body(TraceLine(bytes: UnsafeBufferPointer(rebasing: b[0..<have])), lineNo)
            }
        }
        if let late { throw late }
    }
}

/// What a trace holds, before any replay: events by kind, and how allocations and frees pair.
public struct TraceSummary {
    public var reader: TraceReader
    public var lines = 0
    /// Objects and pages handed out and given back, and frees of what was handed out before
    /// tracing began (no allocation of that pointer or pfn earlier in the trace).
    public var objectAllocs = 0, objectFrees = 0, objectFreesUntraced = 0
    public var pageAllocs = 0, pageFrees = 0, pageFreesUntraced = 0
    var liveObjects = U64Map<Bool>()
    var livePages = U64Map<Int>()

    public init(fileName: String) { reader = TraceReader(fileName: fileName) }

    public var objectsLive: Int { liveObjects.count }
    public var pagesLive: Int { livePages.count }

    /// Reads one line into the counts; returns its event, if it holds one.
    @discardableResult
    public mutating func add(_ line: Substring, number: Int) throws(InputError) -> TraceEvent? {
        lines = number
        return pair(try reader.read(line, line: number))
    }

    @discardableResult
    public mutating func add(_ line: TraceLine, number: Int) throws(InputError) -> TraceEvent? {
        lines = number
        return pair(try reader.read(line, line: number))
    }

    /// Pairs an event with what was handed out earlier in the trace.
    mutating func pair(_ event: TraceEvent?) -> TraceEvent? {
        guard let e = event else { return nil }
        if e.kind.isPageEvent {
            guard let pfn = e.pfn else { return e }
            if e.kind == .mmPageAlloc { pageAllocs += 1; livePages[pfn.raw] = e.order ?? 0 }
            if e.kind.isFree {
                pageFrees += 1
                if livePages.removeValue(forKey: pfn.raw) == nil { pageFreesUntraced += 1 }
            }
        } else if let ptr = e.ptr {
            if e.kind.isAlloc { objectAllocs += 1; liveObjects[ptr] = true }
            if e.kind.isFree {
                objectFrees += 1
                if liveObjects.removeValue(forKey: ptr) == nil { objectFreesUntraced += 1 }
            }
        }
        return e
    }

    /// The summary `kmemlab replay --summary` prints.
    public var text: [String] {
        var out: [String] = []
        let events = reader.counts.values.reduce(0, +)
        out.append("lines \(lines), kmem events \(events)" + (reader.entriesInBuffer.map { " (the header says \($0) entries)" } ?? ""))
        for k in TraceEvent.Kind.allCases { if let n = reader.counts[k] { out.append("event \(k.rawValue) \(n)") } }
        for (name, n) in reader.skipped.sorted(by: { $0.key < $1.key }) { out.append("skipped \(name) \(n)") }
        out.append("objects: \(objectAllocs) allocated, \(objectFrees) freed (\(objectFreesUntraced) of them allocated before tracing began), \(objectsLive) still allocated at the end")
        out.append("pages: \(pageAllocs) allocated, \(pageFrees) freed (\(pageFreesUntraced) of them allocated before tracing began), \(pagesLive) still allocated at the end")
        return out
    }
}
