// printk-style number formatting, without Foundation.
//
// Linux: lib/vsprintf.c — number() with the SPECIAL flag. Unlike C's printf, the kernel prints the
// "0x" prefix for zero too ("%#x" of 0 is "0x0"), and the field width counts the prefix: "%#018Lx"
// is "0x" plus 16 digits. Every address in a log line goes through these helpers so that kmemlab's
// lines are byte-identical to the kernel's.

/// "%#0<width>llx": "0x" and at least `width - 2` lowercase hex digits.
public func hexPadded(_ value: UInt64, width: Int) -> String {
    let digits = String(value, radix: 16)
    let pad = width - 2 - digits.utf8.count
    if pad <= 0 { return "0x" + digits }
    return "0x" + String(repeating: "0", count: pad) + digits
}

/// "%#llx": "0x" and the digits, no padding.
public func hex(_ value: UInt64) -> String {
    "0x" + String(value, radix: 16)
}

/// A pfn as "%#lx" prints it.
public func hex(_ pfn: Pfn) -> String { hex(pfn.raw) }

/// "%08lx": eight lowercase hex digits, no prefix (32-bit addresses and pfns).
public func hex08(_ value: UInt64) -> String {
    padLeftZero(String(value, radix: 16), 8)
}

/// "%p" of a pointer, as printed with no_hash_pointers: 16 hex digits.
public func ptr(_ value: UInt64) -> String {
    padLeftZero(String(value, radix: 16), 16)
}

/// "%pa" of a phys_addr_t: "0x" and 16 hex digits.
public func pa(_ value: UInt64) -> String {
    hexPadded(value, width: 18)
}

/// Right-aligns `text` in a field of `width` characters ("%5d" style).
public func padLeft(_ text: String, _ width: Int) -> String {
    let n = text.utf8.count
    if n >= width { return text }
    return String(repeating: " ", count: width - n) + text
}

/// Left-aligns `text` in a field of `width` characters ("%-8s" style).
public func padRight(_ text: String, _ width: Int) -> String {
    let n = text.utf8.count
    if n >= width { return text }
    return text + String(repeating: " ", count: width - n)
}

/// "%05lx" style: zero-padded to `width` characters.
public func padLeftZero(_ text: String, _ width: Int) -> String {
    let n = text.utf8.count
    if n >= width { return text }
    return String(repeating: "0", count: width - n) + text
}
