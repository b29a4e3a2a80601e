# shellcheck shell=bash
# Shared settings for earlymm scripts: one place for versions, pins and paths.
# Sourced, never executed.

# The pinned base tree: Debian's linux-source-6.1 (Linux 6.1.192 + Debian patches).
LINUX_DEB_PKG=linux-source-6.1
LINUX_DEB_VERSION=6.1.192-2
PIN_DEB_SHA256=ae95fe63d4c553f8d0e6c86cb1ab566f3894a43743eb19ab585cd97d82f26514
LINUX_TARBALL_NAME=linux-source-6.1.tar.xz
PIN_TARBALL_SHA256=4d415b3d364834fd818270e88813e90323bbfce4f519a0e6bd4940ddcd7df693
LINUX_VERSION=6.1.192

EARLYMM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EARLYMM_CACHE=${EARLYMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/earlymm}
EARLYMM_BUILD=${EARLYMM_BUILD:-$EARLYMM_TOP/build}
JOBS=${JOBS:-$(nproc)}

die() { echo "earlymm: error: $*" >&2; exit 1; }
note() { echo "earlymm: $*" >&2; }

# step NAME CMD...: run a step and print its wall time, so the CI budget stays visible.
step() {
	local name=$1 t0=$SECONDS rc=0
	shift
	note "[$name] start"
	"$@" || rc=$?
	note "[$name] $( ((rc)) && echo FAILED || echo done) in $((SECONDS - t0)) s"
	return $rc
}

# The one identity the series is authored and signed off by. A submitter
# replaces it, in lib.sh and in every patch, with: make identity ID="Name <mail>"
EARLYMM_IDENTITY='earlymm project <earlymm@example.invalid>'

TREE=${TREE:-$EARLYMM_BUILD/tree}

# tree_identity "Name <mail>": commit in the work tree as that identity.
tree_identity() {
	local mail=${1##*<}
	git -C "$TREE" config user.name "${1% <*}"
	git -C "$TREE" config user.email "${mail%>}"
}

# series_patches: the patch files named by 'series', in order (quilt format:
# one name per line, '#' comments, optional -pN which must be -p1).
series_patches() {
	local name rest
	[ -f "$EARLYMM_TOP/series" ] || return 0
	while read -r name rest; do
		case $name in '' | '#'*) continue ;; esac
		[ -z "$rest" ] || [ "$rest" = -p1 ] || die "series: $name: only -p1 patches are supported"
		echo "$EARLYMM_TOP/patches/$name"
	done <"$EARLYMM_TOP/series"
}

# series_hash: one hash over 'series' and the patches it names.
series_hash() {
	{ cat "$EARLYMM_TOP/series" 2>/dev/null; series_patches | xargs -r cat; } | sha256sum | cut -c1-16
}
