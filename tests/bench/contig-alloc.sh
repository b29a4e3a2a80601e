#!/usr/bin/env bash
# Boot the arm matrix line with configs/bench.config (its own build
# directory), run only the contig_alloc_bench KUnit suite and print its
# table: contig_alloc() against alloc_contig_pages(), size by size.
# Usage: tests/bench/contig-alloc.sh [TARGET]  (default: arm)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
target=${1:-arm}
python3 "$top/tests/kunit/run_matrix.py" --target "$target" --configs bench \
	--suite contig_alloc_bench >/dev/null
# The table is the suite's kunit_info() lines, in the kernel's log
sed -n 's/^.*# contig_alloc_bench_[a-z]*: //p' "$top/build/out/$target+bench/test.log"
