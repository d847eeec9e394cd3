// A trace file as a stream of lines: plain text, or gzip'd (read through `gzip -dc`), never
// loaded whole (a minute of kmem events is a few hundred megabytes of text).

import Foundation
import MMCore

/// One line of a trace as the bytes of the reading buffer, without its newline. Valid only
/// inside the `forEachLine` callback that is handed it (the buffer is reused for the next
/// chunk); `text` copies it out.
public struct TraceLine {
    public let bytes: UnsafeBufferPointer<UInt8>
    public init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }
    public var text: Substring { Substring(String(decoding: bytes, as: UTF8.self)) }
}

public enum TraceFile {
    /// Calls `body` with each line and its number. Lines are found by their bytes in a
    /// reused buffer: no String is made for a line (a trace is millions of them).
    public static func forEachLine(_ path: String,
                                   _ body: (TraceLine, Int) throws(InputError) -> Void) throws(InputError) {
        // The first two bytes say whether it is gzip'd; the rest is streamed, never read whole.
        let file = try openFile(path)
        let probe = file.readData(ofLength: 2)
        guard !probe.isEmpty else {
            try? file.close()
            throw InputError(file: path, field: "(file)", "the file is empty")
        }
        let gzipped = probe.count == 2 && probe.first == 0x1f && probe.last == 0x8b
        var process: Process? = nil
        let handle: FileHandle
        var pending: [UInt8] = []
        pending.reserveCapacity(2 << 20)
        if gzipped {
            try? file.close()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["gzip", "-dc", path]
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = FileHandle.nullDevice
            do { try p.run() } catch { throw InputError(file: path, field: "(file)", "gzip'd, and gzip cannot be run") }
            process = p
            handle = pipe.fileHandleForReading
        } else {
            handle = file
            pending.append(contentsOf: probe)
        }
        defer {
            process?.terminate()
            try? handle.close()
        }
        var lineNo = 0
        while true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            pending.append(contentsOf: chunk)
            // Every complete line of the buffer, found with memchr; the unfinished tail stays.
            let consumed = try pending.withUnsafeBufferPointer { (b) throws(InputError) -> Int in
                guard let base = b.baseAddress else { return 0 }
                var start = 0
                while start < b.count, let hit = memchr(base + start, 0x0a, b.count - start) {
                    let end = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    lineNo += 1
                    try body(TraceLine(bytes: UnsafeBufferPointer(rebasing: b[start..<end])), lineNo)
                    start = end + 1
                }
                return start
            }
            pending.removeFirst(consumed)
        }
        if !pending.isEmpty {
            lineNo += 1
            try pending.withUnsafeBufferPointer { (b) throws(InputError) in try body(TraceLine(bytes: b), lineNo) }
        }
        if let p = process {
            p.waitUntilExit()
            if p.terminationStatus != 0 && lineNo == 0 {
                throw InputError(file: path, field: "(file)", "gzip could not decompress it")
            }
        }
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
    var liveObjects = Set<UInt64>()
    var livePages: [Pfn: Int] = [:]

    public init(fileName: String) { reader = TraceReader(fileName: fileName) }

    public var objectsLive: Int { liveObjects.count }
    public var pagesLive: Int { livePages.count }

    /// Reads one line into the counts; returns its event, if it holds one.
    @discardableResult
    public mutating func add(_ line: Substring, number: Int) throws(InputError) -> TraceEvent? {
        lines = number
        return pair(try reader.read(line, line: number))
    }

    public mutating func add(_ line: TraceLine, number: Int) throws(InputError) -> TraceEvent? {
        lines = number
        return pair(try reader.read(line, line: number))
    }

    /// Pairs an event with what was handed out earlier in the trace.
    mutating func pair(_ event: TraceEvent?) -> TraceEvent? {
        guard let e = event else { return nil }
        if e.kind.isPageEvent {
            guard let pfn = e.pfn else { return e }
            if e.kind == .mmPageAlloc { pageAllocs += 1; livePages[pfn] = e.order ?? 0 }
            if e.kind.isFree {
                pageFrees += 1
                if livePages.removeValue(forKey: pfn) == nil { pageFreesUntraced += 1 }
            }
        } else if let ptr = e.ptr {
            if e.kind.isAlloc { objectAllocs += 1; liveObjects.insert(ptr) }
            if e.kind.isFree {
                objectFrees += 1
                if liveObjects.remove(ptr) == nil { objectFreesUntraced += 1 }
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
