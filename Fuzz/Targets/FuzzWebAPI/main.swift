// The web API's input: `POST /api/boot` with its query parameters (the input's first line,
// name=value pairs joined by &) and its body (the rest: a boot log, or nothing for preset
// options), then `GET /api/pfn/N` of each number on the second line. A malformed request is an
// InputError (a 400); an accepted one boots only when small (≤ 1 GiB of RAM), as the fuzzer
// must stay fast; its page map, JSON and pfn answers are built. With whatif_append or
// whatif_sysctl in the query, `POST /api/whatif` runs on that machine too.
import FuzzSupport
import MMExplorer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = text(data, count)
    let lines = input.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    var query: [String: String] = [:]
    for pair in (lines.first ?? "").split(separator: "&") {
        let kv = pair.split(separator: "=", maxSplits: 1)
        if kv.count == 2 { query[String(kv[0])] = String(kv[1]) }
    }
    let body = lines.count > 1 ? String(lines[1]) : ""
    guard let machine = try? RequestBoot.machine(body: body, options: { query[$0] }) else { return 0 }
    guard RequestBoot.extent(machine).ram <= 1 << 30, let k = try? RequestBoot.boot(machine) else { return 0 }
    _ = ExplorerData.json(k, title: machine.name, map: PageMap(k, maxCells: 1 << 12))
    for word in body.prefix(200).split(separator: " ") {
        if let pfn = UInt64(word) { _ = PfnExplain.lines(k, Pfn(pfn)) }
    }
    if query["whatif_append"] != nil || query["whatif_sysctl"] != nil,
       let (variant, rows) = try? RequestBoot.whatIf(k, append: query["whatif_append"], sysctls: query["whatif_sysctl"]) {
        _ = RequestBoot.whatIfJSON(rows, variantCommandLine: variant.machine.commandLine)
    }
    return 0
}

@_cdecl("FuzzWebAPI_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
