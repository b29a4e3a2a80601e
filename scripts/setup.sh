#!/usr/bin/env bash
# Set up a fresh Debian 12 machine: packages, the pinned tree and the work
# tree. Minutes, so that 'make setup && make' (arm) is quick on a new machine.
# The microblaze and ia64 cross compilers are not built here: the harness
# builds those it needs on first use (toolchains.sh), once per machine.
# Re-running is cheap.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The packages (EARLYMM_PACKAGES) are listed in lib.sh, which check-setup.sh
# shares.
step packages install_packages "${EARLYMM_PACKAGES[@]}"
step "linux tree" "$EARLYMM_TOP/scripts/fetch-linux.sh" >/dev/null
step "work tree" "$EARLYMM_TOP/scripts/tree.sh"
note "cross compilers: microblaze and ia64 build on first use (about 17 minutes, once per machine);
  scripts/toolchains.sh microblaze ia64 builds them now"
