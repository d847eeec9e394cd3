// `kmemlab serve`: one machine's memory, explorable over HTTP.
//
// The server keeps one booted machine. GET / is the explorer's page with that machine's data
// inline (the same page `kmemlab report` writes); the API serves the same JSON and answers
// questions about single pages, runs the allocation shell's commands on the machine (each
// answer is the path the call took), and boots other machines. Every request does bounded
// work: a boot is refused above `maxBootBytes`, a command's repeat count is capped by the shell,
// and a request body is read up to `maxBodyBytes`. Nothing names a file on the server's disk:
// a machine comes as options or as a boot log in the request body.

import Foundation
import Hummingbird
import MMCore
import MMExplorer
import MMText

/// The machine the server explores, shared by the requests.
public actor ExplorerState {
    // (Boots run in the request's task, not here: two concurrent boot requests take twice the
    // memory of one, each bounded by ExplorerServer.maxBootBytes.)
    var shell: AllocShell
    var title: String
    var commands = 0

    public init(kernel: Kernel, title: String) {
        shell = AllocShell(kernel: kernel, source: "http")
        self.title = title
    }

    func page() -> String { Report.html(shell.kernel, title: title) }
    func json() -> String {
        shell.kernel.arch.is32Bit ? ExplorerData.json32(shell.kernel, title: title)
            : ExplorerData.json(shell.kernel, title: title, map: PageMap(shell.kernel))
    }

    /// Why the machine shown cannot answer a question about pages or run commands: the i386
    /// model boots as far as zones and highmem (nil on x86-64).
    func pagesRefusal() -> String? {
        shell.kernel.arch.is32Bit
            ? "the \(shell.kernel.arch.rawValue) model boots as far as zones and highmem: it has no struct pages, allocator or slab to ask" : nil
    }

    /// `kmemlab pfn`'s answer, then what the served shell's commands last did to the page.
    func explain(pfn: UInt64) -> [String] {
        PfnExplain.lines(shell.kernel, Pfn(pfn)) + shell.history(of: Pfn(pfn))
    }

    /// A tile of the page map, or why there is none.
    func tile(pfn: UInt64, level: Int) -> (json: String?, refusal: String?) {
        if let r = PageMap.tileRefusal(shell.kernel, pfn: pfn, level: level) { return (nil, r) }
        return (ExplorerData.tileJSON(PageMap(shell.kernel, tileHolding: pfn, level: level), level: level), nil)
    }

    /// The machine the page shows (what-if boots its description again, as it was booted).
    func kernel() -> Kernel { shell.kernel }

    func run(_ command: String) throws(InputError) -> [String] {
        commands += 1
        return try shell.run(command, line: commands)
    }

    func replace(_ kernel: Kernel, title: String) {
        shell = AllocShell(kernel: kernel, source: "http")
        self.title = title
        commands = 0
    }
}

public enum ExplorerServer {
    /// The largest machine a boot request may ask for (a 64 GiB boot takes well under a second).
    public static let maxBootBytes: UInt64 = RequestBoot.maxBootBytes
    public static let maxBodyBytes = 4 << 20

    /// The routes, on a state. (Separate from `run` so that tests drive them without a socket.)
    public static func router(_ state: ExplorerState) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { _, _ -> Response in
            html(await state.page())
        }
        router.get("/api/machine") { _, _ -> Response in
            json(await state.json())
        }
        router.get("/api/pfn/:pfn") { _, context -> Response in
            let text = context.parameters.get("pfn") ?? ""
            guard let pfn = parseNumber(text) else { return badRequest("pfn: \"\(text)\" is not a number (decimal or 0x…)") }
            if let why = await state.pagesRefusal() { return badRequest("pfn: " + why) }
            return lines(await state.explain(pfn: pfn))
        }
        router.get("/api/tile") { request, _ -> Response in
            // The aligned block of 4^level pages holding pfn, in at most 256 × 256 cells.
            let query = request.uri.queryParameters
            let pfnText = query["pfn"].map(String.init) ?? "", levelText = query["level"].map(String.init) ?? ""
            guard let pfn = parseNumber(pfnText) else { return badRequest("pfn: \"\(pfnText)\" is not a number (decimal or 0x…)") }
            guard let level = Int(levelText), level >= 0, level < 64 else {
                return badRequest("level: \"\(levelText)\" is not a tile level (0 for single pages, up to the whole map)")
            }
            let (body, refusal) = await state.tile(pfn: pfn, level: level)
            guard let body else { return badRequest(refusal ?? "tile") }
            return json(body)
        }
        router.post("/api/command") { request, _ -> Response in
            let body = try await String(buffer: request.body.collect(upTo: maxBodyBytes))
            let command = body.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !command.isEmpty, !command.contains("\n") else { return badRequest("body: one shell command, e.g. \"alloc GFP_KERNEL 0\"") }
            if let why = await state.pagesRefusal() { return badRequest("body: " + why) }
            do { return lines(try await state.run(command)) } catch let e as InputError { return badRequest(e.description) }
        }
        router.post("/api/whatif") { request, _ -> Response in
            let query = request.uri.queryParameters
            if let why = await state.pagesRefusal() { return badRequest("append: " + why) }
            let served = await state.kernel()
            do {
                let (variant, rows) = try RequestBoot.whatIf(served, append: query["append"].map(String.init),
                                                             sysctls: query["sysctl"].map(String.init))
                return json(RequestBoot.whatIfJSON(rows, variantCommandLine: variant.machine.commandLine))
            } catch let e as InputError {
                return badRequest(e.description)
            }
        }
        router.post("/api/boot") { request, _ -> Response in
            let body = try await String(buffer: request.body.collect(upTo: maxBodyBytes))
            let query = request.uri.queryParameters
            do {
                let (kernel, title) = try boot(body: body, options: { query[Substring($0)].map(String.init) })
                await state.replace(kernel, title: title)
                return json(await state.json())
            } catch let e as InputError {
                return badRequest(e.description)
            }
        }
        return router
    }

    /// Boots a machine from a request (RequestBoot, shared with the API's fuzz target).
    static func boot(body: String, options: (String) -> String?) throws -> (Kernel, String) {
        try RequestBoot.boot(body: body, options: options)
    }

    /// Serves until the process is stopped.
    public static func run(_ state: ExplorerState, host: String, port: Int) async throws {
        let app = Application(router: router(state), configuration: .init(address: .hostname(host, port: port)))
        try await app.runService()
    }

    static func parseNumber(_ s: String) -> UInt64? {
        s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s)
    }

    static func html(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func lines(_ lines: [String]) -> Response {
        var w = JSONWriter()
        w.object { w in w.array("lines") { w in for l in lines { w.value(nil, l) } } }
        return json(w.text)
    }

    static func badRequest(_ message: String) -> Response {
        var w = JSONWriter()
        w.object { w in w.value("error", message) }
        return Response(status: .badRequest, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: w.text)))
    }
}
