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
