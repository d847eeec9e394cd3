// gzip'd traces inflated in the process, with the system's zlib (libz.so.1, which every Debian
// has: dpkg needs it), loaded when first needed. No header and no -lz at build time: building
// kmemlab needs nothing beyond the Swift toolchain, and a machine without the library falls
// back to a `gzip -dc` child (TraceFile).
//
// Why not the child alone: GNU gzip's own inflate takes 0.3 s of a core for the oracle trace's
// 115 MB, zlib's 0.07 s, and a pipe copies every byte once more.
//
// The unsafe code of the trace reader is here and in TraceFile's buffer: a z_stream at a fixed
// address (zlib keeps pointers into it), and the two buffers it reads from and writes to.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// zlib's z_stream as laid out on LP64 (zlib.h): what inflate() reads and updates. Swift
/// lays out a struct of these fields as C does (each at its natural alignment), which
/// `Zlib.shared` checks field by field before using it; zlib checks the size at inflateInit2_().
struct ZStream {
    var nextIn: UnsafeMutablePointer<UInt8>? = nil
    var availIn: UInt32 = 0
    var totalIn: UInt = 0
    var nextOut: UnsafeMutablePointer<UInt8>? = nil
    var availOut: UInt32 = 0
    var totalOut: UInt = 0
    var msg: UnsafePointer<CChar>? = nil
    var state: OpaquePointer? = nil
    var zalloc: OpaquePointer? = nil
    var zfree: OpaquePointer? = nil
    var opaque: OpaquePointer? = nil
    var dataType: Int32 = 0
    var adler: UInt = 0
    var reserved: UInt = 0
}

/// The four zlib entry points the reader uses, found once with dlopen()/dlsym().
struct Zlib: @unchecked Sendable {
    typealias InflateInit2 = @convention(c) (UnsafeMutableRawPointer, Int32, UnsafePointer<CChar>, Int32) -> Int32
    typealias Inflate = @convention(c) (UnsafeMutableRawPointer, Int32) -> Int32
    typealias InflateEnd = @convention(c) (UnsafeMutableRawPointer) -> Int32
    typealias ZlibVersion = @convention(c) () -> UnsafePointer<CChar>
    let inflateInit2: InflateInit2
    let inflate: Inflate
    let inflateReset: InflateEnd
    let inflateEnd: InflateEnd
    let version: ZlibVersion

    /// zlib's return codes and flush mode (zlib.h).
    static let ok: Int32 = 0, streamEnd: Int32 = 1, bufError: Int32 = -5, noFlush: Int32 = 0

    /// The library, or nil when it cannot be loaded (then gzip -dc is used).
    static let shared: Zlib? = {
        // The mirror must sit where zlib's C struct has each field (LP64); else use gzip -dc.
        let layout: [Int?] = [MemoryLayout<ZStream>.offset(of: \.availIn), MemoryLayout<ZStream>.offset(of: \.nextOut),
                              MemoryLayout<ZStream>.offset(of: \.availOut), MemoryLayout<ZStream>.offset(of: \.msg),
                              MemoryLayout<ZStream>.offset(of: \.dataType), MemoryLayout<ZStream>.offset(of: \.reserved)]
        guard layout == [8, 24, 32, 48, 88, 104], MemoryLayout<ZStream>.size == 112 else { return nil }
        guard let h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL) else { return nil }
        func sym<T>(_ name: String, _: T.Type) -> T? {
            guard let p = dlsym(h, name) else { return nil }
            return unsafeBitCast(p, to: T.self)
        }
        guard let i2 = sym("inflateInit2_", InflateInit2.self), let inf = sym("inflate", Inflate.self),
              let reset = sym("inflateReset", InflateEnd.self), let end = sym("inflateEnd", InflateEnd.self),
              let v = sym("zlibVersion", ZlibVersion.self)
        else { return nil }
        return Zlib(inflateInit2: i2, inflate: inf, inflateReset: reset, inflateEnd: end, version: v)
    }()
}

/// A gzip'd file inflated chunk by chunk: `read(into:)` fills a buffer with the next bytes of
/// the text. Concatenated gzip members are read one after another, as gzip -dc reads them.
final class GzipStream {
    let zlib: Zlib
    let fd: Int32
    let path: String
    /// The z_stream (zlib keeps its address) and the compressed bytes not yet inflated.
    let stream: UnsafeMutablePointer<ZStream>
    let input: UnsafeMutableBufferPointer<UInt8>
    var inputEnded = false
    /// Whether the last member was inflated to its end (a file that stops inside a member is
    /// truncated).
    var memberEnded = false
    var started = false
    /// Whether inflateInit2_() succeeded (and inflateEnd() is owed).
    var zlibReady = false
    /// An error met after some bytes of a call were inflated: those bytes go out first, and
    /// the error with the next call.
    var pendingError: InputError? = nil

    /// `prefix`: bytes already read from `fd` (the probe for the gzip magic).
    init(_ zlib: Zlib, fd: Int32, path: String, prefix: [UInt8]) throws(InputError) {
        self.zlib = zlib
        self.fd = fd
        self.path = path
        stream = .allocate(capacity: 1)
        stream.initialize(to: ZStream())
        input = .allocate(capacity: 1 << 18)
        _ = input.initialize(from: prefix)
        stream.pointee.nextIn = input.baseAddress
        stream.pointee.availIn = UInt32(prefix.count)
        // 15 + 16: a gzip wrapper, the largest window. On failure the instance is released
        // like any other (deinit frees the buffers).
        let r = zlib.inflateInit2(UnsafeMutableRawPointer(stream), 31, zlib.version(), Int32(MemoryLayout<ZStream>.size))
        guard r == Zlib.ok else { throw InputError(file: path, field: "(file)", "gzip'd, and zlib cannot start (\(r))") }
        zlibReady = true
    }

    deinit {
        if zlibReady { _ = zlib.inflateEnd(UnsafeMutableRawPointer(stream)) }
        stream.deallocate()
        input.deallocate()
    }

    /// Fills `out` with up to its size of inflated bytes; 0 at the end of the text. An error
    /// (a cut or damaged stream, a failed read) comes after every byte inflated before it.
    func read(into out: UnsafeMutableBufferPointer<UInt8>) throws(InputError) -> Int {
        if let e = pendingError { throw e }
        guard let base = out.baseAddress, out.count > 0 else { return 0 }
        stream.pointee.nextOut = base
        stream.pointee.availOut = UInt32(clamping: out.count)
        do {
            try inflate()
        } catch {
            let produced = out.count - Int(stream.pointee.availOut)
            if produced == 0 { throw error }
            pendingError = error
        }
        return out.count - Int(stream.pointee.availOut)
    }

    /// Inflates into the z_stream's output until it is full or the text ends.
    func inflate() throws(InputError) {
        while stream.pointee.availOut > 0 {
            if stream.pointee.availIn == 0 && !inputEnded {
                let n = Glibc.read(fd, input.baseAddress, input.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw InputError(file: path, field: "(file)", "cannot read: \(String(cString: strerror(errno)))")
                }
                if n == 0 { inputEnded = true } else {
                    stream.pointee.nextIn = input.baseAddress
                    stream.pointee.availIn = UInt32(n)
                }
            }
            if stream.pointee.availIn == 0 && inputEnded {
                if started && !memberEnded {
                    throw InputError(file: path, field: TraceFile.streamField, "the gzip stream ends early: the file is truncated")
                }
                return
            }
            if memberEnded {
                // Another member follows (concatenated gzip files read as one); anything else
                // after a member is ignored, as gzip ignores trailing garbage.
                guard stream.pointee.nextIn?.pointee == 0x1f else { inputEnded = true; stream.pointee.availIn = 0; return }
                _ = zlib.inflateReset(UnsafeMutableRawPointer(stream))
                memberEnded = false
            }
            started = true
            let r = zlib.inflate(UnsafeMutableRawPointer(stream), Zlib.noFlush)
            if r == Zlib.streamEnd { memberEnded = true; continue }
            if r != Zlib.ok && r != Zlib.bufError {
                let why = stream.pointee.msg.map { String(cString: $0) } ?? "error \(r)"
                throw InputError(file: path, field: TraceFile.streamField, "cannot inflate: \(why)")
            }
        }
    }
}

/// A GzipStream inflated on a thread of its own, a chunk ahead of the reader: the trace's
/// parsing then costs what it costs alone (inflate and its CRC were an eighth of a replay).
/// At most `depth` chunks wait; `stop()` ends the thread early (a parse error) and waits for
/// it, so the file is never read after the caller closes it.
final class InflateThread: TraceFile.Source, @unchecked Sendable {
    let stream: GzipStream
    let chunkSize = 1 << 20
    let lock = NSLock()
    let filled = DispatchSemaphore(value: 0)
    let room: DispatchSemaphore
    let finished = DispatchSemaphore(value: 0)
    /// Chunks inflated and not yet read, oldest first (a count of 0 marks the end).
    var ready: [(bytes: [UInt8], count: Int)] = []
    var error: InputError? = nil
    var cancelled = false
    /// Chunks read, for the inflater to fill again.
    var spare: [[UInt8]] = []
    /// The chunk being read, and how far.
    var current: [UInt8] = []
    var currentCount = 0, currentAt = 0
    var ended = false

    init(_ stream: GzipStream, depth: Int = 4) {
        self.stream = stream
        // Made at 0 and raised: libdispatch refuses to free a semaphore below the value it
        // was made with, which `room` is when the reader stops early.
        room = DispatchSemaphore(value: 0)
        for _ in 0..<depth { room.signal() }
        let t = Thread { [self] in run() }
        t.stackSize = 1 << 20
        t.start()
    }

    func run() {
        defer { finished.signal() }
        while true {
            room.wait()
            lock.lock()
            let stop = cancelled
            var chunk = stop ? [] : spare.popLast() ?? []
            lock.unlock()
            if stop { return }
            if chunk.count != chunkSize { chunk = [UInt8](repeating: 0, count: chunkSize) }
            var n = 0
            var failure: InputError? = nil
            do {
                n = try chunk.withUnsafeMutableBufferPointer { (b) throws(InputError) -> Int in try stream.read(into: b) }
            } catch {
                failure = error
            }
            lock.lock()
            ready.append((chunk, n))
            if let failure { error = failure }
            lock.unlock()
            filled.signal()
            if n == 0 { return }
        }
    }

    /// The reader's side: up to `out.count` bytes, 0 at the end; the inflater's error once
    /// every byte before it has been read.
    func read(into out: UnsafeMutableBufferPointer<UInt8>) throws(InputError) -> Int {
        while currentAt == currentCount {
            if ended {
                lock.lock()
                let e = error
                lock.unlock()
                if let e { throw e }
                return 0
            }
            filled.wait()
            lock.lock()
            var (bytes, count) = ready.removeFirst()
            swap(&current, &bytes)
            if !bytes.isEmpty { spare.append(bytes) }   // its last use: handed over, not shared
            lock.unlock()
            room.signal()
            currentCount = count
            currentAt = 0
            if count == 0 { ended = true }
        }
        let n = Swift.min(out.count, currentCount - currentAt)
        guard n > 0, let dst = out.baseAddress else { return 0 }
        current.withUnsafeBufferPointer { src in
            if let from = src.baseAddress { dst.update(from: from + currentAt, count: n) }
        }
        currentAt += n
        return n
    }

    /// Ends the thread (if it is still inflating) and waits for it. Once.
    func stop() {
        lock.lock()
        if cancelled { lock.unlock(); return }
        cancelled = true
        lock.unlock()
        room.signal()
        finished.wait()
    }
}
