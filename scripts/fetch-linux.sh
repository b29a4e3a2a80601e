#!/usr/bin/env bash
# Fetch, verify and unpack the pinned base tree once, into a git repository
# in the cache (one commit, tagged 'base'). Work trees are cloned from it.
# The cache copy doubles as a pristine tree for checkpatch and comparisons.
#
# Sources, in order of preference:
#   LINUX_TARBALL=/path/linux-6.1.192.tar.xz   (kernel.org or any copy;
#                                               kept for this clone, see lib.sh;
#                                               LINUX_TARBALL= forgets it)
#   apt-get download linux-source-6.1=6.1.192-2 (the default pin)
#
# Two runs sharing the cache (two clones) never fetch or unpack at once: the
# work holds a lock file beside the repository; the second run waits, then
# finds the finished repository.
#
# prints: the path of the base repository on stdout
set -euo pipefail
. "$(dirname "$0")/lib.sh"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
# check_sha FILE EXPECTED WHAT ADVICE: die, with ADVICE, unless FILE's sha256 is EXPECTED.
check_sha() {
	local got
	got=$(sha_of "$1")
	[ "$got" = "$2" ] || die "$3 checksum mismatch
  file:     $1
  expected: $2
  got:      $got
  $4"
}
# The advice for a bad download or a bad copy of the pin: ours, in the cache.
redo_pin="The pin is $LINUX_DEB_PKG $LINUX_DEB_VERSION: this copy in the cache is damaged.
  Delete it and run 'make setup' again, or point LINUX_TARBALL at a Linux $LINUX_VERSION
  tarball (with LINUX_TARBALL_SHA256 to pin it)."

tarball_sha=	# LINUX_TARBALL's sha256, when there is one
if [ -n "${LINUX_TARBALL:-}" ]; then
	tarball_sha=$(tarball_sum)
fi
repo=$(base_repo_of "$tarball_sha")
key=$(basename "$repo")
dl=$EARLYMM_CACHE/dl
deb=$dl/${LINUX_DEB_PKG}_${LINUX_DEB_VERSION}_all.deb
tarball=	# the tarball the repository is made from

# The pinned .deb leaves Debian's archive once a newer point release
# replaces it: say so, and where the same bytes are still to be had.
apt_failed() {
	local why
	if apt-cache madison "$LINUX_DEB_PKG" 2>/dev/null | grep -qF "| $LINUX_DEB_VERSION |"; then
		why="apt lists $LINUX_DEB_PKG $LINUX_DEB_VERSION but could not download it (network or mirror trouble?)."
	else
		why="the pinned package version $LINUX_DEB_PKG $LINUX_DEB_VERSION is not in the configured archive:
  Debian drops a version when a newer one replaces it (or 'apt-get update' has not run).
  Check with: apt-cache policy $LINUX_DEB_PKG"
	fi
	die "cannot download $LINUX_DEB_PKG=$LINUX_DEB_VERSION with apt: $why
  Either:
  - get the exact .deb from snapshot.debian.org (source package 'linux', version
    $LINUX_DEB_VERSION: https://snapshot.debian.org/package/linux/$LINUX_DEB_VERSION/)
    and put it at $deb
    (its sha256 must be $PIN_DEB_SHA256), then run 'make setup' again
  - or use a Linux $LINUX_VERSION tarball from kernel.org:
      make setup LINUX_TARBALL=/path/linux-$LINUX_VERSION.tar.xz LINUX_TARBALL_SHA256=<its sha256>
    LINUX_TARBALL_SHA256 pins your tarball (take the sum from kernel.org's sha256sums.asc);
    the harness checks that it holds Linux $LINUX_VERSION. The series is written against
    Debian's $LINUX_DEB_VERSION tree, which carries Debian's patches on top."
}

# deb_tarball: set tarball to the pinned tarball, taken from the .deb
# (downloaded once, both kept in dl/). Not run as $(...): errexit would be
# off there.
deb_tarball() {
	tarball=$dl/$LINUX_TARBALL_NAME
	if [ ! -f "$tarball" ]; then
		mkdir -p "$dl"
		if [ ! -f "$deb" ]; then
			note "downloading $LINUX_DEB_PKG=$LINUX_DEB_VERSION"
			(cd "$dl" && apt-get download "$LINUX_DEB_PKG=$LINUX_DEB_VERSION") || apt_failed
		fi
		check_sha "$deb" "$PIN_DEB_SHA256" "$LINUX_DEB_PKG .deb" "$redo_pin"
		dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$LINUX_TARBALL_NAME" >"$tarball.tmp"
		mv "$tarball.tmp" "$tarball"
	fi
	check_sha "$tarball" "$PIN_TARBALL_SHA256" "$LINUX_TARBALL_NAME" "$redo_pin"
}

# Under the lock: make the repository, unless another run finished it meanwhile.
make_repo() {
	local ver tmp=$repo.tmp
	[ ! -f "$repo/earlymm-complete" ] || return 0
	if [ -n "${LINUX_TARBALL:-}" ]; then
		tarball=$LINUX_TARBALL
		# Optional pin for a user-supplied tarball; the version is checked below either way.
		[ -z "${LINUX_TARBALL_SHA256:-}" ] || check_sha "$tarball" "$LINUX_TARBALL_SHA256" "LINUX_TARBALL" \
			"Your file is left as it is: check that LINUX_TARBALL names the tarball you meant
  and that LINUX_TARBALL_SHA256 is its sum (kernel.org's sha256sums.asc has them)."
		note "LINUX_TARBALL sha256 $tarball_sha"
	else
		deb_tarball
	fi

	note "unpacking $tarball into $repo"
	rm -rf "$tmp" "$repo"
	mkdir -p "$tmp"
	tar -C "$tmp" --strip-components=1 -xf "$tarball"
	ver=$(make -s -C "$tmp" kernelversion 2>/dev/null) || ver=unknown
	[ "$ver" = "$LINUX_VERSION" ] || die "$tarball holds Linux $ver, expected $LINUX_VERSION"
	# No automatic gc or maintenance: git would leave it running detached,
	# holding the lock (and unlocked closes the lock for git regardless).
	git_tmp() { unlocked git -C "$tmp" -c gc.auto=0 -c maintenance.auto=false "$@"; }
	git_tmp init -q
	# -f: Debian's .gitignore ignores the whole top level ("/*"); take the tarball as it is.
	git_tmp add -A -f
	git_tmp -c user.name=earlymm -c user.email=earlymm@invalid commit -q \
		--date="@0 +0000" -m "Linux $LINUX_VERSION ($key), pristine"
	git_tmp tag base
	mv "$tmp" "$repo"
	touch "$repo/earlymm-complete"
}

[ -f "$repo/earlymm-complete" ] || with_lock "$repo.lock" make_repo

# The record (lib.sh): the tarball this run used, with its sum, so the next
# run without LINUX_TARBALL uses it too; none when it used the .deb because
# LINUX_TARBALL= said so.
if [ -n "${LINUX_TARBALL:-}" ]; then
	path=$(readlink -f "$LINUX_TARBALL")
	record="$path
$tarball_sha $(tarball_stamp "$LINUX_TARBALL")"
	if [ "$(cat "$LINUX_TARBALL_RECORD" 2>/dev/null)" != "$record" ]; then
		[ "$(head -1 "$LINUX_TARBALL_RECORD" 2>/dev/null)" = "$path" ] ||
			note "LINUX_TARBALL recorded in $LINUX_TARBALL_RECORD: make tree and make test use it too"
		mkdir -p "$EARLYMM_BUILD"
		echo "$record" >"$LINUX_TARBALL_RECORD.$$"
		mv "$LINUX_TARBALL_RECORD.$$" "$LINUX_TARBALL_RECORD"
	fi
elif [ -n "${LINUX_TARBALL+set}" ] && [ -f "$LINUX_TARBALL_RECORD" ]; then
	rm -f "$LINUX_TARBALL_RECORD"
	note "LINUX_TARBALL= : forgot the recorded tarball; this clone uses $LINUX_DEB_PKG $LINUX_DEB_VERSION again"
fi
echo "$repo"
