#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The series' build checks, per kernel of the test matrix (arm, microblaze,
# ia64), using the configurations 'make test' built:
#
#   warnings  sparse (C=2) and W=1 on the .c files the series touches: no
#             warning the pristine base did not already have.
#   bisect    every patch of the series builds and links vmlinux on its own.
#
# The base and bisect trees live at build/<name>/tree and build their
# kernels in build/<name>/out/<target>: the same relative layout as
# build/tree and build/out/<target>, so Kbuild's command lines are identical
# and ccache serves every file a patch did not change.

import argparse
import collections
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Counter, Dict, List, Optional, Tuple

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'tests', 'kunit'))
from run_matrix import (CROSS, Target, read_matrix, machines, make_cmd, toolchain_env,  # noqa: E402
			built_series_objects, series_files, series_names, log)

BUILD = os.environ.get('EARLYMM_BUILD', os.path.join(TOP, 'build'))
TREE = os.environ.get('TREE', os.path.join(BUILD, 'tree'))
# Every check's outcome, in order: (status, check, what, detail).
results: List[Tuple[str, str, str, str]] = []


def report(ok: bool, check: str, what: str, detail: str = '') -> None:
	"""Print and record one check: one line, PASS or FAIL, and why."""
	status = 'PASS' if ok else 'FAIL'
	results.append((status, check, what, detail))
	print(f'{status}  {check:<14} {what}' + (f'  -- {detail}' if detail else ''), flush=True)


def summary(name: str) -> int:
	"""Print the closing line and the failures again; return the exit code."""
	failed = [r for r in results if r[0] == 'FAIL']
	print(f'\n{name}: {len(results) - len(failed)} passed, {len(failed)} failed')
	for _, check, what, detail in failed:
		print(f'  failed: {check} {what}: {detail}')
	return 1 if failed else 0


def kernel_targets(jobs_only: List[str]) -> List[Target]:
	"""One kernel per machine of a series arch (not um, not host): the first
	matrix line of each, with the default allocator. The allocator variants
	are built at the top of the series by 'make test'; building each of them
	after every patch too would take CI past its time limit."""
	return [t for t in machines(read_matrix(os.path.join(TOP, 'tests', 'kunit', 'matrix')))
		if t.boot in ('kunit', 'halt', 'build') and t.arch in ('arm', 'microblaze', 'ia64')
		and (not jobs_only or t.name in jobs_only)]


def tree_at(name: str, rev: str) -> str:
	"""A detached worktree of build/tree at rev, in build/<name>/tree."""
	path = os.path.join(BUILD, name, 'tree')
	if not os.path.isdir(path):
		# make check and make check-bisect may run side by side (.ci/run):
		# one's prune must not remove the other's half-made worktree.
		os.makedirs(BUILD, exist_ok=True)
		with open(os.path.join(BUILD, '.worktrees.lock'), 'w') as lock:
			fcntl.flock(lock, fcntl.LOCK_EX)
			subprocess.run(['git', '-C', TREE, 'worktree', 'prune'], check=True)
			subprocess.run(['git', '-C', TREE, 'worktree', 'add', '-q', '--detach', path, rev],
				       check=True)
	else:
		subprocess.run(['git', '-C', path, 'checkout', '-q', '--detach', rev], check=True)
	return path


def configure(t: Target, tree: str, out: str, jobs: int) -> List[str]:
	"""Give out the configuration 'make test' used for t; return the make command."""
	config = os.path.join(BUILD, 'out', t.name, '.config')
	if not os.path.exists(config):
		raise SystemExit(f'check: {config} missing: run "make test TARGET={t.name}" first')
	os.makedirs(out, exist_ok=True)
	shutil.copy(config, os.path.join(out, '.config'))
	make = make_cmd(t.arch, tree, out, jobs)
	subprocess.run(make + ['olddefconfig'], env=toolchain_env(t.arch), stdout=subprocess.DEVNULL,
		       check=True)
	return make


# gcc names files relative to the build directory (../../tree/mm/x.c), sparse
# absolutely (/.../build/base/tree/mm/x.c): keep what follows the last tree/.
WARNING = re.compile(r'^(?:\S*\btree/)?(\S+?):\d+:(?:\d+:)? (warning|error): (.*)$')


def warnings(make: List[str], arch: str, objs: List[str], flag: str) -> Counter[str]:
	"""Warnings (file: message, no line numbers) from building objs with flag,
	in the files the series touches. A warning elsewhere (an untouched
	header) is the base's, even where the base object did not build at all."""
	touched = set(series_files())
	# Make rebuilds nothing that is up to date, and an object built with
	# W=1 before stays so: remove the objects so that both sides compile.
	out = next(a[2:] for a in make if a.startswith('O='))
	for o in objs:
		if os.path.exists(os.path.join(out, o)):
			os.remove(os.path.join(out, o))
	# -k: an object that does not build (the base's xilinx_hwicap.o on
	# microblaze, which patch 0001 fixes) must not stop the others, or
	# which of them got compiled, and warned, depends on -j scheduling.
	p = subprocess.run(make + ['-k', flag] + objs, env=toolchain_env(arch), stdout=subprocess.PIPE,
			   stderr=subprocess.STDOUT, text=True, errors='replace')
	found: Counter[str] = collections.Counter()
	for line in p.stdout.splitlines():
		m = WARNING.match(line)
		if m and m.group(1) in touched:
			found[f'{m.group(1)}: {m.group(2)}: {m.group(3)}'] += 1
	return found


def check_warnings(targets: List[Target], jobs: int) -> None:
	base_tree = tree_at('base', 'base')
	for t in targets:
		out = os.path.join(BUILD, 'out', t.name)
		objs = built_series_objects(out)
		if not objs:
			report(True, 'sparse', t.name, 'no series .c file in this kernel')
			report(True, 'W=1', t.name, 'no series .c file in this kernel')
			continue
		make = make_cmd(t.arch, TREE, out, jobs)
		base_make = configure(t, base_tree, os.path.join(BUILD, 'base', 'out', t.name), jobs)
		base_objs = [o for o in objs if os.path.exists(os.path.join(base_tree, o[:-2] + '.c'))]
		for check, flag in (('sparse', 'C=2'), ('W=1', 'W=1')):
			now = warnings(make, t.arch, objs, flag)
			before = warnings(base_make, t.arch, base_objs, flag) if base_objs else collections.Counter()
			new = now - before
			report(not new, check, t.name,
			       f'{sum(new.values())} new, first: {sorted(new)[0]}' if new
			       else f'no new warnings in {len(objs)} file(s)')


def compile_command(out: str) -> str:
	"""The compiler command, as a shell string, that Kbuild used for
	init/main.o in the kernel built in out, without its dependency file,
	output and source: it compiles anything as that kernel's files are."""
	with open(os.path.join(out, 'init', '.main.o.cmd')) as f:
		cmd = f.readline().split(':=', 1)[1].strip()
	cmd = re.sub(r'-Wp,-MMD,\S+ ', '', cmd)
	return re.sub(r' -c -o \S+ \S+$', '', cmd)


def header_problem(cmd: str, out: str, header: str, arch: str) -> str:
	"""The first error of a file that includes header alone, or ''."""
	src = f'#include "{header}"\n'
	p = subprocess.run(cmd + ' -fsyntax-only -x c -', shell=True, cwd=out, input=src,
			   env=toolchain_env(arch), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
			   text=True, errors='replace')
	if p.returncode == 0:
		return ''
	errors = [l for l in p.stdout.splitlines() if 'error:' in l] or ['the compiler failed']
	return re.sub(r'^\S*\btree/', '', errors[0])


def check_headers(targets: List[Target]) -> None:
	"""Every C header the series adds or changes compiles on its own, with
	the kernel's flags: arch/ARCH/ headers on ARCH, the others on arm. A
	header that did not compile alone in the pristine base either (mm/slab.h
	does not) is the base's, and is named as such."""
	outs = {t.arch: os.path.join(BUILD, 'out', t.name) for t in targets}
	base_tree = tree_at('base', 'base')
	for h in [f for f in series_files() if f.endswith('.h') and not f.endswith('.lds.h')
		  and not f.startswith('tools/')]:
		m = re.match(r'arch/([^/]+)/', h)
		arch = m.group(1) if m else 'arm'
		if arch not in outs or not os.path.exists(os.path.join(outs[arch], 'init', '.main.o.cmd')):
			report(False, 'header', h, f'no {arch} kernel to compile it with: run make test first')
			continue
		cmd = compile_command(outs[arch])
		problem = header_problem(cmd, outs[arch], os.path.join(TREE, h), arch)
		old = os.path.join(base_tree, h)
		if problem and os.path.exists(old) and header_problem(cmd, outs[arch], old, arch):
			report(True, 'header', f'{h} on {arch}', 'does not compile alone in the base either')
			continue
		report(not problem, 'header', f'{h} compiles alone on {arch}', problem)


# One patch of a series: its file name and its exact bytes (None where the
# series names a file that is not there). The name is for messages: it
# follows the subject, which reaches no tree.
Patch = Tuple[str, Optional[bytes]]


def applied_part(patch: Optional[bytes]) -> Optional[bytes]:
	"""What of a git-format patch reaches the tree: the part git am applies,
	as git am's own splitter, git mailinfo, cuts it from the changelog and
	the mail headers (the '---' line, the diffstat and the diff). Before
	mailinfo, git am's mailsplit strips carriage returns and splits at
	lines that start with 'From '; a patch with either, or with a transfer
	encoding other than 7bit/8bit (which could hide a carriage return),
	counts by all its bytes, as does one mailinfo finds no text diff in
	or cannot read: a doubt builds. export.sh writes none of these."""
	if patch is None:
		return None
	if b'\r' in patch or b'\nFrom ' in patch or \
	   re.search(rb'(?im)^content-transfer-encoding:(?!\s*[78]bit\s*$)', patch):
		return patch
	with tempfile.TemporaryDirectory() as d:
		msg, part = os.path.join(d, 'msg'), os.path.join(d, 'patch')
		p = subprocess.run(['git', 'mailinfo', msg, part], input=patch, cwd=d,
				   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
		if p.returncode:
			return patch
		with open(part, 'rb') as f:
			applied = f.read()
	return applied if b'\n+++ ' in applied else patch


def tree_changed(was: Optional[bytes], now: Optional[bytes]) -> bool:
	"""Whether two versions of a patch make different trees."""
	return was != now and applied_part(was) != applied_part(now)


def first_changed(old: List[Patch], new: List[Patch]) -> Optional[int]:
	"""The first position (0-based) of series new whose patch applies
	something other than series old's at that position, or where old has
	no patch; None if there is none. Patch n applies to the tree patches
	1..n-1 made, so from the first difference on every patch sits on (or
	makes) a tree it was not built as, and the whole rest of the series must
	build again: a reordered series, a removed patch and a changed patch's
	later patches included. None means new is old, or old with patches
	removed from its end: the remaining patches' trees are unchanged.

	Patches compare by applied_part(), byte for byte: an edit of a
	changelog, a subject (and so the file's name) or a sign-off leaves
	every tree as it was and builds nothing. build/tree is made with git
	am, and make check fails a series that quilt or apply.sh applies other
	than git am does (its mbox check compares the trees after each part),
	as patch(1) would a diff quoted in a changelog."""
	for i, (was, now) in enumerate(zip(old, new)):
		if tree_changed(was[1], now[1]):
			return i
	return len(old) if len(new) > len(old) else None


def series_patches(d: str) -> List[Patch]:
	"""The series in d (d/series and d/patches/), as first_changed compares it."""
	patches: List[Patch] = []
	for name in series_names(d):
		try:
			with open(os.path.join(d, 'patches', name), 'rb') as f:
				patches.append((name, f.read()))
		except FileNotFoundError:
			patches.append((name, None))
	return patches


def series_at(rev: str, repo: str = TOP) -> List[Patch]:
	"""The series at revision rev of repo: empty if rev has no series file.
	Anything git cannot show counts as missing, which only ever makes more
	patches differ, so a doubt builds rather than skips."""
	p = subprocess.run(['git', '-C', repo, 'rev-parse', '-q', '--verify', f'{rev}^{{commit}}'],
			   stdout=subprocess.PIPE, text=True)
	if p.returncode:
		raise SystemExit(f'check: {rev} is not a revision of {repo}')
	commit = p.stdout.strip()

	def show(path: str) -> Optional[bytes]:
		# git show prints a blob's exact bytes (no textconv unless asked)
		p = subprocess.run(['git', '-C', repo, 'show', f'{commit}:{path}'],
				   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
		return p.stdout if p.returncode == 0 else None

	series = show('series')
	if series is None:
		return []
	# One parser for both sides: series_names() on a copy of rev's series.
	with tempfile.TemporaryDirectory() as d:
		with open(os.path.join(d, 'series'), 'wb') as f:
			f.write(series)
		names = series_names(d)
	return [(name, show(f'patches/{name}')) for name in names]


def bisect_start(since: str, repo: str = TOP) -> Tuple[Optional[int], List[Patch], List[Patch]]:
	"""first_changed from the series at since to the series in repo's work
	tree (the one build/tree is made from), and the two series."""
	old, new = series_at(since, repo), series_patches(repo)
	return first_changed(old, new), old, new


def ci_base(repo: str = TOP) -> Optional[str]:
	"""The revision CI bisects from: the parent of the newest commit on
	HEAD's first-parent line that changed what the series applies
	(first_changed), passing over commits that only edited changelogs or
	removed patches from the end, which build nothing. A merge counts as
	all its branch brought, against the line's own parent. None where
	that commit has no parent, where no commit touches the series, or
	where an old series cannot be read: everything builds."""
	def git(*args: str) -> subprocess.CompletedProcess:
		return subprocess.run(['git', '-C', repo] + list(args), stdout=subprocess.PIPE,
				      stderr=subprocess.DEVNULL, text=True)

	commits = git('rev-list', '--first-parent', 'HEAD', '--', 'series', 'patches/')
	if commits.returncode:
		return None
	for commit in commits.stdout.split():
		parent = git('rev-parse', '-q', '--verify', f'{commit}^1^{{commit}}').stdout.strip()
		if not parent:
			return None
		try:
			changed = first_changed(series_at(parent, repo), series_at(commit, repo))
		except (RuntimeError, SystemExit):
			return None
		if changed is not None:
			return parent
	return None


def build_side_by_side(targets: List[Target], tree: str,
		       jobs: int) -> List[Tuple[Target, str, int, float]]:
	"""Build vmlinux of tree for each target at once, each in
	build/bisect/out/<target>; return (target, log, exit code, seconds)
	per target, in order. Side by side, because a build after a small
	patch is mostly serial (make's walk of the tree, the link, kallsyms):
	one at a time, the second core would idle through most of them."""
	# Configured first: a target that cannot be (no .config) must not
	# leave the others' builds running behind an exception.
	makes = [(t, configure(t, tree, os.path.join(BUILD, 'bisect', 'out', t.name), jobs))
		 for t in targets]
	started = []
	try:
		for t, make in makes:
			logfile = os.path.join(BUILD, 'bisect', 'out', t.name, 'build.log')
			with open(logfile, 'w') as f:
				p = subprocess.Popen(make + ['vmlinux'], env=toolchain_env(t.arch), stdout=f,
						     stderr=subprocess.STDOUT)
			started.append((t, logfile, p, time.monotonic()))
		ended: Dict[int, Tuple[int, float]] = {}
		while len(ended) < len(started):
			for i, (_, _, p, t0) in enumerate(started):
				if i not in ended and p.poll() is not None:
					ended[i] = (p.returncode, time.monotonic() - t0)
			time.sleep(0.2)
	finally:
		for _, _, p, _ in started:
			if p.poll() is None:
				p.terminate()
				p.wait()
	return [(t, logfile, *ended[i]) for i, (t, logfile, _, _) in enumerate(started)]


def check_bisect(targets: List[Target], jobs: int, since: str) -> None:
	"""Build every patch of the series, or with since every patch from the
	first series position whose applied part or order changed since that
	revision of this repository, to the end.

	Top down: the last patch first, then each one before it. The tree at
	the last patch is the one make test built, so ccache serves all of the
	first build straight from its manifests; each later step takes back one
	patch, and Kbuild rebuilds what that patch touched (its files and the
	Kconfig symbols it adds). Bottom up, the first build already lacked the
	later patches' symbols: autoconf.h differed from make test's in every
	object, and every file went through the preprocessor again (465 s of
	a cold run for microblaze at 0016, beside make check)."""
	commits = subprocess.run(['git', '-C', TREE, 'rev-list', '--reverse', 'base..HEAD'],
				 stdout=subprocess.PIPE, text=True, check=True).stdout.split()
	# Commit n of build/tree is patch n of the series ('make check' checks
	# that the two agree).
	first = 0
	if since:
		changed, old, new = bisect_start(since)
		if changed is None:
			removed = len(old) - len(new)
			log(f'bisect: series unchanged since {since}' +
			    (f' but for {removed} patch(es) removed from its end, which leaves the'
			     ' trees of the others unchanged' if removed else '') + ': nothing to build')
			return
		first = changed
		log(f'bisect: series changed since {since} first at {first + 1:04d} {new[first][0]}:'
		    f' building {first + 1:04d} to the end ({len(new) - first} patch(es)), the last first')
	start = time.monotonic()
	built = 0
	for n, c in reversed(list(enumerate(commits, 1))):
		if n <= first:
			break
		built += 1
		subject = subprocess.run(['git', '-C', TREE, 'log', '-1', '--format=%s', c],
					 stdout=subprocess.PIPE, text=True).stdout.strip()
		tree = tree_at('bisect', c)
		for t, logfile, rc, secs in build_side_by_side(targets, tree, jobs):
			report(rc == 0, 'bisect', f'{n:04d} {t.name:<11} {subject[:50]}',
			       f'{secs:.0f} s' if rc == 0 else f'build failed, see {logfile}')
	log(f'bisect: {built} of {len(commits)} patches x {len(targets)} kernels'
	    f' in {time.monotonic() - start:.0f} s')


def compare(t: Target, revs: List[str], functions: List[str], settings: List[str], jobs: int) -> int:
	"""Build vmlinux for t at two revisions of build/tree (in the bisect
	worktree, so ccache hits), then print scripts/bloat-o-meter and the
	disassembly of each function at both: the numbers a changelog shows for
	"this does not grow the hot path"."""
	images = []
	for rev in revs:
		tree = tree_at('bisect', rev)
		out = os.path.join(BUILD, 'bisect', 'out', t.name)
		make = configure(t, tree, out, jobs)
		if settings:
			with open(os.path.join(out, '.config'), 'a') as f:
				f.write('\n'.join(settings) + '\n')
			subprocess.run(make + ['olddefconfig'], env=toolchain_env(t.arch),
				       stdout=subprocess.DEVNULL, check=True)
		log(f'compare: {t.name} vmlinux at {rev}')
		if subprocess.run(make + ['vmlinux'], env=toolchain_env(t.arch), stdout=subprocess.DEVNULL).returncode:
			log(f'compare: build at {rev} failed')
			return 1
		image = os.path.join(BUILD, 'compare', f'{t.name}-{rev}.vmlinux')
		os.makedirs(os.path.dirname(image), exist_ok=True)
		shutil.copy(os.path.join(out, 'vmlinux'), image)
		images.append(image)
	print(f'$ scripts/bloat-o-meter {revs[0]} {revs[1]}  ({t.name}' +
	      (', ' + ' '.join(settings) if settings else '') + ')', flush=True)
	subprocess.run([sys.executable, os.path.join(TREE, 'scripts', 'bloat-o-meter')] + images, check=True)
	objdump = CROSS[t.arch][0] + 'objdump'
	for fn in functions:
		for rev, image in zip(revs, images):
			print(f'\n$ objdump -d --disassemble={fn}  ({rev})', flush=True)
			p = subprocess.run([objdump, '-d', '--no-show-raw-insn', f'--disassemble={fn}', image],
					   env=toolchain_env(t.arch), stdout=subprocess.PIPE, text=True, check=True)
			body = p.stdout.split(f'<{fn}>:', 1)
			# objdump still names every other section it looked at
			lines = [l for l in body[-1].splitlines() if l and not l.startswith('Disassembly of')]
			print(f'<{fn}>:\n' + '\n'.join(lines) if len(body) > 1 else f'{fn}: not in vmlinux')
	return 0


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__)
	ap.add_argument('what', choices=['warnings', 'bisect', 'compare', 'ci-base'])
	ap.add_argument('--revs', nargs=2, metavar=('FROM', 'TO'),
			help='compare: two revisions of build/tree')
	ap.add_argument('--function', action='append', default=[], help='compare: disassemble this')
	ap.add_argument('--set', action='append', default=[], metavar='CONFIG_X=y',
			help='compare: a .config line on top of the target\'s')
	ap.add_argument('--target', action='append', help='limit to these matrix lines')
	ap.add_argument('--changed-since', metavar='REV',
			help='bisect: from the first series position whose applied part or order '
			'changed since REV (a revision of this repository) to the end')
	ap.add_argument('--jobs', type=int, default=int(os.environ.get('JOBS', os.cpu_count() or 1)))
	args = ap.parse_args()
	if args.what == 'ci-base':
		# printed for .ci/run; nothing: build the whole series
		print(ci_base() or '')
		return 0
	targets = kernel_targets(args.target or [])
	if args.what == 'compare':
		if not args.revs or len(targets) != 1:
			ap.error('compare needs --revs FROM TO and one --target')
		return compare(targets[0], args.revs, args.function, args.set, args.jobs)
	if args.what == 'warnings':
		check_warnings(targets, args.jobs)
	else:
		# One kernel per arch: each patch costs a build per kernel, and
		# arm-versatile adds no arch to arm.
		per_arch = {t.arch: t for t in reversed(targets)}
		check_bisect([t for t in targets if per_arch[t.arch] is t], args.jobs, args.changed_since)
	return summary(args.what)


if __name__ == '__main__':
	sys.exit(main())
