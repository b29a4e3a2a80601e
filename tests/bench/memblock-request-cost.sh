#!/usr/bin/env bash
# Build tests/bench/memblock_request_cost.c against build/tree's
# mm/memblock.c in a private copy of the memblock simulator (the matrix's
# memblock line builds in the tree's own copy) and run it.
# Usage: tests/bench/memblock-request-cost.sh [TREE]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tree=$(cd "${1:-$top/build/tree}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The simulator reaches the kernel through ../../../ paths: mirror them.
mkdir -p "$work/tools/testing"
ln -s "$tree/tools/testing/selftests" "$work/tools/testing/selftests"
cp -r "$tree/tools/testing/memblock" "$work/tools/testing/"
for d in include mm arch tools/arch tools/include tools/lib; do
	ln -s "$tree/$d" "$work/$d"
done
sim="$work/tools/testing/memblock"
make -s -C "$sim" clean >/dev/null
# Timing, not checking: no AddressSanitizer or UBSan.
cflags="-I. -I../../include -O2 -D CONFIG_PHYS_ADDR_T_64BIT"
make -s -C "$sim" CFLAGS="$cflags" LDFLAGS= include memblock.c >/dev/null
make -s -C "$sim" CFLAGS="$cflags" LDFLAGS= memblock.o lib/slab.o mmzone.o slab.o tests/common.o >/dev/null
cc -I"$sim" -I"$sim/../../include" -O2 -D CONFIG_PHYS_ADDR_T_64BIT -o "$sim/bench" \
	"$top/tests/bench/memblock_request_cost.c" \
	"$sim"/{memblock.o,lib/slab.o,mmzone.o,slab.o,tests/common.o}
"$sim/bench"
