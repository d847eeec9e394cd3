// `kmemlab highmem`: kmap and kmap_local by hand on a booted i386 machine, with the slot and
// address each call gets, so the persistent window's round-robin scan, its flushes and the
// per-CPU local stacks can be watched.

import MMCore

public struct HighmemShell {
    public var kernel: Kernel
    public let source: String

    public init(kernel: Kernel, source: String) {
        self.kernel = kernel
        self.source = source
    }

    public static let help = """
    Commands (numbers in decimal or 0x hex):
      kmap PFN                    map a page: highmem pages get a persistent
                                  slot at PKMAP_BASE
      kunmap PFN                  release one kmap of the page (the slot stays
                                  until a flush)
      kmap_local PFN [cpu N]      push a per-CPU fixmap slot (kmap_local_page)
      kunmap_local ADDR [cpu N]   pop it (the most recent mapping of that CPU)
      pkmap                       the slots in use: slot, address, pfn,
                                  pkmap_count
      zones                       the i386 zones and the lowmem/highmem boundary
    """

    /// Runs one command and returns what it prints; misuse the kernel would BUG or WARN on
    /// prints the kernel's line, and the state stays as it was before the call.
    public mutating func run(_ text: String, line: Int) throws(InputError) -> [String] {
        // Words are split on blanks; a CR (a script saved with CRLF line ends) is a blank too.
        let w = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\r\n" }).map(String.init)
        guard let cmd = w.first, !cmd.hasPrefix("#") else { return [] }
        let a = Args(words: w, source: source, line: line)
        guard let st = kernel.i386 else { throw a.bad("arch", "highmem needs an i386 build (--arch i386 or i386-pae)") }
        let cpu = try a.smallOption("cpu", limit: 1 << 20)
        guard cpu < st.highmem.localStack.count else {
            throw a.bad("cpu", "\(cpu): the machine has \(st.highmem.localStack.count) CPUs")
        }
        func arg(_ name: String) throws(InputError) -> UInt64 {
            guard w.count >= 2 else { throw a.bad(name, "expected: \(cmd) \(name.uppercased())") }
            return try a.number(w[1], name)
        }
        func pfnArg() throws(InputError) -> Pfn {
            let pfn = Pfn(try arg("pfn"))
            guard pfn < kernel.maxPfn else { throw a.bad("pfn", "\(hex(pfn)): past max_pfn \(hex(kernel.maxPfn))") }
            return pfn
        }
        do {
            switch cmd {
            case "help":
                return HighmemShell.help.split(separator: "\n").map(String.init)
            case "kmap", "kmap_local":
                let pfn = try pfnArg()
                let (va, path): (UInt64, KmapPath)
                if cmd == "kmap" { (va, path) = try kernel.kmap(pfn: pfn) } else { (va, path) = try kernel.kmapLocal(pfn: pfn, cpu: cpu) }
                return ["\(cmd) \(hex(pfn)) -> \(hex(va))  (\(describe(path)))"]
            case "kunmap":
                let pfn = try pfnArg()
                try kernel.kunmap(pfn: pfn)
                guard let hm = kernel.i386?.highmem, let s = hm.slot(ofPfn: pfn) else { return ["kunmap \(hex(pfn)): lowmem, nothing to do"] }
                let c = hm.pkmapCount[s]
                return ["kunmap \(hex(pfn)): slot \(s) count \(c)" + (c == 1 ? " (mapped, unused: reclaimed at the next flush)" : "")]
            case "kunmap_local":
                let va = try arg("addr")
                try kernel.kunmapLocal(vaddr: va, cpu: cpu)
                let out = ["kunmap_local \(hex(va)) on cpu \(cpu): depth now \(kernel.i386!.highmem.localStack[cpu].count)"]
                return out + takeWarnings()
            case "pkmap":
                let hm = st.highmem
                var out = ["PKMAP_BASE \(hex(st.layout.pkmapBase)), \(st.layout.lastPkmap) slots, last_pkmap_nr \(hm.lastPkmapNr), flushes \(hm.flushes)"]
                for i in hm.pkmapCount.indices where hm.pkmapCount[i] != 0 {
                    out.append("  slot \(padLeft(String(i), 4))  \(hex(st.layout.pkmapAddr(UInt64(i))))  pfn \(hex(hm.pkmapPfn[i]))  count \(hm.pkmapCount[i])")
                }
                for (c, stack) in hm.localStack.enumerated() where !stack.isEmpty {
                    out.append("  cpu \(c) kmap_local: " + stack.enumerated().map { "\(hex(hm.localAddress(cpu: c, idx: $0.offset)))=pfn \(hex($0.element))" }.joined(separator: ", "))
                }
                return out
            case "zones":
                var out: [String] = []
                for z in st.zones {
                    out.append("\(padRight(z.type.name, 8)) start \(hex(z.startPfn)) spanned \(z.spannedPages) present \(z.presentPages) managed(estimate) \(z.managedPages)")
                }
                out.append("lowmem ends at pfn \(hex(kernel.maxLowPfn.raw)) (high_memory \(hex(st.layout.highMemory))); highmem \(hex(st.highstartPfn))-\(hex(st.highendPfn)), \(st.totalhighPages) pages free")
                return out
            default:
                throw a.bad("command", "\"\(cmd)\": unknown (try help)")
            }
        } catch let e as KmapError {
            switch e {
            case let .bug(line, what): return ["kernel BUG at mm/highmem.c:\(line)! (\(what))"] + takeWarnings()
            case .wouldSleep: return ["\(cmd): every persistent slot is held; the task would sleep in map_new_virtual() until a kunmap"]
            }
        } catch let e as InputError {
            throw e
        } catch {
            throw a.bad("command", "\(error)")
        }
    }

    mutating func takeWarnings() -> [String] {
        // A WARN_ON_ONCE fires once per boot; show each the first time it is seen.
        let all = kernel.i386?.highmem.warnings ?? []
        defer { shownWarnings = all.count }
        return Array(all.dropFirst(shownWarnings))
    }
    var shownWarnings = 0

    func describe(_ p: KmapPath) -> String {
        switch p {
        case .lowmem: return "lowmem: the direct map, no slot"
        case let .alreadyMapped(s): return "slot \(s), already mapped: count \(kernel.i386!.highmem.pkmapCount[s])"
        case let .newSlot(s, flushed):
            return "slot \(s), new" + (flushed > 0 ? "; the scan wrapped and flush_all_zero_pkmaps() freed \(flushed) unused slots" : "")
        case let .localSlot(c, d): return "cpu \(c) kmap_local slot \(d)"
        }
    }
}
