# SPDX-License-Identifier: GPL-2.0
#
# Kernel reports in a boot log: anything the kernel prints when something
# went wrong that no KUnit case may see (a warning in another subsystem, a
# corrupted object, a lock inversion). Any such report fails its target,
# even when every case passed, unless tests/kunit/known-splats lists it with
# its reason.
#
# The patterns are the report titles the kernel's own CI tools key on
# (syzkaller's pkg/report/linux.go and KernelCI's log parsers), matched on
# one console line with its printk time stamp removed.

import fnmatch
import os
import re
from typing import List, Optional, Pattern, Tuple

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KNOWN = os.path.join(TOP, 'tests', 'kunit', 'known-splats')

# (pattern, what it catches, a line it must catch). One list, so that a new
# kind of report is one entry here; tests/harness/test_splats.py checks each
# pattern against its example on its own.
PATTERNS: List[Tuple[str, str, str]] = [
	(r'kernel BUG at ', 'BUG() and BUG_ON()', 'kernel BUG at mm/slub.c:4270!'),
	# "BUG: KASAN: ...", "BUG: KFENCE: ...", "BUG: Bad page state",
	# "BUG: sleeping function called from invalid context",
	# "BUG: scheduling while atomic", "BUG: spinlock bad magic",
	# "BUG: unable to handle page fault", "BUG: workqueue lockup",
	# "watchdog: BUG: soft lockup - CPU#0 stuck for 22s!"
	(r'\bBUG: ', 'reports titled "BUG:": KASAN, KFENCE, bad page, atomic sleep, soft lockup',
	 'BUG: scheduling while atomic: swapper/0/1/0x00000002'),
	# SLUB's object and cache checks (slab_bug()) name the cache, not "BUG:"
	(r'\bBUG [^\s:]+ \((?:Not tainted|Tainted: [^)]*)\): ', 'SLUB object and cache corruption',
	 'BUG kmalloc-64 (Not tainted): Redzone overwritten'),
	# KASAN, KFENCE, UBSAN and SLUB frame a report with a line of '=': a
	# report whose title is lost or reworded still has its frame.
	(r'^={40,}$', 'the frame of a KASAN, KFENCE, UBSAN or SLUB report', '=' * 66),
	# WARN() and every lockdep report: "WARNING: CPU: 0 PID: 1 at ...",
	# "WARNING: at ..." (no CPU: some arches, old formats),
	# "WARNING: possible circular locking dependency detected",
	# "WARNING: possible recursive locking detected",
	# "WARNING: inconsistent lock state", "WARNING: suspicious RCU usage",
	# "WARNING: bad unlock balance detected!"
	(r'^WARNING: ', 'WARN() and lockdep reports', 'WARNING: inconsistent lock state'),
	# lockdep's complaint that also turns lockdep off for the boot
	(r'\bINFO: trying to register non-static key\b', 'lockdep: an uninitialised lock',
	 'INFO: trying to register non-static key.'),
	(r'\bUBSAN: ', 'undefined behaviour (UBSAN)', 'UBSAN: shift-out-of-bounds in mm/x.c:1:2'),
	# "rcu: INFO: rcu_sched detected stalls on CPUs/tasks:",
	# "rcu: INFO: rcu_sched self-detected stall on CPU",
	# "rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks"
	(r'\bINFO: rcu_\w+ (?:self-)?detected (?:expedited )?stalls?\b', 'RCU stalls',
	 'rcu: INFO: rcu_sched self-detected stall on CPU'),
	(r'\bINFO: task \S+ blocked for more than \d+ seconds', 'hung tasks',
	 'INFO: task kworker/0:1:12 blocked for more than 120 seconds.'),
	# soft lockups are "BUG:"
	(r'\bhard LOCKUP\b', 'hard lockups', 'NMI watchdog: Watchdog detected hard LOCKUP on cpu 1'),
	(r'\bgeneral protection fault\b', 'x86 and um general protection faults',
	 'general protection fault, probably for non-canonical address 0xdead: 0000 [#1]'),
	(r'\bInternal error: ', 'arm\'s die()', 'Internal error: Illegal instruction: 0 [#1] ARM'),
	(r'\bOops\b', 'oopses on every arch', 'Oops: kernel access of bad area, sig: 11'),
	(r'\bUnable to handle kernel\b', 'bad kernel memory accesses',
	 'Unable to handle kernel NULL pointer dereference at virtual address 00000000'),
	(r'\bUnhandled fault\b', 'arm faults the kernel could not handle',
	 'Unhandled fault: alignment exception (0x001) at 0x00000001'),
	# arm's __div0(): the kernel goes on with a wrong result
	(r'\bDivision by zero in kernel\b', 'arm integer division by zero', 'Division by zero in kernel.'),
	# microblaze's _exception() in kernel mode
	(r'\bUnexpected exception \w+ in kernel mode\b', 'microblaze kernel exceptions',
	 'Unexpected exception 02 in kernel mode!'),
	(r'\bKernel panic\b', 'panics', 'Kernel panic - not syncing: Attempted to kill init!'),
	# CHECK_DATA_CORRUPTION: "list_add corruption. prev->next should be ..."
	(r'\blist_(?:add|del) corruption\b', 'list corruption',
	 'list_del corruption, c1c0e0e0->next is LIST_POISON1 (00000100)'),
	(r'\bkmemleak: \d+ new suspected memory leaks?\b', 'kmemleak (with DEBUG_KMEMLEAK)',
	 'kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)'),
	# kmemleak_warn(): an API call with an address kmemleak does not track,
	# or an overlap (which also turns kmemleak off for the boot)
	(r'\bkmemleak: (?:Cannot insert|Trying to color unknown|(?:Partially f|F)reeing unknown|'
	 r'Found object by alias|Not scanning unknown|Adding scan area to unknown|'
	 r'Setting excess_ref on unknown)',
	 'kmemleak told of an address it does not track (with DEBUG_KMEMLEAK)',
	 'kmemleak: Trying to color unknown object at 0xc1234000 as Black'),
	# dump_page() ("page dumped because: ...") and page_owner's part of it:
	# VM_BUG_ON_PAGE and friends, and any caller that dumps a broken page.
	(r'\bpage dumped because: ', 'page dumps', 'page dumped because: VM_BUG_ON_PAGE(PageTail(page))'),
	(r'\bpage_owner tracks the page as ', 'page_owner dumps', 'page_owner tracks the page as allocated'),
	# The series' own debug aid (part 2, mm/debug.c): a page-cache path
	# handed a slab page.
	(r'\bslab pages have no mapping\b', 'a page-cache path given a slab page',
	 'page_mapping() on slab page pfn 0x4ab12 from flush_dcache_page+0x10/0x40: slab pages have no mapping'),
]

SPLAT = re.compile('|'.join(f'(?:{p})' for p, _, _ in PATTERNS))
FRAME = re.compile(PATTERNS[3][0])
# A report ends at WARN()'s end marker, at the next KTAP line (reports
# without a marker, SLUB's and dump_stack()'s, end before the test goes on),
# or after MAX_LINES lines: a KASAN report with its alloc and free stacks and
# page_owner's record of the page runs to some 65 lines.
END = re.compile(r'---\[ end trace [0-9a-f]+ \]---')
KTAP = re.compile(r'^\s*(?:(?:not )?ok \d+\b|# Subtest: |KTAP version |\d+\.\.\d+$)')
MAX_LINES = 100
# "[    1.234567] " and "[    1.234567][    T1] " (CONFIG_PRINTK_CALLER)
TIMESTAMP = re.compile(r'^(?:\[[\s\d.]+\]\s?)?(?:\[\s*[TC]\d+\]\s?)?')


def console_text(line: str) -> str:
	"""A console line without its time stamp and line end."""
	return TIMESTAMP.sub('', line.rstrip('\r\n'), count=1)


def read_known(path: str = KNOWN) -> List[Tuple[str, Pattern[str], str]]:
	"""tests/kunit/known-splats: (target glob, regex, reason) per line."""
	known = []
	with open(path) as f:
		for n, line in enumerate(f, 1):
			if not line.strip() or line.startswith('#'):
				continue
			rule, sep, why = line.partition('--')
			if not sep or not why.strip():
				raise ValueError(f'{path}:{n}: no reason after "--"')
			glob, regex = rule.split(None, 1)
			known.append((glob, re.compile(regex.strip()), why.strip()))
	return known


def reports(lines: List[str]) -> List[List[str]]:
	"""The kernel reports in a log, each the lines from its title (a line
	a pattern matches) to its end marker, the next title or MAX_LINES, time
	stamps removed. A frame line opens a report that the title after it
	joins, and closes the one before it. Inside a framed report every line
	up to the closing frame is the report's, a title of another kind too
	(KASAN prints page_owner's record of the page in its own report)."""
	found: List[List[str]] = []
	block: Optional[List[str]] = None
	for line in lines:
		text = console_text(line)
		if SPLAT.search(text):
			framed = block is not None and (FRAME.search(text) or
							FRAME.search(block[0]))
			if framed and len(block) < MAX_LINES:
				block.append(text)
				if FRAME.search(text) and not all(FRAME.search(l) for l in block):
					block = None	# the closing frame
				continue
			block = [text]
			found.append(block)
		elif block is not None:
			if KTAP.search(text):
				block = None
				continue
			block.append(text)
			if END.search(text) or len(block) >= MAX_LINES:
				block = None
	return found


def title(report: List[str]) -> str:
	"""A report's first line that is not its frame."""
	return next((l for l in report if not FRAME.search(l)), report[0]).strip()


def find(target: str, lines: List[str], known: Optional[list] = None) -> List[str]:
	"""The titles of the reports in a kernel log that no known-splats entry
	for target accepts. An entry's regex is searched in the whole report
	(its lines joined with newlines), so it can name the caller as well as
	the warning."""
	if known is None:
		known = read_known()
	mine = [r for glob, r, _ in known if fnmatch.fnmatch(target, glob)]
	return [title(r) for r in reports(lines) if not any(k.search('\n'.join(r)) for k in mine)]
