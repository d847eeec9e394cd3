// Workloads: a small language of processes and their memory calls, one step a line, run on
// the model (`kmemlab run SCRIPT`).

import Foundation
import MMCore

/// A parsed script: steps with their line numbers, loops already nested.
public struct Workload: Sendable {
    public indirect enum Step: Sendable {
        case spawn(name: String, brk: UInt64?, pid: Int32?)
        case use(String)
        case thread(String)
        case fork(String)
        case exec(String, brk: UInt64?)
        case join(String)
        case malloc(Ref, Expr)
        case calloc(Ref, Expr, Expr)
        case memalign(Ref, Expr, Expr, kind: String)
        case realloc(Ref, Expr)
        case free(Ref)
        case mmap(Ref, Expr, Prot, shared: Bool)
        case munmap(Ref)
        case mmapFile(Ref, String, Expr, Expr, Prot, shared: Bool)
        case mallopt(MalloptParam, Expr)
        case mallocTrim(Expr)
        case mark
        case create(String, Expr, tmpfs: Bool)
        case readFile(String, Expr, Expr)
        case writeFile(String, Expr, Expr)
        case sync
        case dropCaches
        case mallinfo
        case touch(Ref, write: Bool, offset: Expr?, length: Expr?)
        case explain
        case exit(Int32)
        case show(String)
        case repeatBlock(count: Expr, variable: String, body: [Line])
    }

    public struct Line: Sendable {
        public var number: Int
        public var text: String
        public var step: Step
    }

    /// A variable, optionally indexed: `p` or `p[$i+1]`.
    public struct Ref: Sendable {
        public var name: String
        public var index: Expr?
    }

    /// An integer expression: numbers (decimal, 0x…, with K/M/G suffixes), loop variables ($i),
    /// + - * and parentheses.
    public indirect enum Expr: Sendable {
        case number(UInt64)
        case variable(String)
        case binary(Character, Expr, Expr)
    }

    public var lines: [Line]
    public var file: String
    static let showable = ["maps", "status", "smaps_rollup", "meminfo", "vmstat", "buddyinfo"]
    /// Whether any step asks for `explain` (then every step records its path).
    public var explains: Bool { text.contains("explain") }
    var text: String

    public static let help = """
    A workload is a text file, one step a line ('#' starts a comment):
      spawn NAME [brk=ADDR] [pid=N]   start a dynamically linked C program (Debian 12, ASLR off);
                                      brk= is where its break starts (past a larger bss)
      in NAME                         the steps that follow are NAME's (a process or a thread)
      fork NAME                       fork(): a child named NAME with a copy of the address space,
                                      its pages shared until written (copy-on-write)
      exec PROGRAM [brk=ADDR]         execve(): the process's address space goes (its pages and
                                      tables freed) and a fresh program image takes its place
      thread NAME                     pthread_create(): a thread of the current process, idle
                                      until steps run in it (its own tcache; its own arena)
      join NAME                       the thread ends (its tcache and arena are given back, its
                                      stack advised away) and pthread_join() caches its stack
      malloc VAR SIZE                 VAR = malloc(SIZE)         (glibc 2.36)
      calloc VAR N SIZE               VAR = calloc(N, SIZE)
      realloc VAR SIZE                VAR = realloc(VAR, SIZE)
      memalign VAR ALIGN SIZE         also aligned_alloc, posix_memalign; valloc VAR SIZE, pvalloc VAR SIZE
      free VAR                        free(VAR)
      mmap VAR SIZE [PROT] [shared]   VAR = mmap(NULL, SIZE, PROT, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
                                      PROT: rw (default), r, rwx, none; shared: MAP_SHARED (shmem,
                                      shared with children after fork)
      munmap VAR                      munmap(VAR, its size)
      mmap_file VAR FILE OFF LEN [r|rw] [shared|private]
                                      VAR = mmap() of a file created with `create`
      mallopt PARAM VALUE             M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX, M_MXFAST
      malloc_trim PAD                 malloc_trim(PAD)
      create FILE SIZE [tmpfs]        a file of SIZE bytes on the disk (not cached), or on tmpfs
      read FILE OFFSET LENGTH         read(): through the page cache, with readahead
      write FILE OFFSET LENGTH        write(): pages found or made in the cache, dirtied
      sync                            every dirty page written back
      drop_caches                     echo 1 > /proc/sys/vm/drop_caches
      mark                            madvise(NULL, 0, MADV_NORMAL): a marker strace shows
      mallinfo                        print mallinfo2(): arena ordblks smblks hblks hblkhd fsmblks
                                      uordblks fordblks keepcost, and the break (sbrk(0))
      touch VAR [read|write] [OFF LEN] the program writes (or reads) a byte in every page of VAR
                                      (or of LEN bytes from OFF in it):
                                      page faults, the zero page, THP, alloc_pages
      explain                         the path the previous step took, down to the pfns
      exit [STATUS]                   the process ends; its pages and page tables are freed
      show maps|status|smaps_rollup   /proc/PID/maps; the memory lines of /proc/PID/status and
                                      smaps_rollup the model keeps (anonymous memory)
      show meminfo|vmstat|buddyinfo   the machine's files (the counters the model keeps)
      repeat N [VAR]  …  end          the steps between, N times, with $VAR (default $i) = 0…N-1
    Sizes: 24, 0x1000, 200K, 1M, 2G; expressions: ($i+1)*4096. Variables: p, p[$i]. Names of
    processes, threads and files may hold loop variables: cc$n, src$i.c.
    """

    public init(parsing text: String, file: String) throws(InputError) {
        self.file = file
        self.text = text
        var raw: [(Int, String)] = []
        for (i, l) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var s = Substring(l)
            if let h = s.firstIndex(of: "#") { s = s[..<h] }
            let t = s.trimmingCharacters(in: .whitespaces)
            if !t.isEmpty { raw.append((i + 1, t)) }
        }
        var pos = 0
        lines = try Self.block(raw, &pos, file: file, inLoop: nil)
    }

    static func block(_ raw: [(Int, String)], _ pos: inout Int, file: String, inLoop: Int?, depth: Int = 0) throws(InputError) -> [Line] {
        if depth > 64 { throw InputError(file: file, line: raw[max(pos - 1, 0)].0, field: "repeat", "loops nested more than 64 deep") }
        var out: [Line] = []
        while pos < raw.count {
            let (n, text) = raw[pos]
            pos += 1
            let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if words[0] == "end" {
                guard inLoop != nil else { throw InputError(file: file, line: n, field: "end", "no repeat to end") }
                return out
            }
            if words[0] == "repeat" {
                guard words.count == 2 || words.count == 3 else {
                    throw InputError(file: file, line: n, field: "repeat", "expected: repeat N [VAR]")
                }
                let count = try expr(words[1], file: file, line: n, field: "repeat")
                let v = words.count == 3 ? words[2] : "i"
                let body = try block(raw, &pos, file: file, inLoop: n, depth: depth + 1)
                out.append(Line(number: n, text: text, step: .repeatBlock(count: count, variable: v, body: body)))
                continue
            }
            out.append(Line(number: n, text: text, step: try step(words, file: file, line: n)))
        }
        if let open = inLoop { throw InputError(file: file, line: open, field: "repeat", "no matching end") }
        return out
    }

    // tidy: long — one case per step of the language.
    static func step(_ w: [String], file: String, line n: Int) throws(InputError) -> Step {
        let op = w[0]
        func need(_ k: Int, _ usage: String) throws(InputError) {
            guard w.count == k + 1 else { throw InputError(file: file, line: n, field: op, "expected: \(op) \(usage)") }
        }
        func e(_ s: String) throws(InputError) -> Expr { try expr(s, file: file, line: n, field: op) }
        func r(_ s: String) throws(InputError) -> Ref { try ref(s, file: file, line: n, field: op) }
        switch op {
        case "spawn":
            guard w.count >= 2, w.count <= 4 else { throw InputError(file: file, line: n, field: op, "expected: spawn NAME [brk=ADDR] [pid=N]") }
            var brk: UInt64? = nil, pid: Int32? = nil
            for opt in w.dropFirst(2) {
                if opt.hasPrefix("brk="), let v = number(Substring(opt.dropFirst(4))), v >= UserProcess.defaultBrk, v < UserProcess.maxBrk { brk = v }
                else if opt.hasPrefix("pid="), let v = Int32(opt.dropFirst(4)), v > 0, v < 4_194_304 { pid = v }
                else { throw InputError(file: file, line: n, field: op, "\"\(opt)\": expected brk=ADDR (0x555555559000 ≤ ADDR < 0x7000000000000) or pid=N (1 ≤ N < 4194304)") }
            }
            return .spawn(name: w[1], brk: brk, pid: pid)
        case "in": try need(1, "NAME"); return .use(w[1])
        case "thread": try need(1, "NAME"); return .thread(w[1])
        case "fork": try need(1, "NAME"); return .fork(w[1])
        case "exec":
            guard w.count == 2 || w.count == 3 else { throw InputError(file: file, line: n, field: op, "expected: exec PROGRAM [brk=ADDR]") }
            var brk: UInt64? = nil
            if w.count == 3 {
                guard w[2].hasPrefix("brk="), let v = number(Substring(w[2].dropFirst(4))), v >= UserProcess.defaultBrk, v < UserProcess.maxBrk else {
                    throw InputError(file: file, line: n, field: op, "\"\(w[2])\": expected brk=ADDR")
                }
                brk = v
            }
            return .exec(w[1], brk: brk)
        case "join": try need(1, "NAME"); return .join(w[1])
        case "malloc": try need(2, "VAR SIZE"); return .malloc(try r(w[1]), try e(w[2]))
        case "calloc": try need(3, "VAR N SIZE"); return .calloc(try r(w[1]), try e(w[2]), try e(w[3]))
        case "memalign", "aligned_alloc", "posix_memalign":
            try need(3, "VAR ALIGNMENT SIZE")
            return .memalign(try r(w[1]), try e(w[2]), try e(w[3]), kind: op)
        case "valloc", "pvalloc":
            try need(2, "VAR SIZE")
            return .memalign(try r(w[1]), .number(4096), try e(w[2]), kind: op)
        case "realloc": try need(2, "VAR SIZE"); return .realloc(try r(w[1]), try e(w[2]))
        case "free": try need(1, "VAR"); return .free(try r(w[1]))
        case "mmap":
            guard w.count >= 3, w.count <= 5 else { throw InputError(file: file, line: n, field: op, "expected: mmap VAR SIZE [PROT] [shared]") }
            var prot = Prot.readWrite
            var shared = false
            for opt in w.dropFirst(3) {
                switch opt {
                case "rw": prot = .readWrite
                case "r": prot = .read
                case "rwx": prot = [.read, .write, .exec]
                case "none": prot = .none
                case "shared": shared = true
                case "private": shared = false
                default: throw InputError(file: file, line: n, field: op, "\"\(opt)\": expected rw, r, rwx, none, shared or private")
                }
            }
            return .mmap(try r(w[1]), try e(w[2]), prot, shared: shared)
        case "munmap": try need(1, "VAR"); return .munmap(try r(w[1]))
        case "mmap_file":
            // mmap_file VAR FILE OFFSET LENGTH [r|rw] [shared|private]
            guard w.count >= 5, w.count <= 7 else { throw InputError(file: file, line: n, field: op, "expected: mmap_file VAR FILE OFFSET LENGTH [r|rw] [shared|private]") }
            var prot = Prot.read
            var shared = false
            for opt in w.dropFirst(5) {
                switch opt {
                case "r": prot = .read
                case "rw": prot = .readWrite
                case "shared": shared = true
                case "private": shared = false
                default: throw InputError(file: file, line: n, field: op, "\"\(opt)\": expected r, rw, shared or private")
                }
            }
            return .mmapFile(try r(w[1]), w[2], try e(w[3]), try e(w[4]), prot, shared: shared)
        case "mallopt":
            try need(2, "PARAM VALUE")
            let names: [String: MalloptParam] = ["M_MXFAST": .mxFast, "M_TRIM_THRESHOLD": .trimThreshold, "M_TOP_PAD": .topPad,
                                                 "M_MMAP_THRESHOLD": .mmapThreshold, "M_MMAP_MAX": .mmapMax,
                                                 "M_ARENA_TEST": .arenaTest, "M_ARENA_MAX": .arenaMax, "M_PERTURB": .perturb,
                                                 "M_CHECK_ACTION": .checkAction]
            guard let p = names[w[1]] else { throw InputError(file: file, line: n, field: op, "\"\(w[1])\": expected \(names.keys.sorted().joined(separator: ", "))") }
            return .mallopt(p, try e(w[2]))
        case "malloc_trim": try need(1, "PAD"); return .mallocTrim(try e(w[1]))
        case "mark": try need(0, ""); return .mark
        case "create":
            guard w.count == 3 || (w.count == 4 && w[3] == "tmpfs") else {
                throw InputError(file: file, line: n, field: op, "expected: create FILE SIZE [tmpfs]")
            }
            return .create(w[1], try e(w[2]), tmpfs: w.count == 4)
        case "read": try need(3, "FILE OFFSET LENGTH"); return .readFile(w[1], try e(w[2]), try e(w[3]))
        case "write": try need(3, "FILE OFFSET LENGTH"); return .writeFile(w[1], try e(w[2]), try e(w[3]))
        case "sync": try need(0, ""); return .sync
        case "drop_caches": try need(0, ""); return .dropCaches
        case "mallinfo": try need(0, ""); return .mallinfo
        case "explain": try need(0, ""); return .explain
        case "touch":
            // touch VAR [read|write] [OFFSET LENGTH]
            var rest = Array(w.dropFirst(2))
            var write = true
            if let m = rest.first, m == "read" || m == "write" { write = m == "write"; rest.removeFirst() }
            guard w.count >= 2, rest.count == 0 || rest.count == 2 else {
                throw InputError(file: file, line: n, field: op, "expected: touch VAR [read|write] [OFFSET LENGTH]")
            }
            return .touch(try r(w[1]), write: write, offset: rest.isEmpty ? nil : try e(rest[0]),
                          length: rest.isEmpty ? nil : try e(rest[1]))
        case "exit":
            guard w.count <= 2 else { throw InputError(file: file, line: n, field: op, "expected: exit [STATUS]") }
            guard w.count == 1 || Int32(w[1]) != nil else { throw InputError(file: file, line: n, field: op, "\"\(w[1])\": expected a number") }
            return .exit(w.count == 2 ? Int32(w[1])! : 0)
        case "show":
            try need(1, "maps|status|meminfo|vmstat|buddyinfo")
            guard Self.showable.contains(w[1]) else {
                throw InputError(file: file, line: n, field: op, "\"\(w[1])\": expected \(Self.showable.joined(separator: ", "))")
            }
            return .show(w[1])
        default:
            throw InputError(file: file, line: n, field: op, "unknown step (expected spawn, in, fork, exec, thread, join, malloc, calloc, memalign, aligned_alloc, posix_memalign, valloc, pvalloc, realloc, free, mmap, munmap, mmap_file, mallopt, malloc_trim, create, read, write, sync, drop_caches, mark, mallinfo, touch, explain, exit, show, repeat)")
        }
    }

    /// A number: decimal or 0x hex, with an optional K, M or G (binary) suffix.
    static func number(_ s: Substring) -> UInt64? {
        var t = s, mult: UInt64 = 1
        if let last = t.last, "KMGkmg".contains(last) {
            mult = last == "K" || last == "k" ? 1 << 10 : last == "M" || last == "m" ? 1 << 20 : 1 << 30
            t = t.dropLast()
        }
        let v: UInt64?
        if t.hasPrefix("0x") || t.hasPrefix("0X") { v = t.count > 2 ? UInt64(t.dropFirst(2), radix: 16) : nil } else { v = UInt64(t) }
        guard let x = v else { return nil }
        let (r, o) = x.multipliedReportingOverflow(by: mult)
        return o ? nil : r
    }

    static func ref(_ s: String, file: String, line: Int, field: String) throws(InputError) -> Ref {
        guard let open = s.firstIndex(of: "[") else {
            guard isName(Substring(s)) else { throw InputError(file: file, line: line, field: field, "\"\(s)\": not a variable name") }
            return Ref(name: s, index: nil)
        }
        guard s.hasSuffix("]"), isName(s[..<open]) else { throw InputError(file: file, line: line, field: field, "\"\(s)\": expected NAME or NAME[EXPR]") }
        let inner = String(s[s.index(after: open)..<s.index(before: s.endIndex)])
        return Ref(name: String(s[..<open]), index: try expr(inner, file: file, line: line, field: field))
    }

    static func isName(_ s: Substring) -> Bool {
        guard let f = s.first, f.isLetter || f == "_" else { return false }
        return s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }

    /// Parses an expression (no spaces inside).
    static func expr(_ s: String, file: String, line: Int, field: String) throws(InputError) -> Expr {
        // A bound on what a line may nest: evaluation recurses on the expression's depth.
        guard s.count <= 256 else { throw InputError(file: file, line: line, field: field, "an expression of more than 256 characters") }
        var p = ExprParser(chars: Array(s), pos: 0)
        guard let e = p.sum(), p.pos == p.chars.count else {
            throw InputError(file: file, line: line, field: field, "\"\(s)\": expected a number or an expression like ($i+1)*4K")
        }
        return e
    }
}

/// Recursive descent over an expression's characters; nil on any error.
struct ExprParser {
    var chars: [Character]
    var pos: Int
    var depth = 0

    mutating func sum() -> Workload.Expr? {
        guard var l = product() else { return nil }
        while pos < chars.count, chars[pos] == "+" || chars[pos] == "-" {
            let op = chars[pos]
            pos += 1
            guard let r = product() else { return nil }
            l = .binary(op, l, r)
        }
        return l
    }

    mutating func product() -> Workload.Expr? {
        guard var l = factor() else { return nil }
        while pos < chars.count, chars[pos] == "*" {
            pos += 1
            guard let r = factor() else { return nil }
            l = .binary("*", l, r)
        }
        return l
    }

    mutating func factor() -> Workload.Expr? {
        guard pos < chars.count else { return nil }
        if chars[pos] == "(" {
            depth += 1
            guard depth < 64 else { return nil }
            pos += 1
            guard let e = sum(), pos < chars.count, chars[pos] == ")" else { return nil }
            pos += 1
            depth -= 1
            return e
        }
        if chars[pos] == "$" {
            pos += 1
            let start = pos
            while pos < chars.count, chars[pos].isLetter || chars[pos].isNumber || chars[pos] == "_" { pos += 1 }
            return pos > start ? .variable(String(chars[start..<pos])) : nil
        }
        let start = pos
        while pos < chars.count, chars[pos].isLetter || chars[pos].isNumber { pos += 1 }
        guard pos > start, let v = Workload.number(Substring(String(chars[start..<pos]))) else { return nil }
        return .number(v)
    }
}
