#!/usr/bin/env bash
# Make or refresh the developers' work tree: a git clone of the pinned base
# (one commit, tag 'base') with one commit per patch of the series (git am).
#
# A tree a developer has committed to since the last sync is left alone while
# patches/ is unchanged (edit, make test, make export); when both moved, it
# refuses rather than lose work. FORCE=1 re-applies the series regardless.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# One at a time: .ci/run's make check and make check-bisect both ask for
# the tree, side by side; two re-applying the series at once would each
# reset the other's work.
if [ -z "${EARLYMM_TREE_LOCKED:-}" ]; then
	mkdir -p "$(dirname "$TREE")"
	EARLYMM_TREE_LOCKED=1 exec flock "$(dirname "$TREE")/.tree.lock" "$0" "$@"
fi

base=$("$EARLYMM_TOP/scripts/fetch-linux.sh")
# As assignments, so that a series that does not parse stops here (in a
# 'for' list its error would leave a tree with part of the series). One
# path a line: a checkout path may hold blanks.
want=$(series_hash)
list=$(series_patches)
patches=()
[ -z "$list" ] || mapfile -t patches <<<"$list"
git_t() { git -C "$TREE" "$@"; }

apply_series() {
	local p
	git_t reset -q --hard base
	git_t clean -qfdx
	for p in "${patches[@]}"; do
		git_t am -q --committer-date-is-author-date "$p" || {
			git_t am --abort || true
			die "patch $(basename "$p") does not apply to $TREE (see above)"
		}
	done
	git_t update-ref refs/earlymm/synced HEAD
	git_t config earlymm.serieshash "$want"
	note "tree: $TREE at $(git_t describe --always --tags) (${#patches[@]} patches)"
}

if [ ! -d "$TREE/.git" ]; then
	note "tree: cloning $base into $TREE"
	mkdir -p "$(dirname "$TREE")"
	git clone -q --shared "$base" "$TREE"
	git_t fetch -q --tags
	tree_identity "$EARLYMM_IDENTITY"
	# Debian's .gitignore ignores the whole top level ("/*"), which would
	# hide every file a patch adds. Drop that block in the work tree only.
	git_t update-index --skip-worktree .gitignore
	sed -i '/^# Debian packaging: ignore everything/,$d' "$TREE/.gitignore"
	apply_series
	exit 0
fi

have=$(git_t config earlymm.serieshash || true)
synced=$(git_t rev-parse -q --verify refs/earlymm/synced || true)
head=$(git_t rev-parse HEAD)
if [ "$have" = "$want" ]; then
	[ "$head" = "$synced" ] || note "tree: using your unexported commits in $TREE ('make export' writes them to patches/)"
	exit 0
fi
if [ "$head" != "$synced" ] || ! git_t diff --quiet HEAD; then
	[ "${FORCE:-0}" = 1 ] || die "patches/ changed, and $TREE has work not in patches/.
  Save it with 'make export' (or git stash), or discard it with 'make tree FORCE=1'."
fi
note "tree: patches/ changed; re-applying the series"
apply_series
