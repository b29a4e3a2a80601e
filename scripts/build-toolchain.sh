#!/usr/bin/env bash
# Build a bare, C-only cross gcc (and binutils where Debian has none) from
# Debian's source packages, into a cache keyed by the versions used, so only
# a fresh machine pays the ~12 minutes per target.
#
# usage: scripts/build-toolchain.sh microblaze|ia64
# prints: the toolchain's bin/ directory on stdout when it is ready
set -euo pipefail
. "$(dirname "$0")/lib.sh"

arch=${1:?usage: $0 microblaze|ia64}
case $arch in
microblaze) triplet=microblaze-linux; own_binutils=1 ;;
ia64)       triplet=ia64-linux-gnu;   own_binutils=0 ;;
*) die "no source-built toolchain for '$arch' (arm uses Debian's gcc-arm-linux-gnueabihf)" ;;
esac

pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || die "package $1 is not installed: run 'make setup'"; }
gcc_src_ver=$(pkgver gcc-12-source)
bu_ver=$(pkgver binutils-source)
[ "$own_binutils" = 1 ] || bu_ver=$(pkgver binutils-ia64-linux-gnu)
key="$triplet-gcc_${gcc_src_ver}-binutils_${bu_ver}"
key=${key//[:+~]/_}
prefix=$EARLYMM_CACHE/toolchains/$key

if [ -f "$prefix/.complete" ]; then
	echo "$prefix/bin"
	exit 0
fi

work=$EARLYMM_CACHE/toolchains/.work-$triplet
rm -rf "$work" "$prefix"
mkdir -p "$work" "$prefix"
log=$work/build.log
note "building $key (log: $log)"

run() { "$@" >>"$log" 2>&1 || { tail -40 "$log" >&2; die "toolchain step failed: $*"; }; }

binutils() {
	tar -C "$work" -xf /usr/src/binutils/binutils-*.tar.xz
	mkdir -p "$work/build-binutils"
	cd "$work/build-binutils"
	CFLAGS=-O2 CXXFLAGS=-O2 run ../binutils-*/configure --prefix="$prefix" --target="$triplet" \
		--disable-nls --disable-werror --disable-gdb --disable-gdbserver \
		--disable-sim --disable-gprofng
	run make -j"$JOBS"
	run make install-strip
}

gcc_src() {
	tar -C "$work" -xf /usr/src/gcc-12/gcc-*-dfsg.tar.xz
	# The DFSG tarball lacks the GFDL manuals; Debian's own build patch
	# makes the build stop needing them.
	cd "$work"/gcc-*/
	run patch -p2 -i /usr/src/gcc-12/patches/gcc-gfdl-build.diff
}

gcc_build() {
	local extra=()
	if [ "$own_binutils" = 0 ]; then
		# Debian's packaged cross binutils; link them into the prefix so
		# one PATH entry gives the whole toolchain.
		for t in /usr/bin/"$triplet"-*; do ln -sf "$t" "$prefix/bin/"; done
		extra=(--with-as=/usr/bin/$triplet-as --with-ld=/usr/bin/$triplet-ld)
	fi
	mkdir -p "$work/build-gcc"
	cd "$work/build-gcc"
	# No -g for the compiler's own objects (install-strip drops it anyway)
	# and no LTO (the kernel never asks gcc for it): a cold CI run pays
	# for this build, so it builds only what the kernel uses.
	CFLAGS=-O2 CXXFLAGS=-O2 run "$(echo "$work"/gcc-*/configure)" \
		--prefix="$prefix" --target="$triplet" --disable-lto \
		--enable-languages=c --without-headers --with-newlib \
		--disable-shared --disable-threads --disable-libssp --disable-libgomp \
		--disable-libquadmath --disable-libatomic --disable-multilib \
		--disable-nls --disable-bootstrap --disable-libsanitizer \
		--disable-libvtv --disable-libstdcxx "${extra[@]}"
	run make -j"$JOBS" all-gcc all-target-libgcc
	run make install-strip-gcc install-target-libgcc
}

mkdir -p "$prefix/bin"
export PATH=$prefix/bin:$PATH
[ "$own_binutils" = 1 ] && step "$arch binutils" binutils
step "$arch gcc source" gcc_src
step "$arch gcc" gcc_build
"$prefix/bin/$triplet-gcc" --version | head -1 >&2
touch "$prefix/.complete"
rm -rf "$work"
echo "$prefix/bin"
