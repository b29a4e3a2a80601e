#!/usr/bin/env bash
# Set up a fresh Debian 12 machine: packages, the pinned tree, the cross
# toolchains (built once, cached) and the work tree. Re-running is cheap.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Debian packages: compilers, emulators, kernel build and check tools, and the
# sources the microblaze and ia64 compilers are built from.
PACKAGES=(
	make gcc bc bison flex libssl-dev libelf-dev cpio kmod rsync xz-utils python3
	ccache sparse quilt patchutils git liburcu-dev python3-ply python3-git
	gcc-arm-linux-gnueabihf qemu-system-arm qemu-system-misc
	binutils-source gcc-12-source binutils-ia64-linux-gnu
	libgmp-dev libmpfr-dev libmpc-dev texinfo
)

install_packages() {
	local missing=() p sudo=
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || { note "packages: all present"; return 0; }
	[ "$(id -u)" = 0 ] || sudo=sudo
	note "packages: installing ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

step packages install_packages
step "linux tree" "$EARLYMM_TOP/scripts/fetch-linux.sh" >/dev/null
# Both compilers build side by side, one core each: much of a gcc build is
# serial (configure runs per directory), so this beats two -j2 builds in a row.
toolchains() {
	local m i rm=0 ri=0
	JOBS=1 "$EARLYMM_TOP/scripts/build-toolchain.sh" microblaze >/dev/null &
	m=$!
	JOBS=1 "$EARLYMM_TOP/scripts/build-toolchain.sh" ia64 >/dev/null &
	i=$!
	wait $m || rm=$?
	wait $i || ri=$?
	return $((rm || ri))
}
step toolchains toolchains
step "work tree" "$EARLYMM_TOP/scripts/tree.sh"
