// The gzip reader against zlib: every text zlib compresses, at every level, strategy, window and
// memory level, inflates to the same bytes; damaged streams are refused exactly where zlib
// refuses them; members, trailing bytes, header fields and cuts are read as gzip reads them.

import CZlib
import Foundation
import MMCore
@testable import MMText
import Testing
import KmemlabTestSupport

@Suite("gzip: the in-process inflater against zlib")
struct InflateTests {
    /// `data` gzip'd by zlib with these parameters.
    static func gzip(_ data: [UInt8], level: Int32 = 6, windowBits: Int32 = 15, memLevel: Int32 = 8, strategy: Int32 = 0) -> [UInt8] {
        var s = z_stream()
        let r = deflateInit2_(&s, level, Z_DEFLATED, windowBits + 16, memLevel, strategy, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(r == Z_OK)
        defer { deflateEnd(&s) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&s, uLong(data.count))) + 64)
        var input = data
        let produced = input.withUnsafeMutableBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o -> Int in
                s.next_in = i.baseAddress
                s.avail_in = uInt(i.count)
                s.next_out = o.baseAddress
                s.avail_out = uInt(o.count)
                precondition(deflate(&s, Z_FINISH) == Z_STREAM_END)
                return o.count - Int(s.avail_out)
            }
        }
        return Array(out.prefix(produced))
    }

    /// What zlib makes of one gzip member: its text, or nil for an error (a cut stream too).
    static func zlibInflate(_ gz: [UInt8]) -> [UInt8]? {
        let r = zlibRead(gz)
        return r.ok ? r.text : nil
    }

    /// zlib's text of one member, whole or up to its error, and whether it ended well.
    static func zlibRead(_ gz: [UInt8]) -> (text: [UInt8], ok: Bool) {
        var s = z_stream()
        precondition(inflateInit2_(&s, 31, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { inflateEnd(&s) }
        var input = gz
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var r: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { i in
            s.next_in = i.baseAddress
            s.avail_in = uInt(i.count)
            repeat {
                let n = chunk.withUnsafeMutableBufferPointer { o -> Int in
                    s.next_out = o.baseAddress
                    s.avail_out = uInt(o.count)
                    r = CZlib.inflate(&s, Z_NO_FLUSH)
                    return o.count - Int(s.avail_out)
                }
                text += chunk.prefix(n)
            } while r == Z_OK
        }
        return (text, r == Z_STREAM_END)
    }

    /// What the inflater makes of `gz`, handed out in pieces of `piece` bytes. (In memory: the
    /// tests run in parallel; the file path is TraceReaderTests' gzipStreams.)
    static func ours(_ gz: [UInt8], piece: Int = 4096) -> (text: [UInt8], error: InputError?) {
        let z = GzipInflater(bytes: gz, path: "test.gz")
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: piece)
        while true {
            do {
                let n = try buffer.withUnsafeMutableBufferPointer { (b) throws(InputError) -> Int in try z.read(into: b) }
                if n == 0 { return (text, nil) }
                text += buffer.prefix(n)
            } catch { return (text, error) }
        }
    }

    /// Texts that exercise every kind of block: random bytes (stored and literal-heavy), runs
    /// (distances under eight, overlapping copies), repeated lines (long matches far back), and
    /// the oracle trace's first lines.
    static func texts() throws -> [[UInt8]] {
        var rng = SplitMix64(seed: 7)
        var random = [UInt8](repeating: 0, count: 100_000)
        for i in random.indices { random[i] = UInt8(truncatingIfNeeded: rng.next()) }
        var runs: [UInt8] = []
        while runs.count < 200_000 {
            let period = Int(rng.next() % 9) + 1, length = Int(rng.next() % 600)
            let unit = (0..<period).map { _ in UInt8(truncatingIfNeeded: rng.next() % 4) }
            for k in 0..<length { runs.append(unit[k % period]) }
        }
        var lines: [UInt8] = []
        while lines.count < 300_000 {
            lines += Array("line \(rng.next() % 50) of \(rng.next() % 3): \(String(repeating: "ab", count: Int(rng.next() % 200)))\n".utf8)
        }
        let trace = try Data(contentsOf: URL(fileURLWithPath: Fixtures.casePath("pc-2g-trace", "trace.txt.gz")))
        let head = Array((zlibInflate(Array(trace)) ?? []).prefix(2_000_000))
        return [[], [65], random, runs, lines, head, Array(random.prefix(5000)) + Array(lines.prefix(70_000)) + Array(random.prefix(3000))]
    }

    @Test("every level, strategy, window and memory level: the same text as zlib's")
    func sameTextAsZlib() throws {
        let texts = try Self.texts()
        #expect(texts[5].count == 2_000_000)
        var checked = 0
        for text in texts {
            for level: Int32 in [0, 1, 3, 6, 9] {
                for strategy: Int32 in [Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED] {
                    for (windowBits, memLevel): (Int32, Int32) in [(15, 8), (9, 1), (12, 9)] {
                        if level == 0 && (strategy != 0 || windowBits != 15) { continue }
                        let gz = Self.gzip(text, level: level, windowBits: windowBits, memLevel: memLevel, strategy: strategy)
                        let got = Self.ours(gz, piece: [7, 4096, 1 << 20][checked % 3])
                        #expect(got.error == nil && got.text == text,
                                "level \(level) strategy \(strategy) window \(windowBits): \(String(describing: got.error)), \(got.text.count) of \(text.count) bytes")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked == 7 * (1 + 4 * 15))
    }

    @Test("CRC-32: the tables (the fallback without zlib) give zlib's crc32(), chunk by chunk")
    func crcTables() {
        var rng = SplitMix64(seed: 3)
        let data = (0..<100_003).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        data.withUnsafeBufferPointer { d in
            CRC32.tables.withUnsafeBufferPointer { t in
                var ours: UInt32 = 0, at = 0
                while at < d.count {
                    let n = min(Int(rng.next() % 5000), d.count - at)
                    ours = CRC32.update(ours, d.baseAddress! + at, n, t.baseAddress!)
                    at += n
                }
                #expect(UInt(ours) == crc32(0, d.baseAddress, uInt(d.count)))
            }
        }
        // The check value of the standard: "123456789".
        let check = Array("123456789".utf8)
        check.withUnsafeBufferPointer { c in
            CRC32.tables.withUnsafeBufferPointer { t in #expect(CRC32.update(0, c.baseAddress!, 9, t.baseAddress!) == 0xcbf4_3926) }
        }
    }

    @Test("members read on, trailing bytes ignored, header fields skipped and their CRC checked")
    func membersAndHeaders() throws {
        let a = Array("first member\n".utf8), b = Array(String(repeating: "second member\n", count: 5000).utf8)
        let ga = Self.gzip(a), gb = Self.gzip(b)
        #expect(Self.ours(ga + gb).text == a + b)
        #expect(Self.ours(ga + gb + [0, 0, 0, 0]).text == a + b)
        #expect(Self.ours(ga + [0x1f, 0x8b]).error?.message == "the gzip stream ends early: the file is truncated")
        // FEXTRA, FNAME, FCOMMENT and FHCRC: the header as gzip might write it.
        var header: [UInt8] = [0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 3, 3, 0, 1, 2, 3]
        header += Array("name.txt".utf8) + [0] + Array("a comment".utf8) + [0]
        let hcrc = header.withUnsafeBufferPointer { CRC32.update(0, $0.baseAddress!, $0.count) }
        let deflated = Array(ga.dropFirst(10))
        let full = header + [UInt8(hcrc & 0xff), UInt8(hcrc >> 8 & 0xff)] + deflated
        #expect(Self.ours(full).text == a && Self.zlibInflate(full) == a)
        var bad = full
        bad[header.count] ^= 1
        #expect(Self.ours(bad).error?.message == "cannot inflate: header crc mismatch" && Self.zlibInflate(bad) == nil)
        // The CRC and the length in the trailer.
        var crc = ga
        crc[crc.count - 8] ^= 0x10
        #expect(Self.ours(crc).error?.message == "cannot inflate: incorrect data check")
        var length = ga
        length[length.count - 1] ^= 0x01
        #expect(Self.ours(length).error?.message == "cannot inflate: incorrect length check")
        #expect(Self.ours([0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3]).error?.message == "cannot inflate: unknown compression method")
        // What zlib reads before it judges: a stream that ends inside a code or a header is
        // truncated, whatever the missing bits would have made of it; a CRC is checked before
        // the length is read (the review's cases).
        func hex(_ s: String) -> [UInt8] { stride(from: 0, to: s.count, by: 2).map { UInt8(s.dropFirst($0).prefix(2), radix: 16)! } }
        let cut = "the gzip stream ends early: the file is truncated"
        #expect(Self.ours(hex("1f8b0800000000000003c3f2")).error?.message == cut)   // a distance code cut short
        #expect(Self.ours(hex("1f8b0800000000000003fd")).error?.message == cut)     // 288 lengths, then nothing
        #expect(Self.ours(hex("1f8b08000000000002034b040042beb7e8")).error?.message == "cannot inflate: incorrect data check")
        #expect(Self.zlibInflate(hex("1f8b08000000000002034b040043beb7e801000000")) == [97])
        #expect(Self.ours([0x1f, 0x8b, 8, 0x20, 0, 0, 0, 0, 0, 3]).error?.message == "cannot inflate: unknown header flags set")
    }

    @Test("a damaged stream is refused where zlib refuses it, and a cut one hands out what came before")
    func damagedLikeZlib() throws {
        let texts = try Self.texts()
        var rng = SplitMix64(seed: 11)
        var refused = 0, accepted = 0
        for (t, text) in texts.enumerated() where text.count > 1000 {
            for strategy: Int32 in [Z_DEFAULT_STRATEGY, Z_FIXED, Z_HUFFMAN_ONLY] {
                let gz = Self.gzip(Array(text.prefix(60_000)), level: 6, strategy: strategy)
                for _ in 0..<60 {
                    var d = gz
                    // One to three flipped bits past the header.
                    for _ in 0..<(1 + Int(rng.next() % 3)) {
                        let at = 10 + Int(rng.next() % UInt64(d.count - 10))
                        d[at] ^= UInt8(1 << (rng.next() % 8))
                    }
                    let ours = Self.ours(d), theirs = Self.zlibRead(d)
                    if theirs.ok {
                        #expect(ours.error == nil && ours.text == theirs.text, "text \(t) strategy \(strategy)")
                        accepted += 1
                    } else {
                        // Refused, after handing out exactly the text zlib got out first.
                        #expect(ours.error?.field == "(gzip)" && ours.text == theirs.text,
                                "text \(t) strategy \(strategy): zlib refused after \(theirs.text.count) bytes, we after \(ours.text.count)")
                        refused += 1
                    }
                }
                // Cut anywhere: everything zlib gets out of the same bytes, then the error.
                for _ in 0..<10 {
                    let cut = Array(gz.prefix(Int(rng.next() % UInt64(gz.count))))
                    let ours = Self.ours(cut)
                    #expect(ours.error != nil)
                    #expect(ours.text == Self.zlibRead(cut).text, "the text before the cut is zlib's")
                }
            }
        }
        #expect(refused > 500, "\(refused) refused, \(accepted) accepted")
    }
}
