// Which builds check the model's invariants on every mutation: debug builds (Package.swift
// defines MMCORE_CHECKS for MMCore there) and the release run .ci/run makes with
// -DMMCORE_CHECKS; a plain release build compiles the checks away.

@testable import MMCore
import Testing

@Suite("invariant checks compiled in where the build asks")
struct ChecksBuildTests {
    @Test("mmChecksEnabled is on in debug and in the checked release run, off in a plain release")
    func checksFollowTheBuild() {
        #if DEBUG || MMCORE_CHECKS
        #expect(mmChecksEnabled)
        #else
        #expect(!mmChecksEnabled)
        #endif
    }
}

@Suite("a broken invariant stops a checked build")
struct ChecksFireTests {
    @Test("deleting a block that is not on a free list trips del_page_from_free_list()'s check",
          .enabled(if: mmChecksEnabled))
    func listCheckFires() async {
        await #expect(processExitsWith: .failure) {
            let slot = ZoneID(nid: 0, .normal)
            var mm = Memmap(endPfn: Pfn(64), zones: [(start: Pfn(0), end: Pfn(64), slot: slot)])
            var z = Zone(type: .normal, nid: 0)
            z.delFromFreeList(Pfn(8), order: 3, &mm)
        }
    }
}
