// What every fuzz target shares: the input as text, and a small machine to boot.

@_exported import MMCore
@_exported import MMText

/// libFuzzer's input as a String (invalid UTF-8 becomes replacement characters, as a file
/// read by kmemlab would).
public func text(_ data: UnsafePointer<UInt8>?, _ count: Int) -> String {
    guard let data, count > 0 else { return "" }
    return String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self)
}

/// A QEMU pc with 256 MiB and 2 CPUs: small enough to boot hundreds of times a second.
public let smallMachine = QEMUPreset(type: .pc, memBytes: 256 << 20, cpus: 2).machine()

/// Boots `machine`; a panic is an answer, not a failure.
public func boot(_ machine: Machine) -> Kernel {
    var k = Kernel(machine: machine)
    do { try k.boot() } catch {}
    return k
}

/// libFuzzer's driver (libclang_rt.fuzzer). SwiftPM links each executable target's main as
/// `<Target>_main`; each target defines that and hands its test function to the driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                      _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, test)
}

/// A web API request as the fuzz targets write it: query parameters on the first line
/// (name=value pairs joined by &), the body after it.
public func request(_ data: UnsafePointer<UInt8>?, _ count: Int) -> (query: [String: String], body: String) {
    let lines = text(data, count).split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    var query: [String: String] = [:]
    for pair in (lines.first ?? "").split(separator: "&") {
        let kv = pair.split(separator: "=", maxSplits: 1)
        if kv.count == 2 { query[String(kv[0])] = String(kv[1]) }
    }
    return (query, lines.count > 1 ? String(lines[1]) : "")
}

/// The input's lines by their bytes, numbered from 1, as `kmemlab replay` reads a file
/// (TraceFile.forEachLine).
public func forEachTraceLine(_ data: UnsafePointer<UInt8>?, _ count: Int, _ body: (TraceLine, Int) -> Void) {
    let bytes = UnsafeBufferPointer(start: data, count: data == nil ? 0 : count)
    var start = 0, number = 0
    while start <= bytes.count {
        var end = start
        while end < bytes.count, bytes[end] != 0x0a { end += 1 }
        number += 1
        body(TraceLine(bytes: UnsafeBufferPointer(rebasing: bytes[start..<end])), number)
        start = end + 1
    }
}

/// Each line of the input as a shell command (at most 64) on `shell`.
public func runShellLines(_ shell: inout AllocShell, _ data: UnsafePointer<UInt8>?, _ count: Int) {
    for (i, line) in text(data, count).split(separator: "\n").prefix(64).enumerated() {
        _ = try? shell.run(String(line), line: i + 1)
    }
}
