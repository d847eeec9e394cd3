// A trace file as a stream of lines: plain text, or gzip'd (read through `gzip -dc`), never
// loaded whole (a minute of kmem events is a few hundred megabytes of text).

import Foundation
import MMCore

public enum TraceFile {
    /// Calls `body` with each line and its number.
    public static func forEachLine(_ path: String,
                                   _ body: (Substring, Int) throws(InputError) -> Void) throws(InputError) {
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
        var pending = Data()
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
            pending = probe
        }
        defer {
            process?.terminate()
            try? handle.close()
        }
        var lineNo = 0
        while true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            pending.append(chunk)
            guard let lastNewline = pending.lastIndex(of: 0x0a) else { continue }
            let complete = pending[pending.startIndex..<lastNewline]
            var text = String(decoding: complete, as: UTF8.self)
            // Lines by their bytes (memchr on the string's own storage): splitting on
            // Characters costs more than reading the events.
            var ends: [Int] = []
            text.withUTF8 { b in
                guard let base = b.baseAddress else { return }
                var at = 0
                while at < b.count, let hit = memchr(base + at, 0x0a, b.count - at) {
                    let i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    ends.append(i)
                    at = i + 1
                }
            }
            ends.append(text.utf8.count)
            let u = text.utf8
            var start = 0
            for end in ends {
                lineNo += 1
                try body(Substring(u[u.index(u.startIndex, offsetBy: start)..<u.index(u.startIndex, offsetBy: end)]), lineNo)
                start = end + 1
            }
            pending = Data(pending[(lastNewline + 1)...])
        }
        if !pending.isEmpty {
            lineNo += 1
            try body(Substring(String(decoding: pending, as: UTF8.self)), lineNo)
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
        guard let e = try reader.read(line, line: number) else { return nil }
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
