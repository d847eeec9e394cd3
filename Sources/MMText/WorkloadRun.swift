// Running a workload: processes, their variables, and what strace and the console would show.

import MMCore

extension MallocAbort {
    /// The line glibc writes to stderr before it aborts (malloc_printerr()).
    public var message: String {
        switch self {
        case .freeInvalidPointer: return "free(): invalid pointer"
        case .freeInvalidSize: return "free(): invalid size"
        case .doubleFreeTcache: return "free(): double free detected in tcache 2"
        case .doubleFreeFasttop: return "double free or corruption (fasttop)"
        case .doubleFreeTop: return "double free or corruption (top)"
        case .doubleFreeOut: return "double free or corruption (out)"
        case .doubleFreeNotPrev: return "double free or corruption (!prev)"
        case .munmapChunkInvalidPointer: return "munmap_chunk(): invalid pointer"
        case .reallocInvalidPointer: return "realloc(): invalid pointer"
        case .mremapChunkInvalidPointer: return "mremap_chunk(): invalid pointer"
        }
    }
}

public struct WorkloadRunner: Sendable {
    public private(set) var processes: [UserProcess] = []
    var byName: [String: Int] = [:]
    var vars: [[String: (addr: UInt64, size: UInt64)]] = []
    var current: Int? = nil
    /// The thread the steps run in: 0 is the process's main thread.
    var currentThread = 0
    /// Threads by name: their process, index and stack.
    var threadsByName: [String: (process: Int, index: Int, stack: ThreadStacks.Stack?)] = [:]
    var threadCount: [Int: Int] = [:]
    /// Thread ids (the next free pid when the thread was created), by process and thread index.
    var tids: [Int: [Int: Int32]] = [:]
    var nextPid: Int32 = 1000
    var skipped: Set<Int> = []
    /// What the steps printed (show, glibc's messages, the kernel's segfault lines).
    public var output: [String] = []
    /// The memory system calls, as `strace -f -e trace=memory` prints them.
    public var strace: [String] = []
    public var recordSyscalls: Bool
    /// Steps run so far (a loop's round and a touched page count as one each), against
    /// `maxSteps` (100 million unless set).
    public private(set) var steps = 0
    public var maxSteps = 20_000_000
    /// PID_MAX_LIMIT on 64-bit: pids (and thread ids) stay below it.
    public static let pidMax: Int32 = 4_194_304
    var file = ""

    /// The machine the processes run on; without one, only the system calls are modelled
    /// (no pages, no faults).
    public var kernel: Kernel?
    public var faults = FaultContext()
    /// Place 2 MiB-multiple anonymous mappings on 2 MiB boundaries, as kernels since 6.7 do
    /// (MMStruct.thpAlignAnonymous); off for 6.1.
    public var thpAlignAnonymous = false
    /// The CPUs glibc sees (its arena limit); nil: the machine's, or 1 without one.
    public var nprocs: Int? = nil
    /// The path of the last step, when the script explains.
    var path: [String] = []
    var explaining = false

    public init(kernel: Kernel? = nil, recordSyscalls: Bool = false) {
        self.kernel = kernel
        self.recordSyscalls = recordSyscalls
    }

    public mutating func run(_ w: Workload) throws(InputError) {
        file = w.file
        explaining = w.explains
        var env: [String: UInt64] = [:]
        try exec(w.lines, &env)
    }

    /// Every process still running exits (status 0).
    public mutating func finish() {
        for i in processes.indices where processes[i].exitStatus == nil {
            processes[i].exitStatus = 0
            release(i)
            if recordSyscalls { strace.append(Strace.pad("\(processes[i].pid)", 5) + " +++ exited with 0 +++") }
        }
    }

    mutating func exec(_ lines: [Workload.Line], _ env: inout [String: UInt64]) throws(InputError) {
        for l in lines {
            if case let .repeatBlock(count, v, body) = l.step {
                let n = try eval(count, env, l)
                let saved = env[v]
                for k in 0..<n {
                    // Each round counts as a step, so an empty loop cannot run forever.
                    steps += 1
                    if steps > maxSteps { throw InputError(file: file, line: l.number, field: "steps", "more than \(maxSteps) steps: stopped") }
                    env[v] = k
                    try exec(body, &env)
                }
                env[v] = saved
                continue
            }
            steps += 1
            if steps > maxSteps { throw InputError(file: file, line: l.number, field: "steps", "more than \(maxSteps) steps: stopped") }
            try step(l, env)
        }
    }

    func eval(_ e: Workload.Expr, _ env: [String: UInt64], _ l: Workload.Line) throws(InputError) -> UInt64 {
        switch e {
        case .number(let v): return v
        case .variable(let name):
            guard let v = env[name] else { throw InputError(file: file, line: l.number, field: "$" + name, "no loop defines it") }
            return v
        case let .binary(op, a, b):
            let x = try eval(a, env, l), y = try eval(b, env, l)
            let (r, o): (UInt64, Bool)
            switch op {
            case "+": (r, o) = x.addingReportingOverflow(y)
            case "-": (r, o) = x.subtractingReportingOverflow(y)
            default: (r, o) = x.multipliedReportingOverflow(by: y)
            }
            if o { throw InputError(file: file, line: l.number, field: l.text, "the expression leaves 0…2^64−1") }
            return r
        }
    }

    /// The id strace shows for the current thread: the pid for the main thread.
    var tid: Int32 {
        guard let i = current else { return 0 }
        return currentThread == 0 ? processes[i].pid : tids[i]?[currentThread] ?? processes[i].pid
    }

    /// A name with its loop variables filled in: `cc$n` in round 3 is `cc3`.
    func name(_ text: String, _ env: [String: UInt64], _ l: Workload.Line) throws(InputError) -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var chars = Substring(text)
        while let d = chars.firstIndex(of: "$") {
            out += chars[..<d]
            let rest = chars[chars.index(after: d)...]
            let v = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            guard !v.isEmpty, let value = env[String(v)] else {
                throw InputError(file: file, line: l.number, field: text, "$\(v) is not a loop variable here")
            }
            out += String(value)
            chars = rest.dropFirst(v.count)
        }
        return out + chars
    }

    func key(_ r: Workload.Ref, _ env: [String: UInt64], _ l: Workload.Line) throws(InputError) -> String {
        guard let i = r.index else { return r.name }
        return r.name + "[\(try eval(i, env, l))]"
    }

    // tidy: long — one case per step.
    mutating func step(_ l: Workload.Line, _ env: [String: UInt64]) throws(InputError) {
        switch l.step {
        case let .spawn(rawName, brk, pid):
            let name = try self.name(rawName, env, l)
            guard byName[name] == nil else { throw InputError(file: file, line: l.number, field: "spawn", "a process named \(name) exists") }
            let p = pid ?? nextPid
            guard p < Self.pidMax, nextPid < Self.pidMax else {
                throw InputError(file: file, line: l.number, field: "spawn", "no pid left below pid_max (\(Self.pidMax))")
            }
            nextPid = max(nextPid, p) + 1
            var proc = UserProcess(pid: p, comm: name, brk: brk ?? UserProcess.defaultBrk)
            proc.task.recording = recordSyscalls || explaining
            proc.libc.trackWrites = kernel != nil
            proc.libc.nprocs = nprocs ?? kernel?.onlineCPUs ?? 1
            proc.task.mm.thpAlignAnonymous = thpAlignAnonymous
            byName[name] = processes.count
            processes.append(proc)
            vars.append([:])
            current = processes.count - 1
            currentThread = 0
        case .use(let rawName):
            let name = try self.name(rawName, env, l)
            if let i = byName[name] {
                current = i
                currentThread = 0
            } else if let t = threadsByName[name] {
                current = t.process
                currentThread = t.index
            } else {
                throw InputError(file: file, line: l.number, field: "in", "no process or thread named \(name)")
            }
        case .repeatBlock:
            break
        case let .create(rawName, size, tmpfs):
            let name = try self.name(rawName, env, l)
            guard faults.pageCache.file(named: name) == nil else {
                throw InputError(file: file, line: l.number, field: "create", "a file named \(name) exists")
            }
            let bytes = try eval(size, env, l)
            guard bytes <= PageCache.maxFileSize else {
                throw InputError(file: file, line: l.number, field: "create", "\(bytes) bytes: past MAX_LFS_FILESIZE (2^63 − 1), EFBIG")
            }
            _ = faults.pageCache.create(name, size: bytes, tmpfs: tmpfs)
        case .sync:
            faults.pageCache.sync()
        case .dropCaches:
            if kernel != nil { faults.pageCache.dropCaches(cpu: faults.cpu, &kernel!) }
        case .show(let what) where what != "maps" && what != "status" && what != "smaps_rollup":
            // The machine's files need no process.
            output += machineFile(what)
        default:
            guard let i = current else { throw InputError(file: file, line: l.number, field: l.text, "no process: spawn one first") }
            // A process that has ended (a glibc abort, a segfault, exit) does no more steps,
            // as the program would not have reached them; that is said once.
            if let s = processes[i].exitStatus {
                if !skipped.contains(i) {
                    skipped.insert(i)
                    output.append("\(processes[i].comm)[\(processes[i].pid)] has ended (status \(s)); its steps from line \(l.number) on are skipped")
                }
                return
            }
            if case .explain = l.step {
                output += path.isEmpty ? ["(the previous step did nothing to explain)"] : FaultPathRecorder.group(path)
                return
            }
            path = []
            try processStep(i, l, env)
            if processes[i].libc.corrupted, processes[i].exitStatus == nil {
                var p = processes[i]
                output.append("\(p.comm)[\(p.pid)]: a free list loops back on itself (a double free glibc did not catch): glibc would loop forever here; the model stops the process")
                end(&p, 128 + 9)
                processes[i] = p
            }
            settle(i)
            drain(i)
        }
    }

    // tidy: long — one case per step.
    mutating func processStep(_ i: Int, _ l: Workload.Line, _ env: [String: UInt64]) throws(InputError) {
        var p = processes[i]
        defer { processes[i] = p }
        p.libc.switchThread(currentThread)
        switch l.step {
        case let .malloc(r, size):
            let k = try key(r, env, l)
            let s = try eval(size, env, l)
            vars[i][k] = (p.libc.malloc(s, &p.task), s)
        case let .calloc(r, n, size):
            let k = try key(r, env, l)
            let a = try eval(n, env, l), b = try eval(size, env, l)
            vars[i][k] = (p.libc.calloc(a, b, &p.task), a &* b)
        case let .memalign(r, align, size, kind):
            let k = try key(r, env, l)
            let a = try eval(align, env, l), b = try eval(size, env, l)
            switch kind {
            case "posix_memalign":
                let (err, m) = p.libc.posixMemalign(a, b, &p.task)
                if err == 0 { vars[i][k] = (m, b) } else { output.append("\(p.comm)[\(p.pid)]: posix_memalign(\(a), \(b)) = \(err == 22 ? "EINVAL" : "ENOMEM")") }
            case "pvalloc": vars[i][k] = (p.libc.pvalloc(b, &p.task), b)
            case "valloc": vars[i][k] = (p.libc.valloc(b, &p.task), b)
            default: vars[i][k] = (p.libc.memalign(a, b, &p.task), b)
            }
        case let .realloc(r, size):
            let k = try key(r, env, l)
            let s = try eval(size, env, l)
            let old = vars[i][k]?.addr ?? 0
            if old != 0, !headerMapped(p, old) { segfault(&p, old &- 8); return }
            do {
                let m = try p.libc.realloc(old, s, &p.task)
                if m != 0 || s == 0 { vars[i][k] = (m, s) }
            } catch { abort(&p, error) }
        case let .free(r):
            let k = try key(r, env, l)
            guard let v = vars[i][k] else { throw InputError(file: file, line: l.number, field: "free", "\(k) was never assigned") }
            if v.addr != 0, !headerMapped(p, v.addr) { segfault(&p, v.addr &- 8); return }
            do { try p.libc.free(v.addr, &p.task) } catch { abort(&p, error) }
        case let .mmap(r, size, prot, shared):
            let k = try key(r, env, l)
            let s = try eval(size, env, l)
            if shared {
                // shmem_zero_setup(): the area maps a tmpfs file of its own, "/dev/zero (deleted)".
                let f = faults.pageCache.create("dev/zero (deleted)", size: s, tmpfs: true)
                let fi = Int32(p.files.count)
                p.files.append(MappedFile(path: "/dev/zero (deleted)", major: 0, minor: 1, inode: 1000 + UInt64(f)))
                p.task.fileOf[fi] = f
                vars[i][k] = (p.task.mmap(0, s, prot, [.shared, .anonymous], backing: .file(fi)) ?? UInt64.max, s)
            } else {
                vars[i][k] = (p.task.mmap(0, s, prot, .privateAnonymous) ?? UInt64.max, s)
            }
        case let .mmapFile(r, rawName, off, len, prot, shared):
            let name = try self.name(rawName, env, l)
            let k = try key(r, env, l)
            guard let f = faults.pageCache.file(named: name) else {
                throw InputError(file: file, line: l.number, field: "mmap_file", "no file named \(name) (create it first)")
            }
            let o = try eval(off, env, l), n = try eval(len, env, l)
            let fi: Int32
            if let known = p.task.fileOf.first(where: { $0.value == f })?.key {
                fi = known
            } else {
                fi = Int32(p.files.count)
                p.files.append(MappedFile(path: "/mnt/" + name, major: 8, minor: 1, inode: 12 + UInt64(f)))
                p.task.fileOf[fi] = f
            }
            let flags: MapFlags = shared ? .shared : .private
            vars[i][k] = (p.task.mmap(0, n, prot, flags, backing: .file(fi), fd: 3, offset: o) ?? UInt64.max, n)
        case let .munmap(r):
            let k = try key(r, env, l)
            guard let v = vars[i][k] else { throw InputError(file: file, line: l.number, field: "munmap", "\(k) was never assigned") }
            p.task.munmap(v.addr, v.size)
        case let .mallopt(param, value):
            let v = try eval(value, env, l)
            _ = p.libc.mallopt(param, Int32(truncatingIfNeeded: v))
        case .mallocTrim(let pad):
            _ = p.libc.mallocTrim(try eval(pad, env, l), &p.task)
        case .mark:
            p.task.madvise(0, 0, .normal)
        case .mallinfo:
            let m = p.libc.mallinfo2()
            output.append("mallinfo \(m.arena) \(m.ordblks) \(m.smblks) \(m.hblks) \(m.hblkhd) \(m.fsmblks) \(m.uordblks) \(m.fordblks) \(m.keepcost) brk=0x\(String(p.task.mm.brk, radix: 16))")
        case let .touch(r, write, offset, length):
            let k = try key(r, env, l)
            guard let v = vars[i][k] else { throw InputError(file: file, line: l.number, field: "touch", "\(k) was never assigned") }
            let off = try offset.map { e throws(InputError) in try eval(e, env, l) } ?? 0
            let len = try length.map { e throws(InputError) in try eval(e, env, l) } ?? v.size
            let (from, o1) = v.addr.addingReportingOverflow(off)
            let (to, o2) = from.addingReportingOverflow(max(len, 1))
            if v.addr != 0, v.addr != UInt64.max, !o1, !o2 {
                var a = from & ~0xfff
                while a < to {
                    // Every page counts as a step: a touch of a terabyte stops at the limit.
                    steps += 1
                    if steps > maxSteps { throw InputError(file: file, line: l.number, field: "steps", "more than \(maxSteps) steps: stopped") }
                    if !fault(&p, max(a, from), write: write) { break }
                    let (next, wrapped) = a.addingReportingOverflow(4096)
                    if wrapped { break }
                    a = next
                }
            }
        case .fork(let rawName):
            let name = try self.name(rawName, env, l)
            guard byName[name] == nil, threadsByName[name] == nil else {
                throw InputError(file: file, line: l.number, field: "fork", "the name \(name) is taken")
            }
            guard nextPid < Self.pidMax else { throw InputError(file: file, line: l.number, field: "fork", "no pid left below pid_max (\(Self.pidMax))") }
            var child = p
            child.pid = nextPid
            nextPid += 1
            if kernel != nil {
                guard let t = p.task.fork(&faults, &kernel!) else {
                    output.append("\(p.comm)[\(p.pid)]: fork: ENOMEM")
                    break
                }
                child.task = t
            } else {
                child.task = TaskMemory(mm: p.task.mm)
                child.task.recording = p.task.recording
            }
            child.task.clearRecord()
            child.libc.forkedChild()
            byName[name] = processes.count
            processes.append(child)
            vars.append(vars[i])
        case let .exec(rawProgram, brk):
            let program = try self.name(rawProgram, env, l)
            // exec_mmap(): the old mm goes (with every other thread); the new image, the same pid.
            if kernel != nil { p.task.exitMmap(&faults, &kernel!) }
            let recording = p.task.recording
            var fresh = UserProcess(pid: p.pid, comm: program, brk: brk ?? UserProcess.defaultBrk)
            fresh.task.recording = recording
            fresh.task.mm.thpAlignAnonymous = thpAlignAnonymous
            fresh.libc.nprocs = p.libc.nprocs
            fresh.libc.trackWrites = p.libc.trackWrites
            p = fresh
            for (name, t) in threadsByName where t.process == i { threadsByName[name] = nil }
            currentThread = 0
            vars[i] = [:]
        case .thread(let rawName):
            let name = try self.name(rawName, env, l)
            guard byName[name] == nil, threadsByName[name] == nil else {
                throw InputError(file: file, line: l.number, field: "thread", "the name \(name) is taken")
            }
            guard let stack = p.stacks.allocate(&p.libc, &p.task) else {
                output.append("\(p.comm)[\(p.pid)]: pthread_create: no memory for a stack (EAGAIN)")
                break
            }
            guard nextPid < Self.pidMax else { throw InputError(file: file, line: l.number, field: "thread", "no pid left below pid_max (\(Self.pidMax))") }
            let t = (threadCount[i] ?? 0) + 1
            threadCount[i] = t
            threadsByName[name] = (i, t, stack)
            tids[i, default: [:]][t] = nextPid
            nextPid += 1
            p.libc.threadCreated(t)
        case .join(let rawName):
            let name = try self.name(rawName, env, l)
            guard let t = threadsByName[name], t.process == i, t.index != currentThread, let stack = t.stack else {
                throw InputError(file: file, line: l.number, field: "join", "\(name) is not another running thread of this process")
            }
            // The thread's end, in the thread: its malloc state, then its stack.
            flush(&p, as: tid)
            let joiner = currentThread
            currentThread = t.index
            p.libc.switchThread(t.index)
            p.libc.threadExit(&p.task)
            p.stacks.threadEnded(stack, &p.task)
            flush(&p, as: tid)
            if recordSyscalls { strace.append(Strace.pad("\(tid)", 5) + " +++ exited with 0 +++") }
            currentThread = joiner
            p.libc.switchThread(joiner)
            p.stacks.release(stack, &p.libc, &p.task)
            threadsByName[name] = (i, t.index, nil)
        case let .readFile(rawName, off, len), let .writeFile(rawName, off, len):
            let name = try self.name(rawName, env, l)
            guard let f = faults.pageCache.file(named: name) else {
                throw InputError(file: file, line: l.number, field: l.text, "no file named \(name) (create it first)")
            }
            let o = try eval(off, env, l), n = try eval(len, env, l)
            guard kernel != nil else { break }
            var rec = FaultPathRecorder()
            if case .readFile = l.step {
                var ra = p.task.readahead[f] ?? ReadaheadState()
                _ = faults.pageCache.read(f, &ra, pos: o, count: n, cpu: faults.cpu, &kernel!, &rec)
                p.task.readahead[f] = ra
            } else {
                _ = faults.pageCache.write(f, pos: o, count: n, cpu: faults.cpu, &kernel!, &rec)
            }
            if explaining { path += rec.raw(kernel!) }
        case .explain:
            break
        case .exit(let status):
            end(&p, status)
            if recordSyscalls { strace.append(Strace.pad("\(p.pid)", 5) + " +++ exited with \(status) +++") }
        case .show(let what):
            switch what {
            case "maps": output += ProcMaps.lines(p)
            case "status": output += status(p)
            case "smaps_rollup":
                let s = p.task.smapsRollup(faults)
                func line(_ name: String, _ bytes: UInt64) -> String {
                    let v = String(bytes >> 10)
                    return Strace.pad(name + ":", 16) + String(repeating: " ", count: max(0, 8 - v.count)) + v + " kB"
                }
                output += [line("Rss", s.rss), line("Pss", s.pss), line("Pss_Anon", s.pss), line("Shared_Dirty", s.sharedDirty),
                           line("Private_Dirty", s.privateDirty), line("Anonymous", s.anonymous), line("AnonHugePages", s.anonHugePages)]
            default: output += machineFile(what)
            }
        case .spawn, .use, .repeatBlock, .create, .sync, .dropCaches:
            break
        }
    }

    /// One user access: a fault when the page is not mapped as needed; SIGSEGV ends the
    /// process. Returns whether the process goes on.
    mutating func fault(_ p: inout UserProcess, _ addr: UInt64, write: Bool) -> Bool {
        guard var k = kernel else { return true }
        var rec = FaultPathRecorder()
        let out: FaultOutcome
        if explaining {
            out = p.task.handleFault(addr, write: write, &faults, &k, &rec)
            path += rec.raw(k)
        } else {
            var none = NoListener()
            out = p.task.handleFault(addr, write: write, &faults, &k, &none)
        }
        kernel = k
        let at = String(addr, radix: 16)
        switch out {
        case .segv(let mapErr):
            output.append("\(p.comm)[\(p.pid)]: segfault at \(at) error \(write ? 6 : 4)\(mapErr ? "" : " (the area forbids it)")")
            kill(&p, "SIGSEGV", 11, info: "si_code=\(mapErr ? "SEGV_MAPERR" : "SEGV_ACCERR"), si_addr=0x\(at)")
            return false
        case .sigbus:
            output.append("\(p.comm)[\(p.pid)]: bus error at \(at) (past the end of the file it maps)")
            kill(&p, "SIGBUS", 7, info: "si_code=BUS_ADRERR, si_addr=0x\(at)")
            return false
        case .oom:
            output.append("\(p.comm)[\(p.pid)]: no page for a fault at \(at) (VM_FAULT_OOM; the OOM killer is not modelled)")
            return false
        default:
            return true
        }
    }

    /// After a step: the pages of what was unmapped go back, then the pages glibc wrote fault in.
    mutating func settle(_ i: Int) {
        guard kernel != nil else { return }
        var p = processes[i]
        defer { processes[i] = p }
        if explaining { for r in p.task.syscalls { path.append(Strace.text(r).0 + " = " + Strace.text(r).1) } }
        p.task.settle(&faults, &kernel!)
        guard p.exitStatus == nil else { return }
        var lastPage = UInt64.max
        for (s, e) in p.libc.takeWrites() {
            var a = s & ~0xfff
            while a < e {
                if a != lastPage {
                    if !fault(&p, max(a, s), write: true) { return }
                    lastPage = a
                }
                a += 4096
            }
        }
    }

    /// A process's end: its pages and tables go back (exit_mmap()).
    mutating func release(_ i: Int) {
        guard kernel != nil else { return }
        processes[i].task.exitMmap(&faults, &kernel!)
    }

    /// /proc/meminfo, /proc/vmstat or /proc/buddyinfo of the machine.
    func machineFile(_ what: String) -> [String] {
        guard let k = kernel else { return ["(no machine: run with a machine to see \(what))"] }
        let s = faults.stat
        switch what {
        case "meminfo":
            var lines = ProcFiles.meminfo(k)
            func line(_ name: String, _ pages: UInt64) -> String { Strace.pad(name + ":", 16) + String(repeating: " ", count: max(0, 8 - String(pages << 2).count)) + String(pages << 2) + " kB" }
            let pc = faults.pageCache.stat
            lines.insert(line("Cached", pc.nrFilePages), at: 2)
            lines.insert(contentsOf: [line("Active(anon)", pc.nrActiveAnon), line("Inactive(anon)", pc.nrInactiveAnon),
                                      line("Active(file)", pc.nrActiveFile), line("Inactive(file)", pc.nrInactiveFile)], at: 3)
            let at = lines.firstIndex { $0.hasPrefix("KReclaimable:") } ?? lines.count
            lines.insert(contentsOf: [line("Dirty", pc.nrDirty), line("AnonPages", s.nrAnonPages), line("Mapped", pc.nrMapped),
                                      line("Shmem", pc.nrShmem)], at: at)
            let pt = (lines.firstIndex { $0.hasPrefix("SUnreclaim:") } ?? lines.count - 1) + 1
            lines.insert(line("PageTables", s.nrPageTablePages), at: pt)
            let dm = lines.firstIndex { $0.hasPrefix("DirectMap4k:") } ?? lines.count
            lines.insert(line("AnonHugePages", s.nrAnonTransparentHugepages), at: dm)
            return lines
        case "vmstat":
            var free: UInt64 = 0
            for node in k.nodes { for z in node.zones { free += z.freePages } }
            let pc = faults.pageCache.stat
            return ["nr_free_pages \(free)", "nr_inactive_anon \(pc.nrInactiveAnon)", "nr_active_anon \(pc.nrActiveAnon)",
                    "nr_inactive_file \(pc.nrInactiveFile)", "nr_active_file \(pc.nrActiveFile)",
                    "nr_anon_pages \(s.nrAnonPages)", "nr_mapped \(pc.nrMapped)", "nr_file_pages \(pc.nrFilePages)",
                    "nr_dirty \(pc.nrDirty)", "nr_shmem \(pc.nrShmem)", "nr_anon_transparent_hugepages \(s.nrAnonTransparentHugepages / 512)",
                    "nr_page_table_pages \(s.nrPageTablePages)", "pgfault \(s.pgfault)", "thp_fault_alloc \(s.thpFaultAlloc)",
                    "nr_dirtied \(pc.nrDirtied)", "nr_written \(pc.nrWritten)", "pgpgin \(pc.pgpgin)", "pgactivate \(pc.pgactivate)",
                    "thp_fault_fallback \(s.thpFaultFallback)", "thp_split_pmd \(s.thpSplitPmd)", "thp_zero_page_alloc \(s.thpZeroPageAlloc)"]
        default:
            return ProcFiles.buddyinfo(k)
        }
    }

    /// Whether the word before a pointer (glibc's chunk header) is mapped: free() reads it.
    func headerMapped(_ p: UserProcess, _ mem: UInt64) -> Bool {
        let page = (mem &- 8) & ~0xfff
        let (end, o) = page.addingReportingOverflow(4096)
        return !o && p.task.mm.covers(page, end)
    }

    /// glibc's abort: the message on stderr, the page abort() maps for it, SIGABRT.
    mutating func abort(_ p: inout UserProcess, _ e: MallocAbort) {
        output.append("\(p.comm)[\(p.pid)]: \(e.message)")
        _ = p.task.mmap(0, 4096, .readWrite, .privateAnonymous)
        flush(&p)
        kill(&p, "SIGABRT", 6, info: "si_code=SI_TKILL, si_pid=\(p.pid), si_uid=0")
    }

    /// A read of an unmapped address: the kernel's segfault line, SIGSEGV.
    mutating func segfault(_ p: inout UserProcess, _ addr: UInt64) {
        output.append("\(p.comm)[\(p.pid)]: segfault at \(String(addr, radix: 16)) error 4 in libc.so.6")
        kill(&p, "SIGSEGV", 11, info: "si_code=SEGV_MAPERR, si_addr=0x\(String(addr, radix: 16))")
    }

    /// A process killed by a signal: strace's signal and exit lines, status 128 + the signal,
    /// its memory back (exit_mmap()).
    mutating func kill(_ p: inout UserProcess, _ signal: String, _ number: Int32, info: String) {
        if recordSyscalls {
            strace.append(Strace.pad("\(p.pid)", 5) + " --- \(signal) {si_signo=\(signal), \(info)} ---")
            strace.append(Strace.pad("\(p.pid)", 5) + " +++ killed by \(signal) +++")
        }
        end(&p, 128 + number)
    }

    /// A process's end: its status, and its pages and tables back.
    mutating func end(_ p: inout UserProcess, _ status: Int32) {
        p.exitStatus = status
        if kernel != nil { p.task.exitMmap(&faults, &kernel!) }
    }

    mutating func flush(_ p: inout UserProcess, as id: Int32? = nil) {
        for r in p.task.syscalls { strace.append(Strace.line(pid: id ?? tid, r)) }
        p.task.clearRecord()
    }

    mutating func drain(_ i: Int) {
        guard !processes[i].task.syscalls.isEmpty else { return }
        if !recordSyscalls { processes[i].task.clearRecord(); return }
        var p = processes[i]
        flush(&p)
        processes[i] = p
    }

    /// The memory lines of /proc/PID/status that the model knows.
    /// The /proc/PID/status lines `show status` prints for `p` (name, pid, VmSize, Rss*, VmData, VmStk, VmPTE).
    public func statusLines(_ p: UserProcess) -> [String] { status(p) }

    func status(_ p: UserProcess) -> [String] {
        let mm = p.task.mm
        func kb(_ pages: UInt64) -> String {
            let s = "\(pages * 4)"
            return String(repeating: " ", count: max(0, 8 - s.count)) + s + " kB"
        }
        return ["Name:\t\(p.comm)", "Pid:\t\(p.pid)", "VmSize:\t\(kb(mm.totalVM))", "RssAnon:\t\(kb(p.task.rssAnon))",
                "RssFile:\t\(kb(p.task.rssFile))", "RssShmem:\t\(kb(p.task.rssShmem))", "VmData:\t\(kb(mm.dataVM))", "VmStk:\t\(kb(mm.stackVM))", "VmPTE:\t\(kb(UInt64(p.task.tables.tablePages)))"]
    }
}

/// Collects a fault's path: the fault, the tables it needed, the page allocator's steps.
struct FaultPathRecorder: FaultListener {
    var events: [FaultEvent] = []
    mutating func fault(_ event: FaultEvent) { events.append(event) }
    mutating func pageAlloc(_ event: PageAllocEvent) { events.append(.page(event)) }
    mutating func slab(_ event: SlabEvent) {}

    /// Lines of a path; a run of faults that took the same path is said once.
    static func group(_ lines: [String]) -> [String] {
        var groups: [[String]] = []
        for line in lines {
            if line.hasPrefix("page fault:") || groups.isEmpty { groups.append([line]) } else { groups[groups.count - 1].append(line) }
        }
        func shape(_ g: [String]) -> String {
            String(g.joined(separator: "\n").map { $0.isHexDigit ? "#" : $0 })
        }
        var out: [String] = []
        var i = 0
        while i < groups.count {
            var j = i + 1
            while j < groups.count, shape(groups[j]) == shape(groups[i]) { j += 1 }
            out += groups[i]
            if j - i > 1 {
                let last = groups[j - 1]
                let head = (last.first ?? "").replacingOccurrences(of: "page fault: ", with: "")
                let pfn = last.last.flatMap { $0.range(of: "pfn=") != nil ? String($0[$0.range(of: "pfn=")!.upperBound...].prefix { $0 != " " }) : nil }
                out.append("  … and \(j - i - 1) more faults along the same path, the last a \(head)" + (pfn.map { " (pfn=\($0))" } ?? ""))
            }
            i = j
        }
        return out
    }

    func raw(_ k: Kernel) -> [String] {
        let shell = AllocShell(kernel: k, source: "(explain)")
        return events.map { e in
            switch e {
            case let .fault(addr, write): return "page fault: \(write ? "write" : "read") at 0x\(String(addr, radix: 16))"
            case let .tablePage(level, pfn): return "  \(["", "PTE", "PMD", "PUD", "PGD"][level]) table needed: a page-table page (GFP_PGTABLE_USER) at pfn \(hex(pfn))"
            case let .thpFallback(addr): return "  no order-9 page for the 2 MiB at 0x\(String(addr, radix: 16)): thp_fault_fallback, 4 KiB pages instead"
            case let .splitHugeZero(addr): return "  a write to the huge zero page at 0x\(String(addr, radix: 16)): split into 512 zero-page entries"
            case let .readahead(_, index, count, mark, async):
                return "\(async ? "async" : "sync") readahead: \(count) pages from index \(index)" + (mark.map { ", PG_readahead on \($0)" } ?? "")
            case let .page(p): return "  " + shell.describe(p)
            }
        }
    }
}

/// Pages a workload holds, for the page map: a run of pfns and what they are.
public struct UserPageExtent: Sendable, Hashable {
    public enum Use: Sendable { case anon, pageCache, pageTable }
    public var pfn: Pfn
    public var count: UInt64
    public var use: Use
}

extension WorkloadRunner {
    /// Every page the processes map or cache, and their page tables.
    public var userPages: [UserPageExtent] {
        var out: [UserPageExtent] = []
        for p in processes where p.exitStatus == nil {
            let t = p.task.tables
            t.ptes.forEach { _, e in if !e.zeroPage { out.append(UserPageExtent(pfn: e.pfn, count: 1, use: e.file >= 0 ? .pageCache : .anon)) } }
            for (_, e) in t.pmds where !e.zeroPage { out.append(UserPageExtent(pfn: e.pfn, count: 512, use: .anon)) }
            for pfn in [t.pgd].compactMap({ $0 }) + Array(t.pudTables.values) + Array(t.pmdTables.values)
                + Array(t.pteTables.values) + Array(t.deposited.values) {
                out.append(UserPageExtent(pfn: pfn, count: 1, use: .pageTable))
            }
        }
        for f in faults.pageCache.files {
            for (_, page) in f.pages { out.append(UserPageExtent(pfn: page.pfn, count: 1, use: f.tmpfs ? .anon : .pageCache)) }
        }
        return out
    }
}
