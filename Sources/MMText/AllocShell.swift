// kmemlab's page-allocator shell: allocate and free pages by hand on a booted machine and watch
// the path each call takes and the lists change. `kmemlab alloc` runs commands given as
// arguments; `kmemlab shell` reads them from standard input.

import MMCore

extension GFPFlags {
    /// Parses "GFP_KERNEL|__GFP_ZERO", names without their prefix ("kernel|zero"), or numbers.
    public init?(parsing text: String) {
        var f = GFPFlags()
        for part in text.split(separator: "|") {
            let p = String(part)
            if let v = UInt32(p) { f.formUnion(GFPFlags(rawValue: v)); continue }
            if p.hasPrefix("0x"), let v = UInt32(p.dropFirst(2), radix: 16) { f.formUnion(GFPFlags(rawValue: v)); continue }
            func base(_ n: String) -> Substring {
                var b = Substring(n.uppercased())
                if b.hasPrefix("__") { b = b.dropFirst(2) }
                if b.hasPrefix("GFP_") { b = b.dropFirst(4) }
                return b
            }
            let want = base(p)
            guard let hit = GFPFlags.names.first(where: { base($0.name) == want }) else { return nil }
            f.formUnion(hit.flags)
        }
        self = f
    }
}

/// One command's words, and how its bad parts are reported.
struct Args {
    let words: [String]
    let source: String
    let line: Int

    func bad(_ field: String, _ msg: String) -> InputError { InputError(file: source, line: line, field: field, msg) }

    /// A number in decimal or 0x hex.
    func number(_ s: String, _ field: String) throws(InputError) -> UInt64 {
        if s.hasPrefix("0x"), let v = UInt64(s.dropFirst(2), radix: 16) { return v }
        if let v = UInt64(s) { return v }
        throw bad(field, "\"\(s)\" is not a number")
    }

    /// The number after the word `name`, if the command has it.
    func option(_ name: String) throws(InputError) -> UInt64? {
        guard let i = words.firstIndex(of: name) else { return nil }
        guard i + 1 < words.count else { throw bad(name, "needs a value") }
        return try number(words[i + 1], name)
    }

    /// A small number (a CPU, a node, an order, an alignment): at most `limit`.
    func small(_ s: String, _ field: String, limit: Int) throws(InputError) -> Int {
        try bounded(try number(s, field), field, limit: limit)
    }

    /// `small` for the number after the word `name` (`dflt` without it).
    func smallOption(_ name: String, limit: Int, default dflt: Int = 0) throws(InputError) -> Int {
        guard let v = try option(name) else { return dflt }
        return try bounded(v, name, limit: limit)
    }

    func bounded(_ v: UInt64, _ field: String, limit: Int) throws(InputError) -> Int {
        guard v <= UInt64(limit) else { throw bad(field, "\(v) is too large (at most \(limit))") }
        return Int(v)
    }
}

/// What a shell command last did to a block: the page history after boot (the model keeps no
/// per-page record of allocations, so the shell keeps its own).
public struct ShellBlockEvent: Sendable {
    /// The command's line (its number in the session) and text.
    public var line: Int
    public var command: String
    /// The block: its head and order, and whether the command allocated or freed it.
    public var head: Pfn
    public var order: Int
    public var allocated: Bool
    /// The path the allocator took, as the shell printed it (empty for one of many
    /// allocations of a repeated command, whose paths the shell does not print either).
    public var path: [String]
    /// Which command came later (a page inside an order-3 block freed at line 4 and
    /// reallocated alone at line 7 shows line 7).
    var sequence: Int
}

public struct AllocShell {
    public var kernel: Kernel
    /// Live allocations by the shell: pfn → order (so `free PFN` can omit the order).
    public var live: [Pfn: Int] = [:]
    public let source: String
    /// The last allocation or free by a command of each block, by its head.
    public private(set) var lastTouch: [Pfn: ShellBlockEvent] = [:]
    var touches = 0

    public init(kernel: Kernel, source: String) {
        self.kernel = kernel
        self.source = source
    }

    /// The most allocations one `alloc … xCOUNT` makes (a 4 GiB machine has about a million
    /// pages; a larger count is a typo, not a workload).
    public static let maxRepeat: UInt64 = 1 << 24

    /// One command of the shell: the words it answers to, how it is written, what it does.
    public struct Command: Sendable {
        public let names: [String]
        public let usage: String
        public let summary: String
    }

    /// Every command the shell has; `help` and the CLI's --help are made from this table, and a
    /// command not in it is unknown.
    public static let commands: [Command] = [
        Command(names: ["alloc"], usage: "alloc GFP ORDER [xCOUNT] [cpu N] [node N]",
                summary: "alloc_pages_node(); GFP like GFP_KERNEL|__GFP_ZERO (COUNT ≤ 16777216)"),
        Command(names: ["free"], usage: "free PFN [ORDER] [cpu N] | free all",
                summary: "__free_pages() (ORDER defaults to the allocation's); all: everything this shell allocated"),
        Command(names: ["drain"], usage: "drain", summary: "drain every CPU's pcp lists"),
        Command(names: ["poke", "peek"], usage: "poke ADDR BYTE | peek ADDR",
                summary: "write / read a byte of RAM (a physical address or its direct-map address, such as 0xffff888000100000)"),
        Command(names: ["sysctl"], usage: "sysctl vm.NAME=VALUE", summary: "write a vm sysctl"),
        Command(names: ["show"], usage: "show FILE", summary: "print a /proc file: " + ProcFiles.names.joined(separator: ", ")),
        Command(names: ["check"], usage: "check", summary: "walk the page and slab allocators' invariants"),
        Command(names: ["kmalloc", "kzalloc"], usage: "kmalloc SIZE [GFP] [cpu N] [node N]",
                summary: "kmalloc() (GFP defaults to GFP_KERNEL); kzalloc the same, zeroed"),
        Command(names: ["kfree"], usage: "kfree ADDR [cpu N]", summary: "kfree()"),
        Command(names: ["cache_create"], usage: "cache_create NAME SIZE [align N] [flags F|F] [ctor NAME] [usersize N]",
                summary: "kmem_cache_create(); flags like SLAB_HWCACHE_ALIGN|SLAB_POISON"),
        Command(names: ["cache_alloc"], usage: "cache_alloc CACHE [GFP] [cpu N] [node N]", summary: "kmem_cache_alloc_node()"),
        Command(names: ["cache_free"], usage: "cache_free CACHE ADDR [cpu N]", summary: "kmem_cache_free()"),
        Command(names: ["cache_shrink", "cache_destroy"], usage: "cache_shrink CACHE | cache_destroy CACHE",
                summary: "kmem_cache_shrink() / kmem_cache_destroy()"),
        Command(names: ["validate"], usage: "validate CACHE", summary: "write 1 to /sys/kernel/slab/CACHE/validate"),
        Command(names: ["slab"], usage: "slab CACHE", summary: "the cache's sysfs attributes and slabs"),
        Command(names: ["vmalloc", "vfree"], usage: "vmalloc SIZE | vfree ADDR",
                summary: "vmalloc() / vfree() (pages interleaved over the nodes)"),
        Command(names: ["ioremap", "iounmap"], usage: "ioremap PHYS SIZE | iounmap ADDR",
                summary: "map firmware or device memory uncached (RAM in use is refused)"),
        Command(names: ["translate"], usage: "translate ADDR", summary: "walk a virtual address through the kernel page tables"),
        Command(names: ["help"], usage: "help", summary: "this list"),
    ]

    /// The command list as `help` prints it, wrapped for an 80-column terminal.
    public static var help: String {
        var out = ["commands (one per line or argument; numbers in decimal or 0x hex). Misuse —",
                   "a double free, a bad page, a foreign pointer — is reported as Linux does:"]
        let column = 44
        for c in commands {
            var line = "  " + c.usage
            var words = Substring(c.summary).split(separator: " ")
            if line.count + 2 > column {
                out.append(line)
                line = String(repeating: " ", count: column)
            } else {
                line += String(repeating: " ", count: column - line.count)
            }
            var first = true
            while !words.isEmpty {
                let w = words.removeFirst()
                if !first && line.count + 1 + w.count > 78 {
                    out.append(line)
                    line = String(repeating: " ", count: column) + w
                } else {
                    line += (first ? "" : " ") + w
                }
                first = false
            }
            out.append(line)
        }
        return out.joined(separator: "\n")
    }

    /// Runs one command; returns what it prints. Bad input throws, naming `line` and the field.
    public mutating func run(_ text: String, line: Int) throws(InputError) -> [String] {
        // Words are split on blanks; a CR (a script saved with CRLF line ends) is a blank too.
        let w = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\r\n" }).map(String.init)
        guard let cmd = w.first, !cmd.hasPrefix("#") else { return [] }
        // The command as a page's history shows it: once per command, and short (a request
        // may carry megabytes of words the command ignores).
        let joined = w.joined(separator: " ")
        let shown = joined.utf8.count > 120 ? String(joined.prefix(120)) + "…" : joined
        let a = Args(words: w, source: source, line: line)
        func bad(_ field: String, _ msg: String) -> InputError { a.bad(field, msg) }
        guard AllocShell.commands.contains(where: { $0.names.contains(cmd) }) else {
            throw bad("command", "\"\(cmd)\": unknown (try help)")
        }
        func number(_ s: String, _ field: String) throws(InputError) -> UInt64 { try a.number(s, field) }
        func option(_ name: String) throws(InputError) -> UInt64? { try a.option(name) }
        switch cmd {
        case "help":
            return AllocShell.help.split(separator: "\n").map(String.init)
        case "alloc":
            guard w.count >= 3 else { throw bad("alloc", "expected: alloc GFP ORDER [xCOUNT] [cpu N] [node N]") }
            guard let gfp = GFPFlags(parsing: w[1]) else { throw bad("gfp", "\"\(w[1])\": unknown flag (e.g. GFP_KERNEL|__GFP_ZERO)") }
            guard gfp.zone != nil else { throw bad("gfp", "\"\(w[1])\": these zone bits name no zone (Linux: BUG in gfp_zone)") }
            guard gfp.migratetype != nil else { throw bad("gfp", "\"\(w[1])\": __GFP_MOVABLE and __GFP_RECLAIMABLE together") }
            let order = try number(w[2], "order")
            guard order < UInt64(maxOrder) else { throw bad("order", "\(order): the largest order is \(maxOrder - 1)") }
            var count: UInt64 = 1
            if let x = w.dropFirst(3).first(where: { $0.hasPrefix("x") }) { count = try number(String(x.dropFirst()), "count") }
            guard count <= AllocShell.maxRepeat else {
                throw bad("count", "\(count) is above the shell's limit of \(AllocShell.maxRepeat) allocations per command")
            }
            let cpu = try a.smallOption("cpu", limit: 1 << 20)
            guard cpu < kernel.machine.cpus.possible else { throw bad("cpu", "\(cpu): the machine has \(kernel.machine.cpus.possible) CPUs") }
            let node: NodeID? = w.contains("node") ? NodeID(Int32(try a.smallOption("node", limit: Int(maxNumNodes) - 1))) : nil
            var out: [String] = []
            for _ in 0..<count {
                var rec = EventRecorder()
                let pfn = kernel.allocPages(gfp, order: Order(Int(order)), cpu: cpu, nid: node, listener: &rec)
                let path = count == 1 || pfn == nil ? rec.events.map { "  " + describe($0) } : []
                if let pfn {
                    live[pfn] = Int(order)
                    touched(pfn, order: Int(order), allocated: true, line: line, command: shown, path: path)
                }
                out += path
                out.append(pfn.map { "alloc \(gfp.description) order \(order): pfn \(hex($0))" + zoneName($0) }
                           ?? "alloc \(gfp.description) order \(order): failed")
                if pfn == nil { break }
            }
            return out
        case "free":
            guard w.count >= 2 else { throw bad("free", "expected: free PFN [ORDER] [cpu N] | free all") }
            let cpu = try a.smallOption("cpu", limit: 1 << 20)
            guard cpu < kernel.machine.cpus.possible else { throw bad("cpu", "\(cpu): the machine has \(kernel.machine.cpus.possible) CPUs") }
            if w[1] == "all" {
                let n = live.count
                for (pfn, order) in live.sorted(by: { $0.key < $1.key }) {
                    if kernel.freePages(pfn, order: Order(order), cpu: cpu) == .freed {
                        touched(pfn, order: order, allocated: false, line: line, command: shown, path: [])
                    }
                }
                live = [:]
                return ["freed \(n) allocations"]
            }
            let pfn = Pfn(try number(w[1], "pfn"))
            var order = live[pfn] ?? 0
            if w.count >= 3 && w[2] != "cpu" { order = try a.small(w[2], "order", limit: maxOrder - 1) }
            guard order < maxOrder else { throw bad("order", "\(order): the largest order is \(maxOrder - 1)") }
            let before = kernel.log.lines.count
            var rec = EventRecorder()
            let r = kernel.freePages(pfn, order: Order(order), cpu: cpu, listener: &rec)
            var out = rec.events.map { "  " + describe($0) }
            switch r {
            case .freed:
                live[pfn] = nil
                touched(pfn, order: order, allocated: false, line: line, command: shown, path: out)
                out.append("free pfn \(hex(pfn)) order \(order): done")
            case .badPage:
                out += kernel.log.lines[before...].map { "  " + $0 }
                out.append("free pfn \(hex(pfn)) order \(order): refused")
            case .invalidPfn:
                throw bad("pfn", "\(hex(pfn)) has no struct page (no zone holds it)")
            }
            return out
        case "poke", "peek":
            guard w.count == (cmd == "poke" ? 3 : 2) else { throw bad(cmd, cmd == "poke" ? "expected: poke ADDR BYTE" : "expected: peek ADDR") }
            var addr = try number(w[1], "addr")
            if let phys = kernel.directMapPhys(addr) { addr = phys }
            // Only RAM the machine has (memblock.memory) holds bytes; anything else is a bad
            // address, as a kernel access would fault there.
            guard kernel.memblock.memory.regions.contains(where: { addr >= $0.base && addr - $0.base < $0.size }) else {
                throw bad("addr", "\(hex(addr)) is a bad address: not RAM of this machine (give a physical address of RAM or its direct-map address)")
            }
            if cmd == "peek" { return ["\(hex(addr)): \(hex(UInt64(kernel.physMem.read(addr))))"] }
            let v = try number(w[2], "byte")
            guard v < 256 else { throw bad("byte", "\(v) does not fit a byte") }
            kernel.physMem.write(addr, UInt8(v))
            return []
        case "drain":
            kernel.drainAllPages()
            return ["drained every CPU's pcp lists"]
        case "sysctl":
            guard w.count == 2, let eq = w[1].firstIndex(of: "=") else { throw bad("sysctl", "expected: sysctl vm.NAME=VALUE") }
            do { try kernel.writeSysctl(String(w[1][..<eq]), String(w[1][w[1].index(after: eq)...])) } catch {
                throw bad("sysctl", "\"\(w[1])\": " + { if case .unknown = error { return "not a sysctl kmemlab models" }; return "invalid value (EINVAL)" }())
            }
            return []
        case "show":
            guard w.count == 2 else { throw bad("show", "expected: show " + ProcFiles.names.joined(separator: "|")) }
            guard let lines = ProcFiles.render(w[1], kernel) else {
                throw bad("show", "\"\(w[1])\": unknown (\(ProcFiles.names.joined(separator: ", ")))")
            }
            return lines
        case "check":
            return [kernel.checkPageAllocInvariants() ?? kernel.checkSlubInvariants() ?? "invariants hold"]
        default:
            if let out = try runSlab(w, line: line) { return out }
            throw bad("command", "\"\(cmd)\": unknown (try help)")
        }
    }

    mutating func touched(_ head: Pfn, order: Int, allocated: Bool, line: Int, command: String, path: [String]) {
        touches += 1
        lastTouch[head] = ShellBlockEvent(line: line, command: command, head: head, order: order, allocated: allocated,
                                          path: path, sequence: touches)
    }

    /// The latest command that allocated or freed a block holding `pfn`, as the explorer's pfn
    /// answer shows it after the boot's history; empty when no command did.
    public func history(of pfn: Pfn) -> [String] {
        var found: ShellBlockEvent? = nil
        for o in 0..<maxOrder {
            guard let e = lastTouch[pfn.alignedDown(Order(o))], e.order >= o, pfn - e.head < Order(e.order).pages,
                  found.map({ e.sequence > $0.sequence }) ?? true else { continue }
            found = e
        }
        guard let e = found else { return [] }
        let what = "\(e.allocated ? "allocated" : "freed") as the order-\(e.order) block at \(hex(e.head))"
        return ["after boot (shell line \(e.line): \(e.command)): \(what)"] + e.path
    }

    func zoneName(_ pfn: Pfn) -> String {
        guard let s = kernel.memmap.zoneSlot(pfn) else { return "" }
        return " (node \(s.nid), zone \(s.zoneName))"
    }

    static func zone(_ s: ZoneID) -> String { s.description }

    /// One event in words.
    public func describe(_ e: PageAllocEvent) -> String { AllocShell.describe(e) }

    /// One event in words.
    public static func describe(_ e: PageAllocEvent) -> String {
        switch e {
        case let .watermarkFailed(z, o, mark, free):
            return "\(zone(z)): order-\(o) watermark check failed (free \(free), mark \(mark) + reserves)"
        case .noFragmentDropped:
            return "no whole pageblock to steal nearby: retrying without ALLOC_NOFRAGMENT"
        case let .pcpHit(z, cpu, o, mt):
            return "\(zone(z)): pcp hit on cpu \(cpu) (order \(o), \(mt.name))"
        case let .pcpRefill(z, cpu, o, n):
            return "\(zone(z)): pcp list of cpu \(cpu) empty: refilled with \(n) order-\(o) blocks"
        case let .split(z, pfn, from, to, mt):
            return from == to ? "\(zone(z)): took order-\(to) block \(hex(pfn)) from the \(mt.name) list"
                : "\(zone(z)): split order-\(from) block \(hex(pfn)) (\(mt.name)) down to order \(to)"
        case let .fallback(z, o, fo, want, fb, claimed):
            return "\(zone(z)): no \(want.name) block for order \(o): took an order-\(fo) block from \(fb.name)" + (claimed ? ", stealing its pageblock" : "")
        case let .watermarkBoosted(z, b):
            return "\(zone(z)): fallback boosts the watermarks by \(b) pages"
        case let .highatomicReserved(z, pfn):
            return "\(zone(z)): pageblock \(hex(pfn)) joins the highatomic reserve"
        case let .allocated(pfn, o, gfp, mt):
            return "mm_page_alloc: pfn=\(hex(pfn)) order=\(o) migratetype=\(mt.rawValue) gfp_flags=\(gfp.description)"
        case let .slowPath(step):
            switch step {
            case .wakeKswapd: return "slow path: wake kswapd"
            case .retryMinWatermark: return "slow path: retry at the min watermark"
            case .directCompaction: return "slow path: direct compaction would run (not modelled)"
            case .directReclaim: return "slow path: direct reclaim would run (not modelled)"
            case .oomKiller: return "slow path: the OOM killer would be invoked (not modelled)"
            case .giveUp: return "slow path: giving up, as a __GFP_NORETRY allocation would"
            }
        case let .failed(o, gfp):
            return "page allocation failure: order:\(o), mode:\(hex(UInt64(gfp.rawValue)))(\(gfp.description))"
        case let .pcpFree(z, cpu, pfn, o, mt):
            return "\(zone(z)): pfn \(hex(pfn)) onto cpu \(cpu)'s pcp list (order \(o), \(mt.name))"
        case let .pcpDrain(z, cpu, n):
            return "\(zone(z)): cpu \(cpu)'s pcp list over high: \(n) pages back to the buddy lists"
        case let .freedToBuddy(z, pfn, o, merged, tail):
            return "\(zone(z)): pfn \(hex(pfn)) order \(o) merged up to order \(merged), at the list's \(tail ? "tail" : "head")"
        case let .badPage(pfn, reason):
            return "Bad page state at pfn \(hex(pfn)): \(reason.dumpReason)"
        }
    }
}
