// A trace file as a stream of lines: plain text, or gzip'd (inflated in the process on a
// thread of its own, Inflate.swift), never loaded whole (a minute of kmem events is a few
// hundred megabytes of text).

import Foundation
import MMCore
#if canImport(Glibc)
import Glibc
#endif

/// One line of a trace as the bytes of the reading buffer, without its newline. Valid only
/// inside the `forEachLine` callback that is handed it (the buffer is reused for the next
/// chunk); `text` copies it out.
extension UnsafeBufferPointer<UInt8> {
    /// The first place in `from..<to` holding `byte` (memchr), or nil.
    @inline(__always)
    func firstIndex(of byte: UInt8, from: Int, to: Int) -> Int? {
        guard let base = baseAddress, from < to, let hit = memchr(base + from, Int32(byte), to - from) else { return nil }
        return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
    }
}

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
            let source = FileSource(fd: fd, path: path)
            try splitLines(prefix: probe, source, body); return
        }
        let inflater = InflateThread(GzipInflater(fd: fd, path: path, prefix: probe))
        defer { inflater.stop() }
        try splitLines(prefix: [], inflater, body)
    }

    /// Where the bytes come from, a chunk at a time: the file itself, or inflated.
    protocol ChunkSource: AnyObject {
        /// The next bytes, valid until the next call; empty at the end.
        func nextChunk() throws(InputError) -> UnsafeBufferPointer<UInt8>
    }

    /// A plain file, read(2) into one buffer of its own.
    final class FileSource: ChunkSource {
        let fd: Int32
        let path: String
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 1 << 20)
        init(fd: Int32, path: String) { self.fd = fd; self.path = path }
        deinit { buffer.deallocate() }
        func nextChunk() throws(InputError) -> UnsafeBufferPointer<UInt8> {
            while true {
                let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
                if n >= 0 { return UnsafeBufferPointer(rebasing: buffer[0..<n]) }
                if errno != EINTR { throw InputError(file: path, field: "(file)", "cannot read: \(String(cString: strerror(errno)))") }
            }
        }
    }

    /// The lines of `source` (after `prefix`), each handed to `body` where it lies in the
    /// source's chunk; only a line that spans two chunks is put together in a buffer of its own.
    static func splitLines<S: ChunkSource>(prefix: [UInt8], _ source: S,
                                           _ body: (TraceLine, Int) throws(InputError) -> Void) throws(InputError) {
        var carry: [UInt8] = []
        var lineNo = 0
        var late: InputError? = nil
        // Each complete line where it lies in `chunk`; the unfinished one is carried over.
        func consume(_ chunk: UnsafeBufferPointer<UInt8>) throws(InputError) {
            var start = 0
            // The carried part of a line ends at this chunk's first newline (or goes on).
            if !carry.isEmpty {
                guard let end = chunk.firstIndex(of: 0x0a, from: 0, to: chunk.count) else { carry += chunk; return }
                carry += UnsafeBufferPointer(rebasing: chunk[0..<end])
                lineNo += 1
                try carry.withUnsafeBufferPointer { (c) throws(InputError) in try body(TraceLine(bytes: c), lineNo) }
                carry.removeAll(keepingCapacity: true)
                start = end + 1
            }
            while let end = chunk.firstIndex(of: 0x0a, from: start, to: chunk.count) {
                lineNo += 1
                try body(TraceLine(bytes: UnsafeBufferPointer(rebasing: chunk[start..<end])), lineNo)
                start = end + 1
            }
            if start < chunk.count { carry += UnsafeBufferPointer(rebasing: chunk[start...]) }
        }
        // The probe's bytes are the first chunk: they may hold a newline too.
        try prefix.withUnsafeBufferPointer { (p) throws(InputError) in try consume(p) }
        while late == nil {
            let chunk: UnsafeBufferPointer<UInt8>
            do {
                chunk = try source.nextChunk()
            } catch where TraceFile.isStreamError(error) {
                late = error   // hand over the lines before the cut first
                break
            }
            if chunk.isEmpty { break }
            try consume(chunk)
        }
        // A stream cut short ends inside a line: that part of a line is not handed over.
        if !carry.isEmpty && late == nil {
            lineNo += 1
            try carry.withUnsafeBufferPointer { (c) throws(InputError) in try body(TraceLine(bytes: c), lineNo) }
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
