#!/bin/sh
# Records the ground truth of the glibc tests on this machine (Debian 12, glibc 2.36):
# builds Tests/Fixtures/glibc/mallocvm.c and runs every Tests/Fixtures/glibc/*/NAME.vm under
#   setarch -R strace -e trace=memory
# writing NAME.strace.txt beside it (ASLR off, so the addresses repeat). Needs gcc and strace.
set -e
dir=$(cd "$(dirname "$0")/../Tests/Fixtures/glibc" && pwd)
gcc -O2 -Wall -pthread -o /tmp/mallocvm "$dir/mallocvm.c"
for vm in "$dir"/*/*.vm; do
  setarch "$(uname -m)" -R strace -f -e trace=memory -o "${vm%.vm}.strace.txt" /tmp/mallocvm "$vm" > "${vm%.vm}.out.txt" 2> "${vm%.vm}.err.txt" || true
  for f in "${vm%.vm}.out.txt" "${vm%.vm}.err.txt"; do [ -s "$f" ] || rm -f "$f"; done
done
