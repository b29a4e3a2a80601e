# SPDX-License-Identifier: GPL-2.0
#
# Every kind of kernel report fails its line: crafted logs, one per report
# the kernel's CI tools key on, with the lines real kernels print (time
# stamps included), and the known-splats exceptions applied per target.

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'kunit'))
import splats  # noqa: E402

REPORTS = {
	'slub redzone': '[    2.100000] BUG kmalloc-64 (Not tainted): Redzone overwritten',
	'slub tainted': '[    2.100000] BUG kmalloc-128 (Tainted: G    B            ): Poison overwritten',
	'kasan': '[    3.000000] BUG: KASAN: slab-out-of-bounds in kmalloc_oob_right+0x1a8/0x3a0',
	'kasan frame only': '[    3.000000] ==================================================================',
	'circular locking': '[    4.000000] WARNING: possible circular locking dependency detected',
	'recursive locking': '[    4.000000] WARNING: possible recursive locking detected',
	'inconsistent lock state': '[    4.000000] WARNING: inconsistent lock state',
	'ubsan': '[    5.000000] UBSAN: shift-out-of-bounds in mm/early_contig.c:120:9',
	'rcu stall': '[   30.000000] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:',
	'rcu self-detected': '[   30.000000] rcu: INFO: rcu_sched self-detected stall on CPU',
	'kernel BUG at': '[    6.000000] kernel BUG at mm/slub.c:4270!',
	'general protection fault': '[    6.000000] general protection fault, probably for non-canonical address',
	'arm internal error': '[    6.000000] Internal error: Oops: 5 [#1] ARM',
	'sleeping in atomic': '[    7.000000] BUG: sleeping function called from invalid context at mm/slab.h:723',
	'kmemleak': '[   60.000000] kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)',
	'warning at, no CPU': '[    8.000000] WARNING: at mm/page_alloc.c:5400 __alloc_pages+0x1b4/0x2c0()',
	'warn with CPU': '[    8.000000] WARNING: CPU: 0 PID: 1 at mm/slub.c:4512 kfree+0x2b0/0x2c4',
	'soft lockup': '[   40.000000] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:1]',
	'hard lockup': '[   40.000000] NMI watchdog: Watchdog detected hard LOCKUP on cpu 1',
	'list_add corruption': '[    9.000000] list_add corruption. prev->next should be next (c1c0e0e0), but was 00000000.',
	'page_owner': '[    9.000000] page_owner tracks the page as allocated',
	'page dump': '[    9.000000] page dumped because: VM_BUG_ON_PAGE(PageTail(page))',
	'hung task': '[  150.000000] INFO: task kworker/0:1:12 blocked for more than 120 seconds.',
	'bad page state': '[   10.000000] BUG: Bad page state in process swapper  pfn:4ab12',
	'panic': '[   11.000000] Kernel panic - not syncing: Attempted to kill init!',
	'oops': '[   11.000000] Oops: kernel access of bad area, sig: 11',
	'unable to handle': '[   11.000000] 8<--- cut here ---\n[   11.000000] Unable to handle kernel NULL pointer dereference at virtual address 00000000',
	'printk caller': '[    2.100000][    T1] BUG kmalloc-64 (Not tainted): Redzone overwritten',
	'no time stamp': 'WARNING: possible circular locking dependency detected',
}

CLEAN = """\
[    0.000000] Booting Linux on physical CPU 0x0
[    0.000000] Linux version 6.1.192 (earlymm) #1 SMP
[    1.000000] KTAP version 1
[    1.000000] 1..1
[    1.000000]     # Subtest: slab_mapping
[    1.000000]     ok 1 slab_page_has_no_mapping
[    1.000000] ok 1 slab_mapping
[    1.100000] reboot: System halted
"""

NO_KNOWN = []


@pytest.mark.parametrize('name', sorted(REPORTS))
def test_report_found(name):
	lines = (CLEAN + REPORTS[name] + '\n').splitlines(True)
	found = splats.find('arm', lines, NO_KNOWN)
	assert found, f'{name}: not caught'


@pytest.mark.parametrize('pattern, what, example', splats.PATTERNS, ids=[w for _, w, _ in splats.PATTERNS])
def test_each_pattern_catches_its_example(pattern, what, example):
	import re
	assert re.search(pattern, splats.console_text('[    1.000000] ' + example)), what


REAL = os.path.join(os.path.dirname(__file__), 'logs', 'arm-virt-slub_debug.log')


def test_real_log_reports_and_known_splats():
	"""A real boot (arm virt, slub_debug=FZPU, every suite passed): its only
	reports are the four late memblock calls the early_contig suite makes
	on purpose, which known-splats accepts, and nothing else matches."""
	with open(REAL) as f:
		lines = f.readlines()
	found = splats.reports(lines)
	assert len(found) == 4 and all('memblock_late_call' in r[0] for r in found)
	assert splats.find('arm-slub_debug', lines) == []
	# The same warning from another caller is not accepted.
	other = [l.replace('early_contig_test_late_memblock', 'some_driver_probe') for l in lines]
	assert len(splats.find('arm-slub_debug', other)) == 4


def test_real_log_with_the_debug_aids_own_reports():
	"""A real boot (microblaze, SLAB, DEBUG_VM, early kmalloc): the
	slab_mapping suite's seven reports of part 2's debug aid, made on
	purpose, and the four late memblock calls are accepted; the same
	reports from any other caller are not."""
	with open(os.path.join(os.path.dirname(__file__), 'logs', 'microblaze-slab.log')) as f:
		lines = f.readlines()
	titles = [splats.title(r) for r in splats.reports(lines)]
	assert sum('slab pages have no mapping' in t for t in titles) == 7
	assert splats.find('microblaze-slab', lines) == []
	other = [l.replace('slab_mapping_test_', 'a_driver_') for l in lines]
	assert len(splats.find('microblaze-slab', other)) == 7


def test_real_kasan_report_is_one_report_and_known():
	"""A real boot (arm virt, early kmalloc, SLUB_DEBUG_ON, KASAN,
	page_owner=on): the early_kmalloc suite's use-after-free report, with
	page_owner's record of the page inside its frame, is one report, which
	known-splats accepts on arm-debug only; from another case it is not."""
	with open(os.path.join(os.path.dirname(__file__), 'logs', 'arm-debug-kasan.log')) as f:
		lines = f.readlines()
	found = splats.reports(lines)
	assert len(found) == 1 and splats.title(found[0]).startswith('BUG: KASAN: use-after-free')
	assert any('page_owner tracks the page' in l for l in found[0])
	assert splats.find('arm-debug', lines) == []
	assert len(splats.find('arm', lines)) == 1
	other = [l.replace('early_kmalloc_test_kasan_uaf', 'some_driver_probe') for l in lines]
	assert len(splats.find('arm-debug', other)) == 1


def test_framed_report_is_one_report():
	lines = ['[ 1.0] ' + '=' * 66, '[ 1.0] BUG: KASAN: slab-out-of-bounds in f+0x1/0x2',
		 '[ 1.0] Read of size 1', '[ 1.0] ' + '=' * 66, '[ 1.1] ok 1 alpha']
	found = splats.reports(lines)
	assert len(found) == 1 and splats.title(found[0]).startswith('BUG: KASAN')
	assert '[ 1.1] ok 1 alpha' not in found[0] and 'ok 1 alpha' not in found[0]


def test_a_report_ends_at_the_next_ktap_line():
	lines = ['[ 1.0] BUG kmalloc-64 (Not tainted): Redzone overwritten', '[ 1.0] INFO: 0x1-0x2 @offset=64',
		 '[ 1.1]     ok 3 slab_mapping_test_cache', '[ 1.2] ' + '=' * 66]
	found = splats.reports(lines)
	assert len(found) == 2 and len(found[0]) == 2, found


def test_clean_log_has_none():
	assert splats.find('arm', CLEAN.splitlines(True), NO_KNOWN) == []


def test_known_splat_per_target(tmp_path):
	known = tmp_path / 'known'
	known.write_text('# comment\nmicroblaze*  memblock_late_call\\+\\S+\\nmemblock: early_contig_test_  -- on purpose\n')
	warning = ['[ 5.0] WARNING: CPU: 0 PID: 1 at mm/memblock.c:1612 memblock_late_call+0x30/0x50\n',
		   '[ 5.0] memblock: early_contig_test_late_memblock+0xa0/0x39c asked for 0x1000 bytes\n',
		   '[ 5.0] ---[ end trace 0000000000000000 ]---\n']
	rules = splats.read_known(str(known))
	assert splats.find('microblaze-slab', warning, rules) == []
	assert splats.find('arm', warning, rules) != []
	# A known warning does not hide another report in the same log.
	other = ['[ 5.1] BUG kmalloc-64 (Not tainted): Redzone overwritten\n']
	assert len(splats.find('microblaze', warning + other, rules)) == 1


def test_known_splat_needs_reason(tmp_path):
	known = tmp_path / 'known'
	known.write_text('*  some_warning\n')
	with pytest.raises(ValueError):
		splats.read_known(str(known))


def test_repository_known_splats_parse():
	for glob, regex, why in splats.read_known():
		assert glob and regex.pattern and why
