#!/usr/bin/env bash
# Fetch, verify and unpack the pinned base tree once, into a git repository
# in the cache (one commit, tagged 'base'). Work trees are cloned from it.
# The cache copy doubles as a pristine tree for checkpatch and comparisons.
#
# Sources, in order of preference:
#   LINUX_TARBALL=/path/linux-6.1.192.tar.xz   (kernel.org or any copy)
#   apt-get download linux-source-6.1=6.1.192-2 (the default pin)
#
# prints: the path of the base repository on stdout
set -euo pipefail
. "$(dirname "$0")/lib.sh"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
check_sha() { # file expected what
	local got
	got=$(sha_of "$1")
	[ "$got" = "$2" ] || die "$3 checksum mismatch
  file:     $1
  expected: $2
  got:      $got
  The pin is $LINUX_DEB_PKG $LINUX_DEB_VERSION. Delete the file and run 'make setup' again, or
  point LINUX_TARBALL at a Linux $LINUX_VERSION tarball (with LINUX_TARBALL_SHA256 to pin it)."
}

if [ -n "${LINUX_TARBALL:-}" ]; then
	[ -f "$LINUX_TARBALL" ] || die "LINUX_TARBALL=$LINUX_TARBALL: no such file"
	tarball=$LINUX_TARBALL
	sum=$(sha_of "$tarball")
	# Optional pin for a user-supplied tarball; the version is checked below either way.
	[ -z "${LINUX_TARBALL_SHA256:-}" ] || check_sha "$tarball" "$LINUX_TARBALL_SHA256" "LINUX_TARBALL"
	note "LINUX_TARBALL sha256 $sum"
	key=linux-$LINUX_VERSION-$(cut -c1-12 <<<"$sum")
else
	dl=$EARLYMM_CACHE/dl
	deb=$dl/${LINUX_DEB_PKG}_${LINUX_DEB_VERSION}_all.deb
	tarball=$dl/$LINUX_TARBALL_NAME
	key=$LINUX_DEB_PKG-$LINUX_DEB_VERSION
fi
repo=$EARLYMM_CACHE/$key

if [ -f "$repo/earlymm-complete" ]; then
	echo "$repo"
	exit 0
fi

if [ -z "${LINUX_TARBALL:-}" ] && [ ! -f "$tarball" ]; then
	mkdir -p "$dl"
	if [ ! -f "$deb" ]; then
		note "downloading $LINUX_DEB_PKG=$LINUX_DEB_VERSION"
		(cd "$dl" && apt-get download "$LINUX_DEB_PKG=$LINUX_DEB_VERSION") ||
			die "cannot download $LINUX_DEB_PKG=$LINUX_DEB_VERSION with apt.
  Run 'apt-get update' (as root) and check 'apt-cache policy $LINUX_DEB_PKG' lists $LINUX_DEB_VERSION,
  or set LINUX_TARBALL=/path/linux-$LINUX_VERSION.tar.xz."
	fi
	check_sha "$deb" "$PIN_DEB_SHA256" "$LINUX_DEB_PKG .deb"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$LINUX_TARBALL_NAME" >"$tarball.tmp"
	mv "$tarball.tmp" "$tarball"
fi
if [ -z "${LINUX_TARBALL:-}" ]; then
	check_sha "$tarball" "$PIN_TARBALL_SHA256" "$LINUX_TARBALL_NAME"
fi

note "unpacking $tarball into $repo"
tmp=$repo.tmp
rm -rf "$tmp" "$repo"
mkdir -p "$tmp"
tar -C "$tmp" --strip-components=1 -xf "$tarball"
ver=$(make -s -C "$tmp" kernelversion 2>/dev/null) || ver=unknown
[ "$ver" = "$LINUX_VERSION" ] || die "$tarball holds Linux $ver, expected $LINUX_VERSION"
git -C "$tmp" init -q
# -f: Debian's .gitignore ignores the whole top level ("/*"); take the tarball as it is.
git -C "$tmp" add -A -f
git -C "$tmp" -c user.name=earlymm -c user.email=earlymm@invalid commit -q \
	--date="@0 +0000" -m "Linux $LINUX_VERSION ($key), pristine"
git -C "$tmp" tag base
mv "$tmp" "$repo"
touch "$repo/earlymm-complete"
echo "$repo"
