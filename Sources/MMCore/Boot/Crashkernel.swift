// The crash kernel's memory: a block set aside at boot so that a kdump kernel can be loaded
// into it later and boot there when this kernel panics.
//
// Linux: kernel/crash_core.c — parse_crashkernel(), parse_crashkernel_high(),
//        parse_crashkernel_low(), __parse_crashkernel(), get_last_crashkernel(),
//        parse_crashkernel_mem(), parse_crashkernel_simple(), parse_crashkernel_suffix();
//        arch/x86/kernel/setup.c — reserve_crashkernel(), reserve_crashkernel_low();
//        kernel/dma/swiotlb.c — swiotlb_size_or_default().
// Exact: every form of `crashkernel=` (size[@offset], range:size,…[@offset], size,high, size,low),
//        parsed from the raw command line as the kernel does (the last one of each kind wins;
//        a malformed one is ignored with the kernel's warning); where the reservation is
//        searched (16 MiB aligned, below 4 GiB first unless ",high", then below 64 TiB; at the
//        offset exactly when one is given), the automatic low reservation of a block above
//        4 GiB, the "Reserving …" and failure lines, and the memblock=debug lines.
// Why it matters: it is the largest single reservation most servers make. It comes out of
//        memblock before the zones are sized, so it lowers the managed pages, the watermarks
//        and the "Memory:" line of the zone it lands in.

/// The crash kernel's reservations (Linux: crashk_res and crashk_low_res, the "Crash kernel"
/// resources of /proc/iomem).
public struct CrashkernelReservation: Equatable, Sendable {
    /// Where the crash kernel's memory is, when reserve_crashkernel() succeeded.
    public var main: PhysRange?
    /// The low memory reserved beside a block above 4 GiB (for DMA buffers and swiotlb).
    public var low: PhysRange?
    public init() {}
}

/// How one crashkernel= parse ended (Linux: 0, -EINVAL, -ENOENT with the size and base).
public enum CrashkernelParse: Equatable, Sendable {
    /// No crashkernel= of this kind on the command line (-ENOENT).
    case absent
    /// Malformed; the warning is already in the log (-EINVAL).
    case invalid
    /// Parsed (0). The size may be 0: a range list that matched no range.
    case parsed(size: UInt64, base: PhysAddr)
}

extension Kernel {
    /// Linux: CRASH_ALIGN.
    static let crashAlign: UInt64 = 16 * SZ_1M

    /// Linux: CRASH_ADDR_LOW_MAX and CRASH_ADDR_HIGH_MAX (512 MiB for both on i386; 4 GiB and
    /// 64 TiB on x86-64, 64 TiB being what a 4-level kdump kernel can reach).
    var crashAddrLimits: (low: PhysAddr, high: PhysAddr) {
        !arch.is32Bit ? (4 * SZ_1G, 64 << 40) : (512 * SZ_1M, 512 * SZ_1M)
    }

    /// Linux: reserve_crashkernel(): runs after NUMA setup, so that it does not take
    /// hotpluggable memory, and before the zones are sized.
    mutating func reserveCrashkernel() {
        let totalMem = memblock.memory.totalSize
        var high = false
        var request = Kernel.parseCrashkernel(commandLine.raw, systemRAM: totalMem, suffix: nil, log: &log)
        if case .parsed(let size, _) = request, size > 0 {} else {
            request = Kernel.parseCrashkernel(commandLine.raw, systemRAM: totalMem, suffix: .high, log: &log)
            guard case .parsed(let size, _) = request, size > 0 else { return }
            high = true
        }
        guard case .parsed(let size, var base) = request else { return }
        let limits = crashAddrLimits
        if base == 0 {
            // Below 4 GiB first: a block above it needs a second, low block for DMA.
            if !high {
                base = memblock.physAllocRange(size: size, align: Kernel.crashAlign, start: Kernel.crashAlign,
                                               end: limits.low, caller: CrashkernelCaller.below4G, log: &log)
            }
            if base == 0 {
                base = memblock.physAllocRange(size: size, align: Kernel.crashAlign, start: Kernel.crashAlign,
                                               end: limits.high, caller: CrashkernelCaller.high, log: &log)
            }
            if base == 0 {
                log.info("crashkernel reservation failed - No suitable area found.")
                return
            }
        } else {
            let start = memblock.physAllocRange(size: size, align: SZ_1M, start: base, end: base &+ size,
                                                caller: CrashkernelCaller.fixed, log: &log)
            if start != base {
                log.info("crashkernel reservation failed - memory is in use.")
                return
            }
        }
        if base >= 1 << 32 && !reserveCrashkernelLow(totalMem: totalMem) {
            _ = memblock.physFree(base, size, caller: CrashkernelCaller.free, log: &log)
            return
        }
        log.info("Reserving \(size >> 20)MB of memory at \(base >> 20)MB for crashkernel (System RAM: \(totalMem >> 20)MB)")
        crashkernel.main = PhysRange(start: base, size: size)
    }

    /// Linux: reserve_crashkernel_low(): the low block, `crashkernel=Y,low` or by default
    /// swiotlb's size plus 8 MiB but at least 256 MiB. False when it cannot be reserved (the
    /// high block is then given back). i386 reserves nothing here.
    mutating func reserveCrashkernelLow(totalMem: UInt64) -> Bool {
        guard !arch.is32Bit else { return true }
        let lowLimit = Swift.min(totalMem, 4 * SZ_1G)
        let size: UInt64
        switch Kernel.parseCrashkernel(commandLine.raw, systemRAM: lowLimit, suffix: .low, log: &log) {
        case .parsed(let s, _):
            if s == 0 { return true }  // crashkernel=0,low: no low block wanted
            size = s
        case .absent, .invalid:
            // (unsigned long arithmetic: a huge swiotlb= wraps, as in the kernel)
            size = Swift.max((swiotlbDefaultNslabs() &<< Kernel.ioTLBShift) &+ 8 * SZ_1M, 256 * SZ_1M)
        }
        let base = memblock.physAllocRange(size: size, align: Kernel.crashAlign, start: 0, end: 4 * SZ_1G,
                                           caller: CrashkernelCaller.low, log: &log)
        if base == 0 {
            log.info("Cannot reserve \(size >> 20)MB crashkernel low memory, please try smaller size.")
            return false
        }
        log.info("Reserving \(size >> 20)MB of low memory at \(base >> 20)MB for crashkernel (low RAM limit: \(lowLimit >> 20)MB)")
        crashkernel.low = PhysRange(start: base, size: size)
        return true
    }
}

/// The call sites in Debian's 6.1.192 build (reserve_crashkernel() is inlined into
/// setup_arch()), as memblock=debug prints them.
enum CrashkernelCaller {
    static let below4G = Caller("setup_arch+0xa7f/0xd4f")
    static let high = Caller("setup_arch+0xa22/0xd4f")
    static let fixed = Caller("setup_arch+0xaa1/0xd4f")
    static let low = Caller("setup_arch+0xb4e/0xd4f")
    static let free = Caller("setup_arch+0xb79/0xd4f")
}

/// The ",high" and ",low" forms of crashkernel= (Linux: suffix_tbl).
public enum CrashkernelSuffix: Sendable {
    case high, low
    var text: String { self == .high ? ",high" : ",low" }
}

// MARK: Parsing (kernel/crash_core.c)

extension Kernel {
    /// Linux: __parse_crashkernel() over the boot command line: the last `crashkernel=` of the
    /// kind asked for (with that suffix, or with none of the known suffixes), then its syntax —
    /// a ':' before the next blank means the range list. Like the kernel, it reads from the
    /// option to the end of the command line, not only to the option's end.
    public static func parseCrashkernel(_ cmdline: String, systemRAM: UInt64, suffix: CrashkernelSuffix?,
                                        log: inout KernelLog) -> CrashkernelParse {
        let s = CString(cmdline)
        guard var at = lastCrashkernel(s, suffix: suffix) else { return .absent }
        at += 12  // "crashkernel="
        if let suffix { return parseSuffix(s, at, suffix, log: &log) }
        let colon = s.find(0x3a, from: at), space = s.find(0x20, from: at)
        if let colon, space == nil || colon < space! {
            return parseRanges(s, at, systemRAM: systemRAM, log: &log)
        }
        return parseSimple(s, at, log: &log)
    }

    /// Linux: get_last_crashkernel(): every occurrence of "crashkernel=" anywhere in the line
    /// counts, and its kind is decided by how the text up to the next blank ends.
    static func lastCrashkernel(_ s: CString, suffix: CrashkernelSuffix?) -> Int? {
        var found: Int?
        var p = s.find("crashkernel=", from: 0)
        while let at = p {
            let end = s.find(0x20, from: at) ?? s.count
            if let suffix {
                if s.hasSuffix(suffix.text, endingAt: end) { found = at }
            } else if !s.hasSuffix(",high", endingAt: end) && !s.hasSuffix(",low", endingAt: end) {
                found = at
            }
            p = s.find("crashkernel=", from: at + 1)
        }
        return found
    }

    /// Linux: parse_crashkernel_simple(): size[@offset].
    static func parseSimple(_ s: CString, _ at: Int, log: inout KernelLog) -> CrashkernelParse {
        let (size, n) = s.memparse(at)
        if n == 0 {
            log.info("crashkernel: memory value expected")
            return .invalid
        }
        let cur = at + n
        if s[cur] == 0x40 { return .parsed(size: size, base: s.memparse(cur + 1).value) }
        if s[cur] != 0x20 && s[cur] != 0 {
            log.info("crashkernel: unrecognized char: \(s.character(cur))")
            return .invalid
        }
        return .parsed(size: size, base: 0)
    }

    /// Linux: parse_crashkernel_suffix(): size,high or size,low.
    static func parseSuffix(_ s: CString, _ at: Int, _ suffix: CrashkernelSuffix,
                            log: inout KernelLog) -> CrashkernelParse {
        let (size, n) = s.memparse(at)
        if n == 0 {
            log.info("crashkernel: memory value expected")
            return .invalid
        }
        var cur = at + n
        guard s.hasPrefix(suffix.text, at: cur) else {
            log.info("crashkernel: unrecognized char: \(s.character(cur))")
            return .invalid
        }
        cur += suffix.text.utf8.count
        if s[cur] != 0x20 && s[cur] != 0 {
            log.info("crashkernel: unrecognized char: \(s.character(cur))")
            return .invalid
        }
        return .parsed(size: size, base: 0)
    }

    /// Linux: parse_crashkernel_mem(): start-[end]:size[,start-[end]:size…][@offset]. The
    /// machine's memory is rounded up to 128 MiB first (firmware keeps a little for itself),
    /// and the first range holding it gives the size.
    static func parseRanges(_ s: CString, _ at: Int, systemRAM: UInt64, log: inout KernelLog) -> CrashkernelParse {
        let totalMem = roundUp(systemRAM, 128 * SZ_1M)
        var cur = at
        var size: UInt64 = 0
        while true {
            let (start, n1) = s.memparse(cur)
            if n1 == 0 { log.info("crashkernel: Memory value expected"); return .invalid }
            cur += n1
            if s[cur] != 0x2d { log.info("crashkernel: '-' expected"); return .invalid }
            cur += 1
            var end = UInt64.max
            if s[cur] != 0x3a {
                let (e, n2) = s.memparse(cur)
                if n2 == 0 { log.info("crashkernel: Memory value expected"); return .invalid }
                cur += n2
                if e <= start { log.info("crashkernel: end <= start"); return .invalid }
                end = e
            }
            if s[cur] != 0x3a { log.info("crashkernel: ':' expected"); return .invalid }
            cur += 1
            let (sz, n3) = s.memparse(cur)
            if n3 == 0 { log.info("Memory value expected"); return .invalid }
            cur += n3
            if sz >= totalMem { log.info("crashkernel: invalid size"); return .invalid }
            if totalMem >= start && totalMem < end { size = sz; break }
            let sep = s[cur]
            cur += 1
            if sep != 0x2c { break }
        }
        guard size > 0 else {
            log.info("crashkernel size resulted in zero bytes")
            return .parsed(size: 0, base: 0)
        }
        while s[cur] != 0 && s[cur] != 0x20 && s[cur] != 0x40 { cur += 1 }
        guard s[cur] == 0x40 else { return .parsed(size: size, base: 0) }
        let (base, n) = s.memparse(cur + 1)
        if n == 0 { log.info("Memory value expected after '@'"); return .invalid }
        return .parsed(size: size, base: base)
    }
}

/// A command line as the C parsers see it: bytes followed by NUL, so that reading one past
/// the end reads 0 as `*cur` would.
struct CString {
    let bytes: [UInt8]
    /// (A NUL ends the string, as it does for the kernel.)
    init(_ text: String) { bytes = Array(text.utf8.prefix { $0 != 0 }) }
    var count: Int { bytes.count }
    subscript(_ i: Int) -> UInt8 { i >= 0 && i < bytes.count ? bytes[i] : 0 }

    /// Linux: strchr() from `from` (nil when absent).
    func find(_ byte: UInt8, from: Int) -> Int? {
        var i = from
        while i < bytes.count { if bytes[i] == byte { return i }; i += 1 }
        return nil
    }

    /// Linux: strstr() from `from`.
    func find(_ needle: String, from: Int) -> Int? {
        let n = Array(needle.utf8)
        var i = Swift.max(from, 0)
        while i + n.count <= bytes.count {
            if hasPrefix(n, at: i) { return i }
            i += 1
        }
        return nil
    }

    func hasPrefix(_ text: String, at i: Int) -> Bool { hasPrefix(Array(text.utf8), at: i) }
    func hasPrefix(_ n: [UInt8], at i: Int) -> Bool {
        guard i >= 0, i + n.count <= bytes.count else { return false }
        for k in 0..<n.count where bytes[i + k] != n[k] { return false }
        return true
    }

    /// Whether the text ending at `end` (exclusive) ends with `text`.
    func hasSuffix(_ text: String, endingAt end: Int) -> Bool {
        hasPrefix(text, at: end - text.utf8.count)
    }

    /// Linux: memparse() at `i`: the value and how many bytes it took (0: no number there).
    func memparse(_ i: Int) -> (value: UInt64, consumed: Int) {
        guard i < bytes.count else { return (0, 0) }
        return MMCore.memparse(bytes[i...])
    }

    /// The byte as `%c` prints it.
    func character(_ i: Int) -> String { String(decoding: [self[i]].filter { $0 != 0 }, as: UTF8.self) }
}
