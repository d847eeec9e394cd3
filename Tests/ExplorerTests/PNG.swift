// A PNG reader for the browser test: 8-bit RGB or RGBA, non-interlaced (what Chromium writes).

import CZlib

struct PNGImage {
    let width: Int, height: Int
    /// RGBA bytes, row by row.
    let rgba: [UInt8]

    func pixel(_ x: Int, _ y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let o = (y * width + x) * 4
        return (rgba[o], rgba[o + 1], rgba[o + 2])
    }

    enum Failure: Error { case notPNG, unsupported(String), inflate(Int32) }

    init(_ bytes: [UInt8]) throws {
        guard bytes.count > 8, bytes[0..<8].elementsEqual([137, 80, 78, 71, 13, 10, 26, 10]) else { throw Failure.notPNG }
        func be32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        var i = 8, w = 0, h = 0, colourType = 0
        var idat: [UInt8] = []
        while i + 8 <= bytes.count {
            let len = be32(i), type = String(decoding: bytes[(i + 4)..<(i + 8)], as: UTF8.self)
            let data = bytes[(i + 8)..<(i + 8 + len)]
            if type == "IHDR" {
                w = be32(i + 8); h = be32(i + 12)
                let depth = Int(data[data.startIndex + 8]); colourType = Int(data[data.startIndex + 9])
                let interlace = Int(data[data.startIndex + 12])
                guard depth == 8, colourType == 2 || colourType == 6, interlace == 0 else {
                    throw Failure.unsupported("depth \(depth), colour type \(colourType), interlace \(interlace)")
                }
            } else if type == "IDAT" {
                idat.append(contentsOf: data)
            } else if type == "IEND" { break }
            i += 12 + len
        }
        let bpp = colourType == 6 ? 4 : 3, stride = w * bpp
        var raw = [UInt8](repeating: 0, count: h * (stride + 1))
        var rawLen = uLongf(raw.count)
        let rc = raw.withUnsafeMutableBufferPointer { r in
            idat.withUnsafeBufferPointer { s in uncompress(r.baseAddress, &rawLen, s.baseAddress, uLong(s.count)) }
        }
        guard rc == Z_OK else { throw Failure.inflate(rc) }
        // Undo the per-row filters (None, Sub, Up, Average, Paeth).
        var out = [UInt8](repeating: 255, count: w * h * 4)
        var prev = [UInt8](repeating: 0, count: stride), cur = [UInt8](repeating: 0, count: stride)
        for y in 0..<h {
            let f = raw[y * (stride + 1)]
            for x in 0..<stride {
                let v = raw[y * (stride + 1) + 1 + x]
                let a = x >= bpp ? Int(cur[x - bpp]) : 0, b = Int(prev[x]), c = x >= bpp ? Int(prev[x - bpp]) : 0
                var p = 0
                switch f {
                case 1: p = a
                case 2: p = b
                case 3: p = (a + b) / 2
                case 4:
                    let pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c)
                    p = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: p = 0
                }
                cur[x] = UInt8(truncatingIfNeeded: Int(v) + p)
            }
            for x in 0..<w {
                for ch in 0..<bpp { out[(y * w + x) * 4 + ch] = cur[x * bpp + ch] }
            }
            swap(&prev, &cur)
        }
        width = w; height = h; rgba = out
    }
}
