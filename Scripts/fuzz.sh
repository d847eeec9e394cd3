#!/usr/bin/env bash
# Builds kmemlab's libFuzzer targets (Fuzz/, with -sanitize=fuzzer) and runs each over its
# seed corpus for a fixed number of inputs, with a fixed seed, so a CI run is repeatable. New
# inputs libFuzzer finds go to a scratch directory, not into the repository's corpus. Any crash,
# trap, leak of time (a hang) or memory fails the run and leaves the input in Fuzz/crashes/.
#
#   Scripts/fuzz.sh                      what .ci/run does: every target, the default counts
#   Scripts/fuzz.sh --runs 10000000 FuzzDmesg      a long run of one target
#
# Counts: --runs N for the targets that only parse (default 20000), --boot-runs N for the ones
# that boot what they parsed (default 2000).
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"
runs=20000
bootRuns=2000
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --boot-runs) bootRuns=$2; shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(FuzzDmesg FuzzMachineParse FuzzCmdlineParse FuzzShellParse FuzzTraceParse FuzzGzip FuzzWorkloadParse
                                     FuzzWebAPIParse FuzzMachineFile FuzzShell FuzzTrace FuzzDmesgBoot FuzzCmdline FuzzWorkload FuzzWebAPI)

# libFuzzer, not Swift's backtracer, must see a trap (so the input is saved), and hashing must
# not change from run to run (so a run is repeatable).
export SWIFT_BACKTRACE=enable=no SWIFT_DETERMINISTIC_HASHING=1
swift build -c release -Xswiftc -sanitize=fuzzer 2>&1 | grep -E 'error|warning: unre|Compiling|Build' | tail -3
mkdir -p crashes
status=0
for t in "${targets[@]}"; do
  case "$t" in
    FuzzDmesg) corpus=dmesg; n=$runs ;;
    FuzzDmesgBoot) corpus=dmesg; n=$bootRuns ;;
    FuzzMachineFile) corpus=machine; n=$runs ;;
    FuzzCmdline) corpus=cmdline; n=$bootRuns ;;
    FuzzShell) corpus=shell; n=$runs ;;
    FuzzTrace) corpus=trace; n=$runs ;;
    FuzzWorkload) corpus=workload; n=$bootRuns ;;
    FuzzWebAPI) corpus=webapi; n=$bootRuns ;;
    FuzzMachineParse) corpus=machine; n=$runs ;;
    FuzzCmdlineParse) corpus=cmdline; n=$runs ;;
    FuzzShellParse) corpus=shell; n=$runs ;;
    FuzzTraceParse) corpus=trace; n=$runs ;;
    FuzzGzip) corpus=gzip; n=$runs ;;
    FuzzWorkloadParse) corpus=workload; n=$runs ;;
    FuzzWebAPIParse) corpus=webapi; n=$runs ;;
    *) echo "fuzz: unknown target $t"; exit 2 ;;
  esac
  scratch=$(mktemp -d)
  start=$(date +%s)
  if .build/release/"$t" -runs="$n" -seed=1 -timeout=120 -rss_limit_mb=4096 -max_len=262144 \
       -artifact_prefix=crashes/"$t"- "$scratch" Corpus/"$corpus" > "$scratch.log" 2>&1; then
    echo "fuzz: $t: $n inputs in $(( $(date +%s) - start )) s, no crash ($(grep -oE 'cov: [0-9]+' "$scratch.log" | tail -1))"
  else
    echo "fuzz: $t FAILED after $(( $(date +%s) - start )) s:"
    grep -E 'ERROR|Fatal|failure|SUMMARY|Test unit written' "$scratch.log" | head -8
    status=1
  fi
  rm -rf "$scratch" "$scratch.log"
done
exit $status
