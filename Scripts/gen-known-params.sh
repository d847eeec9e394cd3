#!/usr/bin/env bash
# Regenerates Sources/MMCore/Boot/KnownParameters.swift from Debian's linux-source-6.1
# (apt-get install linux-source-6.1). Not run by CI: the kernel source is not needed to test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
tar -C "$work" -xf /usr/src/linux-source-6.1.tar.xz --exclude='*/Documentation/*' --exclude='*/tools/*'
cd "$work"/linux-source-6.1
files() { find . -name '*.c' \( -not -path './arch/*' -o -path './arch/x86/*' \); }
files | xargs grep -hoE '\b(__setup|early_param)\("[^"]*"' > "$work/setup.txt"
files | xargs grep -hoE '\bcore_param\([a-z_0-9]+' > "$work/core.txt"
aliases=$(awk '/static const struct sysctl_alias sysctl_aliases/,/};/' fs/proc/proc_sysctl.c | grep -oE '"[a-z_]+"' | head -100 | sort -u | tr '\n' ' ')
python3 - "$work" "$root/Sources/MMCore/Boot/KnownParameters.swift" "$aliases" <<'PY'
import re, sys
work, out, aliases = sys.argv[1], sys.argv[2], [a.strip('"') for a in sys.argv[3].split()]
setups, early = set(), set()
for l in open(work + '/setup.txt'):
    m = re.match(r'(__setup|early_param)\("([^"]*)"', l.strip())
    if m and m.group(2):
        (early if m.group(1) == 'early_param' else setups).add(m.group(2))
core = {l.strip().split('(')[1] for l in open(work + '/core.txt')}
# Parameters whose code Debian's configuration does not build (checked against its config):
# the kernel then reports them as unknown. kernel/dma/contiguous.c is built only with
# CONFIG_DMA_CMA, and mm/hugetlb.c's hugetlb_cma= sits under #ifdef CONFIG_CMA; Debian sets
# neither (a capture with hugetlb_cma=64M lists it among the unknown parameters).
not_built = {"cma", "cma_pernuma", "hugetlb_cma"}
early -= not_built
setups -= not_built
def arr(name, items):
    lines, line = [f"    static let {name}: [StaticString] = ["], "       "
    for it in sorted(items):
        tok = ' "' + it.replace('\\', '\\\\') + '",'
        if len(line) + len(tok) > 100:
            lines.append(line); line = "       "
        line += tok
    return "\n".join(lines + [line, "    ]"])
head = open(out).read().split("enum KnownParameters {")[0]
open(out, 'w').write(head + "enum KnownParameters {\n" + "\n".join(
    [arr("setup", setups), arr("early", early), arr("core", core), arr("sysctlAliases", aliases)]) + "\n}\n")
PY
echo "wrote $root/Sources/MMCore/Boot/KnownParameters.swift"
