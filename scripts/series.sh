#!/usr/bin/env bash
# Print the patch names of DIR/series, one per line, in order: the shell's
# own series parser (lib.sh's series_names), so the Python side reads a
# series exactly as apply.sh, tree.sh and export.sh do.
#
# usage: scripts/series.sh [DIR]   (default: the repository top)
# exits non-zero, printing nothing on stdout, on a series it cannot take
# (no DIR/series, or an option other than -p1).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=${1:-$EARLYMM_TOP}
[ -f "$dir/series" ] || die "no series file in $dir"
series_names "$dir"
