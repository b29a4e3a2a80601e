# earlymm: the series, and the harness that applies, builds and tests it.
# 'make help' lists the targets. Build trees and results go to build/,
# toolchains and the pinned tree to ~/.cache/earlymm (EARLYMM_CACHE).

ARCH ?= all
# Optional: TARGET=<matrix line>, SUITE=<kunit suite glob>, JOBS=<n>,
# CONFIGS=<extra configs/ fragments, comma-separated, e.g. debug>.
TARGET ?=
SUITE ?=
CONFIGS ?=

RUN_MATRIX := python3 tests/kunit/run_matrix.py \
	$(if $(TARGET),--target $(TARGET),--arch $(ARCH)) \
	$(if $(SUITE),--suite '$(SUITE)') $(if $(JOBS),--jobs $(JOBS)) \
	$(if $(CONFIGS),--configs '$(CONFIGS)')

comma := ,

.PHONY: main help setup tree test check check-bisect compare bench-memblock bench-contig export apply clean distclean identity

main: ## apply the series, build arm, boot it in QEMU and run the KUnit suites
	@$(MAKE) --no-print-directory test ARCH=arm

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk -F':.*## ' '{ printf "  %-10s %s\n", $$1, $$2 }'
	@echo "  Variables: ARCH=arm|microblaze|ia64|um|all  TARGET=<tests/kunit/matrix line>"
	@echo "             SUITE=<kunit suite glob>  CONFIGS=<extra fragments, e.g. debug>  JOBS=<n>"
	@echo "             LINUX_TARBALL=<kernel.org tarball> (with make setup)"

setup: ## install packages, fetch the pinned tree, build toolchains (cached)
	@scripts/setup.sh

tree: ## make build/tree: the pinned tree plus one commit per patch
	@scripts/tree.sh

test: tree ## build and boot the matrix (ARCH=all by default), print results
	@$(RUN_MATRIX)

check: tree ## per patch: checkpatch, changelog; sparse/W=1/kernel-doc vs base; apply 3 ways
	@python3 tests/check/check_series.py
	@tests/check/selftest.sh

check-bisect: tree ## build arm, microblaze, ia64 after each patch (SINCE=rev: changed ones)
	@python3 tests/check/check_builds.py bisect $(if $(SINCE),--changed-since $(SINCE))

compare: ## bloat-o-meter + objdump between two build/tree revisions: FROM= TO= [TARGET=arm FUNCS=f,g SET=CONFIG_X=y]
	@python3 tests/check/check_builds.py compare --revs $(FROM) $(TO) --target $(or $(TARGET),arm) \
		$(foreach f,$(subst $(comma), ,$(FUNCS)),--function $(f)) $(foreach s,$(subst $(comma), ,$(SET)),--set $(s))

bench-memblock: tree ## the boot-time cost of one early_contig request (host, memblock simulator)
	@tests/bench/memblock-request-cost.sh

bench-contig: tree ## contig_alloc against alloc_contig_pages on arm in QEMU: latency, success
	@tests/bench/contig-alloc.sh $(or $(TARGET),arm)

export: ## write build/tree's commits back to patches/ and series
	@scripts/export.sh

apply: ## apply the series to another tree: make apply DEST=/path/to/linux
	@scripts/apply.sh $(DEST)

identity: ## sign the series as you: make identity ID="Name <you@example.org>"
	@scripts/set-identity.sh "$(ID)"

clean: ## remove kernel builds and results (keeps build/tree and the cache)
	rm -rf build/out build/results

distclean: clean ## also remove build/tree (run 'make export' first)
	rm -rf build
