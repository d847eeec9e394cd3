// The host's own allocators, for `kmemlab bench` to compare against in the same run: glibc's
// malloc/free always, and Debian's jemalloc (libjemalloc2) and mimalloc (libmimalloc2.0) when
// they are installed, loaded at run time so that kmemlab itself never depends on them.

import Foundation

/// One C allocator: malloc and free through function pointers.
struct NativeAllocator {
    typealias Malloc = @convention(c) (Int) -> UnsafeMutableRawPointer?
    typealias Free = @convention(c) (UnsafeMutableRawPointer?) -> Void
    let name: String
    let malloc: Malloc
    let free: Free

    /// glibc's own malloc and free.
    static var glibc: NativeAllocator {
        NativeAllocator(name: "glibc", malloc: { Foundation.malloc($0) }, free: { Foundation.free($0) })
    }

    /// A shared library's allocator by symbol names, or nil when the library is not installed.
    static func load(_ name: String, library: String, malloc m: String, free f: String) -> NativeAllocator? {
        guard let h = dlopen(library, RTLD_NOW | RTLD_LOCAL), let ms = dlsym(h, m), let fs = dlsym(h, f) else { return nil }
        return NativeAllocator(name: name, malloc: unsafeBitCast(ms, to: Malloc.self), free: unsafeBitCast(fs, to: Free.self))
    }

    /// jemalloc cannot be dlopen()ed (its initial-exec TLS does not fit the static TLS block);
    /// the bench runs it in a child process that preloads it instead (see `Bench.childFigures`).
    static let jemallocLibrary = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
    static var mimalloc: NativeAllocator? { load("mimalloc", library: "libmimalloc.so.2", malloc: "mi_malloc", free: "mi_free") }

    /// Workload 1: one 64-byte object out and back, `n` times.
    func pair(_ n: Int) -> UInt {
        var sink: UInt = 0
        for _ in 0..<n {
            let p = malloc(64)
            sink &+= UInt(bitPattern: p)
            free(p)
        }
        return sink
    }

    /// Workload 2: sizes cycling through the kmalloc classes.
    func mixed(_ n: Int) -> UInt {
        var sink: UInt = 0
        var i = 0
        for _ in 0..<n {
            let p = malloc(Bench.mixedSizes[i])
            sink &+= UInt(bitPattern: p)
            free(p)
            i += 1
            if i == Bench.mixedSizes.count { i = 0 }
        }
        return sink
    }

    /// Workload 3: `count` 64-byte objects out, back in the permutation's order, `rounds` times.
    func slowpath(count: Int, rounds: Int, order: [Int]) -> UInt {
        var held = [UnsafeMutableRawPointer?](repeating: nil, count: count)
        var sink: UInt = 0
        for _ in 0..<rounds {
            for i in 0..<count { held[i] = malloc(64) }
            for i in order { sink &+= UInt(bitPattern: held[i]); free(held[i]) }
        }
        return sink
    }
}

/// Workload 6: the physical limit of the slab fast path — a bare freelist pop and push of the
/// same objects with the same SLAB_FREELIST_HARDENED encoding (next ^ secret ^ bswap(slot
/// address)), in plain host memory, and nothing else.
struct BareFreelist {
    let memory: UnsafeMutableRawPointer
    let objects = 64
    let size = 64
    let offset = 32
    let secret: UInt64 = 0x5eed_f00d_dead_beef
    var head: UInt

    init() {
        memory = UnsafeMutableRawPointer.allocate(byteCount: 64 * 64, alignment: 64)
        head = 0
        for i in (0..<objects).reversed() { push(UInt(bitPattern: memory) + UInt(i * size)) }
    }

    @inline(__always) mutating func push(_ object: UInt) {
        let slot = object + UInt(offset)
        UnsafeMutableRawPointer(bitPattern: slot)!.storeBytes(of: UInt64(head) ^ secret ^ UInt64(slot).byteSwapped, as: UInt64.self)
        head = object
    }

    @inline(__always) mutating func pop() -> UInt {
        let object = head
        let slot = object + UInt(offset)
        head = UInt(UnsafeMutableRawPointer(bitPattern: slot)!.load(as: UInt64.self) ^ secret ^ UInt64(slot).byteSwapped)
        return object
    }

    /// Two pops, then the two pushes in the same order, so the list rotates and every step
    /// depends on memory the previous one wrote: nothing can be hoisted out of the loop.
    @inline(never)
    mutating func pairs(_ n: Int) -> UInt {
        var sink: UInt = 0
        for _ in 0..<(n / 2) {
            let a = pop()
            let b = pop()
            sink &+= a ^ b
            push(a)
            push(b)
        }
        return sink
    }
}

/// Workload 7: the least an exact model of the slab fast path must do for one
/// kmem_cache_alloc + kmem_cache_free pair of a 64-byte object, written bare and inlined: the
/// hardened freelist of workload 6 as the CPU's freelist, plus slab_alloc_node()'s and
/// do_slab_free()'s tid bump and init_on_alloc's zeroing of the object. (The tid comparison of
/// the cmpxchg cannot fail on one CPU: it is left out, as the compiler would fold it.) No
/// bookkeeping for misuse checks, no address translation, no simulated memory: `slab_vs_limit`
/// says how far the model is from this.
struct BareSlabLimit {
    /// Linux: struct kmem_cache_cpu's freelist and tid.
    var freelist = BareFreelist()
    var tid: UInt64 = 0
    /// Linux: TID_STEP.
    let tidStep: UInt64 = 8192

    /// Alloc then free, `n` times; every step depends on memory the previous one wrote.
    @inline(never)
    mutating func pairs(_ n: Int) -> UInt {
        var sink: UInt = 0
        for _ in 0..<n {
            let o = freelist.pop()
            tid &+= tidStep
            UnsafeMutableRawPointer(bitPattern: o)!.initializeMemory(as: UInt8.self, repeating: 0, count: freelist.size)
            sink &+= o
            freelist.push(o)
            tid &+= tidStep
        }
        return sink &+ UInt(truncatingIfNeeded: tid)
    }
}
