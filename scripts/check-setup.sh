#!/usr/bin/env bash
# Check that 'make setup' has run on this machine: the Debian packages of its
# list (lib.sh) are installed and the pinned tree is in the cache. make tree
# and make test call it first, so a clone on a new machine is told what to do
# instead of failing somewhere deep in a build. It runs on every make tree:
# one dpkg-query and a stat or two (with LINUX_TARBALL, the tarball's sum is
# recorded with its stat: it is hashed again only once it changed), a few
# milliseconds.
#
# prints: nothing when all is there; else one line naming what is missing
# (and exits non-zero)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

missing=$(missing_packages "${EARLYMM_PACKAGES[@]}")
[ -z "$missing" ] ||
	die "setup incomplete: Debian packages not installed: ${missing//$'\n'/ }: run 'make setup'"
repo=$(base_repo)
[ -f "$repo/earlymm-complete" ] ||
	die "setup incomplete: no pinned Linux tree at $repo: run 'make setup'"
