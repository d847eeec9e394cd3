// "Unknown kernel command line parameters …": which parameters the kernel did not know.

import Foundation
import MMCore
import MMText
import KmemlabTestSupport
import Testing

@Suite("unknown kernel parameters")
struct UnknownParamsTests {
    static func line(_ lines: [String]) -> String? {
        lines.first { $0.hasPrefix("Unknown kernel command line parameters") }
    }

    @Test("QEMU oracle cases", arguments: Fixtures.caseNames)
    func oracle(_ name: String) throws {
        let path = Fixtures.casePath(name, "dmesg.txt")
        let text = Fixtures.text(path)
        let machine = try DmesgParser(fileName: path).parse(text)
        #expect(Self.line(bootLines(machine)) == Self.line(Fixtures.messages(text)))
    }

    /// Kernels before Debian's 6.1.192 also listed the boot loader's BOOT_IMAGE= (a later fix
    /// drops it); the comparison leaves that word out. Only 6.1 logs are compared: other
    /// versions know other parameters.
    @Test("6.1 hardware logs", arguments: Fixtures.hardwareLogs.filter { $0.contains("-6.1") })
    func hardware(_ name: String) throws {
        let path = Fixtures.hardwarePath(name)
        let text = Fixtures.text(path)
        let machine = try DmesgParser(fileName: path).parse(text)
        func words(_ l: String?) -> [String] {
            guard let l, let open = l.firstIndex(of: "\""), let close = l.lastIndex(of: "\"") else { return [] }
            return l[l.index(after: open)..<close].split(separator: " ").map(String.init).filter { !$0.hasPrefix("BOOT_IMAGE=") }
        }
        let expected = words(Self.line(Fixtures.messages(text))).filter { !(Self.otherConfig[name] ?? []).contains($0) }
        #expect(words(Self.line(bootLines(machine))) == expected)
    }

    /// Parameters another distribution's kernel did not know because its configuration leaves the
    /// code out, while Debian's 6.1 (the kernel kmemlab models) builds it.
    static let otherConfig: [String: [String]] = [
        "desk-06-6.1.txt": ["audit=0"],  // OpenMandriva 6.1.1: CONFIG_AUDIT off; Debian: on
        "desk-09-6.1.txt": ["audit=0"],
    ]
}
