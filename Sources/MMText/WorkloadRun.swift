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
    var nextPid: Int32 = 1000
    var skipped: Set<Int> = []
    /// What the steps printed (show, glibc's messages, the kernel's segfault lines).
    public var output: [String] = []
    /// The memory system calls, as `strace -f -e trace=memory` prints them.
    public var strace: [String] = []
    public var recordSyscalls: Bool
    /// Steps run so far, against `maxSteps`.
    public private(set) var steps = 0
    public var maxSteps = 100_000_000
    var file = ""

    public init(recordSyscalls: Bool = false) { self.recordSyscalls = recordSyscalls }

    public mutating func run(_ w: Workload) throws(InputError) {
        file = w.file
        var env: [String: UInt64] = [:]
        try exec(w.lines, &env)
    }

    /// Every process still running exits (status 0).
    public mutating func finish() {
        for i in processes.indices where processes[i].exitStatus == nil {
            processes[i].exitStatus = 0
            if recordSyscalls { strace.append(Strace.pad("\(processes[i].pid)", 5) + " +++ exited with 0 +++") }
        }
    }

    mutating func exec(_ lines: [Workload.Line], _ env: inout [String: UInt64]) throws(InputError) {
        for l in lines {
            if case let .repeatBlock(count, v, body) = l.step {
                let n = try eval(count, env, l)
                let saved = env[v]
                for k in 0..<n {
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

    func key(_ r: Workload.Ref, _ env: [String: UInt64], _ l: Workload.Line) throws(InputError) -> String {
        guard let i = r.index else { return r.name }
        return r.name + "[\(try eval(i, env, l))]"
    }

    // tidy: long — one case per step.
    mutating func step(_ l: Workload.Line, _ env: [String: UInt64]) throws(InputError) {
        switch l.step {
        case let .spawn(name, brk, pid):
            guard byName[name] == nil else { throw InputError(file: file, line: l.number, field: "spawn", "a process named \(name) exists") }
            let p = pid ?? nextPid
            nextPid = max(nextPid, p) + 1
            var proc = UserProcess(pid: p, comm: name, brk: brk ?? UserProcess.defaultBrk)
            proc.task.recording = recordSyscalls
            byName[name] = processes.count
            processes.append(proc)
            vars.append([:])
            current = processes.count - 1
        case .use(let name):
            guard let i = byName[name] else { throw InputError(file: file, line: l.number, field: "in", "no process named \(name)") }
            current = i
        case .repeatBlock:
            break
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
            try processStep(i, l, env)
            drain(i)
        }
    }

    // tidy: long — one case per step.
    mutating func processStep(_ i: Int, _ l: Workload.Line, _ env: [String: UInt64]) throws(InputError) {
        var p = processes[i]
        defer { processes[i] = p }
        switch l.step {
        case let .malloc(r, size):
            let k = try key(r, env, l)
            let s = try eval(size, env, l)
            vars[i][k] = (p.libc.malloc(s, &p.task), s)
        case let .calloc(r, n, size):
            let k = try key(r, env, l)
            let a = try eval(n, env, l), b = try eval(size, env, l)
            vars[i][k] = (p.libc.calloc(a, b, &p.task), a &* b)
        case let .realloc(r, size):
            let k = try key(r, env, l)
            let s = try eval(size, env, l)
            let old = vars[i][k]?.addr ?? 0
            if old != 0, !p.task.mm.covers((old - 8) & ~0xfff, ((old - 8) & ~0xfff) + 4096) { segfault(&p, old - 8); return }
            do {
                let m = try p.libc.realloc(old, s, &p.task)
                if m != 0 || s == 0 { vars[i][k] = (m, s) }
            } catch { abort(&p, error) }
        case let .free(r):
            let k = try key(r, env, l)
            guard let v = vars[i][k] else { throw InputError(file: file, line: l.number, field: "free", "\(k) was never assigned") }
            if v.addr != 0, !p.task.mm.covers((v.addr - 8) & ~0xfff, ((v.addr - 8) & ~0xfff) + 4096) { segfault(&p, v.addr - 8); return }
            do { try p.libc.free(v.addr, &p.task) } catch { abort(&p, error) }
        case let .mmap(r, size, prot):
            let k = try key(r, env, l)
            let s = try eval(size, env, l)
            vars[i][k] = (p.task.mmap(0, s, prot, .privateAnonymous) ?? UInt64.max, s)
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
        case .exit(let status):
            p.exitStatus = status
            if recordSyscalls { strace.append(Strace.pad("\(p.pid)", 5) + " +++ exited with \(status) +++") }
        case .show(let what):
            if what == "maps" { output += ProcMaps.lines(p) } else { output += status(p) }
        case .spawn, .use, .repeatBlock:
            break
        }
    }

    /// glibc's abort: the message on stderr, the page abort() maps for it, SIGABRT.
    mutating func abort(_ p: inout UserProcess, _ e: MallocAbort) {
        output.append("\(p.comm)[\(p.pid)]: \(e.message)")
        _ = p.task.mmap(0, 4096, .readWrite, .privateAnonymous)
        flush(&p)
        if recordSyscalls {
            strace.append(Strace.pad("\(p.pid)", 5) + " --- SIGABRT {si_signo=SIGABRT, si_code=SI_TKILL, si_pid=\(p.pid), si_uid=0} ---")
            strace.append(Strace.pad("\(p.pid)", 5) + " +++ killed by SIGABRT +++")
        }
        p.exitStatus = 128 + 6
    }

    /// A read of an unmapped address: the kernel's segfault line, SIGSEGV.
    mutating func segfault(_ p: inout UserProcess, _ addr: UInt64) {
        output.append("\(p.comm)[\(p.pid)]: segfault at \(String(addr, radix: 16)) error 4 in libc.so.6")
        if recordSyscalls {
            strace.append(Strace.pad("\(p.pid)", 5) + " --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x\(String(addr, radix: 16))} ---")
            strace.append(Strace.pad("\(p.pid)", 5) + " +++ killed by SIGSEGV +++")
        }
        p.exitStatus = 128 + 11
    }

    mutating func flush(_ p: inout UserProcess) {
        for r in p.task.syscalls { strace.append(Strace.line(pid: p.pid, r)) }
        p.task.clearRecord()
    }

    mutating func drain(_ i: Int) {
        guard recordSyscalls, !processes[i].task.syscalls.isEmpty else { return }
        var p = processes[i]
        flush(&p)
        processes[i] = p
    }

    /// The memory lines of /proc/PID/status that the model knows.
    func status(_ p: UserProcess) -> [String] {
        let mm = p.task.mm
        func kb(_ pages: UInt64) -> String {
            let s = "\(pages * 4)"
            return String(repeating: " ", count: max(0, 8 - s.count)) + s + " kB"
        }
        return ["Name:\t\(p.comm)", "Pid:\t\(p.pid)", "VmSize:\t\(kb(mm.totalVM))", "VmData:\t\(kb(mm.dataVM))",
                "VmStk:\t\(kb(mm.stackVM))"]
    }
}
