// `kmemlab serve`'s routes, through Hummingbird's test client (no socket).

import Foundation
import Hummingbird
import HummingbirdTesting
import MMCore
import MMText
import MMExplorer
import ExplorerServer
import KmemlabTestSupport
import Testing

@Suite("the explorer's HTTP API")
struct ServerTests {
    static func app() throws -> some ApplicationProtocol {
        let k = try bootPreset("console=ttyS0 nokaslr", mem: 1 << 30, quiet: false)
        return Application(router: ExplorerServer.router(ExplorerState(kernel: k, title: "test")))
    }

    /// A what-if answer's row by its name.
    static func row(_ j: [String: Any], _ what: String) -> [String: Any]? {
        (j["rows"] as? [[String: Any]])?.first { $0["what"] as? String == what }
    }

    static func json(_ b: ByteBuffer) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(String(buffer: b).utf8))) as? [String: Any] ?? [:]
    }

    @Test("the page, the machine, a pfn, unknown routes")
    func reads() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("<script id=\"machine-data\" type=\"application/json\">"))
            }
            try await client.execute(uri: "/api/machine", method: .get) { r in
                #expect(r.status == .ok)
                #expect((Self.json(r.body)["zones"] as? [Any])?.count == 2)
            }
            try await client.execute(uri: "/api/pfn/0x1234", method: .get) { r in
                #expect(r.status == .ok)
                let lines = Self.json(r.body)["lines"] as? [String] ?? []
                #expect(lines.first?.hasPrefix("pfn 0x1234 = physical 0x1234000") == true)
                // The descriptor a click on the map shows: dump_page()'s fields and the pageblock.
                #expect(lines.contains { $0.hasPrefix("struct page: refcount ") && $0.contains(", flags: ") })
                #expect(lines.contains { $0.hasPrefix("pageblock 0x1200–0x13ff: ") })
                // How it got there: the boot steps that touched it, last.
                #expect(lines.last?.hasPrefix("  ") == true && lines.contains("how it got there (boot):"))
            }
            try await client.execute(uri: "/api/pfn/xyz", method: .get) { r in
                #expect(r.status == .badRequest)
                #expect(Self.json(r.body)["error"] as? String == "pfn: \"xyz\" is not a number (decimal or 0x…)")
            }
            // A tile of the page map: the aligned 4^4 pages around 0x1234, one page a cell.
            try await client.execute(uri: "/api/tile?pfn=0x1234&level=4", method: .get) { r in
                #expect(r.status == .ok)
                let j = Self.json(r.body)
                #expect(j["level"] as? Int == 4 && j["startPfn"] as? Int == 0x1200 && j["side"] as? Int == 16)
                #expect(j["pagesPerCell"] as? Int == 1)
                let kinds = Data(base64Encoded: j["kind"] as? String ?? "").map { [UInt8]($0) }
                #expect(kinds?.count == 256)
            }
            for (query, error) in [("pfn=zz&level=1", "pfn: \"zz\" is not a number (decimal or 0x…)"),
                                   ("pfn=1", "level: \"\" is not a tile level (0 for single pages, up to the whole map)"),
                                   ("pfn=1&level=10", "level: 10 is not in 0…9 (a tile at level L is an aligned block of 4^L pages)"),
                                   ("pfn=0x40000&level=0", "pfn: 0x40000 is beyond the map's last pfn 0x3ffff")] {
                try await client.execute(uri: "/api/tile?" + query, method: .get) { r in
                    #expect(r.status == .badRequest)
                    #expect(Self.json(r.body)["error"] as? String == error, "\(query)")
                }
            }
            try await client.execute(uri: "/api/nothing", method: .get) { r in #expect(r.status == .notFound) }
        }
    }

    @Test("an i386 machine: the page and its data; what needs struct pages is a 400 that says why")
    func i386() async throws {
        let k = try bootPreset("console=ttyS0 nokaslr", mem: 2 << 30, arch: .i386PAE, quiet: false)
        let app = Application(router: ExplorerServer.router(ExplorerState(kernel: k, title: "i386")))
        try await app.test(.router) { client in
            try await client.execute(uri: "/", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("\"arch32\":{\"pae\":true,\"pageOffset\":3221225472"))
            }
            try await client.execute(uri: "/api/machine", method: .get) { r in
                #expect(r.status == .ok)
                let arch32 = Self.json(r.body)["arch32"] as? [String: Any]
                #expect((arch32?["zones"] as? [Any])?.count == 3)
                #expect((arch32?["regions"] as? [Any])?.count == Layout.regions32(k).count)
            }
            let why = "the i386-pae model boots as far as zones and highmem: it has no struct pages"
            for (uri, method, field) in [("/api/pfn/0x1000", HTTPRequest.Method.get, "pfn: "), ("/api/command", .post, "body: "),
                                         ("/api/whatif?append=mem%3D1G", .post, "append: ")] {
                try await client.execute(uri: uri, method: method, body: ByteBuffer(string: "alloc GFP_KERNEL 0")) { r in
                    #expect(r.status == .badRequest, "\(uri)")
                    #expect((Self.json(r.body)["error"] as? String)?.hasPrefix(field + why) == true, "\(uri)")
                }
            }
            // Tiles of the memblock-time map: HighMem's first page is in zone 3 (HighMem + 1).
            let highstart = k.i386!.highstartPfn
            try await client.execute(uri: "/api/tile?pfn=\(highstart)&level=0", method: .get) { r in
                #expect(r.status == .ok)
                let j = Self.json(r.body)
                #expect(Data(base64Encoded: j["zone"] as? String ?? "").map { [UInt8]($0) } == [3])
                #expect(Data(base64Encoded: j["kind"] as? String ?? "").map { [UInt8]($0) } == [PageKind.memblockFree.rawValue])
            }
        }
    }

    @Test("a command runs on the machine and changes it; a bad one is a 400 naming the field")
    func commands() async throws {
        try await Self.app().test(.router) { client in
            var before = 0
            try await client.execute(uri: "/api/machine", method: .get) { r in
                before = ((Self.json(r.body)["zones"] as? [[String: Any]])?[1]["free"] as? Int) ?? 0
            }
            var block = ""
            try await client.execute(uri: "/api/command", method: .post, body: ByteBuffer(string: "alloc GFP_KERNEL 3")) { r in
                #expect(r.status == .ok)
                let lines = Self.json(r.body)["lines"] as? [String] ?? []
                #expect(lines.last?.hasPrefix("alloc GFP_KERNEL order 3: pfn 0x") == true)
                block = String((lines.last ?? "").dropFirst("alloc GFP_KERNEL order 3: pfn ".count).prefix { $0 != " " })
            }
            // A page inside the block tells which command took it, and the path it printed.
            let inside = try #require(UInt64(block.dropFirst(2), radix: 16)) + 5
            try await client.execute(uri: "/api/pfn/\(inside)", method: .get) { r in
                let lines = Self.json(r.body)["lines"] as? [String] ?? []
                let i = try #require(lines.firstIndex(of: "after boot (shell line 1: alloc GFP_KERNEL 3): allocated as the order-3 block at \(block)"))
                #expect(lines[(i + 1)...].contains { $0.hasPrefix("  ") && $0.contains(block) }, "the allocation's path follows")
            }
            try await client.execute(uri: "/api/machine", method: .get) { r in
                let after = ((Self.json(r.body)["zones"] as? [[String: Any]])?[1]["free"] as? Int) ?? 0
                #expect(after < before)
            }
            try await client.execute(uri: "/api/command", method: .post, body: ByteBuffer(string: "alloc GFP_BOGUS 0")) { r in
                #expect(r.status == .badRequest)
                #expect((Self.json(r.body)["error"] as? String)?.contains("gfp: \"GFP_BOGUS\": unknown flag") == true)
            }
            try await client.execute(uri: "/api/command", method: .post, body: ByteBuffer(string: "")) { r in
                #expect(r.status == .badRequest)
            }
            // Freed by the third command (the bad gfp counts; the empty body never reaches the shell): the latest touch shows.
            try await client.execute(uri: "/api/command", method: .post, body: ByteBuffer(string: "free \(block)")) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/api/pfn/\(inside)", method: .get) { r in
                let lines = Self.json(r.body)["lines"] as? [String] ?? []
                #expect(lines.contains("after boot (shell line 3: free \(block)): freed as the order-3 block at \(block)"))
                #expect(!lines.contains { $0.hasPrefix("after boot (shell line 1") })
            }
        }
    }

    @Test("what if: the machine again with a sysctl or more command line, side by side; bad requests are 400s naming the field")
    func whatIf() async throws {
        let k = try bootPreset("console=ttyS0 nokaslr", mem: 1 << 30, quiet: false)
        var written = k
        try written.writeSysctl("vm.min_free_kbytes", "65536")
        let dma32 = written.nodes[0].zones[ZoneType.dma32.rawValue]
        let app = Application(router: ExplorerServer.router(ExplorerState(kernel: k, title: "test")))
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/whatif?sysctl=vm.min_free_kbytes%3D65536", method: .post) { r in
                #expect(r.status == .ok)
                let j = Self.json(r.body)
                let min = try #require(Self.row(j, "vm.min_free_kbytes"))
                #expect(min["variant"] as? String == "65536" && min["changed"] as? Bool == true)
                let marks = try #require(Self.row(j, "node 0 DMA32: watermarks min/low/high"))
                #expect(marks["variant"] as? String == "\(dma32.minWmark) / \(dma32.lowWmark) / \(dma32.highWmark)")
                #expect(marks["changed"] as? Bool == true)
                #expect(Self.row(j, "node 0 DMA32: managed pages")?["changed"] as? Bool == false)
                #expect(Self.row(j, "command line")?["changed"] as? Bool == false)
            }
            // crashkernel=128M takes 32,768 pages from DMA32's managed pages.
            try await client.execute(uri: "/api/whatif?append=crashkernel%3D128M", method: .post) { r in
                #expect(r.status == .ok)
                let j = Self.json(r.body)
                let managed = try #require(Self.row(j, "node 0 DMA32: managed pages"))
                let a = try #require(Int(managed["base"] as? String ?? "")), b = try #require(Int(managed["variant"] as? String ?? ""))
                #expect(a - b == 32_768)
                #expect(Self.row(j, "command line")?["variant"] as? String == "console=ttyS0 nokaslr crashkernel=128M")
                #expect((j["changed"] as? Int ?? 0) > 3)
            }
            // Two assignments, comma-separated; a value may hold blanks.
            try await client.execute(uri: "/api/whatif?sysctl=vm.watermark_scale_factor%3D100,%20vm.lowmem_reserve_ratio%3D64%2064%2032%200%200", method: .post) { r in
                #expect(r.status == .ok)
                let j = Self.json(r.body)
                #expect(Self.row(j, "vm.watermark_scale_factor")?["variant"] as? String == "100")
                #expect(Self.row(j, "vm.lowmem_reserve_ratio")?["variant"] as? String == "64 64 32 0 0")
                #expect(Self.row(j, "node 0 DMA: protection")?["changed"] as? Bool == true)
            }
            for (query, field) in [("sysctl=vm.bogus%3D1", "sysctl"), ("sysctl=vm.min_free_kbytes%3Dlots", "sysctl"),
                                   ("sysctl=min_free_kbytes", "sysctl"), ("", "append")] {
                try await client.execute(uri: "/api/whatif?" + query, method: .post) { r in
                    #expect(r.status == .badRequest, "\(query)")
                    #expect((Self.json(r.body)["error"] as? String)?.contains(field) == true, "\(query)")
                }
            }
        }
    }

    @Test("booting another machine: options, a boot log, and what is refused")
    func boots() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/api/boot?mem=2G&smp=4&numa=0:1G,1:1G", method: .post) { r in
                #expect(r.status == .ok)
                #expect((Self.json(r.body)["machine"] as? [String: Any])?["nodes"] as? Int == 2)
            }
            let log = Fixtures.text(Fixtures.casePath("pc-1g-2cpu", "dmesg.txt"))
            try await client.execute(uri: "/api/boot", method: .post, body: ByteBuffer(string: log)) { r in
                #expect(r.status == .ok)
                let line = (Self.json(r.body)["machine"] as? [String: Any])?["memoryLine"] as? String
                #expect(line == Fixtures.messages(log).first { $0.hasPrefix("Memory: ") })
            }
            try await client.execute(uri: "/api/boot", method: .post, body: ByteBuffer(string: "not a boot log\n")) { r in
                #expect(r.status == .badRequest)
            }
            try await client.execute(uri: "/api/boot?mem=1T", method: .post) { r in
                #expect(r.status == .badRequest)
                #expect((Self.json(r.body)["error"] as? String)?.contains("this server boots at most 64 GiB") == true)
            }
            try await client.execute(uri: "/api/boot?smp=many", method: .post) { r in #expect(r.status == .badRequest) }
            // Found in review: node sizes that overflow, RAM memmap= puts 64 TiB up, a huge swiotlb=.
            try await client.execute(uri: "/api/boot?numa=0:8E,1:8E", method: .post) { r in #expect(r.status == .badRequest) }
            try await client.execute(uri: "/api/boot?mem=1G&append=memmap%3D64M%400x3ffff0000000", method: .post) { r in
                #expect(r.status == .badRequest)
                #expect((Self.json(r.body)["error"] as? String)?.contains("the page map covers up to 4 TiB") == true)
            }
            try await client.execute(uri: "/api/boot?mem=8G&append=crashkernel%3D64M,high%20swiotlb%3D9007199254740864", method: .post) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/api/boot?mem=16E", method: .post) { r in #expect(r.status == .badRequest) }
        }
    }
}
