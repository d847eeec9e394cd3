// The web API's request checks alone: `POST /api/boot`'s query parameters (the first line,
// name=value pairs joined by &) and body (the rest) through RequestBoot.machine, which refuses a
// malformed request with an InputError (the server's 400) and reads a body as a boot log, then
// the size check that decides whether the server boots it. Nothing is booted.
import FuzzSupport
import MMExplorer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let (query, body) = request(data, count)
    if let machine = try? RequestBoot.machine(body: body, options: { query[$0] }) {
        _ = RequestBoot.extent(machine)
    }
    return 0
}

@_cdecl("FuzzWebAPIParse_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
