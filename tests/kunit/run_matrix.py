#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Run the earlymm test matrix (tests/kunit/matrix): build each kernel, boot it
# in QEMU through kunit.py, keep KTAP, KernelCI JSON and JUnit XML per target
# under build/results/, print a per-target table, and end with the line
# "N passed, N failed, N skipped" for the whole run.
#
# A target that builds but cannot boot (ia64: no emulator) is a SKIP with its
# reason, never a pass. A target whose log holds no KTAP counts as one failure.

import argparse
import io
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
import fnmatch
from typing import Dict, List, Optional, Tuple
from xml.sax.saxutils import quoteattr, escape

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Cross compilers: Debian's for arm, built from Debian sources for the rest.
CROSS = {
	'arm': ('arm-linux-gnueabihf-', None),
	'microblaze': ('microblaze-linux-', 'microblaze'),
	'ia64': ('ia64-linux-gnu-', 'ia64'),
	'um': ('', None),
}


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


@dataclass
class Result:
	target: Target
	status: str = 'FAIL'
	passed: int = 0
	failed: int = 0
	skipped: int = 0
	seconds: float = 0.0
	note: str = ''


def read_matrix(path: str) -> List[Target]:
	targets = []
	with open(path) as f:
		for line in f:
			line = line.split('#', 1)[0].split()
			if not line:
				continue
			name, arch, boot, frags, qemu, cmdline, timeout = line
			targets.append(Target(name, arch, boot, frags.split(','), qemu,
					      kernel_args(cmdline),
					      None if timeout == '-' else int(timeout)))
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


def fragment_paths(t: Target) -> List[str]:
	return [os.path.join(TOP, 'configs', f + '.config') for f in t.fragments]


def qemu_config_dtb(path: str) -> Optional[str]:
	"""The DTB a qemu_config names (DTB = '...'), for boards that need one."""
	with open(path) as f:
		m = re.search(r"^DTB = '([^']+)'", f.read(), re.M)
	return m.group(1) if m else None


def run_kunit(t: Target, tree: str, out: str, results_dir: str, args, jobs: int):
	"""Run kunit.py, echoing its output; returns (exit code, timed out?)."""
	if t.boot == 'halt':
		cmd = [sys.executable, os.path.join(TOP, 'tests', 'kunit', 'kunit_until_halt.py'), tree]
	else:
		cmd = [sys.executable, os.path.join(kunit_tool(tree), 'kunit.py')]
	cmd += ['run', '--build_dir', out, '--jobs', str(jobs), '--timeout', str(t.timeout),
		'--json=' + os.path.join(results_dir, t.name + '.json')]
	for frag in fragment_paths(t):
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
		# kunit.py's waiter prints subprocess.TimeoutExpired when it kills QEMU.
		timeout |= bool(re.search(r'timed out after \d+ seconds', line))
	return proc.wait(), timeout


def parse_log(tree: str, logfile: str):
	"""Parse a kernel log with kunit.py's own parser, without its printing."""
	sys.path.insert(0, kunit_tool(tree))
	import kunit_parser
	import kunit_printer
	kunit_printer.stdout._output = io.StringIO()
	with open(logfile, errors='backslashreplace') as f:
		lines = f.readlines()
	return kunit_parser, kunit_parser.parse_run_tests(lines), lines


def ktap_lines(kunit_parser, lines: List[str]) -> List[str]:
	stream = kunit_parser.extract_tap_lines(lines)
	out = []
	while stream:
		out.append(stream.pop() + "\n")
	return out


def junit_xml(kunit_parser, target: str, test) -> str:
	ok = kunit_parser.TestStatus.SUCCESS
	skip = kunit_parser.TestStatus.SKIPPED
	rows = ['<?xml version="1.0" encoding="UTF-8"?>', f'<testsuites name={quoteattr(target)}>']

	for suite in test.subtests:
		# Parameterised cases carry their parameters as subtests.
		leaves = []
		for case in suite.subtests or [suite]:
			if case.subtests:
				leaves += [(case.name + '.' + p.name, p) for p in case.subtests]
			else:
				leaves.append((case.name, case))
		fails = sum(1 for _, c in leaves if c.status not in (ok, skip))
		skips = sum(1 for _, c in leaves if c.status == skip)
		rows.append(f'  <testsuite name={quoteattr(target + "." + suite.name)} tests="{len(leaves)}" '
			    f'failures="{fails}" skipped="{skips}">')
		for name, c in leaves:
			rows.append(f'    <testcase classname={quoteattr(target + "." + suite.name)} name={quoteattr(name)}>')
			if c.status == skip:
				rows.append('      <skipped/>')
			elif c.status != ok:
				rows.append(f'      <failure message={quoteattr(c.status.name)}>'
					    f'{escape(chr(10).join(c.log))}</failure>')
			rows.append('    </testcase>')
		rows.append('  </testsuite>')
	rows.append('</testsuites>')
	return '\n'.join(rows) + '\n'


# What a kernel prints when something went wrong that no KUnit case may see.
SPLAT = re.compile(r'\bBUG: |WARNING: CPU|Bad page state|\bOops\b|Kernel panic|Unable to handle kernel')


def known_splats() -> List[Tuple[str, re.Pattern]]:
	known = []
	with open(os.path.join(TOP, 'tests', 'kunit', 'known-splats')) as f:
		for line in f:
			line = line.split('--', 1)[0].strip()
			if line and not line.startswith('#'):
				glob, regex = line.split(None, 1)
				known.append((glob, re.compile(regex.strip())))
	return known


def unexpected_splats(target: str, lines: List[str]) -> List[str]:
	known = [r for glob, r in known_splats() if fnmatch.fnmatch(target, glob)]
	return [l.strip() for l in lines if SPLAT.search(l) and not any(r.search(l) for r in known)]


def collect(t: Target, tree: str, out: str, results_dir: str, res: Result) -> None:
	logfile = os.path.join(out, 'test.log')
	if not os.path.exists(logfile):
		res.failed, res.status, res.note = 1, 'FAIL', 'no kernel log: config or build failed (see above)'
		return
	kunit_parser, test, lines = parse_log(tree, logfile)
	ktap = ktap_lines(kunit_parser, lines)
	with open(os.path.join(results_dir, t.name + '.ktap'), 'w') as f:
		f.writelines(ktap)
	with open(os.path.join(results_dir, t.name + '.junit.xml'), 'w') as f:
		f.write(junit_xml(kunit_parser, t.name, test))
	c = test.counts
	res.passed, res.skipped = c.passed, c.skipped
	res.failed = c.failed + c.crashed + c.errors
	if not ktap or res.passed + res.failed + res.skipped == 0:
		res.failed = max(res.failed, 1)
		res.note = 'no KTAP results in the kernel log'
	splats = unexpected_splats(t.name, lines)
	if splats:
		res.failed = max(res.failed, 1)
		res.note = f'{len(splats)} kernel splat(s), first: {splats[0][:100]}'
	res.status = 'PASS' if res.failed == 0 else 'FAIL'


def build_only(t: Target, tree: str, out: str, args, jobs: int, res: Result) -> None:
	"""Configure, build and link vmlinux, then sparse-check the series' files."""
	sys.path.insert(0, kunit_tool(tree))
	import kunit_config
	env = toolchain_env(t.arch)
	os.makedirs(out, exist_ok=True)
	want = kunit_config.Kconfig()
	for frag in fragment_paths(t):
		want.merge_in_entries(kunit_config.parse_file(frag))
	want.write_to_file(os.path.join(out, '.config'))
	make = make_cmd(t.arch, tree, out, jobs)
	buildlog = os.path.join(out, 'build.log')
	with open(buildlog, 'w') as blog:
		for goal in (['olddefconfig'], ['vmlinux']):
			log(f'{t.name}: make {" ".join(goal)}')
			if subprocess.run(make + goal, env=env, stdout=blog, stderr=subprocess.STDOUT).returncode:
				res.failed, res.note = 1, f'make {goal[0]} failed (see {buildlog})'
				return
	have = kunit_config.parse_file(os.path.join(out, '.config'))
	if not want.is_subset_of(have):
		missing = set(want.as_entries()) - set(have.as_entries())
		res.failed, res.note = 1, 'config options not set: ' + ', '.join(sorted(str(e) for e in missing))
		return
	warnings = sparse_series_files(make, env, out)
	res.status = 'SKIP'
	res.note = (f'{t.arch}: built, not booted (no emulator); sparse: {warnings}'
		    ' (base files included; make check counts new ones)')


def series_names(d: str = TOP) -> List[str]:
	"""The patch file names of d/series, in order."""
	names = []
	with open(os.path.join(d, 'series')) as f:
		for line in f:
			line = line.split('#', 1)[0].split()
			if line:
				names.append(line[0])
	return names


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
			res.failed, res.note = 1, f'simulator build failed (see {logfile})'
			return
	try:
		p = subprocess.run([os.path.join(sim, 'main'), '-v'], cwd=sim, stdout=subprocess.PIPE,
				   stderr=subprocess.STDOUT, text=True, timeout=t.timeout)
	except subprocess.TimeoutExpired:
		res.failed, res.note = 1, f'TIMEOUT: simulator still running after {t.timeout} s'
		return
	with open(logfile, 'a') as f:
		f.write(p.stdout)
	res.passed = len(re.findall(r'^ok \d+ ', p.stdout, re.M))
	res.failed = len(re.findall(r'^not ok \d+ ', p.stdout, re.M))
	if p.returncode:
		res.failed = max(res.failed, 1)
		res.note = f'simulator exited {p.returncode} (a failed assertion aborts it; see {logfile})'
	elif res.passed == 0:
		res.failed, res.note = 1, 'simulator reported no checks'
	res.status = 'PASS' if res.failed == 0 else 'FAIL'


def run_target(t: Target, tree: str, args) -> Result:
	out = os.path.join(args.build, 'out', t.build)
	results_dir = os.path.join(args.build, 'results')
	os.makedirs(results_dir, exist_ok=True)
	res = Result(t)
	start = time.monotonic()
	log(f'[{t.name}] start')
	if t.boot == 'build':
		build_only(t, tree, out, args, args.jobs, res)
	elif t.boot == 'sim':
		simulate(t, tree, out, args.jobs, res)
	else:
		os.makedirs(out, exist_ok=True)
		if os.path.exists(os.path.join(out, 'test.log')):
			os.unlink(os.path.join(out, 'test.log'))
		rc, timeout = run_kunit(t, tree, out, results_dir, args, args.jobs)
		collect(t, tree, out, results_dir, res)
		if timeout:
			# A kernel that does not finish, or does not shut down, hangs CI.
			res.failed = max(res.failed, 1)
			res.status, res.note = 'FAIL', f'TIMEOUT: QEMU still running after {t.timeout} s, stopped'
		elif rc and res.status == 'PASS':
			res.failed, res.status, res.note = 1, 'FAIL', f'kunit.py exited {rc}'
		elif rc and not res.note:
			res.note = f'kunit.py exited {rc}'
	res.seconds = time.monotonic() - start
	log(f'[{t.name}] {res.status} in {res.seconds:.0f} s')
	return res


def print_table(results: List[Result]) -> None:
	print()
	print(f'{"target":<25} {"arch":<11} {"status":<6} {"passed":>6} {"failed":>6} {"skipped":>7} {"time":>6}  note')
	for r in results:
		print(f'{r.target.name:<25} {r.target.arch:<11} {r.status:<6} {r.passed:>6} {r.failed:>6} '
		      f'{r.skipped:>7} {r.seconds:>5.0f}s  {r.note}')
	print()


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
	args = ap.parse_args()
	# kunit.py runs in the tree: every path handed to it must be absolute.
	args.tree, args.build = os.path.abspath(args.tree), os.path.abspath(args.build)

	targets = read_matrix(args.matrix)
	if args.target:
		targets = [t for t in targets if t.name == args.target]
	elif args.arch != 'all':
		targets = [t for t in targets if t.arch == args.arch]
	if not targets:
		log(f'no matrix line matches arch={args.arch} target={args.target}')
		return 2
	extra = [c for c in args.configs.split(',') if c]
	for c in extra:
		if not os.path.exists(os.path.join(TOP, 'configs', c + '.config')):
			log(f'no such fragment: configs/{c}.config')
			return 2
	if extra:
		# Own name, own build directory: variants never rebuild each other.
		for t in targets:
			t.name += '+' + '+'.join(extra)
			t.fragments += extra
		share_builds(targets)

	results = [run_target(t, args.tree, args) for t in targets]
	print_table(results)
	passed = sum(r.passed for r in results)
	failed = sum(r.failed for r in results)
	skipped = sum(r.skipped for r in results)
	closing = f'{passed} passed, {failed} failed, {skipped} skipped'
	print(closing)
	# Kept for CI, which prints it last, after the series checks.
	with open(os.path.join(args.build, 'results', 'summary'), 'w') as f:
		f.write(closing + '\n')
	return 1 if failed or any(r.status == 'FAIL' for r in results) else 0


if __name__ == '__main__':
	sys.exit(main())
