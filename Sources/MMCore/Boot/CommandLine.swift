// The kernel command line: splitting it into parameters, and the number parsers early
// parameters use.
//
// Linux: lib/cmdline.c — next_arg() (quoting rules), memparse() (K/M/G/T/P/E suffixes);
// lib/kstrtox.c — simple_strtoull() with base 0 ("0x" hex, leading "0" octal).
// Exact: the split is byte for byte next_arg's, so `"acpi_osi=!Windows 2012"` is one parameter
// whose value is `!Windows 2012`; arithmetic wraps as the kernel's does on absurd numbers.

public struct KernelParam: Equatable, Sendable {
    public var name: String
    /// nil when the parameter has no "=" (a flag such as `nokaslr`).
    public var value: String?
    public init(name: String, value: String?) { self.name = name; self.value = value }
    /// The text as the kernel prints it among unknown parameters ("name=value" or "name").
    public var text: String { value.map { name + "=" + $0 } ?? name }
}

public struct KernelCommandLine: Equatable, Sendable {
    public var raw: String
    public var params: [KernelParam]

    /// The longest command line the kernel takes: the boot protocol's cmdline_size,
    /// COMMAND_LINE_SIZE − 1 on x86 (a boot loader cuts a longer one there, or refuses it).
    public static let maxLength = 2047
    /// The line was longer than `maxLength` bytes and was cut.
    public let truncated: Bool

    public init(_ raw: String) {
        var bytes = Array(raw.utf8)
        truncated = bytes.count > KernelCommandLine.maxLength
        if truncated {
            bytes.removeLast(bytes.count - KernelCommandLine.maxLength)
            // Cut at a character boundary (a UTF-8 continuation byte is 0b10xxxxxx).
            while let last = bytes.last, last & 0xc0 == 0x80 { bytes.removeLast() }
            if let last = bytes.last, last >= 0xc0 { bytes.removeLast() }
        }
        self.raw = truncated ? String(decoding: bytes, as: UTF8.self) : raw
        self.params = KernelCommandLine.split(self.raw)
    }

    /// The value of the last `name=` (later parameters override earlier ones for most options).
    public func last(_ name: String) -> String? {
        var found: String? = nil
        for p in params where p.name == name { found = p.value ?? "" }
        return found
    }

    public func has(_ name: String) -> Bool { params.contains { $0.name == name } }

    /// A boolean parameter as its early_param handler reads it with kstrtobool(): y/Y/t/T/1 and
    /// on are true, n/N/f/F/0 and off false; anything else (or no "=") is refused and leaves the
    /// value as it was, so `dflt` or the last valid occurrence wins.
    public func bool(_ name: String, default dflt: Bool) -> Bool {
        var v = dflt
        for p in params where p.name == name {
            if let b = p.value.flatMap(KernelCommandLine.kstrtobool) { v = b }
        }
        return v
    }

    /// Linux: kstrtobool().
    static func kstrtobool(_ s: String) -> Bool? {
        let b = Array(s.utf8)
        guard let c = b.first else { return nil }
        switch c {
        case UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "1"): return true
        case UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "0"): return false
        case UInt8(ascii: "o"), UInt8(ascii: "O"):
            guard b.count > 1 else { return nil }
            switch b[1] {
            case UInt8(ascii: "n"), UInt8(ascii: "N"): return true
            case UInt8(ascii: "f"), UInt8(ascii: "F"): return false
            default: return nil
            }
        default: return nil
        }
    }

    /// Linux: next_arg(), applied until the line is used up.
    public static func split(_ raw: String) -> [KernelParam] {
        let bytes = Array(raw.utf8)
        var out: [KernelParam] = []
        var pos = 0
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0d) }
        while pos < bytes.count && isSpace(bytes[pos]) { pos += 1 }
        while pos < bytes.count {
            var start = pos
            var inQuote = false
            var quoted = false
            if bytes[start] == 0x22 { start += 1; inQuote = true; quoted = true }
            var i = start
            var equals = -1
            while i < bytes.count {
                if isSpace(bytes[i]) && !inQuote { break }
                if equals < 0 && bytes[i] == 0x3d { equals = i }
                if bytes[i] == 0x22 { inQuote.toggle() }
                i += 1
            }
            var tokenEnd = i
            var name: [UInt8]
            var value: [UInt8]? = nil
            if equals < 0 {
                if quoted && tokenEnd > start && bytes[tokenEnd - 1] == 0x22 { tokenEnd -= 1 }
                name = Array(bytes[start..<tokenEnd])
            } else {
                name = Array(bytes[start..<equals])
                var vStart = equals + 1
                if vStart < tokenEnd && bytes[vStart] == 0x22 {
                    vStart += 1
                    if bytes[tokenEnd - 1] == 0x22 && tokenEnd - 1 >= vStart { tokenEnd -= 1 }
                } else if quoted && tokenEnd > vStart && bytes[tokenEnd - 1] == 0x22 {
                    tokenEnd -= 1
                }
                value = Array(bytes[vStart..<max(vStart, tokenEnd)])
            }
            out.append(KernelParam(name: String(decoding: name, as: UTF8.self),
                                   value: value.map { String(decoding: $0, as: UTF8.self) }))
            pos = i
            while pos < bytes.count && isSpace(bytes[pos]) { pos += 1 }
        }
        return out
    }
}

/// Linux: simple_strtoull(s, &end, 0). Returns the value (wrapping on overflow, as the kernel's
/// does) and how many bytes were consumed; 0 consumed means no number was there.
public func simpleStrtoull(_ s: ArraySlice<UInt8>, base: Int = 0) -> (value: UInt64, consumed: Int) {
    var i = s.startIndex
    var radix = UInt64(base)
    func digit(_ b: UInt8) -> UInt64? {
        switch b {
        case 0x30...0x39: return UInt64(b - 0x30)
        case 0x61...0x66: return UInt64(b - 0x61 + 10)
        case 0x41...0x46: return UInt64(b - 0x41 + 10)
        default: return nil
        }
    }
    if radix == 0 {
        if i < s.endIndex && s[i] == 0x30 {
            if i + 1 < s.endIndex && (s[i + 1] | 0x20) == 0x78,
               i + 2 < s.endIndex, digit(s[i + 2]) != nil {
                radix = 16; i += 2
            } else {
                radix = 8
            }
        } else {
            radix = 10
        }
    } else if radix == 16, i + 1 < s.endIndex, s[i] == 0x30, (s[i + 1] | 0x20) == 0x78 {
        i += 2
    }
    var value: UInt64 = 0
    let digitsStart = i
    while i < s.endIndex, let d = digit(s[i]), d < radix {
        value = value &* radix &+ d
        i += 1
    }
    if i == digitsStart && radix == 8 { return (0, 1) }  // a lone "0"
    if i == digitsStart { return (0, 0) }
    return (value, i - s.startIndex)
}

/// Linux: memparse(). A number with an optional K/M/G/T/P/E suffix (either case).
public func memparse(_ s: ArraySlice<UInt8>) -> (value: UInt64, consumed: Int) {
    var (value, n) = simpleStrtoull(s)
    let j = s.startIndex + n
    guard j < s.endIndex else { return (value, n) }
    let shift: UInt64
    switch s[j] | 0x20 {
    case 0x65: shift = 60  // e
    case 0x70: shift = 50  // p
    case 0x74: shift = 40  // t
    case 0x67: shift = 30  // g
    case 0x6d: shift = 20  // m
    case 0x6b: shift = 10  // k
    default: return (value, n)
    }
    value = value << shift
    n += 1
    return (value, n)
}

/// memparse over a whole string: nil when it is not a number followed by nothing else.
public func memparseWhole(_ text: String) -> UInt64? {
    let bytes = Array(text.utf8)
    let (v, n) = memparse(bytes[...])
    return (n == bytes.count && n > 0) ? v : nil
}
