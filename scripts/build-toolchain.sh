#!/usr/bin/env bash
# Build a bare, C-only cross gcc (and binutils where Debian has none) from
# Debian's source packages, into a cache keyed by what decides the result, so
# only a fresh machine pays the build (about 17 minutes for both, side by
# side). toolchains.sh builds the missing ones side by side; the harness
# calls this script per target for the bin/ directory to put on PATH.
#
# usage: scripts/build-toolchain.sh microblaze|ia64
#        scripts/build-toolchain.sh --key microblaze|ia64
#        scripts/build-toolchain.sh --recipe
# prints: the toolchain's bin/ directory on stdout when it is ready
#         (--key: only the cache key, building nothing; --recipe: the text
#         the key's HASH is taken of)
#
# The cache key, the directory name under $EARLYMM_CACHE/toolchains:
#   TRIPLET-gcc_GCCVER-binutils_BUVER-recipe_HASH
# - GCCVER: the Debian version of gcc-12-source; BUVER: that of
#   binutils-source, or for ia64 that of binutils-ia64-linux-gnu, Debian's
#   cross binutils the compiler is linked to (':', '+' and '~' become '_').
# - HASH: the first 12 hex digits of the sha256 of the recipe, the part of
#   this file between the RECIPE markers below, as bash prints it back: the
#   values of its variables (not their attributes: an exported HOST_CFLAGS
#   is the same recipe) and declare -f of its functions. Bash drops
#   comments and layout there, so a comment edit keeps the key; a changed
#   flag, make goal or step changes it and makes a new toolchain.
# Not in the key: JOBS, the host gcc that compiles the compiler, and the
# libraries it links (gmp, mpfr, mpc: Debian 12 keeps their ABI). A bash
# upgrade that prints functions differently changes HASH: one rebuild.
#
# Two runs sharing the cache (two clones) never build one key at once: the
# build holds a lock file beside it, and the second run waits, then uses the
# finished toolchain.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage="usage: $0 [--key] microblaze|ia64, or $0 --recipe"
mode=build
case ${1:-} in
--key) mode=key; shift ;;
--recipe) mode=recipe ;;
esac
[ "$mode" = recipe ] || arch=${1:?$usage}

# ---- RECIPE: from here to END RECIPE, everything goes into the key -------
# A variable or function added here goes into the RECIPE_VARS or
# RECIPE_FUNCS list below too (tests/harness/test_scripts.py checks that
# --recipe prints each). All that decides the result is here: the steps, the
# prefix's layout and PATH; outside are only the cache's bookkeeping (lock,
# work directory, .complete) and lib.sh's step, which logs.

# run CMD...: run a build command, its output to the log; on failure, show
# the log's end and stop.
run() { "$@" >>"$log" 2>&1 || { tail -40 "$log" >&2; die "toolchain step failed: $*"; }; }

# recipe_target ARCH: the target triplet, and whether binutils are built
# from source (own_binutils=1: Debian has no microblaze binutils) or come
# from Debian's cross package.
recipe_target() {
	case $1 in
	microblaze) triplet=microblaze-linux; own_binutils=1 ;;
	ia64)       triplet=ia64-linux-gnu;   own_binutils=0 ;;
	*) return 1 ;;
	esac
}

# CFLAGS and CXXFLAGS for the compiler's own objects: no -g (install-strip
# drops it anyway), and -O1, not -O2. A cold CI run builds both compilers
# and then about 1000 s of kernel code with them; measured on 2 cores
# (2026-12-03): the two builds side by side take 999 s at -O1 against
# 1213 s at -O2, and the microblaze kernel builds in 96.4 s with the -O1
# compiler against 88.1 s (ia64's mm/: 27.2 s against 24.4 s), about 100 s
# more in a cold run: a net 110 s less.
HOST_CFLAGS=-O1

BINUTILS_CONFIGURE=(
	--disable-nls --disable-werror --disable-gdb --disable-gdbserver
	--disable-sim --disable-gprofng
)
# The assembler, the linker and the binary tools (objcopy, nm, ar...); not
# gprof, the libraries' own tools or the unused libraries they pull in.
BINUTILS_MAKE=(all-gas all-ld all-binutils)
BINUTILS_INSTALL=(install-strip-gas install-strip-ld install-strip-binutils)

# No LTO (the kernel never asks gcc for it), C only, no target libraries, not
# even libgcc: neither the microblaze nor the ia64 kernel links it (each has
# its own helpers in arch/*/lib/). A cold CI run pays for this build, so it
# builds what the kernel uses.
GCC_CONFIGURE=(
	--disable-lto
	--enable-languages=c --without-headers --with-newlib
	--disable-shared --disable-threads --disable-libssp --disable-libgomp
	--disable-libquadmath --disable-libatomic --disable-multilib
	--disable-nls --disable-bootstrap --disable-libsanitizer
	--disable-libvtv --disable-libstdcxx
)
GCC_MAKE=(all-gcc)
GCC_INSTALL=(install-strip-gcc)

binutils() {
	tar -C "$work" -xf /usr/src/binutils/binutils-*.tar.xz
	mkdir -p "$work/build-binutils"
	cd "$work/build-binutils"
	CFLAGS=$HOST_CFLAGS CXXFLAGS=$HOST_CFLAGS run ../binutils-*/configure \
		--prefix="$prefix" --target="$triplet" "${BINUTILS_CONFIGURE[@]}"
	run make -j"$JOBS" "${BINUTILS_MAKE[@]}"
	run make "${BINUTILS_INSTALL[@]}"
}

gcc_src() {
	tar -C "$work" -xf /usr/src/gcc-12/gcc-*-dfsg.tar.xz
	# The DFSG tarball lacks the GFDL manuals; Debian's own build patch
	# makes the build stop needing them.
	cd "$work"/gcc-*/
	run patch -p2 -i /usr/src/gcc-12/patches/gcc-gfdl-build.diff
}

gcc_build() {
	local extra=() t
	if [ "$own_binutils" = 0 ]; then
		# Debian's packaged cross binutils; link them into the prefix so
		# one PATH entry gives the whole toolchain.
		for t in /usr/bin/"$triplet"-*; do ln -sf "$t" "$prefix/bin/"; done
		extra=(--with-as="/usr/bin/$triplet-as" --with-ld="/usr/bin/$triplet-ld")
	fi
	mkdir -p "$work/build-gcc"
	cd "$work/build-gcc"
	CFLAGS=$HOST_CFLAGS CXXFLAGS=$HOST_CFLAGS run "$(echo "$work"/gcc-*/configure)" \
		--prefix="$prefix" --target="$triplet" "${GCC_CONFIGURE[@]}" "${extra[@]}"
	run make -j"$JOBS" "${GCC_MAKE[@]}"
	run make "${GCC_INSTALL[@]}"
}

# The steps in order, into an empty $prefix.
recipe_build() {
	mkdir -p "$prefix/bin"
	# gcc's configure finds the binutils just built in the prefix.
	export PATH=$prefix/bin:$PATH
	[ "$own_binutils" = 0 ] || step "$arch binutils" binutils
	step "$arch gcc source" gcc_src
	step "$arch gcc" gcc_build
}

# ---- END RECIPE ----------------------------------------------------------

RECIPE_VARS=(HOST_CFLAGS BINUTILS_CONFIGURE BINUTILS_MAKE BINUTILS_INSTALL
	GCC_CONFIGURE GCC_MAKE GCC_INSTALL)
RECIPE_FUNCS=(run recipe_target binutils gcc_src gcc_build recipe_build)

# recipe_text: the recipe as hashed, NAME=VALUE or NAME=(VALUE...) per
# variable (quoted as ${x@Q} does), then each function's definition.
recipe_text() {
	local name ref vals
	for name in "${RECIPE_VARS[@]}"; do
		if [[ $(declare -p "$name") == 'declare -'*([!\ ])a* ]]; then
			ref="${name}[@]"
			vals=("${!ref}")
			printf '%s=(%s)\n' "$name" "${vals[*]@Q}"
		else
			printf '%s=%s\n' "$name" "${!name@Q}"
		fi
	done
	declare -f "${RECIPE_FUNCS[@]}"
}
recipe_hash() { recipe_text | sha256sum | cut -c1-12; }

if [ "$mode" = recipe ]; then
	recipe_text
	exit 0
fi

recipe_target "$arch" ||
	die "no source-built toolchain for '$arch' (arm uses Debian's gcc-arm-linux-gnueabihf; $usage)"

pkgver() {
	[ -z "$(missing_packages "$1")" ] || die "package $1 is not installed: run 'make setup'"
	dpkg-query -W -f='${Version}' "$1"
}
gcc_src_ver=$(pkgver gcc-12-source)
if [ "$own_binutils" = 1 ]; then
	bu_ver=$(pkgver binutils-source)
else
	bu_ver=$(pkgver binutils-ia64-linux-gnu)
fi
key="$triplet-gcc_${gcc_src_ver}-binutils_${bu_ver}-recipe_$(recipe_hash)"
key=${key//[:+~]/_}
if [ "$mode" = key ]; then
	echo "$key"
	exit 0
fi

toolchains=$EARLYMM_CACHE/toolchains
prefix=$toolchains/$key
work=$toolchains/.work-$key
log=$work/build.log

# Under the key's lock: build, unless another run finished it meanwhile.
build() {
	[ ! -f "$prefix/.complete" ] || return 0
	rm -rf "$work" "$prefix"
	mkdir -p "$work"
	note "building $key (log: $log)"
	recipe_build
	"$prefix/bin/$triplet-gcc" --version | head -1 >&2
	touch "$prefix/.complete"
	rm -rf "$work"
}

[ -f "$prefix/.complete" ] || with_lock "$toolchains/$key.lock" build
echo "$prefix/bin"
