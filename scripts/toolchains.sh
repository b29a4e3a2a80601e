#!/usr/bin/env bash
# Make sure the source-built cross compilers of the given arches exist: the
# harness calls this with the arches of the targets it runs, so 'make setup'
# and an arm-only 'make' never pay for them. The missing ones build side by
# side, one core each when there are as many as cores: much of a gcc build
# is serial (configure runs per directory), so two -j1 builds side by side
# beat two -j2 builds in a row. The two take about 17 minutes, once per
# machine (build-toolchain.sh caches it).
#
# usage: scripts/toolchains.sh ARCH...   (arm, um and host need none)
# prints: nothing on stdout; progress and errors on stderr
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build=$EARLYMM_TOP/scripts/build-toolchain.sh
missing=()
for arch; do
	case $arch in
	arm | um | host) continue ;;	# Debian's compilers
	microblaze | ia64) ;;
	*) die "toolchains: unknown arch '$arch' (arm, um and host need no toolchain; microblaze and ia64 build one)" ;;
	esac
	# Also checks that setup installed the sources, before any build starts.
	key=$("$build" --key "$arch") || exit 1
	[ -f "$EARLYMM_CACHE/toolchains/$key/.complete" ] ||
		[[ " ${missing[*]} " == *" $arch "* ]] || missing+=("$arch")
done
[ ${#missing[@]} -gt 0 ] || exit 0

per_build=$((JOBS / ${#missing[@]}))
((per_build >= 1)) || per_build=1
note "toolchains: building ${missing[*]} (about 17 minutes, once per machine; -j$per_build each)"
# Each build in its own process group (set -m), with SIGINT not ignored (a
# script's '&' ignores it), so that the builds go when this script is
# stopped: Ctrl-C, or a TERM, must not leave 15-minute builds holding the
# locks of their keys.
pids=()
# shellcheck disable=SC2317  # (the traps call it)
stop() {
	trap - INT TERM
	note "toolchains: $1: stopping the builds of ${missing[*]}"
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || true
	done
	wait
	exit "$2"
}
trap 'stop interrupted 130' INT
trap 'stop terminated 143' TERM
set -m
for arch in "${missing[@]}"; do
	JOBS=$per_build "$build" "$arch" >/dev/null &
	pids+=($!)
done
set +m
rc=0
for pid in "${pids[@]}"; do
	wait "$pid" || rc=1
done
exit $rc
