// `mem=` and `memmap=`: the command-line edits to the e820 table.
//
// Linux: arch/x86/kernel/e820.c — parse_memopt(), parse_memmap_one(), parse_memmap_opt().
// Exact: each form's effect and printed line; a malformed item is ignored after any effect it
//        already had, as in the kernel (which returns -EINVAL only after acting).
// `mem=nn` is an address limit on RAM, not an amount of memory.

extension E820Table {
    /// Linux: parse_memopt(). Returns true when the option made the map user-defined.
    /// Returns whether the map became user-defined, and whether parse_memopt() refused the value
    /// (do_early_param() then warns "Malformed early option 'mem'"): no value, "nopentium" on
    /// x86-64, or a size that memparse() reads as 0 ("0", "abc", or "16E", which wraps).
    public mutating func applyMemOption(_ value: String?, log: inout KernelLog) -> (userdef: Bool, malformed: Bool) {
        guard let value else { return (false, true) }
        if value == "nopentium" {
            log.info("mem=nopentium ignored! (only supported on x86_32)")
            return (false, true)
        }
        let bytes = Array(value.utf8)
        let size = memparse(bytes[...]).value
        // userdef is set before the zero check, so "mem=0" still prints the user-defined map.
        if size == 0 { return (true, true) }
        remove(size, UInt64.max - size, type: .ram, checkType: true, log: &log)
        return (true, false)
    }

    /// Linux: parse_memmap_opt(): a comma-separated list, each item through parse_memmap_one().
    /// Returns true when any item made the map user-defined.
    public mutating func applyMemmapOption(_ value: String?, log: inout KernelLog) -> Bool {
        guard let value else { return false }
        var userdef = false
        for item in value.utf8.split(separator: 0x2c, omittingEmptySubsequences: false) {
            if applyMemmapItem(Array(item), log: &log) { userdef = true }
        }
        return userdef
    }

    private mutating func applyMemmapItem(_ p: [UInt8], log: inout KernelLog) -> Bool {
        if p.starts(with: Array("exactmap".utf8)) {
            entries.removeAll()
            return true
        }
        let (size, n) = memparse(p[...])
        if n == 0 { return false }
        var i = n
        guard i < p.count else {
            remove(size, UInt64.max - size, type: .ram, checkType: true, log: &log)
            return true
        }
        let op = p[i]
        i += 1
        let (start, m) = memparse(p[i...])
        i += m
        switch op {
        case 0x40: add(start, size, .ram, log: &log)            // '@'
        case 0x23: add(start, size, .acpi, log: &log)           // '#'
        case 0x24: add(start, size, .reserved, log: &log)       // '$'
        case 0x21: add(start, size, .pram, log: &log)           // '!'
        case 0x25:                                               // '%'
            var from: UInt64 = 0, to: UInt64 = 0
            if i < p.count && p[i] == 0x2d {
                let r = simpleStrtoull(p[(i + 1)...]); from = r.value; i += 1 + r.consumed
            }
            if i < p.count && p[i] == 0x2b {
                let r = simpleStrtoull(p[(i + 1)...]); to = r.value; i += 1 + r.consumed
            }
            if i != p.count { return true }
            let f = E820Type(UInt32(truncatingIfNeeded: from)), t = E820Type(UInt32(truncatingIfNeeded: to))
            if from != 0 && to != 0 {
                if f != t { update(start, size, from: f, to: t, log: &log) }
            } else if to != 0 {
                add(start, size, t, log: &log)
            } else if from != 0 {
                remove(start, size, type: f, checkType: true, log: &log)
            } else {
                remove(start, size, type: E820Type(0), checkType: false, log: &log)
            }
        default:
            // Any other character: the whole item is a `mem=` limit (memparse stopped there).
            remove(size, UInt64.max - size, type: .ram, checkType: true, log: &log)
        }
        return true
    }
}
