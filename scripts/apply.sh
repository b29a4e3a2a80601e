#!/usr/bin/env bash
# Apply the series to any Linux tree, with quilt's semantics: patches in
# 'series' order, -p1, stop at the first that does not apply and report it
# with its rejected hunks, leaving the tree at the last patch that applied.
#
# usage: scripts/apply.sh TREE
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dest=${1:?usage: $0 TREE}
[ -f "$dest/Makefile" ] && [ -d "$dest/mm" ] || die "$dest does not look like a Linux tree"
mapfile -t patches < <(series_patches)
[ ${#patches[@]} -gt 0 ] || { note "series is empty: nothing to apply"; exit 0; }

# A tree where the first patch reverses cleanly already carries the series.
if patch -d "$dest" -p1 -R --dry-run -s -f <"${patches[0]}" >/dev/null 2>&1; then
	die "$dest already has $(basename "${patches[0]}") applied; refusing to apply the series twice.
  Start from a pristine tree (make tree gives one), or 'quilt pop -a' / git checkout there."
fi

n=0
for p in "${patches[@]}"; do
	if ! out=$(patch -d "$dest" -p1 -N --dry-run -f <"$p" 2>&1); then
		rej=$(mktemp -d)
		# Replay the failing patch on copies of its files, to show the rejects.
		(cd "$dest" && lsdiff --strip=1 "$p" 2>/dev/null | xargs -r cp --parents -t "$rej" 2>/dev/null) || true
		patch -d "$rej" -p1 -N -f <"$p" >/dev/null 2>&1 || true
		echo "$out" >&2
		find "$rej" -name '*.rej' -exec cat {} + >&2 || true
		rm -rf "$rej"
		die "$(basename "$p") does not apply to $dest (patch $((n + 1)) of ${#patches[@]});
  $n applied before it stay applied. Rejected hunks are shown above."
	fi
	patch -d "$dest" -p1 -N -s -f <"$p"
	n=$((n + 1))
done
note "applied $n patches to $dest"
