#!/usr/bin/env bash
# Write the work tree's commits since 'base' back to patches/ and series.
# Reproducible: an unchanged commit exports to a byte-identical patch.
#
# usage: scripts/export.sh [DIR]   (DIR/patches and DIR/series; default: here)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dest=${1:-$EARLYMM_TOP}
[ -d "$TREE/.git" ] || die "no work tree at $TREE: run 'make tree' first"
git -C "$TREE" diff --quiet HEAD || die "$TREE has uncommitted changes: commit them first"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Fixed abbreviation and no numbering or signature: the text of a patch
# depends only on its commit, never on the repository or its neighbours.
git -C "$TREE" -c core.abbrev=12 -c diff.renames=true format-patch -q \
	--zero-commit --no-signature --no-numbered -o "$out" base..HEAD

names=()
for p in "$out"/*.patch; do
	[ -e "$p" ] || continue
	names+=("$(basename "$p")")
done
# The part headers of the repository's series stay before their parts. The
# series is made first: if its parts cannot be carried over, patches/ and
# series stay as they were.
python3 "$EARLYMM_TOP/scripts/series_parts.py" write "$out/series" "${names[@]}" ||
	die "export: patches/ and series left as they were"
mkdir -p "$dest/patches"
find "$dest/patches" -name '*.patch' -delete
[ ${#names[@]} -eq 0 ] || cp "$out"/*.patch "$dest/patches/"
cp "$out/series" "$dest/series"
[ "$dest" = "$EARLYMM_TOP" ] || exit 0
git -C "$TREE" update-ref refs/earlymm/synced HEAD
git -C "$TREE" config earlymm.serieshash "$(series_hash)"
note "export: $(series_patches | wc -l) patches written to patches/"
