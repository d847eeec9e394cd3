// The gzip reader against zlib, on any bytes: kmemlab's inflater must never trap, must refuse
// what zlib refuses, and must give zlib's text for what zlib accepts (a member and whatever
// follows it, which kmemlab reads as more members or ignores, as gzip -dc does).
import CZlib
import FuzzSupport

/// zlib's text of the first member (up to `limit` bytes), whether the member ended well, and
/// how many input bytes it took.
func zlibText(_ data: UnsafePointer<UInt8>, _ count: Int, limit: Int) -> (text: [UInt8], ok: Bool, used: Int) {
    var s = z_stream()
    guard inflateInit2_(&s, 31, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return ([], false, 0) }
    defer { inflateEnd(&s) }
    s.next_in = UnsafeMutablePointer(mutating: data)
    s.avail_in = uInt(count)
    var text: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var r: Int32 = Z_OK
    repeat {
        let n = chunk.withUnsafeMutableBufferPointer { o -> Int in
            s.next_out = o.baseAddress
            s.avail_out = uInt(o.count)
            r = inflate(&s, Z_NO_FLUSH)
            return o.count - Int(s.avail_out)
        }
        text += chunk.prefix(n)
    } while r == Z_OK && text.count < limit
    return (text, r == Z_STREAM_END, count - Int(s.avail_in))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let data, count > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    let limit = 1 << 22
    let ours = TraceFile.gunzip(bytes, name: "fuzz.gz", limit: limit)
    let theirs = zlibText(data, count, limit: limit)
    if theirs.text.count >= limit || ours.text.count >= limit { return 0 }   // too long to compare whole
    if theirs.ok {
        // A member zlib reads to its end: the same text first (then possibly more members).
        guard ours.text.count >= theirs.text.count, Array(ours.text.prefix(theirs.text.count)) == theirs.text else {
            fatalError("zlib read \(theirs.text.count) bytes; kmemlab \(ours.text.count), differing (\(String(describing: ours.error)))")
        }
        // Nothing after it that could start a member: exactly zlib's text, and no error.
        let rest = bytes[theirs.used...]
        if rest.isEmpty || rest.first != 0x1f || (rest.count >= 2 && rest.dropFirst().first != 0x8b) {
            guard ours.error == nil, ours.text.count == theirs.text.count else {
                fatalError("zlib read the member cleanly; kmemlab: \(ours.text.count) bytes, \(String(describing: ours.error))")
            }
        }
    } else if data[0] == 0x1f && count > 1 && data[1] == 0x8b {
        guard ours.error != nil else { fatalError("zlib refused the first member; kmemlab read \(ours.text.count) bytes") }
        // Before refusing, both handed out the same text.
        guard ours.text == theirs.text else {
            fatalError("the text before the error differs from zlib's: \(ours.text.count) against \(theirs.text.count) bytes")
        }
    } else {
        guard ours.error != nil else { fatalError("not gzip, and kmemlab read it") }
    }
    return 0
}

@_cdecl("FuzzGzip_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
