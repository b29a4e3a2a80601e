# earlymm: the series, and the harness that applies, builds and tests it.
# 'make help' lists the targets. Build trees and results go to build/,
# toolchains and the pinned tree to ~/.cache/earlymm (EARLYMM_CACHE).

ARCH ?= all
# Optional: TARGET=<matrix line>, SUITE=<kunit suite glob>, JOBS=<n>,
# CONFIGS=<extra configs/ fragments, comma-separated, e.g. debug>,
# PLAN=1 (say what would run, build nothing).
TARGET ?=
SUITE ?=
CONFIGS ?=

# Debian's python3, whatever python3 comes first on PATH: the harness's own
# tests need Debian's python3-pytest and python3-jsonschema (make setup).
PYTHON := /usr/bin/python3

RUN_MATRIX := $(PYTHON) tests/kunit/run_matrix.py \
	$(if $(TARGET),--target $(TARGET),--arch $(ARCH)) \
	$(if $(SUITE),--suite '$(SUITE)') $(if $(JOBS),--jobs $(JOBS)) \
	$(if $(CONFIGS),--configs '$(CONFIGS)') $(if $(PLAN),--plan)

comma := ,

.PHONY: main help setup toolchains tree test expected test-harness check check-bisect mbox lava-jobs lava-run compare bench-memblock bench-contig export apply clean distclean identity

main: ## apply the series, build arm (QEMU virt), boot it and run the KUnit suites
	@$(MAKE) --no-print-directory test TARGET=arm

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk -F':.*## ' '{ printf "  %-10s %s\n", $$1, $$2 }'
	@echo "  Variables: ARCH=arm|microblaze|ia64|um|all  TARGET=<tests/kunit/matrix line>  PLAN=1"
	@echo "             SUITE=<kunit suite glob>  CONFIGS=<extra fragments, e.g. debug>  JOBS=<n>"
	@echo "             LINUX_TARBALL=<kernel.org tarball> (with make setup)"

setup: ## install packages, fetch the pinned tree, make the work tree (compilers build on first use)
	@scripts/setup.sh

toolchains: ## build the microblaze and ia64 cross compilers now (else on first use; cached)
	@scripts/toolchains.sh microblaze ia64

tree: ## make build/tree: the pinned tree plus one commit per patch
	@scripts/check-setup.sh
	@scripts/tree.sh

test: tree ## build and boot the matrix (ARCH=all by default), print results
	@$(RUN_MATRIX)

expected: ## write tests/kunit/expected from the last clean make test (review the diff)
	@$(PYTHON) tests/kunit/expected.py

test-harness: ## the harness's own tests (pytest; needs build/tree, builds no kernel)
	@$(PYTHON) -m pytest -q tests/harness

check: tree ## per patch: checkpatch, changelog; sparse/W=1/kernel-doc vs base; headers alone; kunitconfigs; apply 3 ways; mbox via b4; LAVA schemas
	@$(PYTHON) tests/check/check_series.py
	@tests/check/selftest.sh
	@$(PYTHON) -m pytest -q tests/harness
	@$(PYTHON) tests/lava/lava_jobs.py check
	@$(PYTHON) tests/kunit/kcidb.py $(or $(EARLYMM_BUILD),build)/results/kcidb.json && \
		echo "kcidb: the last make test's KCIDB report is valid"

check-bisect: tree ## build arm, microblaze, ia64 after each patch (SINCE=rev: from the first changed one)
	@$(PYTHON) tests/check/check_builds.py bisect $(if $(SINCE),--changed-since $(SINCE))

mbox: tree ## one mbox per part (build/mbox): git format-patch thread, cover letter, To/Cc from get_maintainer.pl
	@$(PYTHON) scripts/mbox.py

lava-jobs: tree ## LAVA jobs (build/lava/jobs) and devices for the QEMU lines: [ARTIFACTS=<url of build/out>]
	@$(PYTHON) tests/lava/lava_jobs.py write $(if $(ARTIFACTS),--artifacts '$(ARTIFACTS)')

lava-run: ## run a line through Debian's lava-dispatcher here, compare with make test's run [TARGET=arm]
	@scripts/need-packages.sh lava-dispatcher
	@$(MAKE) --no-print-directory test TARGET=$(or $(TARGET),arm)
	@$(PYTHON) tests/lava/lava_jobs.py run $(or $(TARGET),arm)

compare: ## bloat-o-meter + objdump between two build/tree revisions: FROM= TO= [TARGET=arm FUNCS=f,g SET=CONFIG_X=y]
	@$(PYTHON) tests/check/check_builds.py compare --revs $(FROM) $(TO) --target $(or $(TARGET),arm) \
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
