// gzip'd traces inflated by kmemlab itself: DEFLATE (RFC 1951) inside gzip members (RFC 1952),
// streamed through a 32 KiB history, so memory stays a few megabytes whatever the trace's length.
//
// Why not zlib: a kmem trace compresses about 26 to 1, so inflating it is mostly copying long
// matches, which zlib copies a byte at a time. Copying eight bytes at a time, with a 64-bit
// bit buffer refilled without branches, inflates the oracle trace in about half zlib's time,
// and a replay from gzip'd text runs at the speed of its parser. It also needs no library.
//
// What is accepted is what zlib accepts (the gzip tool's inflate is the same): over-subscribed
// codes are refused; an incomplete code only as a single one-bit code (or no code at all for
// distances); lengths 286–287 and distances 30–31 are invalid where they are decoded. Errors
// use zlib's words, so a damaged file reads the same whichever tool looked at it.
//
// The unsafe code is in this file: the input, output and table buffers of one `GzipInflater`,
// allocated once and freed by its deinit, and indexed within the bounds each loop states.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One gzip file inflated chunk by chunk: `read(into:)` hands out the text in order. Members
/// concatenated one after another are read as one text, as `gzip -dc` reads them; anything else
/// after a member is ignored, as gzip ignores trailing garbage.
final class GzipInflater {
    /// Where the compressed bytes come from: a file, or bytes in memory (the fuzz target).
    enum Input {
        case file(Int32)
        case bytes([UInt8], at: Int)
    }
    var source: Input
    let path: String

    // Input: compressed bytes `input[inPos..<inEnd]`; `inEOF` once read(2) returned 0.
    static let inCapacity = 1 << 20
    let input: UnsafeMutablePointer<UInt8>
    var inPos = 0, inEnd = 0
    var inEOF = false
    /// Zero bytes fed past the end of the input (each a truncation if its bits are used).
    var overrun = 0
    /// Bits not yet used, lowest first, and how many of them are valid.
    var bitBuffer: UInt64 = 0
    var bitCount = 0

    // Output: `output[0..<outPos]` is history (the last 32 KiB at least, once there is that
    // much) followed by text not yet handed out, from `handedOut`.
    static let window = 1 << 15
    static let chunk = 1 << 18
    /// Room past the fast loop's limit: one longest match (258 bytes) and the eight-byte copies'
    /// overshoot, with margin.
    static let slack = 512
    let output: UnsafeMutablePointer<UInt8>
    var outPos = 0, handedOut = 0
    /// Where the member's CRC has been computed up to, and the CRC so far.
    var crcFrom = 0
    var crc: UInt32 = 0
    /// Where the member's text began in `output`: it moves back as the window slides (below
    /// zero once the member began before the window), so `outPos - memberOrigin` is its length
    /// and no distance reaches before it.
    var memberOrigin = 0

    /// The decoding tables: literal/length (10 root bits), distance (8), code lengths (7).
    static let litBits = 10, distBits = 8
    /// Room for the root table and a second-level table under each symbol's prefix, at most
    /// 2^(15 − root bits) entries each (286 literal/length symbols, 30 distances).
    static let litCapacity = (1 << litBits) + 286 << (15 - litBits), distCapacity = (1 << distBits) + 30 << (15 - distBits)
    let litTable: UnsafeMutablePointer<UInt32>
    let distTable: UnsafeMutablePointer<UInt32>
    /// The block's tables: the dynamic ones above, or the fixed code's, built once for all.
    var blockLit: UnsafePointer<UInt32>
    var blockDist: UnsafePointer<UInt32>
    let lenTable: UnsafeMutablePointer<UInt32>

    enum State { case memberHeader, blockHeader, huffman, stored(Int), memberTrailer, end }
    var state = State.memberHeader
    var finalBlock = false
    var startedMember = false
    var pendingError: InputError? = nil

    /// `prefix`: bytes already read from `fd` (the probe for the gzip magic).
    convenience init(fd: Int32, path: String, prefix: [UInt8]) {
        self.init(.file(fd), path: path, prefix: prefix)
    }

    /// A gzip file held in memory.
    convenience init(bytes: [UInt8], path: String) {
        self.init(.bytes(bytes, at: 0), path: path, prefix: [])
    }

    init(_ source: Input, path: String, prefix: [UInt8]) {
        self.source = source
        self.path = path
        input = .allocate(capacity: GzipInflater.inCapacity + 8)
        input.initialize(repeating: 0, count: GzipInflater.inCapacity + 8)
        output = .allocate(capacity: GzipInflater.window + GzipInflater.chunk + GzipInflater.slack)
        output.initialize(repeating: 0, count: GzipInflater.window + GzipInflater.chunk + GzipInflater.slack)
        litTable = .allocate(capacity: GzipInflater.litCapacity)
        distTable = .allocate(capacity: GzipInflater.distCapacity)
        blockLit = UnsafePointer(litTable)
        blockDist = UnsafePointer(distTable)
        lenTable = .allocate(capacity: 1 << 7)
        for (i, b) in prefix.enumerated() where i < GzipInflater.inCapacity { input[i] = b }
        inEnd = Swift.min(prefix.count, GzipInflater.inCapacity)
    }

    deinit {
        input.deallocate()
        output.deallocate()
        litTable.deallocate()
        distTable.deallocate()
        lenTable.deallocate()
    }

    func fail(_ message: String) -> InputError {
        InputError(file: path, field: TraceFile.streamField, "cannot inflate: \(message)")
    }

    /// Fills `out` with up to its size of text; 0 at the end. An error (a cut or damaged
    /// stream, a failed read) comes after every byte inflated before it.
    func read(into out: UnsafeMutableBufferPointer<UInt8>) throws(InputError) -> Int {
        guard let dst = out.baseAddress, out.count > 0 else { return 0 }
        while handedOut == outPos {
            if let e = pendingError { throw e }
            if case .end = state { return 0 }
            // Keep the window, drop what was handed out before it.
            if outPos > GzipInflater.window + GzipInflater.chunk - GzipInflater.chunk / 4 {
                updateCRC()
                let keep = GzipInflater.window
                memmove(output, output + (outPos - keep), keep)
                crcFrom -= outPos - keep
                memberOrigin -= outPos - keep
                handedOut = keep
                outPos = keep
            }
            do { try inflate() } catch { pendingError = error }
        }
        let n = Swift.min(out.count, outPos - handedOut)
        dst.update(from: output + handedOut, count: n)
        handedOut += n
        return n
    }

    func updateCRC() {
        if outPos > crcFrom { crc = CRC32.update(crc, output + crcFrom, outPos - crcFrom) }
        crcFrom = outPos
    }

    // MARK: input

    /// Moves what is left to the front (with the eight bytes before it, which a stored block's
    /// alignment may give back) and reads more, until `want` bytes are there or the file ends.
    func refillInput(want: Int) throws(InputError) {
        if inEnd - inPos >= want || inEOF { return }
        let keep = Swift.min(inPos, 8)
        let from = inPos - keep
        if from > 0 {
            memmove(input, input + from, inEnd - from)
            inEnd -= from
            inPos = keep
        }
        while inEnd - inPos < want && !inEOF {
            let n: Int
            switch source {
            case .file(let fd):
                n = Glibc.read(fd, input + inEnd, GzipInflater.inCapacity - inEnd)
            case .bytes(let bytes, let at):
                n = Swift.min(bytes.count - at, GzipInflater.inCapacity - inEnd)
                if n > 0 { bytes.withUnsafeBufferPointer { b in (input + inEnd).update(from: b.baseAddress! + at, count: n) } }
                source = .bytes(bytes, at: at + n)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw InputError(file: path, field: "(file)", "cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { inEOF = true } else { inEnd += n }
        }
    }

    /// Makes at least `n` (≤ 56) bits valid, a byte at a time, feeding zeros past the end.
    @inline(__always)
    func need(_ n: Int) {
        while bitCount < n {
            if inPos < inEnd { bitBuffer |= UInt64(input[inPos]) << UInt64(bitCount); inPos += 1 } else { overrun += 1 }
            bitCount += 8
        }
    }

    /// Whether bits fed past the end were used: the file is cut short.
    var truncated: Bool { usedPastEnd(bitCount) }

    /// Whether, with `valid` bits left in the buffer, some of the zero bits fed past the end
    /// were used.
    @inline(__always)
    func usedPastEnd(_ valid: Int) -> Bool { overrun > 0 && valid < overrun * 8 }

    @inline(__always)
    func bits(_ n: Int) -> Int {
        need(n)
        let v = Int(truncatingIfNeeded: bitBuffer) & ((1 << n) - 1)
        bitBuffer >>= UInt64(n)
        bitCount -= n
        return v
    }

    /// The bytes after the bit buffer's whole bytes, as the byte stream resumes (after the
    /// last block of a member, and before a stored block's lengths).
    func giveBackWholeBytes() {
        bitBuffer >>= UInt64(bitCount & 7)
        bitCount -= bitCount & 7
        let back = bitCount >> 3
        let real = Swift.max(0, back - overrun)
        overrun -= back - real
        inPos -= real
        bitBuffer = 0
        bitCount = 0
    }

    /// The next byte of the file, or nil at its end.
    func byte() throws(InputError) -> UInt8? {
        try refillInput(want: 1)
        guard inPos < inEnd else { return nil }
        inPos += 1
        return input[inPos - 1]
    }

    // MARK: the stream

    /// Inflates until there is a chunk of text to hand out, the text ends, or an error.
    func inflate() throws(InputError) {
        let limit = GzipInflater.window + GzipInflater.chunk
        while outPos <= limit {
            switch state {
            case .memberHeader:
                guard try memberHeader() else { state = .end; return }
            case .blockHeader:
                if finalBlock {
                    giveBackWholeBytes()
                    state = .memberTrailer
                    continue
                }
                try refillInput(want: 1024)
                try blockHeader()
            case .huffman:
                try huffman(limit: limit)
            case .stored(let left):
                try stored(left, limit: limit)
            case .memberTrailer:
                try memberTrailer()
            case .end:
                return
            }
        }
    }

    /// A gzip member's header; false at the end of the file (or of the members: trailing
    /// bytes that are not another member are ignored, as gzip ignores them).
    func memberHeader() throws(InputError) -> Bool {
        guard let id1 = try byte() else {
            if !startedMember { throw truncation() }
            return false
        }
        guard id1 == 0x1f else {
            if !startedMember { throw fail("incorrect header check") }
            return false
        }
        // The header's CRC so far, for FHCRC (a running value: a name may be long).
        var headerCRC = CRC32.update(0, [id1], 1)
        func next() throws(InputError) -> UInt8 {
            guard let b = try byte() else { throw truncation() }
            headerCRC = CRC32.update(headerCRC, [b], 1)
            return b
        }
        guard try next() == 0x8b else {
            if !startedMember { throw fail("incorrect header check") }
            return false
        }
        startedMember = true
        guard try next() == 8 else { throw fail("unknown compression method") }
        let flags = try next()
        guard flags & 0xe0 == 0 else { throw fail("unknown header flags set") }
        for _ in 0..<6 { _ = try next() }   // mtime, xfl, os
        if flags & 4 != 0 {   // FEXTRA
            let len = Int(try next()) | Int(try next()) << 8
            for _ in 0..<len { _ = try next() }
        }
        if flags & 8 != 0 { while try next() != 0 {} }    // FNAME
        if flags & 16 != 0 { while try next() != 0 {} }   // FCOMMENT
        if flags & 2 != 0 {   // FHCRC: the low half of the CRC of the bytes before it
            let want = UInt16(truncatingIfNeeded: headerCRC)
            let got = UInt16(try next()) | UInt16(try next()) << 8
            guard got == want else { throw fail("header crc mismatch") }
        }
        crc = 0
        crcFrom = outPos
        memberOrigin = outPos
        finalBlock = false
        bitBuffer = 0
        bitCount = 0
        overrun = 0
        state = .blockHeader
        return true
    }

    func memberTrailer() throws(InputError) {
        updateCRC()
        // Four bytes of CRC, checked before the four of length are read (as zlib does).
        func word() throws(InputError) -> UInt32 {
            var w: UInt32 = 0
            for k in 0..<4 {
                guard let b = try byte() else { throw truncation() }
                w |= UInt32(b) << UInt32(8 * k)
            }
            return w
        }
        guard try word() == crc else { throw fail("incorrect data check") }
        let wantLength = try word()
        guard wantLength == UInt32(truncatingIfNeeded: outPos - memberOrigin) else {
            throw fail("incorrect length check")
        }
        state = .memberHeader
    }

    func blockHeader() throws(InputError) {
        let head = bits(3)
        if truncated { throw truncation() }
        finalBlock = head & 1 != 0
        switch head >> 1 {
        case 0:
            giveBackWholeBytes()
            var b: [Int] = []
            for _ in 0..<4 {
                guard let x = try byte() else { throw truncation() }
                b.append(Int(x))
            }
            let len = b[0] | b[1] << 8, nlen = b[2] | b[3] << 8
            guard len == nlen ^ 0xffff else { throw fail("invalid stored block lengths") }
            state = .stored(len)
        case 1:
            blockLit = FixedCode.shared.lit
            blockDist = FixedCode.shared.dist
            state = .huffman
        case 2:
            try dynamicTables()
            blockLit = UnsafePointer(litTable)
            blockDist = UnsafePointer(distTable)
            state = .huffman
        default:
            throw fail("invalid block type")
        }
    }

    func stored(_ left: Int, limit: Int) throws(InputError) {
        var left = left
        while left > 0 && outPos <= limit {
            try refillInput(want: 1)
            let n = Swift.min(left, inEnd - inPos, limit + 1 - outPos)
            if n == 0 {
                throw truncation()
            }
            (output + outPos).update(from: input + inPos, count: n)
            outPos += n
            inPos += n
            left -= n
        }
        state = left == 0 ? .blockHeader : .stored(left)
    }

    // MARK: Huffman blocks

    /// Reads a dynamic block's code lengths and builds its tables.
    func dynamicTables() throws(InputError) {
        let nlen = bits(5) + 257, ndist = bits(5) + 1, ncode = bits(4) + 4
        if truncated { throw truncation() }
        guard nlen <= 286, ndist <= 30 else { throw fail("too many length or distance symbols") }
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        var lengths = [UInt8](repeating: 0, count: 320)
        for i in 0..<ncode { lengths[order[i]] = UInt8(bits(3)) }
        if truncated { throw truncation() }
        guard lengths.withUnsafeBufferPointer({ GzipInflater.build($0.baseAddress!, 19, rootBits: 7, kind: .codeLengths, lenTable, 1 << 7) })
        else { throw fail("invalid code lengths set") }
        var i = 0
        while i < nlen + ndist {
            need(14)
            // Every entry of an accepted code-length code decodes (see build()).
            let e = lenTable[Int(truncatingIfNeeded: bitBuffer) & 127]
            let n = Int(e & 0xff)
            bitBuffer >>= UInt64(n)
            bitCount -= n
            if truncated { throw truncation() }
            let sym = Int(e >> 16)
            if sym < 16 {
                lengths[i] = UInt8(sym); i += 1
                continue
            }
            // zlib reads a repeat's bits before it checks the repeat.
            let count = sym == 16 ? 3 + bits(2) : sym == 17 ? 3 + bits(3) : 11 + bits(7)
            if truncated { throw truncation() }
            var repeatValue: UInt8 = 0
            if sym == 16 {
                guard i > 0 else { throw fail("invalid bit length repeat") }
                repeatValue = lengths[i - 1]
            }
            guard i + count <= nlen + ndist else { throw fail("invalid bit length repeat") }
            for _ in 0..<count { lengths[i] = repeatValue; i += 1 }
        }
        if truncated { throw truncation() }
        guard lengths[256] != 0 else { throw fail("invalid code -- missing end-of-block") }
        let ok = lengths.withUnsafeBufferPointer { l in
            GzipInflater.build(l.baseAddress!, nlen, rootBits: GzipInflater.litBits, kind: .literalLength,
                               litTable, GzipInflater.litCapacity)
        }
        guard ok else { throw fail("invalid literal/lengths set") }
        let okDist = lengths.withUnsafeBufferPointer { l in
            GzipInflater.build(l.baseAddress! + nlen, ndist, rootBits: GzipInflater.distBits, kind: .distance,
                               distTable, GzipInflater.distCapacity)
        }
        guard okDist else { throw fail("invalid distances set") }
    }

    /// Decodes symbols until the block ends or the output passes `limit` (then it resumes
    /// here). The fast loop runs while 32 input bytes remain; the careful one feeds zeros past
    /// the end and stops at the first symbol that used them.
    func huffman(limit: Int) throws(InputError) {
        let lit = blockLit, dist = blockDist, out = output, inp = input
        let litMask = UInt64((1 << GzipInflater.litBits) - 1), distMask = UInt64((1 << GzipInflater.distBits) - 1)
        var bb = bitBuffer, bc = bitCount, ip = inPos, op = outPos
        // The distance a match may reach back: the window kept, within this member.
        let floor = Swift.max(memberOrigin, 0)
        defer { bitBuffer = bb; bitCount = bc; inPos = ip; outPos = op }
        while op <= limit {
            if inEnd - ip < 32 && !inEOF {
                bitBuffer = bb; bitCount = bc; inPos = ip
                try refillInput(want: 1 << 16)
                ip = inPos
            }
            let fast = inEnd - ip >= 8
            if fast {
                // Branchless refill: 56 or more valid bits, enough for one whole symbol.
                bb |= UnsafeRawPointer(inp + ip).loadUnaligned(as: UInt64.self) << UInt64(bc)
                ip += (63 - bc) >> 3
                bc |= 56
            } else {
                bitBuffer = bb; bitCount = bc; inPos = ip
                need(56)
                bb = bitBuffer; bc = bitCount; ip = inPos
            }
            var e = lit[Int(bb & litMask)]
            if e & GzipInflater.kindMask == GzipInflater.link {
                bb >>= UInt64(GzipInflater.litBits); bc -= GzipInflater.litBits
                e = lit[Int(e >> 16) + Int(truncatingIfNeeded: bb) & ((1 << Int((e >> 8) & 15)) - 1)]
            }
            var n = Int(e & 0xff)
            bb >>= UInt64(n); bc -= n
            if !fast && usedPastEnd(bc) { throw truncation() }
            let kind = e & GzipInflater.kindMask
            if kind == GzipInflater.literal {
                out[op] = UInt8(truncatingIfNeeded: e >> 16)
                op += 1
                continue
            }
            if kind == GzipInflater.endOfBlock {
                state = .blockHeader
                return
            }
            guard e & GzipInflater.invalid == 0 else {
                throw fail("invalid literal/length code")
            }
            // A length: its base and extra bits, then a distance the same way.
            var extra = Int((e >> 8) & 15)
            let length = Int(e >> 16) + (Int(truncatingIfNeeded: bb) & ((1 << extra) - 1))
            bb >>= UInt64(extra); bc -= extra
            if !fast && usedPastEnd(bc) { throw truncation() }
            var d = dist[Int(bb & distMask)]
            if d & GzipInflater.kindMask == GzipInflater.link {
                bb >>= UInt64(GzipInflater.distBits); bc -= GzipInflater.distBits
                d = dist[Int(d >> 16) + Int(truncatingIfNeeded: bb) & ((1 << Int((d >> 8) & 15)) - 1)]
            }
            n = Int(d & 0xff)
            bb >>= UInt64(n); bc -= n
            if !fast && usedPastEnd(bc) { throw truncation() }
            guard d & GzipInflater.invalid == 0 else { throw fail("invalid distance code") }
            extra = Int((d >> 8) & 15)
            let distance = Int(d >> 16) + (Int(truncatingIfNeeded: bb) & ((1 << extra) - 1))
            bb >>= UInt64(extra); bc -= extra
            if !fast && usedPastEnd(bc) { throw truncation() }
            guard distance <= op - floor else { throw fail("invalid distance too far back") }
            // The copy: eight bytes at a time when the source is at least eight behind (each
            // load reads bytes already written); overlapping runs shorter than that byte by byte.
            let dst = out + op
            let src = dst - distance
            if distance >= 8 {
                var k = 0
                repeat {
                    UnsafeMutableRawPointer(dst + k).storeBytes(of: UnsafeRawPointer(src + k).loadUnaligned(as: UInt64.self), as: UInt64.self)
                    k += 8
                } while k < length
            } else if distance == 1 {
                memset(dst, Int32(src.pointee), length)
            } else {
                for k in 0..<length { dst[k] = src[k] }
            }
            op += length
        }
    }

    func truncation() -> InputError {
        InputError(file: path, field: TraceFile.streamField, "the gzip stream ends early: the file is truncated")
    }

    // MARK: tables

    /// Table entries: bits 0–7 the bits the entry uses, 8–11 extra bits (or a link's table
    /// bits), 12–13 the kind, 14 invalid, 16–31 the value (a literal, a base, or a link's offset).
    static let literal: UInt32 = 0 << 12, baseAndExtra: UInt32 = 1 << 12, endOfBlock: UInt32 = 2 << 12, link: UInt32 = 3 << 12
    static let kindMask: UInt32 = 3 << 12, invalid: UInt32 = 1 << 14

    enum CodeKind { case literalLength, distance, codeLengths }

    static let lengthBase: [UInt32] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [UInt32] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [UInt32] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                                         2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra: [UInt32] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    /// What symbol `s` of a code of `kind` decodes to, without its bit count.
    @inline(__always)
    static func entry(_ s: Int, _ kind: CodeKind) -> UInt32 {
        switch kind {
        case .codeLengths:
            return literal | UInt32(s) << 16
        case .literalLength:
            if s < 256 { return literal | UInt32(s) << 16 }
            if s == 256 { return endOfBlock }
            if s <= 285 { return baseAndExtra | lengthExtra[s - 257] << 8 | lengthBase[s - 257] << 16 }
            return baseAndExtra | invalid
        case .distance:
            if s < 30 { return baseAndExtra | distanceExtra[s] << 8 | distanceBase[s] << 16 }
            return baseAndExtra | invalid
        }
    }

    /// Builds a two-level decoding table for the canonical code of `lengths[0..<count]`:
    /// `rootBits` index the first level, and codes longer than that go through a link to a
    /// second-level table sized for the longest code under it. False for a set of lengths
    /// zlib refuses: over-subscribed, or incomplete (other than one one-bit code, or none at
    /// all, for literal/length and distance codes).
    static func build(_ lengths: UnsafePointer<UInt8>, _ count: Int, rootBits: Int, kind: CodeKind,
                      _ table: UnsafeMutablePointer<UInt32>, _ capacity: Int) -> Bool {
        var perLength = [Int](repeating: 0, count: 16)
        for s in 0..<count { perLength[Int(lengths[s])] += 1 }
        perLength[0] = 0
        var left = 1
        for len in 1...15 {
            left = left * 2 - perLength[len]
            if left < 0 { return false }
        }
        let maxLength = (1...15).last { perLength[$0] > 0 } ?? 0
        if left > 0 && maxLength != 0 && (kind == .codeLengths || maxLength != 1) { return false }
        let root = 1 << rootBits
        // Entries no code reaches are invalid and use one bit, as zlib's are (so a stream
        // that ends there is called truncated or invalid as zlib calls it). With no code at
        // all, zlib still accepts a code-length code and reads every length as 0 from one bit.
        let empty = maxLength == 0 && kind == .codeLengths ? literal | 1 : baseAndExtra | invalid | 1
        for i in 0..<root { table[i] = empty }
        if maxLength == 0 { return true }
        // The first code of each length, in canonical order.
        var next = [Int](repeating: 0, count: 16)
        var code = 0
        for len in 1...15 { code = (code + perLength[len - 1]) << 1; next[len] = code }
        var reversed = [Int](repeating: 0, count: count)
        var longest = [UInt8](repeating: 0, count: root)
        for s in 0..<count where lengths[s] != 0 {
            let len = Int(lengths[s])
            var c = next[len], r = 0
            next[len] += 1
            for _ in 0..<len { r = r << 1 | c & 1; c >>= 1 }
            reversed[s] = r
            if len > rootBits { longest[r & (root - 1)] = Swift.max(longest[r & (root - 1)], UInt8(len)) }
        }
        // Second-level tables after the first, each linked from its prefix's entry.
        var offset = root
        for p in 0..<root where longest[p] != 0 {
            let sub = Int(longest[p]) - rootBits
            guard offset + (1 << sub) <= capacity else { return false }
            table[p] = link | UInt32(sub) << 8 | UInt32(offset) << 16 | UInt32(rootBits)
            for i in offset..<(offset + (1 << sub)) { table[i] = baseAndExtra | invalid | 1 }
            offset += 1 << sub
        }
        for s in 0..<count where lengths[s] != 0 {
            let len = Int(lengths[s]), r = reversed[s], e = entry(s, kind)
            if len <= rootBits {
                var i = r
                while i < root { table[i] = e | UInt32(len); i += 1 << len }
            } else {
                let l = table[r & (root - 1)]
                let base = Int(l >> 16), sub = Int((l >> 8) & 15), rest = len - rootBits
                var i = r >> rootBits
                while i < 1 << sub { table[base + i] = e | UInt32(rest); i += 1 << rest }
            }
        }
        return true
    }
}

/// The fixed code of block type 1 (RFC 1951 3.2.6), its tables built once: a stream of tiny
/// fixed blocks costs no table building per block.
final class FixedCode: @unchecked Sendable {
    let lit: UnsafePointer<UInt32>
    let dist: UnsafePointer<UInt32>
    static let shared = FixedCode()

    init() {
        let l = UnsafeMutablePointer<UInt32>.allocate(capacity: GzipInflater.litCapacity)
        let d = UnsafeMutablePointer<UInt32>.allocate(capacity: GzipInflater.distCapacity)
        var lengths = [UInt8](repeating: 8, count: 288)
        for s in 144..<256 { lengths[s] = 9 }
        for s in 256..<280 { lengths[s] = 7 }
        _ = lengths.withUnsafeBufferPointer {
            GzipInflater.build($0.baseAddress!, 288, rootBits: GzipInflater.litBits, kind: .literalLength, l, GzipInflater.litCapacity)
        }
        let five = [UInt8](repeating: 5, count: 32)
        _ = five.withUnsafeBufferPointer {
            GzipInflater.build($0.baseAddress!, 32, rootBits: GzipInflater.distBits, kind: .distance, d, GzipInflater.distCapacity)
        }
        lit = UnsafePointer(l)
        dist = UnsafePointer(d)
    }
}

/// gzip's CRC-32 (the reflected polynomial 0xedb88320), eight bytes a step through eight
/// tables: a byte's effect on the remainder eight, seven, … one bytes later. `update` takes and
/// returns the finished value, as zlib's crc32() does, so a member's CRC is built chunk by chunk.
enum CRC32 {
    /// Table k, entry b (at k × 256 + b): the remainder of byte b followed by k zero bytes.
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for b in 0..<256 {
            var c = UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
            t[b] = c
        }
        for k in 1..<8 {
            for b in 0..<256 { t[k * 256 + b] = (t[(k - 1) * 256 + b] >> 8) ^ t[Int(t[(k - 1) * 256 + b] & 0xff)] }
        }
        return t
    }()

    static func update(_ crc: UInt32, _ p: UnsafePointer<UInt8>, _ count: Int) -> UInt32 {
        if let z = zlibCRC32 { return UInt32(truncatingIfNeeded: z(UInt(crc), p, UInt32(clamping: count))) }
        return tables.withUnsafeBufferPointer { t in update(crc, p, count, t.baseAddress!) }
    }

    /// zlib's crc32(), when the system has libz.so.1 (every Debian does: dpkg needs it): it
    /// interleaves five words at a time and runs about twice as fast as the tables here, which
    /// is what keeps the inflating thread ahead of the trace's parser. Chunks of at most
    /// 4 GiB go to it (its length is 32 bits); the tables are the fallback and the check.
    typealias ZlibCRC = @convention(c) (UInt, UnsafePointer<UInt8>, UInt32) -> UInt
    static let zlibCRC32: ZlibCRC? = {
        guard ProcessInfo.processInfo.environment["KMEMLAB_NO_ZLIB"] == nil,
              let h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL), let f = dlsym(h, "crc32") else { return nil }
        return unsafeBitCast(f, to: ZlibCRC.self)
    }()

    static func update(_ crc: UInt32, _ p: UnsafePointer<UInt8>, _ count: Int, _ t: UnsafePointer<UInt32>) -> UInt32 {
        var c = ~crc
        var i = 0
        while i + 8 <= count {
            let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) ^ UInt64(c)
            c = t[7 * 256 + Int(w & 0xff)] ^ t[6 * 256 + Int((w >> 8) & 0xff)]
                ^ t[5 * 256 + Int((w >> 16) & 0xff)] ^ t[4 * 256 + Int((w >> 24) & 0xff)]
                ^ t[3 * 256 + Int((w >> 32) & 0xff)] ^ t[2 * 256 + Int((w >> 40) & 0xff)]
                ^ t[1 * 256 + Int((w >> 48) & 0xff)] ^ t[Int(w >> 56)]
            i += 8
        }
        while i < count { c = t[Int((c ^ UInt32(p[i])) & 0xff)] ^ (c >> 8); i += 1 }
        return ~c
    }
}

/// A gzip file inflated on a thread of its own, a chunk ahead of the reader: a replay then
/// costs what its parsing costs, while the inflating and the CRC take the other core. The
/// chunks are `depth + 1` buffers allocated once: at most `depth` filled or being filled, and
/// the one the reader is looking at, which goes back to the inflater when the reader asks for
/// the next. `stop()` ends the thread early (a parse error) and waits for it, so the file is
/// never read after the caller closes it.
final class InflateThread: TraceFile.ChunkSource, @unchecked Sendable {
    let stream: GzipInflater
    /// The most one `GzipInflater.read` hands out (its whole output buffer), so one read
    /// empties the inflater.
    static let chunkSize = GzipInflater.window + GzipInflater.chunk + GzipInflater.slack
    let buffers: [UnsafeMutableBufferPointer<UInt8>]
    let lock = NSLock()
    let filled = DispatchSemaphore(value: 0)
    let room: DispatchSemaphore
    let finished = DispatchSemaphore(value: 0)
    // Under `lock`: chunks filled and not yet read, oldest first (a count of 0 marks the
    // end), the buffers free to fill, the inflater's error, and whether the reader stopped.
    var ready: [(buffer: Int, count: Int)] = []
    var spare: [Int]
    var error: InputError? = nil
    var cancelled = false
    // The reader's own: the buffer it is looking at, and whether the end was seen.
    var current: Int? = nil
    var ended = false

    init(_ stream: GzipInflater, depth: Int = 4) {
        self.stream = stream
        buffers = (0...depth).map { _ in .allocate(capacity: InflateThread.chunkSize) }
        spare = Array(0...depth)
        // Made at 0 and raised: libdispatch refuses to free a semaphore below the value it
        // was made with, which `room` is when the reader stops early.
        room = DispatchSemaphore(value: 0)
        for _ in 0..<depth { room.signal() }
        let t = Thread { [self] in run() }
        t.stackSize = 1 << 20
        t.start()
    }

    deinit { for b in buffers { b.deallocate() } }

    func run() {
        defer { finished.signal() }
        while true {
            room.wait()
            lock.lock()
            let stop = cancelled
            let index = stop ? -1 : spare.removeLast()
            lock.unlock()
            if stop { return }
            var n = 0
            var failure: InputError? = nil
            do { n = try stream.read(into: buffers[index]) } catch { failure = error }
            lock.lock()
            ready.append((index, n))
            if let failure { error = failure }
            lock.unlock()
            filled.signal()
            if n == 0 { return }
        }
    }

    /// The next chunk of text, valid until the next call; empty at the end, and the inflater's
    /// error once every chunk before it has been read.
    func nextChunk() throws(InputError) -> UnsafeBufferPointer<UInt8> {
        if !ended {
            filled.wait()
            lock.lock()
            let (index, count) = ready.removeFirst()
            if let c = current { spare.append(c) }   // handed back before its permit
            current = index
            lock.unlock()
            room.signal()
            if count > 0 { return UnsafeBufferPointer(rebasing: buffers[index][0..<count]) }
            ended = true
        }
        lock.lock()
        let e = error
        lock.unlock()
        if let e { throw e }
        return UnsafeBufferPointer(start: nil, count: 0)
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

extension TraceFile {
    /// The text of gzip'd bytes held in memory, at most `limit` bytes of it (a few hundred
    /// bytes can stand for gigabytes), and the error that ended it early, as `forEachLine`
    /// reports it (naming `name`), after the text before it.
    public static func gunzip(_ bytes: [UInt8], name: String, limit: Int = 1 << 24) -> (text: [UInt8], error: InputError?) {
        let z = GzipInflater(bytes: bytes, path: name)
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while text.count < limit {
            do {
                let n = try buffer.withUnsafeMutableBufferPointer { (b) throws(InputError) -> Int in try z.read(into: b) }
                if n == 0 { break }
                text += buffer.prefix(Swift.min(n, limit - text.count))
            } catch { return (text, error) }
        }
        return (text, nil)
    }
}
