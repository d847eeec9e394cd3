#!/usr/bin/env bash
# Proves that MMCore compiles as Embedded Swift for bare-metal x86-64 (no Foundation, no
# existentials, no reflection), with the flags of shared/reference/embedded-swift-x86_64.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
swiftc -enable-experimental-feature Embedded -enable-experimental-feature Extern \
  -target x86_64-unknown-none-elf -wmo -parse-as-library -Osize \
  -Xcc -mno-red-zone -Xcc -fno-pic -Xfrontend -function-sections \
  -module-name MMCore -c $(find Sources/MMCore -name '*.swift' | sort) -o "$out/MMCore.o"
echo "embedded: MMCore compiles for x86_64-unknown-none-elf ($(wc -c < "$out/MMCore.o") bytes of object code)"
