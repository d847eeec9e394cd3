// The simulated kernel's log buffer: what `dmesg` would print, in order.
//
// Linux: kernel/printk/printk.c. kmemlab keeps the text of each record; timestamps are not modelled
// (every record renders as "[    0.000000] "), so comparisons with real logs strip them.
// pr_cont continuations are joined into their record, as the kernel does when it prints them.
// kernel/panic.c — tainted_mask, print_tainted(), the oops counter; include/asm-generic/bug.h —
// WARN(). The log carries them because every report prints them, and every subsystem that
// reports (the page allocator's Bad page state, SLUB's BUG lines) is handed the log.

public struct KernelLog: Sendable {
    public private(set) var lines: [String] = []
    /// When false, nothing is recorded (a caller that only wants the state, not the text).
    public var enabled: Bool = true

    /// Linux: tainted_mask.
    public var taint: UInt32 = 0
    /// Oopses so far (the "[#N]" of an oops line).
    public private(set) var oopsCount = 0

    /// Linux: TAINT_BAD_PAGE, TAINT_DIE, TAINT_WARN as bits of tainted_mask.
    public static let taintBadPage: UInt32 = 1 << 5
    public static let taintDie: UInt32 = 1 << 7
    public static let taintWarn: UInt32 = 1 << 9

    public init() {}

    /// The number the next oops prints.
    public mutating func nextOops() -> Int { oopsCount += 1; return oopsCount }

    /// Linux: print_tainted().
    public var taintText: String {
        if taint == 0 { return "Not tainted" }
        let chars: [(Character, Character)] = [("P", "G"), ("F", " "), ("S", " "), ("R", " "), ("M", " "), ("B", " "),
                                                ("U", " "), ("D", " "), ("A", " "), ("W", " "), ("C", " "), ("I", " "),
                                                ("O", " "), ("E", " "), ("L", " "), ("K", " "), ("X", " "), ("T", " "), ("N", " ")]
        var s = "Tainted: "
        for (i, c) in chars.enumerated() { s.append(taint & (1 << UInt32(i)) != 0 ? c.0 : c.1) }
        return s
    }

    /// Linux: WARN() / WARN_ON_ONCE() — the cut line, WARN()'s message, and the WARNING line
    /// (the register dump and call trace that follow are not modelled; the function has no
    /// +offset/size because the model has no code addresses). Taints with W.
    public mutating func warn(file: String, line: Int, function: String, cpu: Int = 0, pid: Int = 0,
                              message: String? = nil) {
        info("------------[ cut here ]------------")
        if let message { info(message) }
        info("WARNING: CPU: \(cpu) PID: \(pid) at \(file):\(line) \(function)")
        taint |= KernelLog.taintWarn
    }

    /// Records a line. The text is built only when the log is enabled: a boot that only wants
    /// the state (the 4 PiB benchmark, a trial boot) formats nothing.
    public mutating func info(_ line: @autoclosure () -> String) {
        if enabled { lines.append(line()) }
    }

    /// The records in dmesg's format.
    public func rendered() -> [String] {
        lines.map { "[    0.000000] " + $0 }
    }
}
