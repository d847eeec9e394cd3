// Malformed or contradictory input gets a one-line error naming the file, line and field — never
// a crash. And what is well-formed survives a trip through a machine file unchanged.

import Foundation
import MMCore
import MMText
import KmemlabTestSupport
import Testing

@Suite("bad input is reported, not crashed on")
struct BadInputTests {
    let oracleLog = Fixtures.text(Fixtures.casePath("pc-4g-2cpu", "dmesg.txt"))

    func parseError(_ text: String) -> InputError? {
        do { _ = try DmesgParser(fileName: "x.txt").parse(text); return nil } catch { return error }
    }

    @Test("a log cut before its e820 map")
    func truncatedBeforeMap() throws {
        let cut = oracleLog.split(separator: "\n").prefix(2).joined(separator: "\n")
        let e = try #require(parseError(cut))
        #expect(e.field == "BIOS-e820")
        #expect(e.description.hasPrefix("x.txt:2: BIOS-e820: no \"BIOS-e820:\" map"))
    }

    @Test("a log cut in the middle of an e820 line names that line")
    func truncatedInLine() throws {
        let lines = oracleLog.split(separator: "\n").prefix(5).map(String.init)
        let cut = (lines.dropLast() + [String(lines.last!.prefix(40))]).joined(separator: "\n")
        let e = try #require(parseError(cut))
        #expect(e.line == 5 && e.field == "BIOS-e820")
    }

    @Test("binary garbage")
    func garbage() throws {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let e = try #require(parseError(String(decoding: bytes, as: UTF8.self)))
        #expect(e.field == "BIOS-e820")
    }

    @Test("an address beyond 52 bits")
    func absurdAddress() throws {
        let text = oracleLog.replacingOccurrences(of: "BIOS-e820: [mem 0x0000000100000000-0x000000013fffffff] usable",
                                                  with: "BIOS-e820: [mem 0x0100000000000000-0x010000013fffffff] usable")
        let e = try #require(parseError(text))
        #expect(e.line == 10 && e.message.contains("beyond the 52 bits"))
    }

    @Test("an unknown e820 type name")
    func unknownType() throws {
        let text = oracleLog.replacingOccurrences(of: "000000013fffffff] usable", with: "000000013fffffff] bananas")
        let e = try #require(parseError(text))
        #expect(e.field == "BIOS-e820 type" && e.line == 10)
    }

    @Test("overlapping NUMA ranges of different nodes")
    func overlappingNUMA() throws {
        let text = Fixtures.text(Fixtures.casePath("pc-16g-numa2", "dmesg.txt"))
            .replacingOccurrences(of: "Node 1 PXM 1 [mem 0x240000000-0x43fffffff]", with: "Node 1 PXM 1 [mem 0x200000000-0x43fffffff]")
        let e = try #require(parseError(text))
        #expect(e.field == "SRAT" && e.message.contains("overlaps node 0"))
    }

    func fileError(_ json: String) -> InputError? {
        do { _ = try MachineFile.decode(Data(json.utf8), fileName: "m.json"); return nil } catch { return error }
    }

    @Test("machine files: every malformed field is named", arguments: [
        ("{", "(file)"),
        ("[]", "(file)"),
        (#"{"e820": []}"#, "e820"),
        (#"{"e820": [{"start": "0x0", "end": "0x9fbff", "type": "bananas"}]}"#, "e820[0].type"),
        (#"{"e820": [{"start": "0xzz", "end": "0x9fbff", "type": "usable"}]}"#, "e820[0].start"),
        (#"{"e820": [{"start": "0x1000", "end": "0x10", "type": "usable"}]}"#, "e820[0].end"),
        (#"{"e820": [{"start": "0x0", "end": "0x20000000000000", "type": "usable"}]}"#, "e820[0].end"),
        (#"{"e820": [{"start": "0x0", "end": "0xfff", "type": "usable"}], "cpus": {"present": 0}}"#, "cpus.present"),
        (#"{"e820": [{"start": "0x0", "end": "0xfff", "type": "usable"}], "numa": [{"node": 0, "start": "0x0", "end": "0x2fff"}, {"node": 1, "start": "0x1000", "end": "0x3fff"}]}"#, "SRAT"),
        (#"{"e820": [{"start": "0x0", "end": "0xfff", "type": "usable"}], "firmwareEdits": [{"stage": "later", "op": "update", "start": "0x0", "end": "0xfff"}]}"#, "firmwareEdits[0].stage"),
    ])
    func machineFile(_ json: String, _ field: String) throws {
        let e = try #require(fileError(json))
        #expect(e.field == field, "\(e)")
        #expect(!e.description.contains("\n"))
    }

    @Test("--mem, --numa and --smp values are checked")
    func options() throws {
        var o = MachineOptions()
        o.mem = "banana"
        #expect(throws: InputError.self) { try o.build() }
        o.mem = "4G"; o.numa = "0:1G,1:1G"
        #expect(throws: InputError.self) { try o.build() }
        o.numa = nil; o.smp = 0
        #expect(throws: InputError.self) { try o.build() }
    }
}

@Suite("machine files round-trip")
struct MachineFileRoundTripTests {
    static let logs = Fixtures.caseNames.map { Fixtures.casePath($0, "dmesg.txt") }
        + Fixtures.hardwareLogs.map { Fixtures.hardwarePath($0) }

    @Test("every oracle and hardware machine survives --save-machine and --machine", arguments: logs)
    func roundTrip(_ path: String) throws {
        let m = try DmesgParser(fileName: path).parse(Fixtures.text(path))
        let back = try MachineFile.decode(MachineFile.encode(m), fileName: "saved.json")
        #expect(back == m)
    }

    @Test("a preset survives too")
    func preset() throws {
        let m = QEMUPreset(type: .q35, memBytes: 32 << 30, cpus: 8, nodeSizes: [8 << 30, 8 << 30, 8 << 30, 8 << 30]).machine()
        #expect(try MachineFile.decode(MachineFile.encode(m), fileName: "saved.json") == m)
    }
}

@Suite("the kmemlab command")
struct CommandTests {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/kmemlab").path

    func run(_ args: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out; p.standardError = err
        if stdin != nil { p.standardInput = input }
        try p.run()
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test("boot with no machine option is a QEMU pc with 4 GiB: its e820 lines are pc-4g-2cpu's",
          .enabled(if: FileManager.default.fileExists(atPath: binary)))
    func defaultBoot() throws {
        let r = try run(["boot", "--show", "dmesg"])
        #expect(r.status == 0)
        let expected = Fixtures.e820Lines(Fixtures.messages(Fixtures.text(Fixtures.casePath("pc-4g-2cpu", "dmesg.txt"))))
        #expect(Fixtures.e820Lines(Fixtures.messages(r.out)) == expected)
        #expect(r.out.hasPrefix("[    0.000000] Linux version 6.1.0-56-amd64"))
    }

    @Test("bad input exits 2 with one line on stderr", .enabled(if: FileManager.default.fileExists(atPath: binary)),
          arguments: [["boot", "--mem", "banana"], ["boot", "--from-dmesg", "/nonexistent"], ["boot", "--show", "iomem"], ["boot", "--slab-caches", "/nonexistent"], ["slab", "no_such_cache"], ["boot", "--replay-memblock"],
                      ["boot", "--no-such-option"], ["boot", "--preset", "qemu-pc", "--from-dmesg", "x"],
                      ["boot", "--from-dmesg", #filePath], ["boot", "--sysctl", "vm.min_free_kbytes"],
                      ["boot", "--sysctl", "vm.min_free_kbytes=-5"], ["boot", "--sysctl", "vm.swappiness=60"],
                      ["boot", "--sysctl", "vm.percpu_pagelist_high_fraction=3"],
                      ["alloc", "--preset", "qemu-pc", "--mem", "128M", "alloc GFP_BOGUS 0"],
                      ["alloc", "--preset", "qemu-pc", "--mem", "128M", "alloc GFP_KERNEL 11"],
                      ["alloc", "--preset", "qemu-pc", "--mem", "128M", "free banana"],
                      ["alloc", "--preset", "qemu-pc", "--mem", "128M", "dance"],
                      ["alloc", "--preset", "qemu-pc", "--mem", "128M", "kmalloc banana"],
                      ["alloc", "--preset", "qemu-pc", "--mem", "128M", "kmalloc 99999999"],
                      ["alloc", "--preset", "qemu-pc", "--mem", "128M", "cache_alloc no_such_cache"],
                      ["alloc", "--preset", "qemu-pc", "--mem", "128M", "cache_create x 64 flags SLAB_BOGUS"],
                      ["alloc", "--preset", "qemu-pc", "--mem", "128M", "cache_create x 64 align 3"],
                      ["pfn", "--mem", "128M", "banana"], ["pfn", "--mem", "128M", "--memory-model", "discontig", "1"],
                      ["pfn", "--memory-model", "flat", "--numa", "0:1G,1:1G", "0x100"],
                      ["boot", "--arch", "sparc"], ["boot", "--arch", "i386", "--show", "zoneinfo"],
                      ["alloc", "--arch", "i386", "--mem", "128M", "alloc GFP_KERNEL 0"],
                      ["translate", "--arch", "i386-pae", "0xc0000000"],
                      ["boot", "--arch", "i386", "--memory-model", "vmemmap"],
                      ["highmem", "--mem", "128M", "kmap banana"], ["highmem", "--mem", "128M", "kmap 0x999999"],
                      ["highmem", "--mem", "128M", "kmap_local 0x10 cpu 99"], ["highmem", "--mem", "128M", "juggle"],
                      ["highmem", "--arch", "x86_64", "--mem", "128M", "pkmap"]])
    func badInput(_ args: [String]) throws {
        let r = try run(args)
        #expect(r.status == 2)
        #expect(r.out.isEmpty)
        #expect(!r.err.isEmpty)
    }

    @Test("replay of a gzip'd trace cut short: the summary of what it held, then the error, exit 2", .enabled(if: FileManager.default.fileExists(atPath: binary)))
    func truncatedTrace() throws {
        let gz = try Data(contentsOf: URL(fileURLWithPath: Fixtures.casePath("pc-2g-trace", "trace.txt.gz")))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kmemlab-cut-\(getpid()).gz").path
        _ = FileManager.default.createFile(atPath: path, contents: gz.prefix(gz.count / 2))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try run(["replay", path, "--summary"])
        #expect(r.status == 2)
        #expect(r.out.hasPrefix("lines ") && r.out.contains("event kmem_cache_alloc "))
        #expect(r.err == "kmemlab: \(path): (gzip): the gzip stream ends early: the file is truncated\n")
    }

    @Test("highmem: kmap's path and the kernel's BUG line for an unbalanced kunmap", .enabled(if: FileManager.default.fileExists(atPath: binary)))
    func highmemCommand() throws {
        let r = try run(["highmem", "--arch", "i386-pae", "--mem", "4G", "kmap 0x40000", "kunmap 0x40000", "kunmap 0x40000", "kmap 0x1000"])
        #expect(r.status == 0)
        #expect(r.out == """
            kmap 0x40000 -> 0xff001000  (slot 1, new)
            kunmap 0x40000: slot 1 count 1 (mapped, unused: reclaimed at the next flush)
            kernel BUG at mm/highmem.c:368! (kunmap_high)
            kmap 0x1000 -> 0xc1000000  (lowmem: the direct map, no slot)

            """)
        let l = try run(["layout", "--arch", "i386", "--mem", "2G"])
        #expect(l.status == 0 && l.out.contains("MAXMEM = VMALLOC_END - PAGE_OFFSET - __VMALLOC_RESERVE = 0xfebfe000 - 0xc0000000 - 128 MB = 0x36bfe000 (875 MB)"))
    }

    @Test("alloc: bad commands name the argument and field; good ones print their path", .enabled(if: FileManager.default.fileExists(atPath: binary)))
    func allocCommand() throws {
        let bad = try run(["alloc", "--preset", "qemu-pc", "--mem", "128M", "alloc GFP_KERNEL 0", "alloc __GFP_DMA|__GFP_DMA32 0"])
        #expect(bad.status == 2)
        #expect(bad.err == "kmemlab: (arguments):2: gfp: \"__GFP_DMA|__GFP_DMA32\": these zone bits name no zone (Linux: BUG in gfp_zone)\n")
        let good = try run(["alloc", "--preset", "qemu-pc", "--mem", "128M", "alloc GFP_KERNEL 4", "free all", "check"])
        #expect(good.status == 0)
        #expect(good.out.contains("mm_page_alloc: pfn="))
        #expect(good.out.contains("alloc GFP_KERNEL order 4: pfn 0x"))
        #expect(good.out.hasSuffix("freed 1 allocations\ninvariants hold\n"))
        let shell = try run(["shell", "--preset", "qemu-pc", "--mem", "128M"], stdin: "alloc GFP_KERNEL 0\nbogus\n")
        #expect(shell.status == 2)
        #expect(shell.err == "kmemlab: <stdin>:2: command: \"bogus\": unknown (try help)\n")
    }

    @Test("--replay-memblock --show memblock prints the real boot's reservations", .enabled(if: FileManager.default.fileExists(atPath: binary)))
    func replay() throws {
        let log = Fixtures.casePath("pc-1g-2cpu", "dmesg.txt")
        let replayed = try run(["boot", "--from-dmesg", log, "--replay-memblock", "--show", "memblock"])
        let model = try run(["boot", "--from-dmesg", log, "--show", "memblock"])
        #expect(replayed.status == 0 && model.status == 0)
        let count: (String) -> Int = { out in
            out.split(separator: "\n").drop { !$0.hasSuffix("reserved:") }.dropFirst().count
        }
        // The model makes the real boot's reservations, so both print the same 38 regions.
        #expect(count(model.out) == 38)
        #expect(count(replayed.out) == 38)
        #expect(model.out == replayed.out)
        #expect(replayed.out.contains("  37: 0x000000003ffe0000..0x000000003ffe1b9c"))
    }

    @Test("--sysctl recomputes the watermarks after boot", .enabled(if: FileManager.default.fileExists(atPath: binary)))
    func sysctl() throws {
        let log = Fixtures.casePath("pc-1g-2cpu-nologbuf", "dmesg.txt")
        let r = try run(["boot", "--from-dmesg", log, "--replay-memblock", "--sysctl", "vm.min_free_kbytes=8192", "--show", "sysctl,zoneinfo"])
        #expect(r.status == 0)
        #expect(r.out.contains("vm.min_free_kbytes = 8192\n"))
        #expect(r.out.contains("        min      2016\n        low      2520\n        high     3024\n"))
    }

    @Test("bench --json reports boot time and host memory, every workload, and the host allocators in one object", .enabled(if: FileManager.default.fileExists(atPath: binary)))
    func bench() throws {
        let r = try run(["bench", "--json", "--repeat", "1", "--iterations", "1024", "--max-boot", "64T"])
        #expect(r.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        for size in ["4gib", "64gib", "1tib", "64tib"] {
            let t = try #require(object["boot_\(size)_s"] as? Double)
            let rss = try #require(object["boot_\(size)_peak_rss_bytes"] as? Double)
            #expect(t > 0 && t < 60)
            #expect(rss > 0 && rss < Double(4 << 30))
        }
        #expect(object["boot_4pib_s"] is NSNull, "skipped by --max-boot: null, but present")
        for key in ["slab_pair_ns", "kmalloc_mixed_ns", "slab_slowpath_ns", "page_order0_pair_ns", "page_order3_pair_ns",
                    "page_order9_pair_ns", "glibc_pair_ns", "glibc_mixed_ns", "freelist_limit_pair_ns", "slab_limit_pair_ns", "slab_vs_limit",
                    "slowpath_vs_glibc", "page0_vs_slab", "host_bytes_per_page",
                    "web_map_ms", "web_tile_ms", "web_map_1t_ms", "web_tile_1t_ms"] {
            let v = try #require(object[key] as? Double, "\(key)")
            #expect(v > 0)
        }
        // Present either way: a number when the library is installed, null when not (and the
        // ratios against mimalloc follow its figures).
        for key in ["jemalloc_pair_ns", "jemalloc_mixed_ns", "mimalloc_pair_ns", "mimalloc_mixed_ns",
                    "slab_vs_mimalloc", "kmalloc_vs_mimalloc"] {
            #expect(object[key] is Double || object[key] is NSNull, "\(key)")
        }
        #expect((object["slab_vs_mimalloc"] is Double) == (object["mimalloc_pair_ns"] is Double))
        #expect((object["kmalloc_vs_mimalloc"] is Double) == (object["mimalloc_mixed_ns"] is Double))
    }

    @Test("an invalid user-defined map panics as Linux does (status 1)", .enabled(if: FileManager.default.fileExists(atPath: binary)))
    func panic() throws {
        let r = try run(["boot", "--append", "memmap=exactmap"])
        #expect(r.status == 1)
        #expect(r.out.hasSuffix("Kernel panic - not syncing: Invalid user supplied memory map\n"))
    }

    @Test("--save-machine then --machine boots the same", .enabled(if: FileManager.default.fileExists(atPath: binary)))
    func saveAndLoad() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kmemlab-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let a = try run(["boot", "--preset", "qemu-q35", "--mem", "8G", "--smp", "4", "--save-machine", file])
        let b = try run(["boot", "--machine", file])
        #expect(a.status == 0 && b.status == 0 && a.out == b.out)
    }

    @Test("--help documents the machine options and --show", .enabled(if: FileManager.default.fileExists(atPath: binary)))
    func help() throws {
        let r = try run(["boot", "--help"])
        #expect(r.status == 0)
        for word in ["--from-dmesg", "--preset", "--machine", "--save-machine", "--show", "--append", "--cmdline", "dmesg"] {
            #expect(r.out.contains(word), "\(word)")
        }
    }
}

@Suite("the README's examples")
struct ReadmeExampleTests {
    static let root = Fixtures.oracle.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let binary = root.appendingPathComponent(".build/debug/kmemlab").path

    /// The example commands: lines of the Examples block that run kmemlab (continuations joined,
    /// trailing comments kept out), except the benchmark and --help.
    static var commands: [String] {
        let text = Fixtures.text(root.appendingPathComponent("README.md").path)
        guard let start = text.range(of: "## Examples\n\n```\n"),
              let end = text.range(of: "```", range: start.upperBound..<text.endIndex) else { return [] }
        var out: [String] = []
        var pending = ""
        for raw in text[start.upperBound..<end.lowerBound].split(separator: "\n") {
            var line = pending + raw.trimmingCharacters(in: .whitespaces)
            pending = ""
            if line.hasSuffix("\\") { pending = String(line.dropLast()) + " "; continue }
            guard line.contains("swift run kmemlab"), !line.hasPrefix("#"), !line.contains("--help") else { continue }
            if let hash = line.range(of: "   # ") ?? line.range(of: " # ") { line = String(line[..<hash.lowerBound]) }
            out.append(line)
        }
        return out
    }

    @Test("every example runs as written and exits 0", .enabled(if: FileManager.default.fileExists(atPath: binary)))
    func examplesRun() throws {
        let commands = Self.commands
        #expect(commands.count >= 25)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kmemlab-readme-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        for c in commands {
            var command = c.replacingOccurrences(of: "swift run kmemlab", with: Self.binary)
                .replacingOccurrences(of: "my.json", with: scratch.appendingPathComponent("my.json").path)
            // Pages the examples write go to the scratch directory, whatever their name.
            if let r = command.range(of: "--html ") {
                let name = command[r.upperBound...].prefix { $0 != " " }
                command.replaceSubrange(r.upperBound..<command.index(r.upperBound, offsetBy: name.count),
                                        with: scratch.appendingPathComponent(String(name)).path)
            }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", command + " > /dev/null 2>&1"]
            p.currentDirectoryURL = Self.root
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(c)")
        }
    }
}
