// crashkernel= as kernel/crash_core.c parses it: every form, the last of each kind winning, and
// the kernel's warning for each malformed one.

import MMCore
import Testing

@Suite("crashkernel= parsing")
struct CrashkernelParseTests {
    func parse(_ cmdline: String, ram: UInt64 = 4 << 30, _ suffix: CrashkernelSuffix? = nil) -> (CrashkernelParse, [String]) {
        var log = KernelLog()
        let r = Kernel.parseCrashkernel(cmdline, systemRAM: ram, suffix: suffix, log: &log)
        return (r, log.lines)
    }

    @Test("size and size@offset")
    func simple() {
        #expect(parse("ro crashkernel=256M quiet").0 == .parsed(size: 256 << 20, base: 0))
        #expect(parse("crashkernel=128M@0x20000000").0 == .parsed(size: 128 << 20, base: 0x2000_0000))
        #expect(parse("crashkernel=64M@1M").0 == .parsed(size: 64 << 20, base: 1 << 20))
        // The last one wins; the ",high"/",low" ones are not of this kind.
        #expect(parse("crashkernel=64M crashkernel=1G,high crashkernel=96M").0 == .parsed(size: 96 << 20, base: 0))
        #expect(parse("crashkernel=1G,high crashkernel=96M,low").0 == .absent)
        #expect(parse("quiet").0 == .absent)
    }

    @Test("ranges: the first holding the memory rounded up to 128 MiB")
    func ranges() {
        let list = "crashkernel=1G-2G:64M,2G-64G:192M"
        #expect(parse(list, ram: 4095 << 20).0 == .parsed(size: 192 << 20, base: 0))
        #expect(parse(list, ram: 2047 << 20).0 == .parsed(size: 192 << 20, base: 0))  // rounds up to 2G
        #expect(parse(list, ram: 1900 << 20).0 == .parsed(size: 64 << 20, base: 0))
        #expect(parse("crashkernel=512M-:160M@256M", ram: 3 << 30).0 == .parsed(size: 160 << 20, base: 256 << 20))
        // The offset is found past any later ranges.
        #expect(parse("crashkernel=1G-2G:64M,2G-:128M@16M", ram: 1500 << 20).0 == .parsed(size: 64 << 20, base: 16 << 20))
        let (none, lines) = parse(list, ram: 512 << 20)
        #expect(none == .parsed(size: 0, base: 0))
        #expect(lines == ["crashkernel size resulted in zero bytes"])
    }

    @Test("the suffix forms")
    func suffixes() {
        #expect(parse("crashkernel=1G,high crashkernel=96M,low", .high).0 == .parsed(size: 1 << 30, base: 0))
        #expect(parse("crashkernel=1G,high crashkernel=96M,low", .low).0 == .parsed(size: 96 << 20, base: 0))
        #expect(parse("crashkernel=0,low", .low).0 == .parsed(size: 0, base: 0))
        #expect(parse("crashkernel=256M", .high).0 == .absent)
    }

    @Test("malformed forms get the kernel's warning", arguments: [
        ("crashkernel=abc", "crashkernel: memory value expected"),
        ("crashkernel=256Mx", "crashkernel: unrecognized char: x"),
        ("crashkernel=2G-1G:64M", "crashkernel: end <= start"),
        ("crashkernel=1G:64M", "crashkernel: '-' expected"),
        ("crashkernel=-2G:64M", "crashkernel: Memory value expected"),
        ("crashkernel=1G-2G;64M:", "crashkernel: ':' expected"),
        ("crashkernel=1G-2G:x", "Memory value expected"),
        ("crashkernel=1G-:8G", "crashkernel: invalid size"),
        ("crashkernel=1G-:64M@x", "Memory value expected after '@'"),
    ])
    func malformed(_ cmdline: String, _ warning: String) {
        let (r, lines) = parse(cmdline)
        #expect(r == .invalid)
        #expect(lines == [warning])
    }

    @Test("a NUL ends the command line, as for the kernel")
    func nul() {
        #expect(parse("quiet\u{0}crashkernel=256M").0 == .absent)
    }

    @Test("a malformed suffix form")
    func malformedSuffix() {
        let (r, lines) = parse("crashkernel=xyz,high", .high)
        #expect(r == .invalid)
        #expect(lines == ["crashkernel: memory value expected"])
    }
}
