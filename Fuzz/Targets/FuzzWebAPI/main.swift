// The web API's input: `POST /api/boot` with its query parameters (the input's first line,
// name=value pairs joined by &) and its body (the rest: a boot log, or nothing for preset
// options), then `GET /api/pfn/N` of each number on the second line. A malformed request is an
// InputError (a 400); an accepted one boots only when small (≤ 1 GiB of RAM), as the fuzzer
// must stay fast; its page map, JSON and pfn answers are built, and the page map's tile around
// each number at the level the number mod 16 names. With whatif_append or
// whatif_sysctl in the query, `POST /api/whatif` runs on that machine too.
import FuzzSupport
import MMExplorer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let (query, body) = request(data, count)
    guard let machine = try? RequestBoot.machine(body: body, options: { query[$0] }) else { return 0 }
    guard RequestBoot.extent(machine).ram <= 1 << 30, let k = try? RequestBoot.boot(machine) else { return 0 }
    _ = ExplorerData.json(k, title: machine.name, map: PageMap(k, maxCells: 1 << 12))
    for word in body.prefix(200).split(separator: " ") {
        guard let pfn = UInt64(word) else { continue }
        _ = PfnExplain.lines(k, Pfn(pfn))
        // GET /api/tile at every level the number allows (as the route checks it first).
        let level = Int(pfn % 16)
        if PageMap.tileRefusal(k, pfn: pfn, level: level) == nil {
            _ = ExplorerData.tileJSON(PageMap(k, tileHolding: pfn, level: level), level: level)
        }
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
