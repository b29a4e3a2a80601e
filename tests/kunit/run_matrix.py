#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Run the earlymm test matrix (tests/kunit/matrix): build each kernel, boot it
# in QEMU through kunit.py, keep KTAP, JUnit XML and a summary per target
# under build/results/ (and KCIDB JSON for the run), print a per-target table,
# and end with the line "N passed, N failed, N skipped" for the whole run.
#
# Every target ends PASS, FAIL, SKIP (with the reason it could not run here,
# e.g. ia64: no emulator) or ERROR (a fault of the harness), and the table
# and the closing line are printed whatever happened. verdict() is the one
# place a status is decided.

import argparse
import datetime
import hashlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple
from xml.sax.saxutils import quoteattr, escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expected  # noqa: E402
import kcidb  # noqa: E402
import splats  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'scripts'))
from series_parts import series_names  # noqa: E402,F401  (the one reader of series.sh)

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Cross compilers: Debian's for arm, built from Debian sources for the rest.
CROSS = {
	'arm': ('arm-linux-gnueabihf-', None),
	'microblaze': ('microblaze-linux-', 'microblaze'),
	'ia64': ('ia64-linux-gnu-', 'ia64'),
	'um': ('', None),
	'host': ('', None),
}
STATUSES = ('PASS', 'FAIL', 'SKIP', 'ERROR')


@dataclass
class Target:
	name: str
	arch: str
	boot: str
	fragments: List[str]
	qemu: str
	cmdline: List[str]
	timeout: Optional[int]
	# Build directory name: the first line with the same kernel and machine.
	build: str = ''
	# The line in tests/kunit/expected (a CONFIGS= variant's base line).
	expected: str = ''

	@property
	def booted(self) -> bool:
		return self.boot in ('kunit', 'halt')

	@property
	def counted(self) -> bool:
		"""It runs cases that tests/kunit/expected counts (not build-only)."""
		return self.boot != 'build'


@dataclass
class Case:
	"""One KUnit case (a leaf: a parameterised case's parameters are cases)."""
	suite: str
	name: str
	status: str		# PASS, FAIL, SKIP or ERROR
	log: str = ''


@dataclass
class Result:
	"""What one matrix line did; verdict() turns it into a status."""
	target: Target
	status: str = ''
	passed: int = 0
	failed: int = 0
	skipped: int = 0
	seconds: float = 0.0
	start: str = ''
	note: str = ''
	# Why the line failed: each a short sentence for the table.
	problems: List[str] = field(default_factory=list)
	# What it ran short of against tests/kunit/expected (a lost suite, fewer
	# cases or passes): it fails, but 'make expected' may record it.
	shortfalls: List[str] = field(default_factory=list)
	# Why the line could not run here (no emulator, a filter that matches
	# none of its suites).
	skip: str = ''
	# A fault of the harness, not of the kernel.
	error: str = ''
	suites: Dict[str, expected.SuiteRun] = field(default_factory=dict)
	cases: List[Case] = field(default_factory=list)
	ktap: List[str] = field(default_factory=list)
	built: Optional[bool] = None
	# A booted line that tests/kunit/expected does not list: it fails, but
	# a run that was otherwise clean ("clean") may seed 'make expected'.
	no_expected: bool = False
	clean: bool = False
	# What the run was made from (inputs_hash()), and whether a filter,
	# extra kernel arguments or a work tree that is not the series narrowed
	# it (then it cannot seed expectations).
	inputs: str = ''
	narrowed: bool = False


def read_matrix(path: str) -> List[Target]:
	targets = []
	with open(path) as f:
		for n, line in enumerate(f, 1):
			line = line.split('#', 1)[0].split()
			if not line:
				continue
			if len(line) != 7:
				raise ValueError(f'{path}:{n}: want 7 columns, got {len(line)}')
			name, arch, boot, frags, qemu, cmdline, timeout = line
			if arch not in CROSS or boot not in ('kunit', 'halt', 'build', 'sim'):
				raise ValueError(f'{path}:{n}: unknown arch {arch} or boot {boot}')
			for f in frags.split(','):
				check_fragment(f)
			targets.append(Target(name, arch, boot, frags.split(','), qemu,
					      kernel_args(cmdline),
					      None if timeout == '-' else int(timeout), expected=name))
	share_builds(targets)
	return targets


def kernel_args(cmdline: str) -> List[str]:
	"""The matrix's cmdline column: '-', or comma-separated arguments where
	@NAME stands for the lines of tests/kunit/cmdline/NAME."""
	args: List[str] = []
	for a in [] if cmdline == '-' else cmdline.split(','):
		if not a.startswith('@'):
			args.append(a)
			continue
		with open(os.path.join(TOP, 'tests', 'kunit', 'cmdline', a[1:])) as f:
			args += [l.strip() for l in f if l.strip() and not l.startswith('#')]
	return args


def share_builds(targets: List[Target]) -> None:
	"""Lines that differ only in their command line boot the same kernel."""
	first: Dict[Tuple[str, Tuple[str, ...], str], str] = {}
	for t in targets:
		t.build = first.setdefault((t.arch, tuple(t.fragments), t.qemu), t.name)


def machines(targets: List[Target]) -> List[Target]:
	"""The first line of each arch and qemu: one kernel per machine."""
	seen = set()
	return [t for t in targets if (t.arch, t.qemu) not in seen and not seen.add((t.arch, t.qemu))]


def log(msg: str) -> None:
	print(f'earlymm: {msg}', file=sys.stderr, flush=True)


class Progress:
	"""A line every minute while a target is quiet (a kernel build prints
	nothing for minutes), so a CI log shows where a run is and for how long."""

	def __init__(self, name: str, every: float = 60.0):
		self.name, self.every = name, every
		self.t0 = self.last = time.monotonic()
		self.stage = 'starting'
		self.done = threading.Event()
		threading.Thread(target=self._tick, daemon=True).start()

	def saw(self, stage: Optional[str] = None) -> None:
		self.last = time.monotonic()
		if stage:
			self.stage = stage

	def _tick(self) -> None:
		while not self.done.wait(self.every):
			if time.monotonic() - self.last >= self.every:
				log(f'[{self.name}] {time.monotonic() - self.t0:.0f} s: {self.stage}')

	def stop(self) -> None:
		self.done.set()


def toolchain_env(arch: str) -> Dict[str, str]:
	env = dict(os.environ)
	prefix, source_built = CROSS[arch]
	if source_built:
		bindir = subprocess.run([os.path.join(TOP, 'scripts', 'build-toolchain.sh'), source_built],
					check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
		env['PATH'] = bindir + os.pathsep + env['PATH']
	# ccache keys on relative paths below the checkout, so fresh clones hit;
	# and a fresh checkout's files are all "too new" for ccache's fast direct
	# mode unless their mtimes are left out of the key (contents still count).
	env.setdefault('CCACHE_BASEDIR', TOP)
	env.setdefault('CCACHE_SLOPPINESS', 'include_file_ctime,include_file_mtime')
	return env


def make_options(arch: str) -> List[str]:
	prefix = CROSS[arch][0]
	return [f'CC=ccache {prefix}gcc', 'HOSTCC=ccache gcc']


def make_cmd(arch: str, tree: str, out: str, jobs: int) -> List[str]:
	"""Kbuild for one arch: out of tree, cross compiler, ccache."""
	return ['make', '-C', tree, f'O={out}', f'ARCH={arch}', f'CROSS_COMPILE={CROSS[arch][0]}',
		f'-j{jobs}'] + make_options(arch)


def kunit_tool(tree: str) -> str:
	return os.path.join(tree, 'tools', 'testing', 'kunit')


def check_fragment(fragment: str) -> None:
	"""A +PATH fragment names a file inside the work tree."""
	if fragment.startswith('+') and (os.path.isabs(fragment[1:]) or '..' in fragment[1:].split('/')):
		raise ValueError(f'fragment {fragment}: +PATH is a path inside the work tree')


def fragment_path(fragment: str, tree: str) -> str:
	"""NAME is configs/NAME.config; +PATH is the work tree's PATH.kunitconfig,
	a suite's own kunitconfig (what 'kunit.py run --kunitconfig
	PATH.kunitconfig' uses), so the matrix builds each of the series' suites
	from the file its users run it with."""
	if fragment.startswith('+'):
		return os.path.join(tree, fragment[1:] + '.kunitconfig')
	return os.path.join(TOP, 'configs', fragment + '.config')


def fragment_paths(t: Target, tree: str) -> List[str]:
	return [fragment_path(f, tree) for f in t.fragments]


def qemu_config_dtb(path: str) -> Optional[str]:
	"""The DTB a qemu_config names (DTB = '...'), for boards that need one."""
	with open(path) as f:
		m = re.search(r"^DTB = '([^']+)'", f.read(), re.M)
	return m.group(1) if m else None


# kunit.py's own stage lines, for the progress note.
KUNIT_STAGE = re.compile(r'(Configuring|Building|Starting) KUnit Kernel|Regenerating \.config')


def run_kunit(t: Target, tree: str, out: str, args, jobs: int, progress: Progress):
	"""Run kunit.py, echoing its output; returns (exit code, timed out?)."""
	if t.boot == 'halt':
		cmd = [sys.executable, os.path.join(TOP, 'tests', 'kunit', 'kunit_until_halt.py'), tree]
	else:
		cmd = [sys.executable, os.path.join(kunit_tool(tree), 'kunit.py')]
	cmd += ['run', '--build_dir', out, '--jobs', str(jobs), '--timeout', str(t.timeout)]
	for frag in fragment_paths(t, tree):
		cmd += ['--kunitconfig', frag]
	for opt in make_options(t.arch):
		cmd += ['--make_options', opt]
	if t.qemu == 'stock':
		cmd += ['--arch', t.arch]
	else:
		cmd += ['--qemu_config', os.path.join(TOP, t.qemu)]
		dtb = qemu_config_dtb(os.path.join(TOP, t.qemu))
		if dtb:
			cmd += ['--qemu_args=-dtb', '--qemu_args=' + os.path.join(out, dtb)]
	if CROSS[t.arch][0]:
		cmd += ['--cross_compile', CROSS[t.arch][0]]
	for a in t.cmdline + (args.kernel_args or []):
		cmd += ['--kernel_args', a]
	if args.suite:
		cmd.append(args.suite)
	log(f'{t.name}: ' + ' '.join(shlex.quote(c) for c in cmd))
	proc = subprocess.Popen(cmd, cwd=tree, env=toolchain_env(t.arch), stdout=subprocess.PIPE,
				stderr=subprocess.STDOUT, text=True, errors='backslashreplace')
	timeout = False
	for line in proc.stdout:
		sys.stdout.write(line)
		sys.stdout.flush()
		m = KUNIT_STAGE.search(line)
		progress.saw(m.group(0) if m else None)
		# kunit.py's waiter prints subprocess.TimeoutExpired when it kills QEMU.
		timeout |= bool(re.search(r'timed out after \d+ seconds', line))
	return proc.wait(), timeout


def kunit_modules(tree: str):
	"""kunit.py's parser, quiet: the harness prints its own summary."""
	if kunit_tool(tree) not in sys.path:
		sys.path.insert(0, kunit_tool(tree))
	import kunit_parser
	import kunit_printer
	kunit_printer.stdout._output = io.StringIO()
	return kunit_parser


def case_status(kunit_parser, status) -> str:
	s = kunit_parser.TestStatus
	return {s.SUCCESS: 'PASS', s.SKIPPED: 'SKIP', s.FAILURE: 'FAIL'}.get(status, 'ERROR')


def read_ktap(kunit_parser, lines: List[str], res: Result) -> None:
	"""Fill res's counts, suites, cases and KTAP from a kernel log."""
	test = kunit_parser.parse_run_tests(lines)
	stream = kunit_parser.extract_tap_lines(lines)
	while stream:
		res.ktap.append(stream.pop() + '\n')
	c = test.counts
	res.passed, res.skipped = c.passed, c.skipped
	res.failed = c.failed + c.crashed + c.errors
	for suite in test.subtests:
		run = res.suites.setdefault(suite.name, expected.SuiteRun())
		for case in suite.subtests or [suite]:
			# Parameterised cases carry their parameters as subtests.
			for name, leaf in ([(case.name + '.' + p.name, p) for p in case.subtests]
					   or [(case.name, case)]):
				status = case_status(kunit_parser, leaf.status)
				res.cases.append(Case(suite.name, name, status, '\n'.join(leaf.log)))
				run.cases += 1
				run.passed += status == 'PASS'
				run.skipped += status == 'SKIP'


def filter_misses(args, suites) -> bool:
	"""SUITE= selects none of a line's listed suites, nor can a suite that
	extra fragments add (CONFIGS=bench) be the one it means."""
	return bool(args.suite) and not extra_fragments(args) and not expected.matching(suites, args.suite)


def no_match(suite: str) -> str:
	return f'no suite matches the filter {suite!r} on this line'


# kunit.py's last kernel argument (UML's is halt): without it the kernel
# does not stop.
KUNIT_SHUTDOWN = 'kunit_shutdown=reboot'


def kunit_shutdown(arch: str) -> str:
	return 'kunit_shutdown=halt' if arch == 'um' else KUNIT_SHUTDOWN


def boot_args(t: Target, args) -> List[str]:
	"""The kernel arguments a line's boot must get whole."""
	return (t.cmdline + (args.kernel_args or []) +
		([f'kunit.filter_glob={args.suite}'] if args.suite else []) + [kunit_shutdown(t.arch)])


def cmdline_lost(lines: List[str], wanted: List[str]) -> List[str]:
	"""The arguments of wanted missing from the command line the kernel
	printed: the arch cuts it at COMMAND_LINE_SIZE (256 bytes on
	microblaze) without a word, and a test would run without its
	argument."""
	for line in lines:
		m = re.search(r'Kernel command line: (.*)$', line)
		if m:
			got = m.group(1).split()
			return [a for a in wanted if a not in got]
	return []


def check_kunit_log(t: Target, logfile: str, kunit_parser, want: Optional[Dict[str, int]],
		    suite: Optional[str], res: Result, wanted_args: Optional[List[str]] = None) -> None:
	"""What a boot's log says: its cases, its splats, its missing suites,
	the arguments it lost."""
	if not os.path.exists(logfile):
		res.problems.append('no kernel log: config or build failed (see above)')
		return
	with open(logfile, errors='backslashreplace') as f:
		lines = f.readlines()
	lost = cmdline_lost(lines, wanted_args or [])
	if lost:
		res.problems.append('the kernel command line was cut (the arch\'s COMMAND_LINE_SIZE), '
				    'losing ' + ' '.join(lost))
	read_ktap(kunit_parser, lines, res)
	found = splats.find(t.name, lines)
	if found:
		kinds = list(dict.fromkeys(found))
		res.problems.append(f'{len(found)} kernel report(s): ' + ' | '.join(k[:90] for k in kinds[:3])
				    + (f' | and {len(kinds) - 3} more kinds' if len(kinds) > 3 else ''))
	if not res.ktap or res.passed + res.failed + res.skipped == 0:
		res.problems.append('no KTAP results in the kernel log')
	if want is not None:
		res.shortfalls = expected.check(want, res.suites, suite)


def build_only(t: Target, tree: str, out: str, jobs: int, res: Result, progress: Progress) -> None:
	"""Configure, build and link vmlinux, then sparse-check the series' files."""
	sys.path.insert(0, kunit_tool(tree))
	import kunit_config
	import kunit_kernel
	env = toolchain_env(t.arch)
	os.makedirs(out, exist_ok=True)
	# As kunit.py merges them: two fragments that disagree are an error.
	try:
		want = kunit_kernel.get_parsed_kunitconfig(out, fragment_paths(t, tree))
	except kunit_kernel.ConfigError as e:
		res.problems.append(str(e).splitlines()[0])
		return
	# write_to_file() appends: start from nothing, or an option dropped
	# from a fragment would stay from the last run.
	config = os.path.join(out, '.config')
	if os.path.exists(config):
		os.unlink(config)
	want.write_to_file(config)
	make = make_cmd(t.arch, tree, out, jobs)
	buildlog = os.path.join(out, 'build.log')
	res.built = False
	with open(buildlog, 'w') as blog:
		for goal in ('olddefconfig', 'vmlinux'):
			progress.saw(f'make {goal}')
			log(f'{t.name}: make {goal}')
			if subprocess.run(make + [goal], env=env, stdout=blog, stderr=subprocess.STDOUT).returncode:
				res.problems.append(f'make {goal} failed (see {buildlog})')
				return
	have = kunit_config.parse_file(os.path.join(out, '.config'))
	if not want.is_subset_of(have):
		missing = set(want.as_entries()) - set(have.as_entries())
		res.problems.append('config options not set: ' + ', '.join(sorted(str(e) for e in missing)))
		return
	res.built = True
	progress.saw('sparse')
	res.skip = (f'{t.arch}: built, not booted (no emulator); sparse: {sparse_series_files(make, env, out)}'
		    ' (base files included; make check counts new ones)')


def series_files(d: str = TOP) -> List[str]:
	"""Every file the series in d touches, in first-touched order."""
	files: List[str] = []
	for name in series_names(d):
		p = subprocess.run(['lsdiff', '--strip=1', os.path.join(d, 'patches', name)],
				   stdout=subprocess.PIPE, text=True, check=True)
		files += [f for f in p.stdout.split() if f not in files]
	return files


def built_series_objects(out: str) -> List[str]:
	"""Objects of the series' .c files that the kernel in out compiles."""
	return [f[:-2] + '.o' for f in series_files() if f.endswith('.c')
		and os.path.exists(os.path.join(out, f[:-2] + '.o'))]


def sparse_series_files(make: List[str], env, out: str) -> str:
	"""sparse (C=2) on each series .c file this kernel compiles."""
	objs = built_series_objects(out)
	if not objs:
		return 'no series file in this build'
	p = subprocess.run(make + ['C=2'] + objs, env=env, stdout=subprocess.PIPE,
			   stderr=subprocess.STDOUT, text=True)
	warns = [l for l in p.stdout.splitlines() if re.search(r': (warning|error):', l)]
	with open(os.path.join(out, 'sparse.log'), 'w') as f:
		f.write(p.stdout)
	if p.returncode:
		return f'sparse run failed (see {out}/sparse.log)'
	return f'{len(warns)} warnings in {len(objs)} files'


def simulate(t: Target, tree: str, out: str, jobs: int, res: Result) -> None:
	"""Build and run a user-space simulator (tools/testing/memblock) on the host.

	It prints "ok N : ..." or "not ok N : ..." per check, and a failed
	assertion aborts it: a non-zero exit is a failure even after "ok" lines.
	"""
	sim = os.path.join(tree, t.qemu)
	variables = [v for v in t.fragments if v != '-']
	os.makedirs(out, exist_ok=True)
	logfile = os.path.join(out, 'test.log')
	with open(logfile, 'w') as f:
		# Variants share the directory: rebuild from clean (seconds).
		subprocess.run(['make', '-C', sim, 'clean'], stdout=f, stderr=subprocess.STDOUT)
		if subprocess.run(['make', '-C', sim, f'-j{jobs}'] + variables,
				  stdout=f, stderr=subprocess.STDOUT).returncode:
			res.problems.append(f'simulator build failed (see {logfile})')
			return
	try:
		p = subprocess.run([os.path.join(sim, 'main'), '-v'], cwd=sim, stdout=subprocess.PIPE,
				   stderr=subprocess.STDOUT, text=True, timeout=t.timeout)
	except subprocess.TimeoutExpired:
		res.problems.append(f'TIMEOUT: simulator still running after {t.timeout} s')
		return
	with open(logfile, 'a') as f:
		f.write(p.stdout)
	read_simulator(t.name, p.stdout, res)
	# Built with ASan and UBSan: UBSan reports and goes on, exit code 0.
	sanitizer = re.search(r'^.*(?:runtime error: |ERROR: \w+Sanitizer).*$', p.stdout, re.M)
	if sanitizer:
		res.problems.append(f'sanitizer report: {sanitizer.group(0)[:100]}')
	if p.returncode:
		res.problems.append(f'simulator exited {p.returncode} (a failed assertion aborts it;'
				    f' see {logfile})')


def read_simulator(name: str, output: str, res: Result) -> None:
	"""The simulator's "ok N : what" lines as the cases of one suite."""
	run = res.suites.setdefault(name, expected.SuiteRun())
	for m in re.finditer(r'^(not )?ok (\d+) :? ?(.*)$', output, re.M):
		status = 'FAIL' if m.group(1) else 'PASS'
		res.cases.append(Case(name, m.group(3).strip() or m.group(2), status))
		run.cases += 1
		run.passed += status == 'PASS'
	res.passed = run.passed
	res.failed = run.cases - run.passed
	res.ktap = [f'KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: {name}\n'
		    f'    1..{run.cases}\n']
	res.ktap += [f'    {"ok" if c.status == "PASS" else "not ok"} {n} {c.name}\n'
		     for n, c in enumerate(res.cases, 1)]
	res.ktap.append(f'{"ok" if res.failed == 0 else "not ok"} 1 {name}\n')
	if not res.cases:
		res.problems.append('simulator reported no checks')


def verdict(res: Result) -> None:
	"""The one place a line's status is decided, from what it collected.
	ERROR: the harness failed; FAIL: a case failed or a problem was found;
	SKIP: it could not run here, with the reason; PASS: cases ran and none
	failed. Every FAIL and ERROR counts as at least one failure and every
	SKIP as at least one skip, so the closing line can never look clean
	for a line that did not pass."""
	notes = res.problems + res.shortfalls
	# Clean: nothing but expectations stands between it and PASS.
	res.clean = (not (res.error or res.problems or res.failed or res.skip or res.narrowed)
		     and res.passed > 0)
	if res.no_expected:
		notes.append(f'no expected suites for {res.target.expected} in tests/kunit/expected'
			     ' (make expected, after a clean run)')
	if res.error:
		res.status = 'ERROR'
		notes.insert(0, f'harness error: {res.error}')
	elif res.problems or res.shortfalls or res.failed or res.no_expected:
		res.status = 'FAIL'
	elif res.skip:
		res.status = 'SKIP'
	elif res.passed:
		res.status = 'PASS'
	else:
		res.status = 'FAIL'
		notes.append('no case ran')
	if res.status in ('FAIL', 'ERROR'):
		res.failed = max(res.failed, 1)
	if res.status == 'SKIP':
		res.skipped = max(res.skipped, 1)
	if res.skip:
		notes.append(res.skip)
	res.note = '; '.join(notes)


def whole_matrix(args) -> bool:
	"""A run of every line, as the matrix has them: its results are the
	whole record."""
	return args.arch == 'all' and not (args.target or args.suite or args.configs or args.kernel_args)


def stale_results(results_dir: str, whole: bool) -> List[str]:
	"""The files of results_dir no earlier run may leave for this one:
	the run's summary and KCIDB report always; before a run of the whole
	matrix, every file (so that a line removed from the matrix leaves
	nothing behind that could pass for a current result)."""
	return sorted(f for f in os.listdir(results_dir) if whole or f in ('summary', 'kcidb.json'))


def clear_results(results_dir: str, name: str) -> None:
	"""Remove a line's files of an earlier run before it runs again."""
	for f in os.listdir(results_dir):
		if f.startswith(name + '.'):
			os.unlink(os.path.join(results_dir, f))


XML_FORBIDDEN = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1f]')


def xml_text(text: str) -> str:
	"""Kernel log text as XML character data: no control characters
	(a console's escape sequences), which XML forbids."""
	return escape(XML_FORBIDDEN.sub('?', text))


def xml_attr(text: str) -> str:
	"""The same, as a quoted attribute value."""
	return quoteattr(XML_FORBIDDEN.sub('?', text))


def junit_xml(res: Result) -> str:
	"""JUnit for every line: its cases, or one case for the line itself
	(a build-only SKIP, a line that failed or erred before any case ran),
	with the reason."""
	target = res.target.name
	rows = ['<?xml version="1.0" encoding="UTF-8"?>', f'<testsuites name={xml_attr(target)}>']
	cases = res.cases or [Case(target, res.target.boot,
				   res.status if res.status != 'PASS' else 'FAIL', res.note)]
	for suite in dict.fromkeys(c.suite for c in cases):
		mine = [c for c in cases if c.suite == suite]
		fails = sum(c.status in ('FAIL', 'ERROR') for c in mine)
		skips = sum(c.status == 'SKIP' for c in mine)
		name = xml_attr(f'{target}.{suite}' if suite != target else target)
		rows.append(f'  <testsuite name={name} tests="{len(mine)}" failures="{fails}" skipped="{skips}">')
		for c in mine:
			rows.append(f'    <testcase classname={name} name={xml_attr(c.name)}>')
			if c.status == 'SKIP':
				rows.append(f'      <skipped message={xml_attr(res.skip if not res.cases else "")}/>')
			elif c.status != 'PASS':
				rows.append(f'      <failure message={xml_attr(c.status)}>{xml_text(c.log)}</failure>')
			rows.append('    </testcase>')
		rows.append('  </testsuite>')
	why = '; '.join(p for p in [res.error] + res.problems + res.shortfalls if p)
	if res.cases and why:
		# The line failed outside its cases (a splat, a missing suite).
		rows.append(f'  <testsuite name={xml_attr(target + ".verdict")} tests="1" failures="1">')
		rows.append(f'    <testcase classname={xml_attr(target)} name="verdict">')
		rows.append(f'      <failure message={xml_attr(why[:200])}>{xml_text(why)}</failure>')
		rows.append('    </testcase>\n  </testsuite>')
	rows.append('</testsuites>')
	return '\n'.join(rows) + '\n'


def write_results(results_dir: str, res: Result) -> None:
	"""KTAP, JUnit and a summary (for 'make expected') per line."""
	name = res.target.name
	with open(os.path.join(results_dir, name + '.ktap'), 'w') as f:
		f.writelines(res.ktap or [f'KTAP version 1\n1..0 # {res.status} {res.note}\n'])
	with open(os.path.join(results_dir, name + '.junit.xml'), 'w') as f:
		f.write(junit_xml(res))
	with open(os.path.join(results_dir, name + '.result.json'), 'w') as f:
		json.dump({'target': name, 'expected': res.target.expected, 'status': res.status,
			   'note': res.note, 'passed': res.passed, 'failed': res.failed,
			   'skipped': res.skipped, 'seconds': round(res.seconds, 1), 'clean': res.clean,
			   'inputs': res.inputs,
			   'suites': {s: vars(r) for s, r in res.suites.items()}}, f, indent=1)
		f.write('\n')


def write_kcidb(results_dir: str, results: List[Result]) -> None:
	"""The run as one KCIDB report (the kernel CI database's schema):
	the pinned tree as the checkout, the series as its patchset, a build
	per line and a test per case."""
	run_id = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
	phash = series_hash()
	doc = kcidb.make_report(f'{run_id}-{phash[:12]}', 'linux-6.1.y', pinned_version(), phash, [
		dict(name=r.target.name, arch=r.target.arch, config_name=','.join(r.target.fragments),
		     status=r.status, note=r.note, start_time=r.start or None, duration=r.seconds,
		     log_path=None, built=r.built, cmdline=r.target.cmdline,
		     cases=[(f'{c.suite}.{c.name}', c.status) for c in r.cases])
		for r in results])
	with open(os.path.join(results_dir, 'kcidb.json'), 'w') as f:
		json.dump(doc, f, indent=1)
		f.write('\n')


def pinned_version() -> str:
	"""The base tree's name, from scripts/lib.sh: a tarball, not a commit."""
	with open(os.path.join(TOP, 'scripts', 'lib.sh')) as f:
		m = re.search(r'^LINUX_DEB_VERSION=(\S+)', f.read(), re.M)
	return f'linux-source-6.1 {m.group(1)}' if m else 'linux-source-6.1'


def run_target(t: Target, tree: str, args, want: Optional[Dict[str, int]]) -> Result:
	out = os.path.join(args.build, 'out', t.build)
	res = Result(t, start=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
		     narrowed=bool(args.suite or args.kernel_args))
	res.no_expected = t.counted and want is None
	if want is not None and filter_misses(args, want):
		res.skip = no_match(args.suite)
		return res
	progress = Progress(t.name)
	try:
		if t.boot == 'build':
			build_only(t, tree, out, args.jobs, res, progress)
		elif t.boot == 'sim':
			simulate(t, tree, out, args.jobs, res)
			if want is not None:
				res.shortfalls = expected.check(want, res.suites, None)
		else:
			os.makedirs(out, exist_ok=True)
			logfile = os.path.join(out, 'test.log')
			if os.path.exists(logfile):
				os.unlink(logfile)
			rc, timeout = run_kunit(t, tree, out, args, args.jobs, progress)
			res.built = os.path.exists(logfile)
			check_kunit_log(t, logfile, kunit_modules(tree), want, args.suite, res,
					boot_args(t, args))
			if timeout:
				# A kernel that does not finish, or does not shut down, hangs CI.
				res.problems.insert(0, f'TIMEOUT: QEMU still running after {t.timeout} s, stopped')
			elif rc and not res.skip:
				res.problems.append(f'kunit.py exited {rc}')
	finally:
		progress.stop()
	return res


class Toolchains:
	"""The source-built compilers the targets need, built side by side in
	the background when the cache lacks them, while the lines that need
	none (arm, um) run: the compiler builds leave a core idle for minutes
	(one finishes first; configure and the link steps wait on the disk),
	and a kernel build fills it. The first line of an arch waits for its
	compiler."""

	def __init__(self, targets: List[Target], jobs: int) -> None:
		arches = sorted({CROSS[t.arch][1] for t in targets if CROSS[t.arch][1]})
		env = dict(os.environ, JOBS=str(max(1, jobs // max(1, len(arches)))))
		self.builds = {a: subprocess.Popen([os.path.join(TOP, 'scripts', 'toolchains.sh'), a],
						   env=env) for a in arches}

	def problem(self, arch: str) -> Optional[str]:
		"""Why arch's compiler cannot be had, once its build ended; None
		when it can (or arch needs no compiler of ours)."""
		p = self.builds.get(arch)
		if not p:
			return None
		if p.poll() is None:
			t0 = time.monotonic()
			log(f'{arch}: waiting for its compiler to be built')
			p.wait()
			log(f'{arch}: compiler build ended after {time.monotonic() - t0:.0f} s more')
		if p.returncode:
			return f'no {arch} compiler: scripts/toolchains.sh {arch} failed (see above)'
		return None


def print_table(results: List[Result]) -> None:
	print()
	print(f'{"target":<25} {"arch":<11} {"status":<6} {"passed":>6} {"failed":>6} {"skipped":>7} {"time":>6}  note')
	for r in results:
		print(f'{r.target.name:<25} {r.target.arch:<11} {r.status:<6} {r.passed:>6} {r.failed:>6} '
		      f'{r.skipped:>7} {r.seconds:>5.0f}s  {r.note}')
	print(flush=True)


def plan(targets: List[Target], want: Dict[str, Dict[str, int]], args) -> int:
	"""--plan: say what each line would do, and check what it needs exists,
	without building anything (the README's examples are run this way)."""
	bad = 0
	for t in targets:
		# A simulator line's fragments are make variables, not files.
		need = (fragment_paths(t, args.tree) if t.boot != 'sim' else []) + (
			[os.path.join(TOP, t.qemu)] if t.booted and t.qemu != 'stock' else [])
		missing = [p for p in need if not os.path.exists(p)]
		suites = want.get(t.expected)
		if missing and not os.path.isdir(os.path.join(args.tree, '.git')):
			what = f'ERROR no work tree at {args.tree} for its kunitconfigs: run make setup'
		elif missing:
			what = 'ERROR missing ' + ', '.join(os.path.relpath(p, TOP) for p in missing)
		elif t.counted and suites is None:
			what = f'FAIL no expected suites for {t.expected}'
		elif t.boot == 'build':
			what = 'SKIP build only (no emulator)'
		elif filter_misses(args, suites):
			what = 'SKIP ' + no_match(args.suite)
		elif t.boot == 'sim':
			what = 'run the simulator'
		else:
			what = f'boot, {len(expected.matching(suites, args.suite))} suite(s)'
		bad += what.startswith(('ERROR', 'FAIL'))
		print(f'{t.name:<25} {t.arch:<11} {what}')
	return 1 if bad else 0


def extra_fragments(args) -> List[str]:
	"""The configs/ fragments CONFIGS= adds to every selected line."""
	return [c for c in getattr(args, 'configs', '').split(',') if c]


def select(args) -> List[Target]:
	targets = read_matrix(args.matrix)
	if args.target:
		targets = [t for t in targets if t.name == args.target]
	elif args.arch != 'all':
		targets = [t for t in targets if t.arch == args.arch]
	extra = extra_fragments(args)
	if extra:
		# Own name, own build directory: variants never rebuild each other.
		for t in targets:
			t.name += '+' + '+'.join(extra)
			t.fragments += extra
		share_builds(targets)
	return targets


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__)
	ap.add_argument('--arch', default='all', help='arm, microblaze, ia64, um, host or all')
	ap.add_argument('--target', help='one matrix line by name')
	ap.add_argument('--suite', help='KUnit suite glob (kunit.filter_glob), e.g. slub_test')
	ap.add_argument('--kernel_args', action='append', help='extra kernel command line argument')
	ap.add_argument('--configs', default='',
			help='extra configs/ fragments for every target, e.g. debug')
	ap.add_argument('--tree', default=os.environ.get('TREE', os.path.join(TOP, 'build', 'tree')))
	ap.add_argument('--build', default=os.environ.get('EARLYMM_BUILD', os.path.join(TOP, 'build')))
	ap.add_argument('--jobs', type=int, default=int(os.environ.get('JOBS', os.cpu_count() or 1)))
	ap.add_argument('--matrix', default=os.path.join(TOP, 'tests', 'kunit', 'matrix'))
	ap.add_argument('--expected', default=expected.EXPECTED)
	ap.add_argument('--plan', action='store_true', help='say what would run; build nothing')
	args = ap.parse_args()
	# kunit.py runs in the tree: every path handed to it must be absolute.
	args.tree, args.build = os.path.abspath(args.tree), os.path.abspath(args.build)

	results_dir = os.path.join(args.build, 'results')
	if not args.plan:
		# Nothing of an earlier run may pass for this one's.
		os.makedirs(results_dir, exist_ok=True)
		for f in stale_results(results_dir, whole_matrix(args)):
			os.unlink(os.path.join(results_dir, f))
	try:
		targets, want = prepare(args)
	except (OSError, ValueError) as e:
		log(f'error: {e}')
		if not args.plan:
			closing(results_dir, 0, 1, 0)
		return 2
	if args.plan:
		return plan(targets, want, args)
	try:
		inputs = inputs_hash()
		exported = tree_is_the_series(args.tree)
		# Compilers only for the lines a filter does not skip; started
		# last, so that nothing above can fail with their builds running.
		toolchains = Toolchains([t for t in targets if not (
			args.suite and t.expected in want and not expected.matching(want[t.expected], args.suite))],
			args.jobs)
	except (Exception, SystemExit) as e:
		traceback.print_exc()
		log(f'harness error: {type(e).__name__}: {e}')
		closing(results_dir, 0, 1, 0)
		return 2

	def run(t: Target) -> Result:
		res = run_target(t, args.tree, args, want.get(t.expected))
		res.inputs = inputs
		res.narrowed |= not exported
		return res

	return 1 if run_lines(targets, run, results_dir,
			      lambda t: toolchains.problem(CROSS[t.arch][1])) else 0


def series_hash() -> str:
	"""The series as KCIDB's patchset_hash: the patches, in series order."""
	return kcidb.patchset_hash([os.path.join(TOP, 'patches', n) for n in series_names()])


def inputs_hash() -> str:
	"""What a line's result depends on besides the pinned tree: the
	series, the fragments, the matrix, its command lines and QEMU
	configurations. 'make expected' and make mbox take only results made
	from the inputs as they are now."""
	h = hashlib.sha256(series_hash().encode())
	for d in ('configs', os.path.join('tests', 'kunit', 'cmdline'), os.path.join('tests', 'kunit', 'qemu_configs')):
		for f in sorted(os.listdir(os.path.join(TOP, d))):
			if not os.path.isfile(os.path.join(TOP, d, f)):
				continue	# a __pycache__
			with open(os.path.join(TOP, d, f), 'rb') as fh:
				h.update(f.encode() + b'\0' + fh.read())
	with open(os.path.join(TOP, 'tests', 'kunit', 'matrix'), 'rb') as fh:
		h.update(fh.read())
	return h.hexdigest()


def tree_is_the_series(tree: str) -> bool:
	"""build/tree holds exactly what patches/ says: no commit that 'make
	export' has not written back, no uncommitted change. A run of anything
	else tests a kernel that the series is not, and cannot seed
	expectations."""
	git = ['git', '-C', tree]
	head = subprocess.run(git + ['rev-parse', 'HEAD'], stdout=subprocess.PIPE, text=True).stdout
	synced = subprocess.run(git + ['rev-parse', '-q', '--verify', 'refs/earlymm/synced'],
				stdout=subprocess.PIPE, text=True).stdout
	dirty = subprocess.run(git + ['status', '--porcelain', '--untracked-files=no'],
			       stdout=subprocess.PIPE, text=True).stdout
	return bool(head) and head == synced and not dirty


def prepare(args) -> Tuple[List[Target], Dict[str, Dict[str, int]]]:
	"""The selected lines and their expectations, or ValueError/OSError
	saying what is wrong with the request or the repository."""
	targets = select(args)
	if not targets:
		raise ValueError(f'no matrix line matches arch={args.arch} target={args.target}')
	for c in extra_fragments(args):
		if c.startswith('+') or '/' in c:
			raise ValueError(f'CONFIGS={c}: CONFIGS takes names of configs/ fragments')
		if not os.path.exists(os.path.join(TOP, 'configs', c + '.config')):
			raise ValueError(f'no such fragment: configs/{c}.config')
	# SLUB_DEBUG_ON needs the stack depot from the first allocation, which
	# early kmalloc makes before mm_init() sets it up: Kconfig drops one.
	early = [t.name.split('+')[0] for t in targets if '+mm/early_kmalloc' in t.fragments]
	if 'debug' in args.configs.split(',') and early:
		raise ValueError('CONFIGS=debug cannot go on the early kmalloc lines (SLUB_DEBUG_ON '
				 'excludes EARLY_KMALLOC): ' + ', '.join(early) + '; pick a line without it')
	want = expected.read(args.expected) if os.path.exists(args.expected) else {}
	listed = [t for t in targets if t.counted and t.expected in want]
	# Extra fragments can add suites that expected does not list (bench)
	if args.suite and listed and not extra_fragments(args) and not any(expected.matching(want[t.expected], args.suite)
					     for t in listed):
		raise ValueError(f'the filter {args.suite!r} matches no suite of the selected lines'
				 ' (tests/kunit/expected lists them)')
	if not args.plan and not os.path.isdir(os.path.join(args.tree, '.git')):
		raise ValueError(f'no work tree at {args.tree}: run "make setup" (or "make tree")')
	return targets, want


def closing(results_dir: str, passed: int, failed: int, skipped: int) -> None:
	"""Print the run's closing line and keep it for CI, which prints it
	last, after the series checks."""
	line = f'{passed} passed, {failed} failed, {skipped} skipped'
	print(line, flush=True)
	with open(os.path.join(results_dir, 'summary'), 'w') as f:
		f.write(line + '\n')


def run_lines(targets: List[Target], run, results_dir: str,
	      ready=lambda t: None) -> bool:
	"""Run each line with run(target) -> Result, whatever the others did;
	write its results, print the table and the closing line. True if any
	line failed or erred. ready(target) -> why it cannot run, or None, is
	asked first, outside the line's time (it may wait for a compiler)."""
	results = []
	for t in targets:
		clear_results(results_dir, t.name)
		log(f'[{t.name}] start')
		t0 = time.monotonic()
		try:
			problem = ready(t)
			t0 = time.monotonic()
			res = Result(t, error=problem) if problem else run(t)
		except (Exception, SystemExit) as e:  # one line's fault must not end the run
			traceback.print_exc()
			res = Result(t, error=f'{type(e).__name__}: {e}')
		res.seconds = time.monotonic() - t0
		verdict(res)
		try:
			write_results(results_dir, res)
		except OSError as e:
			res.status, res.note = 'ERROR', f'harness error: cannot write results: {e}'
			res.failed = max(res.failed, 1)
		log(f'[{t.name}] {res.status} in {res.seconds:.0f} s{": " + res.note if res.note else ""}')
		results.append(res)

	print_table(results)
	failed = sum(r.failed for r in results)
	try:
		write_kcidb(results_dir, results)
	except (Exception, SystemExit) as e:  # a missing report fails the run
		traceback.print_exc()
		log(f'harness error: no KCIDB report: {type(e).__name__}: {e}')
		failed += 1
	closing(results_dir, sum(r.passed for r in results), failed, sum(r.skipped for r in results))
	return failed > 0 or any(r.status in ('FAIL', 'ERROR') for r in results)


if __name__ == '__main__':
	sys.exit(main())
