#!/usr/bin/env bash
# Install Debian packages that only some targets need, on their first use,
# so that make setup stays quick: lava-dispatcher (about 150 packages, with
# QEMU for x86 and libguestfs) for make lava-run.
#
# usage: scripts/need-packages.sh PKG...
set -euo pipefail
. "$(dirname "$0")/lib.sh"

install_packages "$@"
