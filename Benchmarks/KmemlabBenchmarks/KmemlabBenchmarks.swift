// package-benchmark suite: the model's hot paths with the malloc interposer's counters, so that
// "no heap allocation on the fast path" is measured, not assumed. Run:
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark
// (`kmemlab bench` prints the wider comparison with glibc, jemalloc and mimalloc.)

import Benchmark
import MMCore
import MMText

/// A booted 4 GiB QEMU pc with a 64-byte cache of its own.
func bootedMachine() -> (Kernel, CacheID) {
    var k = Kernel(machine: QEMUPreset(type: .pc, memBytes: 4 << 30, cpus: 2).machine())
    k.log.enabled = false
    try? k.boot()
    k.slub.nomerge = true
    let cache = try! k.kmemCacheCreate(KmemCacheSpec(name: "bench_64", size: 64))
    k.slub.nomerge = false
    // Warm: the cpu slab exists, the pcp lists are filled.
    _ = k.slabFree(cache, k.slabAllocNode(cache, .gfpKernel)!)
    k.freePages(k.allocPages(.gfpKernel, order: 0)!, order: 0)
    return (k, cache)
}

let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .mallocCountTotal, .throughput]
let sizes = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: metrics, scalingFactor: .kilo, maxDuration: .seconds(2))

    Benchmark("slab pair: kmem_cache_alloc + kmem_cache_free, 64 B, fast path") { benchmark in
        var (k, cache) = bootedMachine()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let o = k.slabAllocNode(cache, .gfpKernel)!
            blackHole(k.slabFree(cache, o))
        }
    }

    Benchmark("kmalloc + kfree, sizes cycling 8 … 4096") { benchmark in
        var (k, _) = bootedMachine()
        var i = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let o = k.kmalloc(sizes[i], .gfpKernel)!
            blackHole(k.kfree(o))
            i = i == sizes.count - 1 ? 0 : i + 1
        }
    }

    Benchmark("page pair: alloc_pages + __free_pages, order 0, pcp") { benchmark in
        var (k, _) = bootedMachine()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let p = k.allocPages(.gfpKernel, order: 0)!
            blackHole(k.freePages(p, order: 0))
        }
    }
}
