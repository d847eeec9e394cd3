// Boolean boot parameters as Linux's kstrtobool() reads them.

import MMCore
import Testing

@Suite("boolean parameters")
struct CommandLineBoolTests {
    @Test("kstrtobool's spellings; refused values leave the default or the last valid one",
          arguments: [("init_on_alloc=0", false), ("init_on_alloc=N", false), ("init_on_alloc=off", false),
                      ("init_on_alloc=Off", false), ("init_on_alloc=yes", true), ("init_on_alloc=banana", true),
                      ("init_on_alloc", true), ("init_on_alloc=", true), ("init_on_alloc=0 init_on_alloc=x", false),
                      ("init_on_alloc=o", true)])
    func spellings(_ line: String, _ expected: Bool) {
        #expect(KernelCommandLine(line).bool("init_on_alloc", default: true) == expected)
    }
}
