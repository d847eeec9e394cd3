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
                #expect(lines.last?.hasPrefix("pageblock 0x1200–0x13ff: ") == true)
            }
            try await client.execute(uri: "/api/pfn/xyz", method: .get) { r in
                #expect(r.status == .badRequest)
                #expect(Self.json(r.body)["error"] as? String == "pfn: \"xyz\" is not a number (decimal or 0x…)")
            }
            try await client.execute(uri: "/api/nothing", method: .get) { r in #expect(r.status == .notFound) }
        }
    }

    @Test("a command runs on the machine and changes it; a bad one is a 400 naming the field")
    func commands() async throws {
        try await Self.app().test(.router) { client in
            var before = 0
            try await client.execute(uri: "/api/machine", method: .get) { r in
                before = ((Self.json(r.body)["zones"] as? [[String: Any]])?[1]["free"] as? Int) ?? 0
            }
            try await client.execute(uri: "/api/command", method: .post, body: ByteBuffer(string: "alloc GFP_KERNEL 3")) { r in
                #expect(r.status == .ok)
                let lines = Self.json(r.body)["lines"] as? [String] ?? []
                #expect(lines.last?.hasPrefix("alloc GFP_KERNEL order 3: pfn 0x") == true)
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
                #expect((Self.json(r.body)["error"] as? String)?.contains("the page map covers up to 256 GiB") == true)
            }
            try await client.execute(uri: "/api/boot?mem=8G&append=crashkernel%3D64M,high%20swiotlb%3D9007199254740864", method: .post) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/api/boot?mem=16E", method: .post) { r in #expect(r.status == .badRequest) }
        }
    }
}
