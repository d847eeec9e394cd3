#!/usr/bin/env python3
"""Random malloc workloads for the glibc differential tests (Tests/Fixtures/glibc/random).

glibc-random.py SEED OPS [mix|small|threads] writes NAME.vm (the operations for mallocvm.c, one per
line) and NAME.txt (the same operations in kmemlab's workload language) to the current
directory, NAME = seed-SEED. Scripts/glibc-oracle.sh then records each .vm's real system calls.
Sizes mix small (tcache, fastbins, small bins), large-bin, mmap-threshold and multi-MiB
requests; mallopt and malloc_trim calls change the parameters now and then. Requests whose
mapped chunk would be a multiple of 2 MiB are avoided: kernels since 6.7 align those mappings
to 2 MiB and 6.1 does not (docs/DIVERGENCES.md). In `threads` mode up to four threads come and
go, each running some of the operations (its own tcache and arena), freeing each other's memory.
"""
import random, sys

seed, n = int(sys.argv[1]), int(sys.argv[2])
mode = sys.argv[3] if len(sys.argv) > 3 else "mix"
r = random.Random(seed)
live = {}
vm, wl = [], ["spawn mallocvm brk=0x55555665a000", "mark"]

def size():
    while True:
        k = r.random()
        if mode == "small" or k < 0.55: s = r.randint(0, 1100)
        elif k < 0.8: s = r.randint(1000, 70000)
        elif k < 0.95: s = r.randint(60000, 300000)
        else: s = r.randint(300000, 4000000)
        if ((s + 8 + 4095) // 4096 * 4096) % (2 << 20) != 0: return s

threads, cur, nextt = set(), 0, 1
def switch(t):
    global cur
    if t != cur:
        vm.append(f"in {t}"); wl.append("in " + (f"t{t}" if t else "mallocvm")); cur = t
for _ in range(n):
    if mode == "threads":
        k = r.random()
        if k < 0.01 and len(threads) < 4 and nextt < 16:
            switch(0); vm.append(f"thread {nextt}"); wl.append(f"thread t{nextt}"); threads.add(nextt); nextt += 1; continue
        if k < 0.015 and threads:
            t = r.choice(sorted(threads)); switch(0); vm.append(f"join {t}"); wl.append(f"join t{t}"); threads.discard(t); continue
        if k < 0.08:
            switch(r.choice([0] + sorted(threads))); continue
    k = r.random()
    if k < 0.45 or not live:
        v, s = r.randint(0, 400), size()
        if v in live:
            vm.append(f"free p{v}"); wl.append(f"free p[{v}]"); del live[v]
        vm.append(f"malloc p{v} {s}"); wl.append(f"malloc p[{v}] {s}"); live[v] = s
    elif k < 0.8:
        v = r.choice(list(live)); vm.append(f"free p{v}"); wl.append(f"free p[{v}]"); del live[v]
    elif k < 0.93:
        v, s = r.choice(list(live)), size()
        vm.append(f"realloc p{v} {s}"); wl.append(f"realloc p[{v}] {s}"); live[v] = s
        if s == 0: del live[v]
    elif k < 0.97:
        v, c, s = r.randint(401, 500), r.randint(1, 50), r.randint(1, 3000)
        if v in live:
            vm.append(f"free p{v}"); wl.append(f"free p[{v}]"); del live[v]
        vm.append(f"calloc p{v} {c} {s}"); wl.append(f"calloc p[{v}] {c} {s}"); live[v] = c * s
    elif k < 0.978:
        v, kind = r.randint(401, 500), r.choice(["memalign", "aligned_alloc", "posix_memalign", "valloc", "pvalloc"])
        a, s = r.choice([16, 32, 64, 256, 4096, 65536, 2 << 20]), size()
        if v in live:
            vm.append(f"free p{v}"); wl.append(f"free p[{v}]"); del live[v]
        if kind in ("valloc", "pvalloc"):
            vm.append(f"{kind} p{v} {s}"); wl.append(f"{kind} p[{v}] {s}")
        else:
            vm.append(f"{kind} p{v} {a} {s}"); wl.append(f"{kind} p[{v}] {a} {s}")
        live[v] = s
    elif k < 0.985:
        pad = r.choice([0, 4096, 131072]); vm.append(f"trim {pad}"); wl.append(f"malloc_trim {pad}")
    else:
        num, name = r.choice([(3, "M_MMAP_THRESHOLD"), (1, "M_TRIM_THRESHOLD"), (2, "M_TOP_PAD"), (4, "M_MMAP_MAX")])
        val = r.choice([0, 4096, 65536, 262144, 1048576]) if num != 4 else r.choice([0, 1, 4, 65536])
        vm.append(f"mallopt {num} {val}"); wl.append(f"mallopt {name} {val}")
switch(0)
for t in sorted(threads): vm.append(f"join {t}"); wl.append(f"join t{t}")
wl.append("mark")
name = f"seed-{seed}"
open(f"{name}.vm", "w").write("\n".join(vm) + "\n")
open(f"{name}.txt", "w").write(f"# {name}: {n} random malloc operations (Scripts/glibc-random.py {seed} {n} {mode})\n" + "\n".join(wl) + "\n")
