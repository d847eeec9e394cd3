#!/usr/bin/env bash
# Behaviour lock: runs kmemlab on every fixture boot (the QEMU cases, UEFI cases and hardware logs),
# on a few presets and on every workload in Workloads/, and compares each output byte for byte with Tests/Golden/, which was
# made by the commit before the model's reshaping (issue 16). Any refactor that changes what a
# user sees fails here.
#
#   Scripts/golden.sh            compare (exit 1 and a diff on the first difference)
#   Scripts/golden.sh --update   rewrite Tests/Golden/ (only when a change is meant)
#
# Uses the debug build `swift build` already made (KMEMLAB overrides the binary).
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${KMEMLAB:-.build/debug/kmemlab}
[ -x "$bin" ] || { echo "golden: $bin not built (run swift build)"; exit 1; }
update=0; [ "${1:-}" = "--update" ] && update=1
gold=Tests/Golden
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
shows=dmesg,zoneinfo,buddyinfo,pagetypeinfo,meminfo,sysctl,memblock,vmallocinfo,slabinfo

# name | arguments (shell words; quote an argument with spaces)
runs() {
  for d in Tests/Fixtures/oracle/cases/*/; do
    c=$(basename "$d")
    echo "case-$c|boot --from-dmesg $d/dmesg.txt --show $shows"
  done
  for d in Tests/Fixtures/oracle/efi/*/; do
    c=$(basename "$d")
    echo "efi-$c|boot --from-dmesg $d/dmesg.txt --show $shows"
  done
  for f in Tests/Fixtures/oracle/hardware/*.txt; do
    h=$(basename "$f" .txt)
    echo "hw-$h|boot --from-dmesg $f --show $shows"
  done
  echo "preset-default|boot --show $shows"
  echo "preset-q35-numa4|boot --preset qemu-q35 --mem 32G --smp 8 --numa 0:8G,1:8G,2:8G,3:8G --show $shows"
  echo "preset-pc-64g-sysctl|boot --mem 64G --smp 4 --sysctl vm.min_free_kbytes=65536 --sysctl vm.watermark_scale_factor=200 --show zoneinfo,sysctl"
  echo "preset-flat|boot --mem 1G --memory-model flat --show $shows"
  echo "preset-kaslr-seed7|boot --mem 4G --cmdline console=ttyS0 --seed 7 --show $shows"
  echo "preset-5level|boot --mem 8G --preset qemu-q35 --append page_owner=on --show $shows"
  echo "i386-pae|boot --arch i386-pae --mem 4G"
  echo "layout-default|layout"
  echo "layout-i386|layout --arch i386-pae --mem 4G"
  echo "pagetables-1g|pagetables --mem 1G --cmdline nokaslr --check-wx"
  echo "slab-task_struct|slab task_struct"
  echo "alloc-pages|alloc --mem 1G 'alloc GFP_KERNEL 0' 'alloc GFP_ATOMIC|__GFP_COMP 3' 'alloc GFP_HIGHUSER_MOVABLE 9 x50' 'free all' 'show buddyinfo'"
  echo "alloc-slab|alloc --mem 1G 'kmalloc 100' 'kmalloc 20000' 'cache_create mycache 200 flags SLAB_HWCACHE_ALIGN' 'cache_create dbg 64 flags SLAB_RED_ZONE|SLAB_POISON' 'cache_alloc dbg' 'slab dbg'"
  echo "misuse|alloc --mem 512M 'alloc GFP_KERNEL 2' 'free 0x1fee4 2' 'free 0x1fee4 2' 'free 0x1ffd8 2' 'cache_create dbg 64 flags SLAB_RED_ZONE|SLAB_POISON' 'cache_alloc dbg' 'cache_free dbg 0xffff88801fee36c8' 'cache_free dbg 0xffff88801fee36c8' 'cache_alloc dbg' 'poke 0xffff88801fee3708 0x12' 'validate dbg' 'kfree 0xffff88801fee36c9' 'check'"
  echo "translate-1g|translate --mem 1G --cmdline nokaslr 0xffff888001000000 0xffffea0000000040 0xffffffff81000000"
  echo "pfn-sparse|pfn --mem 1G --memory-model sparse 0x12345"
  echo "highmem|highmem --arch i386-pae --mem 4G 'kmap 0x40000' 'kmap 0x1000' 'kmap_local 0x50000' 'pkmap'"
  for f in Workloads/*.txt; do
    w=$(basename "$f" .txt)
    echo "run-$w|run $f --mem 1G --strace"
  done
}

fail=0; n=0
while IFS='|' read -r name args; do
  n=$((n+1))
  eval "set -- $args"
  timeout 120 "$bin" "$@" > "$out/$name.txt" 2>&1 < /dev/null
  rc=$?
  echo "exit $rc" >> "$out/$name.txt"
  if [ $update = 1 ]; then
    # A crash or a hang (exit >= 124) is never recorded as the expected output.
    if [ $rc -ge 124 ]; then echo "golden: $name exited $rc; not recorded"; tail -3 "$out/$name.txt"; exit 1; fi
    cp "$out/$name.txt" "$gold/$name.txt" || exit 1
  elif ! cmp -s "$out/$name.txt" "$gold/$name.txt"; then
    echo "golden: $name differs from $gold/$name.txt:"
    diff "$gold/$name.txt" "$out/$name.txt" | head -20
    fail=1
  fi
done < <(runs)
if [ $update = 1 ]; then echo "golden: wrote $n reference outputs to $gold"; exit 0; fi
# A reference whose run is gone (a fixture removed, a run renamed) is an error too.
have=$(find "$gold" -name '*.txt' | wc -l)
if [ "$have" -ne "$n" ]; then echo "golden: $gold holds $have files for $n runs (stale references?)"; fail=1; fi
[ $fail = 0 ] && echo "golden: $n outputs byte-identical to $gold"
exit $fail
