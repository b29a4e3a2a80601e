# shellcheck shell=bash disable=SC2034
# (SC2034: the settings are used by the scripts that source this file.)
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

# A clone set up from a tarball (make setup LINUX_TARBALL=...) keeps it:
# fetch-linux.sh records it here, so that make tree and make test, which ask
# for the pinned tree again, need not be told. The record is two lines: the
# tarball's path, then its sha256 and the stat stamp it was taken at (so
# base_repo need not hash 140 MB on every make tree). LINUX_TARBALL in the
# environment wins: fetch-linux.sh then records the new one, or with an
# empty LINUX_TARBALL= forgets the record and goes back to the pinned .deb.
LINUX_TARBALL_RECORD=$EARLYMM_BUILD/linux-tarball
if [ -z "${LINUX_TARBALL+set}" ] && [ -f "$LINUX_TARBALL_RECORD" ]; then
	IFS= read -r LINUX_TARBALL <"$LINUX_TARBALL_RECORD" || true
	LINUX_TARBALL_RECORDED=1
fi

# Debian packages: compilers, emulators, kernel build and check tools, the
# harness's own tests (pytest, jsonschema), the mail and lab tools make check
# tries (b4; lava-common's job schemas), and the sources the microblaze
# and ia64 compilers are built from (on first use, by toolchains.sh).
# setup.sh installs them; check-setup.sh checks them.
EARLYMM_PACKAGES=(
	make gcc bc bison flex libssl-dev libelf-dev cpio kmod rsync xz-utils python3
	ccache sparse quilt patchutils git liburcu-dev python3-ply python3-git
	python3-pytest python3-jsonschema python3-yaml b4 lava-common
	gcc-arm-linux-gnueabihf qemu-system-arm qemu-system-misc
	binutils-source gcc-12-source binutils-ia64-linux-gnu
	libgmp-dev libmpfr-dev libmpc-dev texinfo
)

die() { echo "earlymm: error: $*" >&2; exit 1; }
note() { echo "earlymm: $*" >&2; }

# step NAME CMD...: run a step and print its wall time, so the CI budget stays visible.
# CMD runs in a subshell with errexit on: run as 'CMD || rc=$?' a shell
# function would have errexit off and carry on past a failing command.
step() {
	local name=$1 t0=$SECONDS rc=0 errexit='' verdict='done'
	shift
	note "[$name] start"
	[[ $- != *e* ]] || errexit=1
	set +e
	(set -e; "$@")
	rc=$?
	[ -z "$errexit" ] || set -e
	((rc == 0)) || verdict=FAILED
	note "[$name] $verdict in $((SECONDS - t0)) s"
	return $rc
}

# with_lock LOCKFILE CMD...: run CMD holding an exclusive flock(1) on LOCKFILE,
# so two runs sharing $EARLYMM_CACHE (two clones on one machine) never build
# or unpack the same thing at once. The second waits, saying so; CMD should
# then look again for the first one's finished result. The lock goes with the
# file descriptor: it is released when CMD is done or the script exits, and
# when every process that inherited the descriptor has exited too: CMD runs
# what could outlive it (git, whose gc --auto detaches) through 'unlocked'.
# Lock files stay: removing one while another run waits on it would break
# the lock.
with_lock() {
	local lock=$1 earlymm_lock_fd rc
	shift
	mkdir -p "$(dirname "$lock")"
	exec {earlymm_lock_fd}>>"$lock"
	if ! flock -n "$earlymm_lock_fd"; then
		note "waiting for another run, which holds $lock"
		flock "$earlymm_lock_fd"
		note "got $lock"
	fi
	# Not 'CMD || rc=$?': that would turn errexit off inside CMD.
	"$@"
	rc=$?
	exec {earlymm_lock_fd}>&-
	return $rc
}

# unlocked CMD...: run CMD without with_lock's lock descriptor, so that a
# process CMD leaves behind cannot hold the lock after the script is gone.
unlocked() {
	if [ -n "${earlymm_lock_fd:-}" ]; then
		"$@" {earlymm_lock_fd}>&-
	else
		"$@"
	fi
}

# install_packages PKG...: install those of the Debian packages PKG that are
# missing (as root, or through sudo), without their recommendations.
install_packages() {
	local missing=() sudo=
	mapfile -t missing < <(missing_packages "$@")
	[ ${#missing[@]} -gt 0 ] || { note "packages: all present"; return 0; }
	[ "$(id -u)" = 0 ] || sudo=sudo
	note "packages: installing ${missing[*]}"
	$sudo apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# missing_packages PKG...: those of the Debian packages PKG that are not
# installed, one per line. One dpkg-query for all of them: make tree runs this
# on every call (check-setup.sh), so it must cost milliseconds. Installed is
# the package's state, whatever its selection: a held package ("hold ok
# installed") is installed.
missing_packages() {
	local -A ok=()
	local pkg status
	# dpkg-query fails on a package it has never heard of, yet lists the rest.
	while read -r pkg status; do
		[ "$status" != installed ] || ok[$pkg]=1
	done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true)
	for pkg; do
		[ -n "${ok[$pkg]:-}" ] || echo "$pkg"
	done
}

# tarball_stamp FILE: what changes when FILE does (device, inode, size,
# mtime, ctime), so a recorded sum stands while the stamp does.
tarball_stamp() {
	stat -L -c '%d:%i:%s:%.9Y:%.9Z' "$1"
}

# tarball_sum: LINUX_TARBALL's sha256: the recorded one while the file is the
# recorded file, unchanged (a stat); else hashed (seconds for 140 MB).
tarball_sum() {
	local path sum stamp
	if [ ! -f "$LINUX_TARBALL" ]; then
		[ -n "${LINUX_TARBALL_RECORDED:-}" ] || die "LINUX_TARBALL=$LINUX_TARBALL: no such file"
		die "LINUX_TARBALL=$LINUX_TARBALL: no such file (recorded in $LINUX_TARBALL_RECORD
  by an earlier 'make setup LINUX_TARBALL=...'). Either point LINUX_TARBALL at its new place:
    make setup LINUX_TARBALL=/new/path/linux-$LINUX_VERSION.tar.xz
  or go back to the pinned $LINUX_DEB_PKG $LINUX_DEB_VERSION .deb:
    rm $LINUX_TARBALL_RECORD   (or: make setup LINUX_TARBALL=)"
	fi
	if [ -f "$LINUX_TARBALL_RECORD" ] &&
		{ IFS= read -r path && read -r sum stamp; } <"$LINUX_TARBALL_RECORD" &&
		[ "$path" = "$(readlink -f "$LINUX_TARBALL")" ] && [ ${#sum} = 64 ] &&
		[ "$stamp" = "$(tarball_stamp "$LINUX_TARBALL")" ]; then
		echo "$sum"
		return
	fi
	sha256sum <"$LINUX_TARBALL" | cut -d' ' -f1
}

# base_repo: where fetch-linux.sh keeps the pinned tree (a git repository,
# tag 'base'), keyed by the .deb's version or by LINUX_TARBALL's sha256.
base_repo() {
	local sum=
	if [ -n "${LINUX_TARBALL:-}" ]; then
		sum=$(tarball_sum) || exit
	fi
	base_repo_of "$sum"
}
# base_repo_of SUM: the same, for the tarball of sha256 SUM, or for the
# .deb when SUM is empty.
base_repo_of() {
	if [ -n "$1" ]; then
		echo "$EARLYMM_CACHE/linux-$LINUX_VERSION-${1:0:12}"
	else
		echo "$EARLYMM_CACHE/$LINUX_DEB_PKG-$LINUX_DEB_VERSION"
	fi
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

# series_names DIR: the patch names of DIR/series, in order; the one series
# parser (series.sh gives it to the Python side). Quilt's format: one name per
# line, an optional -p1 after it; a word that starts with '#' (at the start
# of the line or after blanks) starts a comment, so fix#2.patch is a name.
# CRLF line ends are taken. Any option other than -p1 is refused. Prints
# nothing unless the whole file parses, so a caller that checks the status
# never acts on part of a series. No DIR/series: no names.
series_names() {
	local dir=$1 line word words fields names=()
	[ -f "$dir/series" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		read -r -a words <<<"${line%$'\r'}"
		fields=()
		for word in "${words[@]}"; do
			[ "${word:0:1}" != '#' ] || break
			fields+=("$word")
		done
		[ ${#fields[@]} -gt 0 ] || continue
		case ${fields[*]:1} in
		'' | -p1) ;;
		*) die "$dir/series: ${fields[0]}: '${fields[*]:1}': only -p1 patches are supported" ;;
		esac
		names+=("${fields[0]}")
	done <"$dir/series"
	[ ${#names[@]} -eq 0 ] || printf '%s\n' "${names[@]}"
}

# series_patches [DIR]: the patch files DIR/series names (DIR/patches/NAME),
# in order; DIR defaults to the repository top.
series_patches() {
	local dir=${1:-$EARLYMM_TOP} names name
	names=$(series_names "$dir") || return
	[ -n "$names" ] || return 0
	while read -r name; do
		echo "$dir/patches/$name"
	done <<<"$names"
}

# series_hash: one hash over 'series' and the patches it names.
series_hash() {
	{ cat "$EARLYMM_TOP/series" 2>/dev/null; series_patches "$EARLYMM_TOP" | xargs -r -d '\n' cat; } | sha256sum | cut -c1-16
}
