// An address space without a boot: where mmap puts things, what merges and splits, how brk,
// mprotect and mremap answer, and the errors Linux returns.

import MMCore
import Testing

@Suite("process: the address space (mm_struct, VMAs)")
struct MMStructTests {
    static let rw: Prot = .readWrite
    var none: [VMA] = []

    @Test("mmap_base with ASLR off is 128 MiB below TASK_SIZE; mappings go top-down and merge")
    func topDown() throws {
        var mm = MMStruct()
        var gone: [VMA] = []
        #expect(mm.mmapBase == 0x7fff_f7ff_f000)
        let a = try mm.mmap(addr: 0, length: 8192, prot: Self.rw, flags: .privateAnonymous, unmapped: &gone)
        let b = try mm.mmap(addr: 0, length: 5000, prot: Self.rw, flags: .privateAnonymous, unmapped: &gone)
        #expect(a == 0x7fff_f7ff_d000)
        #expect(b == a - 0x2000)
        #expect(mm.vmas.count == 1, "adjacent anonymous areas with equal flags are one")
        #expect(mm.vmas[0].start == b && mm.vmas[0].end == 0x7fff_f7ff_f000)
        let c = try mm.mmap(addr: 0, length: 4096, prot: .read, flags: .privateAnonymous, unmapped: &gone)
        #expect(c == b - 0x1000 && mm.vmas.count == 2, "other protections do not merge")
        #expect(mm.totalVM == 5 && mm.dataVM == 4)
        #expect(mm.check())
    }

    @Test("munmap in the middle splits; mprotect splits and merges back")
    func splitMerge() throws {
        var mm = MMStruct()
        var gone: [VMA] = []
        let a = try mm.mmap(addr: 0, length: 10 << 12, prot: Self.rw, flags: .privateAnonymous, unmapped: &gone)
        try mm.munmap(addr: a + 0x3000, length: 0x2000, unmapped: &gone)
        #expect(mm.vmas.count == 2 && gone.count == 1 && gone[0].pages == 2)
        #expect(mm.vmas[1].pgoff == (a + 0x5000) >> 12, "the tail continues the head's offset")
        try mm.mprotect(addr: a + 0x6000, length: 0x1000, prot: .read)
        #expect(mm.vmas.count == 4)
        try mm.mprotect(addr: a + 0x6000, length: 0x1000, prot: Self.rw)
        #expect(mm.vmas.count == 2, "the same flags again: merged")
        #expect(throws: Errno.ENOMEM) { try mm.mprotect(addr: a, length: 0x6000, prot: .read) }
        #expect(throws: Errno.EINVAL) { try mm.munmap(addr: a + 1, length: 4096, unmapped: &gone) }
        #expect(throws: Errno.EINVAL) { try mm.munmap(addr: a, length: 0, unmapped: &gone) }
        #expect(throws: Errno.EINVAL) { try mm.mmap(addr: 0, length: 0, prot: Self.rw, flags: .privateAnonymous, unmapped: &gone) }
        #expect(throws: Errno.EINVAL) { try mm.mmap(addr: 0, length: 1, prot: Self.rw, flags: .anonymous, unmapped: &gone) }
        #expect(mm.check())
    }

    @Test("brk grows its own area, shrinks it, and refuses below start_brk")
    func brk() {
        var mm = MMStruct()
        var gone: [VMA] = []
        mm.startBrk = 0x5555_5555_9000
        mm.brk = mm.startBrk
        #expect(mm.setBrk(0x5555_5557_a000, unmapped: &gone) == 0x5555_5557_a000)
        #expect(mm.setBrk(0x5555_5559_b000, unmapped: &gone) == 0x5555_5559_b000)
        #expect(mm.vmas.count == 1 && mm.vmas[0].pages == 0x42)
        #expect(mm.setBrk(0x5555_5556_0000, unmapped: &gone) == 0x5555_5556_0000)
        #expect(mm.vmas[0].end == 0x5555_5556_0000 && gone.count == 1)
        #expect(mm.setBrk(0x1000, unmapped: &gone) == 0x5555_5556_0000, "below start_brk: the old break")
        #expect(mm.setBrk(0x5555_5556_0123, unmapped: &gone) == 0x5555_5556_0123)
        #expect(mm.vmas[0].end == 0x5555_5556_1000)
    }

    @Test("mremap grows in place when the space after is free, else moves with MREMAP_MAYMOVE")
    func mremap() throws {
        var mm = MMStruct()
        var gone: [VMA] = []
        let a = try mm.mmap(addr: 0, length: 0x4000, prot: Self.rw, flags: .privateAnonymous, unmapped: &gone)
        // Nothing stops growth past mmap_base but another area: put one right after.
        let blocker = try mm.mmap(addr: a + 0x4000, length: 0x1000, prot: .read, flags: .privateAnonymous, unmapped: &gone)
        #expect(blocker == a + 0x4000)
        let b = try mm.mremap(addr: a, oldLength: 0x4000, newLength: 0x8000, flags: .mayMove, unmapped: &gone)
        #expect(b == a - 0x8000, "the top of the space is taken: moved below")
        #expect(mm.vmas.count == 2 && mm.vmas[0].pgoff == a >> 12, "a moved area keeps its offset")
        let c = try mm.mremap(addr: b, oldLength: 0x8000, newLength: 0xc000, flags: .mayMove, unmapped: &gone)
        #expect(c == b, "the old place is free now: grown in place")
        #expect(throws: Errno.ENOMEM) {
            _ = try mm.mremap(addr: c, oldLength: 0xc000, newLength: 0x100000, flags: [], unmapped: &gone)
        }
        #expect(throws: Errno.EFAULT) { _ = try mm.mremap(addr: 0x1000, oldLength: 0x1000, newLength: 0x2000, flags: .mayMove, unmapped: &gone) }
        #expect(mm.check())
    }

    @Test("a hint is taken when free; MAP_FIXED replaces; MAP_FIXED_NOREPLACE refuses")
    func hints() throws {
        var mm = MMStruct()
        var gone: [VMA] = []
        let a = try mm.mmap(addr: 0x1000_0000, length: 0x3000, prot: Self.rw, flags: .privateAnonymous, unmapped: &gone)
        #expect(a == 0x1000_0000)
        let b = try mm.mmap(addr: 0x1000_1000, length: 0x1000, prot: .read, flags: [.private, .anonymous, .fixed], unmapped: &gone)
        #expect(b == 0x1000_1000 && gone.count == 1 && mm.vmas.count == 3)
        #expect(throws: Errno.EEXIST) {
            _ = try mm.mmap(addr: 0x1000_0000, length: 0x1000, prot: Self.rw, flags: [.private, .anonymous, .fixedNoReplace], unmapped: &gone)
        }
        let c = try mm.mmap(addr: 0x1000_0000, length: 0x1000, prot: Self.rw, flags: .privateAnonymous, unmapped: &gone)
        #expect(c != 0x1000_0000, "a hint that is taken is ignored")
    }
}

@Suite("glibc: malloc in a process without a kernel")
struct GlibcSmallWorldTests {
    @Test("first malloc: brk(NULL), then the tcache's 656-byte chunk plus 24 bytes from one 132 KiB brk")
    func first() {
        var p = UserProcess(pid: 1, comm: "t")
        p.task.recording = true
        let m = p.libc.malloc(24, &p.task)
        #expect(m == UserProcess.defaultBrk + 0x290 + 16)
        #expect(p.task.syscalls == [.brk(addr: 0, result: 0x5555_5555_9000), .brk(addr: 0x5555_5557_a000, result: 0x5555_5557_a000)])
        let info = p.libc.mallinfo2()
        #expect(info.arena == 0x21000 && info.keepcost == 0x21000 - 0x290 - 0x20 && info.uordblks == 0x2b0)
    }

    @Test("200 KiB is mmapped (208896 bytes); freeing it raises the threshold, so the next is brk")
    func threshold() throws {
        var p = UserProcess(pid: 1, comm: "t")
        p.task.recording = true
        let a = p.libc.malloc(200 << 10, &p.task)
        try p.libc.free(a, &p.task)
        #expect(p.libc.mmapThreshold == 208896 && p.libc.trimThreshold == 2 * 208896)
        p.task.clearRecord()
        _ = p.libc.malloc(200 << 10, &p.task)
        guard case .brk = p.task.syscalls.first else { Issue.record("\(p.task.syscalls)"); return }
        #expect(throws: MallocAbort.freeInvalidPointer) { try p.libc.free(0x1234_5670, &p.task) }
    }
}
