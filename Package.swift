// swift-tools-version: 6.1
// kmemlab: an executable, exact model of Linux 6.1's physical memory management.
//
// MMCore is the model. It imports nothing, uses no existentials, key paths or reflection, and
// compiles as Embedded Swift (`Scripts/embedded-check.sh`, run by `.ci/run`). MMCORE_CHECKS turns
// on the model's internal consistency checks in debug builds (tests); release builds pay nothing.
import PackageDescription

let package = Package(
    name: "kmemlab",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "MMCore", targets: ["MMCore"]),
        .library(name: "MMText", targets: ["MMText"]),
        .library(name: "MMExplorer", targets: ["MMExplorer"]),
        .executable(name: "kmemlab", targets: ["kmemlab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // The package-benchmark suite is its own package (Benchmarks/Package.swift), so the
        // build and the tests do not build it.
    ],
    targets: [
        .target(
            name: "MMCore",
            // Each folder of concern opens with an overview essay (README.md).
            exclude: ["Boot", "E820", "Glibc", "Highmem", "Memblock", "MemoryModel", "NUMA", "PageAlloc",
                      "PageTables", "Process", "Slab", "Support", "Vmalloc"].map { "\($0)/README.md" },
            swiftSettings: [.define("MMCORE_CHECKS", .when(configuration: .debug))]
        ),
        .target(name: "MMText", dependencies: ["MMCore"]),
        // The explorer's views: the page map, the machine as JSON, the self-contained report.
        .target(name: "MMExplorer", dependencies: ["MMCore", "MMText"]),
        // `kmemlab serve`: the explorer's page and its JSON API over HTTP (Hummingbird 2).
        .target(name: "ExplorerServer", dependencies: [
            "MMCore", "MMText", "MMExplorer", .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .executableTarget(
            name: "kmemlab",
            dependencies: [
                "MMCore", "MMText", "MMExplorer", "ExplorerServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "KmemlabTestSupport", dependencies: ["MMCore", "MMText"], path: "Tests/KmemlabTestSupport"),
        .testTarget(name: "MMCoreTests", dependencies: ["MMCore"]),
        .testTarget(name: "MMTextTests", dependencies: ["MMCore", "MMText", "KmemlabTestSupport", "CZlib"]),
        .testTarget(name: "OracleTests", dependencies: ["MMCore", "MMText", "KmemlabTestSupport"]),
        // zlib, to decode the browser test's screenshots and to check the gzip reader against.
        .systemLibrary(name: "CZlib", path: "Tests/CZlib"),
        .testTarget(name: "ExplorerTests", dependencies: [
            "MMCore", "MMText", "MMExplorer", "ExplorerServer", "KmemlabTestSupport", "CZlib",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
    ]
)
