// arch/x86/kernel/e820.c behaviours: sanitising, update/remove, mem= and every memmap= form,
// e820_end_pfn.

import MMCore
import Testing

func table(_ entries: [(UInt64, UInt64, E820Type)]) -> E820Table {
    E820Table(entries.map { E820Entry(addr: $0.0, size: $0.1, type: $0.2) })
}
func triples(_ t: E820Table) -> [String] {
    t.entries.map { "\(hex($0.addr))+\(hex($0.size)):\($0.type.rawValue)" }
}

@Suite("e820 sanitising (e820__update_table)")
struct E820SanitizeTests {
    @Test("overlaps go to the numerically highest type; neighbours of one type merge; sorted")
    func overlaps() {
        var t = table([(0x10000, 0x10000, .reserved), (0, 0x40000, .ram), (0x38000, 0x10000, .acpi), (0x48000, 0x8000, .ram)])
        let okt = t.sanitize(); #expect(okt)
        #expect(triples(t) == ["0x0+0x10000:1", "0x10000+0x10000:2", "0x20000+0x18000:1", "0x38000+0x10000:3", "0x48000+0x8000:1"])
    }

    @Test("touching entries of one type merge, PRAM and soft reserved never do")
    func noMerge() {
        var t = table([(0, 0x1000, .ram), (0x1000, 0x1000, .ram), (0x2000, 0x1000, .pram), (0x3000, 0x1000, .pram),
                       (0x4000, 0x1000, .softReserved), (0x5000, 0x1000, .softReserved)])
        let okt = t.sanitize(); #expect(okt)
        #expect(triples(t) == ["0x0+0x2000:1", "0x2000+0x1000:12", "0x3000+0x1000:12",
                               "0x4000+0x1000:4026531839", "0x5000+0x1000:4026531839"])
    }

    @Test("zero-length entries vanish; unsorted input comes out sorted")
    func zeroAndUnsorted() {
        var t = table([(0x9000, 0x1000, .reserved), (0x5000, 0, .ram), (0, 0x2000, .ram)])
        let okt = t.sanitize(); #expect(okt)
        #expect(triples(t) == ["0x0+0x2000:1", "0x9000+0x1000:2"])
    }

    @Test("fewer than two entries, or one that wraps past 2^64: left as is, -1")
    func refused() {
        var one = table([(0x1000, 0x1000, .ram)])
        let okone = one.sanitize(); #expect(!okone)
        var wrap = table([(0, 0x1000, .ram), (UInt64.max - 0xfff, 0x2000, .reserved)])
        let before = wrap
        let okwrap = wrap.sanitize(); #expect(!okwrap)
        #expect(wrap == before)
    }

    @Test("every map of up to 3 entries on a small grid agrees with a byte-by-byte reference")
    func exhaustiveSmallWorlds() {
        let types: [E820Type] = [.ram, .reserved, .acpi]
        let spans: [(UInt64, UInt64)] = [(0, 2), (1, 3), (2, 4), (0, 4), (3, 4), (1, 2)]
        var cases: [[(UInt64, UInt64, E820Type)]] = []
        for a in spans { for ta in types { for b in spans { for tb in types {
            cases.append([(a.0, a.1 - a.0, ta), (b.0, b.1 - b.0, tb)])
            for c in [(UInt64(2), UInt64(3))] { cases.append([(a.0, a.1 - a.0, ta), (b.0, b.1 - b.0, tb), (c.0, c.1 - c.0, .nvs)]) }
        } } } }
        for entries in cases {
            var t = table(entries.map { ($0.0 * 0x1000, $0.1 * 0x1000, $0.2) })
            t.sanitize()
            // Reference: the type of each page is the highest type covering it; runs of one type.
            var pages = [UInt32](repeating: 0, count: 4)
            for (s, n, ty) in entries { for p in s..<(s + n) { pages[Int(p)] = max(pages[Int(p)], ty.rawValue) } }
            var ref: [String] = []
            var p = 0
            while p < 4 {
                if pages[p] == 0 { p += 1; continue }
                var q = p
                while q < 4 && pages[q] == pages[p] { q += 1 }
                ref.append("\(hex(UInt64(p) * 0x1000))+\(hex(UInt64(q - p) * 0x1000)):\(pages[p])")
                p = q
            }
            #expect(triples(t) == ref, "\(entries)")
        }
    }
}

@Suite("e820 update, remove, end_pfn")
struct E820EditTests {
    @Test("update splits a containing entry: head shrinks, range and tail are appended")
    func updateSplit() {
        var log = KernelLog()
        var t = table([(0, 0x10000, .ram)])
        let n = t.update(0x4000, 0x1000, from: .ram, to: .reserved, log: &log)
        #expect(n == 0x1000)
        #expect(triples(t) == ["0x0+0x4000:1", "0x4000+0x1000:2", "0x5000+0xb000:1"])
        #expect(log.lines == ["e820: update [mem 0x00004000-0x00004fff] usable ==> reserved"])
    }

    @Test("remove without a type prints the trailing space and drops every type")
    func removeUntyped() {
        var log = KernelLog()
        var t = table([(0, 0x2000, .ram), (0x2000, 0x2000, .reserved)])
        t.remove(0x1000, 0x2000, type: E820Type(0), checkType: false, log: &log)
        t.sanitize()
        #expect(triples(t) == ["0x0+0x1000:1", "0x3000+0x1000:2"])
        #expect(log.lines == ["e820: remove [mem 0x00001000-0x00002fff] "])
    }

    @Test("end_pfn: an entry crossing the limit stops the scan at the limit")
    func endPfn() {
        var log = KernelLog()
        let t = table([(0, 0x9f000, .ram), (0x10_0000, 0xbfee_0000, .ram), (0x1_0000_0000, 0x4000_0000, .ram)])
        #expect(t.endPfn(limit: Pfn(1 << 20), type: .ram, maxArchPfn: Pfn(0x4_0000_0000), log: &log) == Pfn(0xbffe0))
        #expect(t.endPfn(limit: Pfn(0x4_0000_0000), type: .ram, maxArchPfn: Pfn(0x4_0000_0000), log: &log) == Pfn(0x140000))
        #expect(log.lines == ["last_pfn = 0xbffe0 max_arch_pfn = 0x400000000", "last_pfn = 0x140000 max_arch_pfn = 0x400000000"])
    }
}

@Suite("mem= and memmap= (parse_memopt, parse_memmap_one)")
struct E820OptionTests {
    static let qemu2G: [(UInt64, UInt64, E820Type)] = [(0, 0x9fc00, .ram), (0x9fc00, 0x400, .reserved),
        (0xf0000, 0x10000, .reserved), (0x10_0000, 0x7fee_0000, .ram), (0x7ffe_0000, 0x20000, .reserved)]

    func apply(_ option: String, _ value: String) -> (E820Table, [String], Bool) {
        var log = KernelLog()
        var t = table(Self.qemu2G)
        let userdef = option == "mem" ? t.applyMemOption(value, log: &log).userdef : t.applyMemmapOption(value, log: &log)
        t.sanitize()
        return (t, log.lines, userdef)
    }

    @Test("mem= is an address limit on RAM")
    func mem() {
        let (t, lines, userdef) = apply("mem", "1G")
        #expect(userdef)
        #expect(lines == ["e820: remove [mem 0x40000000-0xfffffffffffffffe] usable"])
        #expect(t.entries.last == E820Entry(addr: 0x7ffe_0000, size: 0x20000, type: .reserved))
        #expect(t.entries[3] == E820Entry(addr: 0x10_0000, size: 0x3ff0_0000, type: .ram))
    }

    @Test("mem=0 and mem=nopentium are ignored")
    func memIgnored() {
        #expect(apply("mem", "0").1.isEmpty)
        let (_, lines, userdef) = apply("mem", "nopentium")
        #expect(!userdef && lines == ["mem=nopentium ignored! (only supported on x86_32)"])
    }

    @Test("nn$ss reserves, nn#ss adds ACPI, nn!ss adds PRAM, nn@ss adds RAM", arguments: [
        ("64M$0x10000000", E820Type.reserved), ("64M#0x10000000", .acpi), ("64M!0x10000000", .pram), ("64M@0x90000000", .ram),
    ])
    func addForms(_ value: String, _ type: E820Type) {
        let (t, _, userdef) = apply("memmap", value)
        #expect(userdef)
        let start: UInt64 = type == .ram ? 0x9000_0000 : 0x1000_0000
        #expect(t.entries.contains(E820Entry(addr: start, size: 64 << 20, type: type)))
    }

    @Test("nn%ss-t+n retypes, +n adds, -t removes one type, neither removes all")
    func percentForms() {
        let (u, uLines, _) = apply("memmap", "1M%0x200000-1+2")
        #expect(uLines == ["e820: update [mem 0x00200000-0x002fffff] usable ==> reserved"])
        #expect(u.entries.contains(E820Entry(addr: 0x20_0000, size: 0x10_0000, type: .reserved)))
        let (a, _, _) = apply("memmap", "1M%0xfe000000+7")
        #expect(a.entries.contains(E820Entry(addr: 0xfe00_0000, size: 0x10_0000, type: .pmem)))
        let (_, rLines, _) = apply("memmap", "1M%0x200000-1")
        #expect(rLines == ["e820: remove [mem 0x00200000-0x002fffff] usable"])
        let (_, allLines, _) = apply("memmap", "1M%0x200000")
        #expect(allLines == ["e820: remove [mem 0x00200000-0x002fffff] "])
    }

    @Test("memmap=exactmap clears the table; following items rebuild it")
    func exactmap() {
        let (t, _, userdef) = apply("memmap", "exactmap,640K@0,511M@1M")
        #expect(userdef)
        #expect(triples(t) == ["0x0+0xa0000:1", "0x100000+0x1ff00000:1"])
    }

    @Test("a plain memmap=nn is mem=nn")
    func plain() {
        #expect(apply("memmap", "1G").1 == ["e820: remove [mem 0x40000000-0xfffffffffffffffe] usable"])
    }

    @Test("memparse suffixes and bases")
    func memparseForms() {
        #expect(memparseWhole("4G") == 4 << 30)
        #expect(memparseWhole("0x1000") == 0x1000)
        #expect(memparseWhole("010") == 8)
        #expect(memparseWhole("64m") == 64 << 20)
        #expect(memparseWhole("1E") == 1 << 60)
        #expect(memparseWhole("12Q") == nil)
    }

    @Test("command lines split as next_arg splits them")
    func split() {
        let c = KernelCommandLine(#"ro quiet "acpi_osi=!Windows 2012" root=UUID=x memmap=64M$0x10000000 acpi_osi="a b""#)
        #expect(c.params.map(\.text) == ["ro", "quiet", "acpi_osi=!Windows 2012", "root=UUID=x", "memmap=64M$0x10000000", "acpi_osi=a b"])
    }
}
