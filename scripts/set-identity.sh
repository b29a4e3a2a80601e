#!/usr/bin/env bash
# Replace the project identity with a submitter's own, everywhere it stands:
# its definition in lib.sh, the From: and Signed-off-by: lines of every patch,
# and the work tree's git identity.
#
# usage: scripts/set-identity.sh "Full Name <address@example.org>"
set -euo pipefail
. "$(dirname "$0")/lib.sh"

new=${1:-}
[[ $new =~ ^[^\<\>]+\ \<[^@\<\>\ ]+@[^@\<\>\ ]+\>$ ]] ||
	die "usage: make identity ID=\"Full Name <you@example.org>\""
old=$EARLYMM_IDENTITY
[ "$new" != "$old" ] || { note "identity is already $new"; exit 0; }

# Before any change: a series that does not parse stops here. One path a line.
list=$(series_patches)
patches=()
[ -z "$list" ] || mapfile -t patches <<<"$list"

esc() { printf '%s' "$1" | sed 's/[]\/$*.^&[]/\\&/g'; }
sed -i "s/^EARLYMM_IDENTITY=.*/EARLYMM_IDENTITY='$(esc "$new")'/" "$EARLYMM_TOP/scripts/lib.sh"
for p in "${patches[@]}"; do
	sed -i -e "s/^From: $(esc "$old")\$/From: $(esc "$new")/" \
		-e "s/^Signed-off-by: $(esc "$old")\$/Signed-off-by: $(esc "$new")/" "$p"
done
if [ -d "$TREE/.git" ]; then
	tree_identity "$new"
	note "build/tree still has the old sign-offs: 'make tree FORCE=1' re-applies the series"
fi
note "identity: $new (lib.sh and ${#patches[@]} patches)"
