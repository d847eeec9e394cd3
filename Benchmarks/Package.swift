// swift-tools-version: 6.1
// kmemlab's package-benchmark suite, kept out of the root package so that `swift build` and
// `swift test` do not build package-benchmark and its dependencies. Run from this folder:
//   swift package --allow-writing-to-package-directory benchmark
import PackageDescription

let package = Package(
    name: "KmemlabBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "kmemlab", path: ".."),
        // The malloc interposer counts heap allocations per operation.
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "KmemlabBenchmarks",
            dependencies: [
                .product(name: "MMCore", package: "kmemlab"),
                .product(name: "MMText", package: "kmemlab"),
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "KmemlabBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
