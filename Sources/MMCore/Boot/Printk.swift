// The log buffer's memory: `log_buf_len=` makes setup_arch() take a bigger ring from memblock.
//
// Linux: kernel/printk/printk.c — log_buf_len_setup(), log_buf_len_update(), log_buf_add_cpu(),
//        setup_log_buf(); kernel/printk/printk_ringbuffer.h (prb_desc, printk_info).
// Exact: the three allocations (text, descriptors, infos), their sizes, order and lines.
// Simplified: "early log buf free" is computed from kmemlab's own log, which leaves out most of the
// kernel's non-memory messages, so its number is larger than the kernel's.

extension Kernel {
    /// Linux: __LOG_BUF_LEN = 1 << CONFIG_LOG_BUF_SHIFT (17 in Debian's build).
    static let staticLogBufLen: UInt64 = 1 << 17
    /// Linux: __LOG_CPU_MAX_BUF_LEN = 1 << CONFIG_LOG_CPU_MAX_BUF_SHIFT (12).
    static let logCPUMaxBufLen: UInt64 = 1 << 12
    /// Linux: PRB_AVGBITS — one descriptor per 32 bytes of text.
    static let prbAvgBits: UInt64 = 5
    /// sizeof(struct prb_desc), sizeof(struct printk_info) on x86-64.
    static let prbDescSize: UInt64 = 24
    static let printkInfoSize: UInt64 = 88

    /// Linux: roundup_pow_of_two().
    static func roundupPowOfTwo(_ x: UInt64) -> UInt64 {
        if x > 1 << 63 { return 0 }  // (1UL << 64 wraps to 0)
        var r: UInt64 = 1
        while r < x { r <<= 1 }
        return r
    }

    /// Linux: new_log_buf_len from `log_buf_len=` (log_buf_len_update(): capped at 2 GiB, rounded
    /// up to a power of two, ignored unless larger than the static buffer).
    mutating func requestedLogBufLen() -> UInt64 {
        guard let v = commandLine.last("log_buf_len"), !v.isEmpty else { return 0 }
        var size = memparse(Array(v.utf8)[...]).value
        if size > 1 << 31 { size = 1 << 31; log.info("log_buf over 2G is not supported.") }
        if size != 0 { size = Kernel.roundupPowOfTwo(size) }
        return size > Kernel.staticLogBufLen ? size : 0
    }

    /// Linux: setup_log_buf(). The early call (from setup_arch) acts only on `log_buf_len=`; the
    /// late one (after the per-cpu areas) also grows the buffer for machines with many CPUs.
    mutating func setupLogBuf(early: Bool) {
        guard logBufLen == Kernel.staticLogBufLen else { return }
        var newLen = requestedLogBufLen()
        if !early && newLen == 0 {
            let possible = UInt64(machine.cpus.possible)
            if possible > 1 {
                let extra = (possible - 1) * Kernel.logCPUMaxBufLen
                if extra > Kernel.staticLogBufLen / 2 {
                    log.info("printk: log_buf_len individual max cpu contribution: \(Kernel.logCPUMaxBufLen) bytes")
                    log.info("printk: log_buf_len total cpu_extra contributions: \(extra) bytes")
                    log.info("printk: log_buf_len min size: \(Kernel.staticLogBufLen) bytes")
                    newLen = Kernel.roundupPowOfTwo(extra + Kernel.staticLogBufLen)
                }
            }
        }
        guard newLen != 0 else { return }
        let descs = newLen >> Kernel.prbAvgBits
        let caller = ["setup_log_buf+0x112/0x337", "setup_log_buf+0x152/0x337", "setup_log_buf+0x18c/0x337"]
        let text = memblock.allocTryNid(size: newLen, align: 8, caller: Caller(caller[0]), log: &log)
        if text == 0 { log.info("printk: log_buf_len: \(newLen) text bytes not available"); return }
        let d = memblock.allocTryNid(size: descs * Kernel.prbDescSize, align: 8, caller: Caller(caller[1]), log: &log)
        if d == 0 {
            log.info("printk: log_buf_len: \(descs * Kernel.prbDescSize) desc bytes not available")
            memblock.physFree(text, newLen, caller: Caller("setup_log_buf+0x30f/0x337"), log: &log)
            return
        }
        let i = memblock.allocTryNid(size: descs * Kernel.printkInfoSize, align: 8, caller: Caller(caller[2]), log: &log)
        if i == 0 {
            log.info("printk: log_buf_len: \(descs * Kernel.printkInfoSize) info bytes not available")
            memblock.physFree(d, descs * Kernel.prbDescSize, caller: Caller("setup_log_buf+0x1b2/0x337"), log: &log)
            memblock.physFree(text, newLen, caller: Caller("setup_log_buf+0x30f/0x337"), log: &log)
            return
        }
        logBufLen = newLen
        // What the static buffer held: each record's text (kmemlab's records, not the kernel's).
        var used: UInt64 = 0
        for l in log.lines { used += UInt64(l.utf8.count) }
        let free = used > Kernel.staticLogBufLen ? 0 : Kernel.staticLogBufLen - used
        log.info("printk: log_buf_len: \(newLen) bytes")
        log.info("printk: early log buf free: \(free)(\(free * 100 / Kernel.staticLogBufLen)%)")
    }
}

extension Kernel {
    /// Linux: WARN() (KernelLog.warn).
    mutating func warnOnce(file: String, line: Int, function: String, cpu: Int = 0, pid: Int = 0, message: String? = nil) {
        log.warn(file: file, line: line, function: function, cpu: cpu, pid: pid, message: message)
    }
}
