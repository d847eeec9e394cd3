// kmemlab: boot a described machine through Linux 6.1's memory management and show the result.

import ArgumentParser
import Foundation
import MMCore
import MMText
import MMExplorer
import ExplorerServer

struct Kmemlab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kmemlab",
        abstract: "An executable, exact model of Linux 6.1's physical memory management.",
        subcommands: [Boot.self, Alloc.self, Shell.self, Slab.self, Pfn.self, LayoutCommand.self, HighmemCommand.self, Translate.self, PageTables.self, Replay.self, RunCommand.self, ReportCommand.self, ServeCommand.self, Bench.self],
        defaultSubcommand: Boot.self)
}

struct MachineArguments: ParsableArguments {
    @Option(name: .customLong("from-dmesg"), help: ArgumentHelp("Reconstruct the machine from a Linux boot log.", valueName: "file"))
    var fromDmesg: String?

    @Option(help: ArgumentHelp("A QEMU 7.2 machine type: qemu-pc (i440FX) or qemu-q35.", valueName: "name"))
    var preset: String?

    @Option(help: ArgumentHelp("Guest memory for a preset: 4G, 512M, 1T (a plain number is MiB). Default 4G.", valueName: "size"))
    var mem: String?

    @Option(help: ArgumentHelp("CPUs for a preset. Default 2.", valueName: "n"))
    var smp: Int?

    @Option(help: ArgumentHelp("NUMA nodes for a preset, as QEMU's -numa: \"0:2G,1:2G\" (CPUs are split into contiguous blocks per node).", valueName: "spec"))
    var numa: String?

    @Flag(help: ArgumentHelp("A virtio-blk disk on the preset machine (capture.sh's --disk)."))
    var disk = false

    @Option(name: .customLong("machine"), help: ArgumentHelp("A machine file (JSON; see docs/MACHINE-FILE.md).", valueName: "file"))
    var machineFile: String?

    @Option(help: ArgumentHelp("Replace the kernel command line.", valueName: "text"))
    var cmdline: String?

    @Option(help: ArgumentHelp("Add to the kernel command line (repeatable).", valueName: "text"))
    var append: [String] = []

    @Option(name: .customLong("slab-caches"), help: ArgumentHelp("Create these caches at boot instead of the built-in table (the oracle's slab-attrs.tsv format).", valueName: "file"))
    var slabCaches: String?

    @Option(name: .customLong("memory-model"), help: ArgumentHelp("flat, sparse or vmemmap (Debian's; the default): how struct pages are laid out.", valueName: "model"))
    var memoryModel: String?

    @Option(help: ArgumentHelp("Seed for everything random (freelist order, hardened pointers). Default 0.", valueName: "n"))
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("The kernel build: x86_64 (Debian's amd64; the default), i386 (686: HIGHMEM4G) or i386-pae (686-pae: PAE, HIGHMEM64G). The i386 builds boot as far as zones and highmem.", valueName: "arch"))
    var arch: String?

    /// The machine, ready to boot, with the slab table and seed applied.
    func kernel(_ built: Machine? = nil) throws -> Kernel {
        let m = try built ?? options.build()
        var k = Kernel(machine: m)
        // What the user should know about the input, on stderr (stdout stays what Linux prints).
        if let source = m.sourceKernel, !Kernel.banner.hasPrefix("Linux version \(source) ") {
            note("the log is from Linux \(source); kmemlab models Debian's 6.1.0-56-amd64 (6.1.192) on its machine")
        }
        if k.commandLine.truncated {
            note("the command line is longer than \(KernelCommandLine.maxLength) bytes (COMMAND_LINE_SIZE − 1): the kernel sees it cut there")
        }
        k.seed = seed
        if let name = arch {
            guard let a = Arch(rawValue: name) else {
                throw InputError(file: "(options)", field: "--arch", "\"\(name)\": expected x86_64, i386 or i386-pae")
            }
            k.arch = a
            if a.is32Bit, let mm = memoryModel, mm != "flat" {
                throw InputError(file: "(options)", field: "--memory-model", "\"\(mm)\": Debian's i386 kernels are FLATMEM")
            }
        }
        if let name = memoryModel {
            guard let m = MemoryModel(rawValue: name) else {
                throw InputError(file: "(options)", field: "--memory-model", "\"\(name)\": expected flat, sparse or vmemmap")
            }
            k.memoryModel = m
        }
        if let path = slabCaches { k.slabCacheTable = try SlabCacheTable.parse(try readText(path), file: path) }
        return k
    }

    var options: MachineOptions {
        var o = MachineOptions()
        o.fromDmesg = fromDmesg; o.preset = preset; o.mem = mem; o.smp = smp; o.numa = numa
        o.machineFile = machineFile; o.cmdline = cmdline; o.append = append; o.disk = disk
        return o
    }
}

struct Boot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot a machine and print what Linux would print.",
        discussion: """
        With no machine option the machine is a QEMU pc with 4 GiB and 2 CPUs, booted
        with the oracle's command line (console=ttyS0 loglevel=8 memblock=debug
        no_hash_pointers log_buf_len=32M nokaslr).

        --show names a /proc file or the kernel log:
          dmesg        the boot log this far, in dmesg's format ("[    0.000000] "
                       prefix)
          zoneinfo     /proc/zoneinfo at the end of boot: sizes, managed pages,
                       watermarks, protection, pageset high/batch, stat thresholds
                       (counters the model does not keep print 0; free pages are
                       managed minus boot's own pages)
          meminfo      /proc/meminfo: MemTotal, MemFree and the Slab lines
          sysctl       the vm.* sysctls the page allocator reads, as `sysctl vm.NAME`
                       prints them
          memblock     /sys/kernel/debug/memblock/{memory,reserved} at
                       memblock_free_all() (with --replay-memblock: the real boot's
                       reservations)
          buddyinfo, pagetypeinfo   free blocks per order (and migratetype)
          vmallocinfo  /proc/vmallocinfo: the vmap areas the model made (boot's NUMA
                       hash tables…)
          slabinfo     /proc/slabinfo: every cache's geometry (objects only those the
                       model allocated: boot's own kernel objects are not modelled)
          efi_memmap   a UEFI boot's EFI memory map as the kernel holds it at the end
                       (efi=debug's format; RUN on boot-services memory it kept), and
                       what efi_free_boot_services() freed

        --trace TRACE takes a kmem trace of this boot, recorded from the kernel command
        line (trace_event=kmem:*, as the README shows): the model boots to trace_init(),
        then replays the trace as recorded (the kernel's own pfns) up to the free of the
        last page kernel_init() gives back before it runs the first program, so --show
        describes the free lists as they really were after boot. Slab objects are not
        replayed yet: slabinfo stays the model's.

        --sysctl vm.NAME=VALUE writes a sysctl after boot, as `sysctl -w` would, and
        recomputes what depends on it (min_free_kbytes, watermark_scale_factor,
        watermark_boost_factor, lowmem_reserve_ratio, percpu_pagelist_high_fraction).
        With several names each is printed after a line "==> NAME <==".

        Errors in the input (a log, a machine file, an option) print one line naming
        the file, line and field, and exit with status 2. A boot the kernel itself
        would stop ends with its panic line and status 1.
        """)

    @OptionGroup var machine: MachineArguments

    @Option(name: .customLong("save-machine"), help: ArgumentHelp("Write the machine as a machine file (JSON) and continue.", valueName: "file"))
    var saveMachine: String?

    @Flag(name: .customLong("replay-memblock"), help: "Use the memblock calls of the --from-dmesg log (booted with memblock=debug) for the reserved set, instead of kmemlab's reservation model.")
    var replayMemblock = false

    @Option(help: ArgumentHelp("What to print (repeatable, or comma-separated): dmesg, " + ProcFiles.names.joined(separator: ", ") + ".", valueName: "name"))
    var show: [String] = []

    @Option(help: ArgumentHelp("Write a vm sysctl after boot (repeatable): vm.min_free_kbytes=8192.", valueName: "name=value"))
    var sysctl: [String] = []

    @Flag(help: "Print the log step by step: a heading before each boot step (the Linux function and file) and what it did to memblock and the free lists.")
    var steps = false

    @Option(help: ArgumentHelp("A kmem trace of this boot, recorded from the kernel command line (trace_event=kmem:*): boot to trace_init(), then replay the trace as recorded up to kernel_init()'s last free before the first program runs, so --show prints the machine as it really was after boot (see the README).", valueName: "file"))
    var trace: String?

    static let showable = ["dmesg"] + ProcFiles.names
    static let planned = ["iomem"]

    func run() throws {
        var names = show.flatMap { $0.split(separator: ",").map(String.init) }
        if names.isEmpty { names = ["dmesg"] }
        for n in names where !Boot.showable.contains(n) {
            let why = Boot.planned.contains(n) ? "not modelled yet" : "unknown (known: \(Boot.showable.joined(separator: ", ")))"
            throw InputError(file: "(options)", field: "--show", "\"\(n)\": \(why)")
        }
        let m = try machine.options.build()
        if let path = saveMachine {
            do { try MachineFile.encode(m).write(to: URL(fileURLWithPath: path)) } catch {
                throw InputError(file: path, field: "(file)", "cannot write: \(error.localizedDescription)")
            }
        }
        if replayMemblock && m.memblockLog.isEmpty {
            throw InputError(file: "(options)", field: "--replay-memblock",
                             "the machine has no memblock=debug calls to replay (give --from-dmesg a log booted with memblock=debug)")
        }
        var kernel = try machine.kernel(m)
        kernel.replayMemblock = replayMemblock
        if kernel.arch.is32Bit {
            if let n = names.first(where: { $0 != "dmesg" }) {
                throw InputError(file: "(options)", field: "--show", "\"\(n)\": the \(kernel.arch.rawValue) model boots as far as zones and highmem; only dmesg is there")
            }
            if !sysctl.isEmpty || replayMemblock {
                throw InputError(file: "(options)", field: sysctl.isEmpty ? "--replay-memblock" : "--sysctl", "not modelled for \(kernel.arch.rawValue)")
            }
        }
        if trace != nil {
            if kernel.arch.is32Bit { throw InputError(file: "(options)", field: "--trace", "the \(kernel.arch.rawValue) model boots as far as zones and highmem; a trace replays onto the x86-64 model") }
            if replayMemblock { throw InputError(file: "(options)", field: "--trace", "replays from trace_init(); not with --replay-memblock") }
            kernel.scratch.stopAtTraceInit = true
        }
        var panic: String? = nil
        do { try kernel.boot() } catch { if case let .panic(msg) = error { panic = msg } }
        if panic == nil { try kernel.checkMemoryModel() }
        if panic == nil, let trace { kernel = try Boot.replayBootPart(trace, kernel) }
        if panic == nil { try kernel.writeSysctls(sysctl) }
        for n in names {
            if names.count > 1 { print("==> \(n) <==") }
            if let lines = ProcFiles.render(n, kernel) {
                for line in lines { print(line) }
            } else {
                for line in steps && !kernel.arch.is32Bit ? BootStepsText.lines(kernel) : kernel.log.rendered() { print(line) }
                if let panic { print("[    0.000000] Kernel panic - not syncing: \(panic)") }
            }
        }
        if panic != nil { throw ExitCode(1) }
    }
}

extension Boot {
    /// `boot --trace`: the boot part of the trace replayed as recorded (TraceReplay.bootPart);
    /// what was applied, refused and left goes to stderr.
    static func replayBootPart(_ path: String, _ kernel: Kernel) throws -> Kernel {
        let part = try TraceReplay.bootPart(path, kernel)
        var note = "kmemlab: \(path): \(part.applied) events replayed as recorded"
        if let end = part.end {
            note += " up to line \(end.line) (kernel_init()'s last free, pfn \(end.pfn.map { hex($0) } ?? "0x0")); \(part.after) later events are the programs' and were not replayed"
        } else {
            note += ", the whole trace: kernel_init()'s last free (pfn \(part.endPfn.map { hex($0) } ?? "none")) is not in it"
        }
        FileHandle.standardError.write((note + "\n").data(using: .utf8)!)
        for l in part.replay.text { FileHandle.standardError.write(("  " + l + "\n").data(using: .utf8)!) }
        return part.replay.kernel
    }
}

/// Boots the machine the options describe; a kernel panic is an error here. Commands that need
/// the x86-64 model refuse an i386 build.
func bootForShell(_ machine: MachineArguments, command: String = "", allow32: Bool = false,
                  toTraceInit: Bool = false) throws -> Kernel {
    var kernel = try machine.kernel()
    if kernel.arch.is32Bit && !allow32 {
        throw InputError(file: "(options)", field: "--arch", "\(kernel.arch.rawValue): kmemlab \(command) needs the x86-64 model (the i386 boot stops after zones and highmem; try boot, layout or highmem)")
    }
    kernel.scratch.stopAtTraceInit = toTraceInit
    try kernel.bootChecked()
    return kernel
}

extension Kernel {
    /// `--sysctl vm.NAME=VALUE` assignments, written as their proc handlers write them.
    mutating func writeSysctls(_ assignments: [String]) throws {
        for assignment in assignments {
            let a = try ProcFiles.sysctlAssignment(assignment, file: "(options)", field: "--sysctl")
            try ProcFiles.writeSysctl(&self, a, file: "(options)", field: "--sysctl")
        }
    }

    /// Boots; a kernel panic prints its line and exits 1; a model the machine cannot have is an
    /// input error.
    mutating func bootChecked() throws {
        do { try boot() } catch {
            if case let .panic(msg) = error {
                print("[    0.000000] Kernel panic - not syncing: \(msg)")
                throw ExitCode(1)
            }
        }
        try checkMemoryModel()
    }

    func checkMemoryModel() throws {
        if memoryModel == .flat && nodes.filter({ $0.nodeSpannedPages > 0 }).count > 1 {
            throw InputError(file: "(options)", field: "--memory-model",
                             "flat: FLATMEM describes one node; this machine has \(nodes.filter { $0.nodeSpannedPages > 0 }.count) (Linux: FLATMEM depends on !NUMA)")
        }
    }
}

struct Alloc: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot a machine, then allocate and free pages by hand and print each call's path.",
        discussion: AllocShell.help + """


        Example:
          kmemlab alloc --preset qemu-pc --mem 1G "alloc GFP_KERNEL 0" \\
                        "alloc GFP_ATOMIC|__GFP_COMP 3" "free all" "show buddyinfo"
        """)

    @OptionGroup var machine: MachineArguments

    @Argument(help: "Commands, one per argument (see below).")
    var commands: [String] = []

    func run() throws {
        var shell = AllocShell(kernel: try bootForShell(machine, command: "alloc"), source: "(arguments)")
        for (i, c) in commands.enumerated() {
            for line in try shell.run(c, line: i + 1) { print(line) }
        }
    }
}

struct Slab: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot a machine and show one slab cache: its /sys/kernel/slab attributes and where its slabs are.",
        discussion: """
        CACHE is a cache's name or one of the names merged into it (kmalloc-64,
        dentry, PING…). Without CACHE, lists every cache with the names merged into
        it.

        Example:
          kmemlab slab --preset qemu-pc --smp 8 task_struct
        """)

    @OptionGroup var machine: MachineArguments

    @Argument(help: "The cache.")
    var cache: String?

    func run() throws {
        let kernel = try bootForShell(machine, command: "slab")
        guard let name = cache else {
            for id in kernel.slabCachesNewestFirst {
                let c = kernel.slub.caches[id]
                print(c.name + (c.aliases.isEmpty ? "" : " (also: " + c.aliases.joined(separator: ", ") + ")"))
            }
            return
        }
        guard let id = kernel.slub.find(name) else {
            throw InputError(file: "(arguments)", field: "CACHE", "\"\(name)\": no such cache (kmemlab slab lists them)")
        }
        for line in SlabFiles.describe(kernel, id) { print(line) }
    }
}

struct Pfn: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot a machine and show how its memory model turns a pfn into a struct page and back.",
        discussion: """
        PFN is decimal or 0x hex. --memory-model picks FLATMEM, classic SPARSEMEM or
        SPARSEMEM_VMEMMAP (Debian's); the boot then allocates the memmap as that model
        does.

        Example:
          kmemlab pfn --memory-model sparse 0x12345
        """)

    @OptionGroup var machine: MachineArguments

    @Argument(help: "The page frame number.")
    var pfn: String

    func run() throws {
        let v = try parseAddress(pfn, field: "PFN")
        let kernel = try bootForShell(machine, command: "pfn")
        for line in PfnExplain.lines(kernel, MMCore.Pfn(v)) { print(line) }
    }
}

struct LayoutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layout",
        abstract: "Boot a machine and print the kernel's virtual memory map with this boot's bases.",
        discussion: """
        The table follows Documentation/x86/x86_64/mm.rst. Without nokaslr the direct
        map, vmalloc and vmemmap bases are randomised as kernel_randomize_memory()
        does, from --seed.

        Examples:
          kmemlab layout --cmdline "nokaslr"
          kmemlab layout --seed 7
          kmemlab layout --arch i386-pae --mem 4G    (32-bit: lowmem, highmem, why)
          kmemlab layout --arch i386 --mem 2G --append vmalloc=256M
        """)

    @OptionGroup var machine: MachineArguments

    func run() throws {
        let kernel = try bootForShell(machine, allow32: true)
        for line in kernel.arch.is32Bit ? Layout.lines32(kernel) : Layout.lines(kernel) { print(line) }
    }
}

struct HighmemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "highmem",
        abstract: "Boot an i386 machine, then kmap and kunmap highmem pages by hand.",
        discussion: HighmemShell.help + """


        Examples:
          kmemlab highmem --arch i386-pae --mem 4G "kmap 0x40000" "kmap 0x1000" \\
                          "pkmap"
          kmemlab highmem --arch i386 --mem 2G "kmap_local 0x50000" \\
                          "kunmap_local 0xfffbb000"
        """)

    @OptionGroup var machine: MachineArguments

    @Argument(help: "Commands, one per argument.")
    var commands: [String] = []

    func run() throws {
        var m = machine
        if m.arch == nil { m.arch = Arch.i386PAE.rawValue }
        if m.arch == Arch.x86_64.rawValue {
            throw InputError(file: "(options)", field: "--arch", "highmem needs an i386 build (i386 or i386-pae)")
        }
        var shell = HighmemShell(kernel: try bootForShell(m, command: "highmem", allow32: true), source: "(arguments)")
        for (i, c) in commands.enumerated() {
            for line in try shell.run(c, line: i + 1) { print(line) }
        }
    }
}

struct Shell: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot a machine, then read page-allocator commands from standard input.",
        discussion: AllocShell.help + """


        A bad command prints one line to standard error and the shell goes on; the
        exit status is 2 if any command was bad.
        """)

    @OptionGroup var machine: MachineArguments

    func run() throws {
        var shell = AllocShell(kernel: try bootForShell(machine, command: "shell"), source: "<stdin>")
        let interactive = isatty(0) != 0
        var n = 0, bad = false
        while true {
            if interactive { FileHandle.standardOutput.write(Data("kmemlab> ".utf8)) }
            guard let text = readLine() else { break }
            n += 1
            do {
                for line in try shell.run(text, line: n) { print(line) }
            } catch {
                FileHandle.standardError.write(Data("kmemlab: \(error)\n".utf8))
                bad = true
            }
        }
        if bad { throw ExitCode(2) }
    }
}

// Simulated RAM below 1 TiB lives in lazily committed host memory.
HostMemory.install()

// Input errors exit with status 2, like ArgumentParser's own usage errors here; --help exits 0.
do {
    var command = try Kmemlab.parseAsRoot()
    try command.run()
} catch let error as InputError {
    FileHandle.standardError.write(Data("kmemlab: \(error)\n".utf8))
    exit(2)
} catch let error as ExitCode {
    exit(error.rawValue)
} catch {
    let code = Kmemlab.exitCode(for: error)
    if code == .success {
        Kmemlab.exit(withError: error)
    }
    FileHandle.standardError.write(Data((Kmemlab.fullMessage(for: error) + "\n").utf8))
    exit(2)
}

/// Parses a number (an address, a pfn) given as decimal or 0x hex.
func parseAddress(_ text: String, field: String) throws -> UInt64 {
    let t = text.replacingOccurrences(of: "_", with: "")
    let v: UInt64? = t.lowercased().hasPrefix("0x") ? UInt64(t.dropFirst(2), radix: 16) : UInt64(t)
    guard let value = v else { throw InputError(file: "(arguments)", field: field, "\"\(text)\" is not a number (decimal or 0x hex)") }
    return value
}

struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot a machine and walk a virtual address through the kernel page tables.",
        discussion: """
        Each level's entry is read from the tables boot built in simulated memory
        (init_top_pgt, the direct map init_mem_mapping made, the vmemmap, vmalloc
        areas, the kernel image) and shown with its flags; the walk ends at a physical
        address, a non-present entry or a non-canonical address.

        Examples:
          kmemlab translate --cmdline nokaslr 0xffff888001000000
          kmemlab translate 0xffffffff81000000
        """)

    @OptionGroup var machine: MachineArguments

    @Argument(help: "Virtual addresses (decimal or 0x hex).")
    var addresses: [String]

    func run() throws {
        let values = try addresses.map { try parseAddress($0, field: "ADDR") }
        let kernel = try bootForShell(machine, command: "translate")
        for (i, v) in values.enumerated() {
            if i > 0 { print("") }
            for line in PageTableText.translate(kernel, v) { print(line) }
        }
    }
}

struct PageTables: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pagetables",
        abstract: "Boot a machine and print its kernel page tables as /sys/kernel/debug/page_tables/kernel does.",
        discussion: """
        The ptdump format: ranges of equal protections per level between the address
        markers. --check-wx adds the line mark_rodata_ro()'s W+X check prints.

        Example:
          kmemlab pagetables --cmdline nokaslr
        """)

    @OptionGroup var machine: MachineArguments

    @Flag(name: .customLong("check-wx"), help: "Also print the W+X check's verdict.")
    var checkWX = false

    func run() throws {
        let kernel = try bootForShell(machine, command: "pagetables")
        let d = PageTableDump.dump(kernel)
        for line in d.lines { print(line) }
        if checkWX {
            print(d.wxPages == 0 ? "x86/mm: Checked W+X mappings: passed, no W+X pages found."
                                 : "x86/mm: Checked W+X mappings: FAILED, \(d.wxPages) W+X pages found.")
        }
    }
}

/// One line on stderr that is not an error: what kmemlab tells the user about their input.
func note(_ text: String) {
    FileHandle.standardError.write(Data("kmemlab: note: \(text)\n".utf8))
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a kmem trace onto a model machine, and measure its fragmentation.",
        discussion: """
        TRACE is the text of /sys/kernel/tracing/trace or trace_pipe, or `trace-cmd
        report`, plain or gzip'd, recorded with the kmem events (trace_event=kmem:*
        on the command line, or set_event). The 6.1 formats are read, and the older
        ones (decimal pfn=, kmalloc_node, kmem_cache_alloc_node); other events are
        counted and skipped. A free of something allocated before tracing began is
        counted, not an error.

        The machine is booted from the machine options (--from-dmesg the traced
        boot's own log). By default the model decides: every mm_page_alloc asks the
        model's page allocator for what the kernel was asked (order, gfp flags, CPU),
        and the replay reports how often the model chose the kernel's pfn, and
        explains the first allocation where it did not. Later frees find the model's
        own pages through the trace's pfns. Consequences of other events
        (mm_page_alloc_zone_locked, mm_page_pcpu_drain, mm_page_alloc_extfrag,
        mm_page_free_batched) are counted beside the model's own, not applied.

        --as-recorded applies every page event with the pfn the kernel chose instead:
        refills of the per-cpu lists, fallbacks that claim pageblocks, allocations,
        frees. An event the model's state cannot allow is refused and reported with
        its line, and the replay goes on.

        Both end with the fragmentation of every zone (--show fragmentation for the
        table alone; unusable_index and extfrag_index as debugfs prints them).
        --every N (or --every 0.5s, in trace time) prints the same figures along the
        way, as CSV (JSON lines with --json). Slab objects are not replayed yet (issue 17).

        A trace recorded from the kernel command line (trace_event=) begins at
        trace_init(), after mm_init(): the model boots to that point, and the rest
        of the boot comes from the trace (its frees of deferred pages, the initrd and
        the init sections; the per-cpu pagesets and the initcalls' watermarks at the
        first event that shows them). For a trace recorded on a running machine,
        give --start booted.

        --summary alone only reads the trace: the events by kind, and how allocations
        and frees pair. --kmem-stat prints perf kmem stat's tables from it (--lines rows
        each; 6.1's migratetypes labelled as 6.1 numbers them, where perf swaps Movable
        and Reclaimable).

        Examples:
          kmemlab replay --summary trace.txt.gz
          kmemlab replay --from-dmesg dmesg.txt trace.txt.gz
          kmemlab replay --as-recorded --from-dmesg dmesg.txt trace.txt.gz --show buddyinfo
          kmemlab replay --from-dmesg dmesg.txt trace.txt.gz --json --every 100000
        """)

    @OptionGroup var machine: MachineArguments

    @Argument(help: "The trace file.")
    var trace: String

    @Flag(help: "Print what the trace holds (the events by kind, and how allocations and frees pair); alone, replay nothing.")
    var summary = false

    @Flag(name: .customLong("as-recorded"), help: "Replay the page events with the kernel's own pfns.")
    var asRecorded = false

    @Option(help: ArgumentHelp("Write a vm sysctl when the replay starts (repeatable): vm.NAME=VALUE.", valueName: "assignment"))
    var sysctl: [String] = []

    @Option(help: ArgumentHelp("Deciding, also replay on a machine with these machine options or sysctls added to this command's (blank-separated; write --vs='--sysctl vm.watermark_boost_factor=0') and print both side by side. The start point is this command's.", valueName: "options"))
    var vs: String?

    @Flag(help: "Let the model choose every page (the default unless --summary, --kmem-stat or --as-recorded is given).")
    var decide = false

    @Option(help: ArgumentHelp("Print the fragmentation figures every N events, or every T seconds of trace time (0.5s, 2s).", valueName: "N|Ts"))
    var every: String?

    @Flag(name: .customLong("kmem-stat"), help: "Print perf kmem stat's tables: slab by call site and by pointer, pages by pfn, both summaries with the order × migratetype grid.")
    var kmemStat = false

    @Option(help: ArgumentHelp("Rows per --kmem-stat table (default 20).", valueName: "n"))
    var lines = 20

    @Flag(help: "Print one JSON object at the end (and JSON lines for --every).")
    var json = false

    @Option(help: ArgumentHelp("Where the replay starts: trace-init (a trace recorded from the kernel command line, which begins at trace_init(); the default) or booted (a trace recorded on a running machine).", valueName: "point"))
    var start = "trace-init"

    @Option(help: ArgumentHelp("After the replay, print these files: " + ProcFiles.names.joined(separator: ", ") + ".", valueName: "name"))
    var show: [String] = []

    /// The machine booted for a replay (to trace_init() unless --start booted), sysctls written.
    func replayRun(_ machine: MachineArguments, _ sysctl: [String]) throws -> ReplayRun {
        var k = try bootForShell(machine, command: "replay", toTraceInit: start == "trace-init")
        // Checked now on a copy; from trace_init() they are written once the trace's initcalls
        // have set the watermarks (written before, those would recompute min_free_kbytes).
        var probe = k
        try probe.writeSysctls(sysctl)
        if start != "trace-init" { k = probe }
        var run = ReplayRun(kernel: k, asRecorded: asRecorded)
        if start == "trace-init" {
            run.pendingSysctls = sysctl.compactMap { a in
                a.firstIndex(of: "=").map { (String(a[..<$0]), String(a[a.index(after: $0)...])) }
            }
        }
        return run
    }

    /// This command's arguments with `options` added (later options win, repeatable ones add up),
    /// --vs itself left out.
    static func withOptions(_ options: String) throws -> Replay {
        var argv = Array(CommandLine.arguments.drop { $0 != "replay" }.dropFirst())
        var i = 0
        while i < argv.count {
            if argv[i] == "--vs" { argv.removeSubrange(i..<Swift.min(i + 2, argv.count)); continue }
            if argv[i].hasPrefix("--vs=") { argv.remove(at: i); continue }
            i += 1
        }
        let extra = options.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        do { return try Replay.parse(argv + extra) } catch {
            throw InputError(file: "(options)", field: "--vs", "\"\(options)\": \(Replay.message(for: error))")
        }
    }

    func run() throws {
        // A gzip'd trace cut short is an error, after the report of what it held.
        var truncated: InputError? = nil
        try replay(&truncated)
        if let truncated { throw truncated }
    }

    func replay(_ truncated: inout InputError?) throws {
        if asRecorded && decide {
            throw InputError(file: "(options)", field: "--decide", "give --decide or --as-recorded, not both")
        }
        var everyEvents: Int? = nil, everyUS: Int64? = nil
        if let v = every {
            if v.hasSuffix("s"), let t = Double(v.dropLast()), t > 0, t < 1e9 { everyUS = Int64((t * 1e6).rounded(.up)) }
            else if let n = Int(v), n > 0 { everyEvents = n }
            else { throw InputError(file: "(options)", field: "--every", "\"\(v)\": give a positive number of events, or seconds of trace time such as 0.5s") }
        }
        for name in show where !ProcFiles.names.contains(name) {
            throw InputError(file: "(options)", field: "--show", "\"\(name)\": unknown (\(ProcFiles.names.joined(separator: ", ")))")
        }
        if json && (kmemStat || !show.isEmpty) {
            throw InputError(file: "(options)", field: kmemStat ? "--kmem-stat" : "--show", "prints text tables; not with --json")
        }
        let replaying = asRecorded || decide || !(summary || kmemStat)
        if lines < 0 { throw InputError(file: "(options)", field: "--lines", "\(lines): give a number of rows") }

        if !replaying && (every != nil || json || !show.isEmpty) {
            throw InputError(file: "(options)", field: every != nil ? "--every" : json ? "--json" : "--show",
                             "needs a replay (drop --summary, or add --decide or --as-recorded)")
        }
        // One pass over the trace feeds the summary and the replay.
        var s = TraceSummary(fileName: trace)
        guard start == "trace-init" || start == "booted" else {
            throw InputError(file: "(options)", field: "--start", "\"\(start)\": give trace-init or booted")
        }
        var run = replaying ? try replayRun(machine, sysctl) : nil
        var stat: KmemStat? = nil
        if kmemStat {
            // perf's cross-node count needs the traced machine's CPU → node map.
            stat = KmemStat(cpuToNode: try run?.kernel.pageAlloc.cpuToNode ?? bootForShell(machine, command: "replay").pageAlloc.cpuToNode)
        }
        var other: ReplayRun? = nil
        if let vs {
            guard run?.decided != nil else { throw InputError(file: "(options)", field: "--vs", "compares replays that decide (drop --as-recorded and --summary)") }
            let alt = try Replay.withOptions(vs)
            other = try replayRun(alt.machine, alt.sysctl)
        }
        let clock = ContinuousClock(), start = clock.now
        var events = 0
        if every != nil, !json { print(ReplayReport.csvHeader) }
        var nextUS: Int64? = nil
        do throws(InputError) { try TraceFile.forEachLine(trace) { (line, number) throws(InputError) in
            guard let e = try s.add(line, number: number) else { return }
            stat?.add(e, names: s.reader)
            guard run != nil else { return }
            run!.apply(e)
            other?.apply(e)
            events += 1
            var due = false
            if let n = everyEvents { due = events % n == 0 }
            if let step = everyUS, let t = e.timeUS {
                if nextUS == nil { nextUS = t + step }
                if t >= nextUS! { due = true; while nextUS! <= t { nextUS! += step } }
            }
            if due {
                let k = run!.kernel
                if json { print(ReplayReport.json(k, events: events, timeUS: e.timeUS, extfrag: run!.extfrag)) }
                else { for l in ReplayReport.csvRows(k, events: events, timeUS: e.timeUS) { print(l) } }
            }
        } } catch {
            guard TraceFile.isStreamError(error) else { throw error }
            truncated = error
        }
        let seconds = Double((clock.now - start).components.attoseconds) / 1e18 + Double((clock.now - start).components.seconds)
        if summary && !json { for l in s.text { print(l) } }
        if let stat, !json { for l in stat.slabText(lines: lines) + stat.pageText(lines: lines) { print(l) } }
        guard let run else { return }
        if json {
            let mine = ReplayReport.summaryJSON(run, summary: s, events: events, seconds: seconds)
            if let other {
                print("{\"base\":\(mine),\"vs\":\(ReplayReport.summaryJSON(other, summary: s, events: events, seconds: seconds))}")
            } else {
                print(mine)
            }
            return
        }
        if let other, let vs {
            for l in ReplayReport.sideBySide(run, other, vsLabel: "with " + vs) { print(l) }
            for name in show {
                print("==> \(name) <== (this machine)")
                for l in ProcFiles.render(name, run.kernel) ?? [] { print(l) }
                print("==> \(name) <== (with \(vs))")
                for l in ProcFiles.render(name, other.kernel) ?? [] { print(l) }
            }
            return
        }
        for l in run.text { print(l) }
        for l in FragmentationText.summary(run.kernel, extfrag: run.extfrag) { print(l) }
        for name in show {
            print("==> \(name) <==")
            for l in ProcFiles.render(name, run.kernel) ?? [] { print(l) }
        }
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Boot a machine and write its memory as one self-contained HTML page.",
        discussion: """
        The page shows physical memory page by page along a Hilbert curve (coloured
        by what each page is, its zone, node or pageblock migratetype), the zones
        and their watermarks, the buddy lists, the slab caches, the firmware map and
        memblock, the virtual layout and the boot log. It needs no server and no
        network: open it from disk, or send it to someone.

        Examples:
          kmemlab report --html machine.html
          kmemlab report --html numa.html --preset qemu-q35 --mem 8G --smp 4 --numa 0:4G,1:4G
          kmemlab report --html nb01.html --from-dmesg Tests/Fixtures/oracle/hardware/nb-01-6.1.txt
          kmemlab report --html hog.html --mem 1G --workload Workloads/memory-hog.txt
          kmemlab report --html replay.html --from-dmesg dmesg.txt --trace trace.txt.gz
          kmemlab report --html i386.html --arch i386 --mem 2G   (the 3G/1G split drawn)
        """)

    @OptionGroup var machine: MachineArguments

    @Option(help: ArgumentHelp("Where to write the page.", valueName: "file"))
    var html: String

    @Option(help: ArgumentHelp("Run this workload first (kmemlab run's language); the map then shows its processes' anonymous pages, page cache and page tables.", valueName: "script"))
    var workload: String?

    @Option(help: ArgumentHelp("Replay this kmem trace of the machine's boot first (as kmemlab replay does, from trace_init()); the page gains a timeline of each zone's fragmentation along the trace, and the map shows the end.", valueName: "file"))
    var trace: String?

    @Flag(name: .customLong("as-recorded"), help: "With --trace: apply the kernel's own pfns instead of letting the model decide.")
    var asRecorded = false

    func run() throws {
        if trace != nil && workload != nil { throw InputError(file: "(options)", field: "--trace", "give --trace or --workload, not both") }
        if asRecorded && trace == nil { throw InputError(file: "(options)", field: "--as-recorded", "needs --trace") }
        // An i386 build gives the page it can: the 3G/1G layout, zones, firmware map and log.
        var kernel = try bootForShell(machine, command: trace != nil ? "report --trace" : workload != nil ? "report --workload" : "report",
                                      allow32: trace == nil && workload == nil, toTraceInit: trace != nil)
        if !kernel.arch.is32Bit, let why = PageMap.refusal(kernel) { throw InputError(file: "(options)", field: "--mem", why) }
        var title = kernel.machine.name
        var user: [UserPageExtent] = []
        var timeline: ReplayTimeline? = nil
        var processes: [ExplorerData.ProcessView] = []
        if let path = trace {
            var run = ReplayRun(kernel: kernel, asRecorded: asRecorded)
            var t = ReplayTimeline(mode: asRecorded ? "as recorded" : "decide")
            var summary = TraceSummary(fileName: path)
            var events = 0, lastUS: Int64? = nil
            t.sample(kernel, events: 0, timeUS: nil)
            try TraceFile.forEachLine(path) { (line, number) throws(InputError) in
                guard let e = try summary.add(line, number: number) else { return }
                run.apply(e)
                events += 1
                lastUS = e.timeUS ?? lastUS
                t.maybeSample(run.kernel, events: events, timeUS: e.timeUS)
            }
            if events % t.every != 0 { t.sample(run.kernel, events: events, timeUS: lastUS) }
            kernel = run.kernel
            timeline = t
            title += " after replaying " + path
        }
        if let path = workload {
            let w = try Workload(parsing: try readText(path), file: path)
            var runner = WorkloadRunner(kernel: kernel)
            try runner.run(w)
            runner.faults.pageCache.drain(&runner.kernel!.memmap)
            user = runner.userPages
            processes = runner.processes.filter { $0.exitStatus == nil }.map {
                ExplorerData.ProcessView(comm: $0.comm, pid: $0.pid, status: runner.statusLines($0), maps: ProcMaps.lines($0))
            }
            kernel = runner.kernel!
            title += " after " + path
        }
        do {
            try Report.html(kernel, title: title, user: user, timeline: timeline, processes: processes).write(toFile: html, atomically: true, encoding: .utf8)
        } catch {
            throw InputError(file: html, field: "--html", "cannot write: \(error.localizedDescription)")
        }
        note("wrote \(html)")
    }
}

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Boot a machine and explore its memory in a browser.",
        discussion: """
        Serves the explorer's page for the booted machine at http://HOST:PORT/ and a
        JSON API (docs/EXPLORER-API.md): the machine, one page's descriptor and
        history, the allocation shell's commands (each answer is the path the call
        took), and booting another machine from options or a boot log. It listens on
        127.0.0.1 unless --host says otherwise: the API boots machines and runs
        commands for anyone who can reach it.

        Examples:
          kmemlab serve
          kmemlab serve --preset qemu-q35 --mem 8G --smp 4 --numa 0:4G,1:4G --port 8081
        """)

    @OptionGroup var machine: MachineArguments

    @Option(help: ArgumentHelp("The address to listen on. Default 127.0.0.1 (this machine only).", valueName: "host"))
    var host = "127.0.0.1"

    @Option(help: ArgumentHelp("The port. Default 8080.", valueName: "port"))
    var port = 8080

    func run() throws {
        guard (1...65535).contains(port) else { throw InputError(file: "(options)", field: "--port", "expected 1…65535") }
        // i386: the page the model can fill (layout, zones, firmware map, log); the routes that
        // need struct pages answer 400.
        let kernel = try bootForShell(machine, command: "serve", allow32: true)
        if !kernel.arch.is32Bit, let why = PageMap.refusal(kernel) { throw InputError(file: "(options)", field: "--mem", why) }
        let state = ExplorerState(kernel: kernel, title: kernel.machine.name)
        note("serving \(kernel.machine.name) at http://\(host):\(port)/")
        let done = DispatchSemaphore(value: 0)
        let (host, port) = (self.host, self.port)
        Task {
            do { try await ExplorerServer.run(state, host: host, port: port) } catch {
                FileHandle.standardError.write(Data("kmemlab: serve: \(error)\n".utf8))
            }
            done.signal()
        }
        done.wait()
        throw ExitCode(1)
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a workload: processes calling glibc's malloc and the memory system calls.",
        discussion: Workload.help + """


        Example:
          kmemlab run Workloads/malloc-small.txt --strace
          kmemlab run Workloads/explain-malloc.txt --mem 2G
        """)

    @Argument(help: "The workload script.")
    var script: String

    @Flag(help: "Print the processes' memory system calls as strace -f -e trace=memory does.")
    var strace = false

    @Flag(name: .customLong("no-machine"), help: "Model only the processes and glibc (system calls), without booting a machine: no pages, no faults.")
    var noMachine = false

    @Flag(name: .customLong("thp-align-anon"), help: "Place private anonymous mappings whose length is a multiple of 2 MiB on 2 MiB boundaries, as kernels since 6.7 do (6.1 does not; the glibc oracle's logs come from a 6.18 host).")
    var thpAlignAnon = false

    @Option(help: ArgumentHelp("CPUs the processes may run on (glibc's arena limit is 8 × this). Default: the machine's, or 1 with --no-machine.", valueName: "n"))
    var nprocs: Int?

    @OptionGroup var machine: MachineArguments

    func run() throws {
        let w = try Workload(parsing: try readText(script), file: script)
        let kernel = noMachine ? nil : try bootForShell(machine, command: "run")
        var runner = WorkloadRunner(kernel: kernel, recordSyscalls: strace)
        runner.thpAlignAnonymous = thpAlignAnon
        if let n = nprocs {
            guard n >= 1, n <= 8192 else { throw InputError(file: "(options)", field: "--nprocs", "\(n): expected 1…8192") }
            runner.nprocs = n
        }
        var failure: InputError? = nil
        do { try runner.run(w) } catch { failure = error }
        runner.finish()
        for l in runner.output { print(l) }
        if strace { for l in runner.strace { print(l) } }
        if let f = failure { throw f }
    }
}
