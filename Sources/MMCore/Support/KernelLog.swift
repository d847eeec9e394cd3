// The simulated kernel's log buffer: what `dmesg` would print, in order.
//
// Linux: kernel/printk/printk.c. kmemlab keeps the text of each record; timestamps are not modelled
// (every record renders as "[    0.000000] "), so comparisons with real logs strip them.
// pr_cont continuations are joined into their record, as the kernel does when it prints them.

public struct KernelLog: Sendable {
    public private(set) var lines: [String] = []
    /// When false, nothing is recorded (a caller that only wants the state, not the text).
    public var enabled: Bool = true

    public init() {}

    public mutating func info(_ line: String) {
        if enabled { lines.append(line) }
    }

    /// The records in dmesg's format.
    public func rendered() -> [String] {
        lines.map { "[    0.000000] " + $0 }
    }
}
