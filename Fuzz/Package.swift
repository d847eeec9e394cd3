// swift-tools-version: 6.1
// kmemlab's libFuzzer targets, one per kind of input, kept out of the root package (like the
// benchmarks) because they are built with the fuzzer sanitizer. Scripts/fuzz.sh builds and runs
// them; see Fuzz/README.md.
import PackageDescription

let targets = ["FuzzDmesg", "FuzzDmesgBoot", "FuzzMachineFile", "FuzzCmdline", "FuzzShell", "FuzzTrace", "FuzzWorkload", "FuzzWebAPI",
               "FuzzMachineParse", "FuzzCmdlineParse", "FuzzShellParse", "FuzzTraceParse", "FuzzWorkloadParse", "FuzzWebAPIParse", "FuzzGzip"]

let package = Package(
    name: "KmemlabFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "kmemlab", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [
            .product(name: "MMCore", package: "kmemlab"), .product(name: "MMText", package: "kmemlab"),
            .product(name: "MMExplorer", package: "kmemlab"),
        ], path: "Targets/FuzzSupport"),
        // zlib, which FuzzGzip compares kmemlab's inflater with.
        .systemLibrary(name: "CZlib", path: "CZlib"),
    ] + targets.map { name in
        // libFuzzer supplies main(); the target only defines LLVMFuzzerTestOneInput.
        .executableTarget(name: name, dependencies: name == "FuzzGzip" ? ["FuzzSupport", "CZlib"] : ["FuzzSupport"],
                          path: "Targets/\(name)",
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    }
)
