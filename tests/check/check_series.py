#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The series' upstream bar as a command: one line per check, then
# "N passed, N failed". Reads patches/ and series (or --dir), and the work
# tree's pristine 'base' for the kernel's own tools (checkpatch, kernel-doc).
#
# Checks here: checkpatch --strict, changelog lint, no line removed from
# kernel-parameters.txt, kernel-doc on touched files with exports, the
# series applying three ways (quilt, git am, patch -p1), each kunitconfig
# the series adds working on its own with stock kunit.py, and a
# reproducible 'make export'; with the kernels of 'make test', new sparse
# and W=1 warnings and every touched header compiling on its own
# (check_builds.py).

import argparse
import concurrent.futures
import fnmatch
import os
import re
import subprocess
import sys
import tempfile
from typing import Dict, List, Set, Tuple

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(TOP, 'tests', 'kunit'))
from run_matrix import CROSS, series_names, series_files  # noqa: E402
sys.path.insert(0, HERE)
import check_builds  # noqa: E402
from check_builds import report  # noqa: E402

def run(cmd: List[str], cwd: str = None, stdin=None, env=None) -> subprocess.CompletedProcess:
	return subprocess.run(cmd, cwd=cwd, stdin=stdin, env=env, stdout=subprocess.PIPE,
			      stderr=subprocess.STDOUT, text=True, errors='replace')


def identity() -> str:
	"""The project identity, from its one definition in scripts/lib.sh."""
	with open(os.path.join(TOP, 'scripts', 'lib.sh')) as f:
		m = re.search(r"^EARLYMM_IDENTITY='([^']+)'", f.read(), re.M)
	return m.group(1)


def exceptions() -> Dict[str, Set[str]]:
	"""checkpatch types allowed per patch glob, each with its reason."""
	allowed: Dict[str, Set[str]] = {}
	with open(os.path.join(HERE, 'checkpatch-exceptions')) as f:
		for line in f:
			line = line.strip()
			if not line or line.startswith('#'):
				continue
			rule, reason = line.split('--', 1)
			glob, kind = rule.split()
			if not reason.strip():
				raise SystemExit(f'checkpatch-exceptions: {line}: no reason given')
			allowed.setdefault(glob, set()).add(kind)
	return allowed


def checkpatch_issues(tree: str, path: str, name: str) -> List[str]:
	"""checkpatch.pl --strict's complaints about the patch or message at
	path, but for the types checkpatch-exceptions allows for name."""
	allowed = exceptions()
	ignore = set().union(*[k for g, k in allowed.items() if fnmatch.fnmatch(name, g)])
	cmd = ['perl', 'scripts/checkpatch.pl', '--strict', '--terse', '--show-types', '--no-summary']
	if ignore:
		cmd += ['--ignore', ','.join(sorted(ignore))]
	# checkpatch runs scripts/spdxcheck.py through "python3" on PATH; it
	# needs Debian's python3-ply, so Debian's python3 must come first.
	env = dict(os.environ, PATH='/usr/bin:' + os.environ['PATH'])
	p = run(cmd + [path], cwd=tree, env=env)
	issues = [l for l in p.stdout.splitlines() if re.search(r': (ERROR|WARNING|CHECK):', l)]
	if 'Traceback' in p.stdout:
		issues.append('a checkpatch helper script crashed (SPDX check not run?): ' +
			      p.stdout.split('Traceback', 1)[1].strip().splitlines()[-1])
	return issues


def checkpatch_all(tree: str, jobs: List[Tuple[str, str]]) -> List[List[str]]:
	"""checkpatch_issues() of each (path, name), in order. One perl
	process per patch, as many at once as there are cores: one at a time
	they take a minute of make check, on one core. In a git tree,
	checkpatch writes its CamelCase cache (.checkpatch-camelcase.git.*)
	in the tree when a patch first has a CamelCase name, and one reading
	it half-written would report false CamelCase: a patch with such a name
	is checked alone first, to write it."""
	with tempfile.TemporaryDirectory() as tmp:
		seed = os.path.join(tmp, 'camelcase.patch')
		with open(seed, 'w') as f:
			f.write('--- a/mm/x.c\n+++ b/mm/x.c\n@@ -0,0 +1 @@\n+int seedCamelCase;\n')
		run(['perl', 'scripts/checkpatch.pl', '--strict', '--no-signoff', '--terse', seed], cwd=tree)
	with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
		return list(pool.map(lambda j: checkpatch_issues(tree, *j), jobs))


def check_checkpatch(tree: str, d: str, names: List[str]) -> None:
	found = checkpatch_all(tree, [(os.path.join(d, 'patches', name), name) for name in names])
	for name, issues in zip(names, found):
		report(not issues, 'checkpatch', name,
		       f'{len(issues)} issue(s), first: {issues[0]}' if issues else '')


def parse_patch(path: str) -> Tuple[Dict[str, str], List[str]]:
	"""Headers (unfolded) and changelog body lines (up to the '---')."""
	with open(path, errors='replace') as f:
		lines = f.read().splitlines()
	headers: Dict[str, str] = {}
	i, key = 0, None
	while i < len(lines) and lines[i]:
		if lines[i][0] in ' \t' and key:
			headers[key] += ' ' + lines[i].strip()
		else:
			key, _, val = lines[i].partition(':')
			headers[key] = val.strip()
		i += 1
	body = []
	for line in lines[i + 1:]:
		if line == '---':
			break
		body.append(line)
	return headers, body


# A subject's first word in a tense other than the imperative.
NOT_IMPERATIVE = re.compile(r'^(\w+(ed|ing)|\w+[^su]s)$', re.I)


def lint_changelog(path: str, ident: str) -> List[str]:
	problems = []
	headers, body = parse_patch(path)
	subject = re.sub(r'^\[PATCH[^\]]*\]\s*', '', headers.get('Subject', ''))
	m = re.match(r'^([\w./-]+(?:: [\w./-]+)*): (\S+)', subject)
	if not m:
		problems.append(f'subject "{subject}" is not "area: summary"')
	elif NOT_IMPERATIVE.match(m.group(2)):
		problems.append(f'subject verb "{m.group(2)}" is not imperative')
	if len(subject) >= 75:
		problems.append(f'subject is {len(subject)} characters (limit: under 75)')
	if headers.get('From') != ident:
		problems.append(f'From: is "{headers.get("From")}", not the project identity')
	trailers = [l for l in body if re.match(r'^[A-Z][\w-]+: ', l)]
	prose = [l for l in body if l.strip() and l not in trailers]
	if len(prose) < 3:
		problems.append('changelog body too short to say why (under 3 lines)')
	if f'Signed-off-by: {ident}' not in trailers:
		problems.append('no Signed-off-by from the project identity')
	for t in trailers:
		if t.startswith('Fixes:') and not re.match(r'^Fixes: [0-9a-f]{12,40} \("[^"]+"\)$', t):
			problems.append(f'malformed "{t}" (want: Fixes: <12+ hex> ("subject"))')
		if t.startswith('Link:') and not re.match(r'^Link: https?://\S+$', t):
			problems.append(f'malformed "{t}" (want: Link: <URL>)')
	return problems


def check_changelogs(d: str, names: List[str]) -> None:
	ident = identity()
	for name in names:
		problems = lint_changelog(os.path.join(d, 'patches', name), ident)
		report(not problems, 'changelog', name, '; '.join(problems))


def added_exports(d: str, names: List[str]) -> Dict[str, List[str]]:
	"""Per file, the symbols the series' added lines EXPORT_SYMBOL*()."""
	exports: Dict[str, List[str]] = {}
	for name in names:
		path = None
		with open(os.path.join(d, 'patches', name), errors='replace') as f:
			for line in f:
				if line.startswith('+++ '):
					path = line[4:].strip()[2:] if line[4:].startswith('b/') else None
				m = re.match(r'^\+\s*EXPORT_SYMBOL\w*\((\w+)\)', line)
				if m and path:
					exports.setdefault(path, []).append(m.group(1))
	return exports


def kernel_doc_problems(tree: str, path: str) -> List[str]:
	"""kernel-doc -none's warnings for path, without the 'file:line: ' prefix."""
	out = run(['scripts/kernel-doc', '-none', path], cwd=tree).stdout.splitlines()
	return [re.sub(r'^\S+:\d+: ', '', l) for l in out
		if re.search(r'warning|error', l, re.I) and 'Sphinx version' not in l]


def check_kernel_doc(tree: str, d: str, names: List[str], files: List[str], src: str) -> None:
	"""Touched files with exports have no kernel-doc warning the pristine
	base did not have, and every function the series exports has a
	kernel-doc comment. src: the files as the series makes them (patch -p1 on
	the base); the tree supplies scripts/kernel-doc and the base."""
	exports = added_exports(d, names)
	checked = 0
	with tempfile.TemporaryDirectory() as base:
		pristine_copy(tree, files, base)
		for f in files:
			checked += check_kernel_doc_file(tree, f, src, base, exports.get(f, []))
	if not checked:
		report(True, 'kernel-doc', 'no touched file exports symbols')


def check_kernel_doc_file(tree: str, f: str, src: str, base: str, exports: List[str]) -> int:
	"""Report on one touched file; return 1 if it was checked."""
	path = os.path.join(src, f)
	if not f.endswith(('.c', '.h')) or not os.path.exists(path):
		return 0
	with open(path, errors='replace') as fh:
		text = fh.read()
	if 'EXPORT_SYMBOL' not in text:
		return 0
	old = os.path.join(base, f)
	known = kernel_doc_problems(tree, old) if os.path.exists(old) else []
	problems = [p for p in kernel_doc_problems(tree, path) if p not in known]
	for sym in exports:
		if not re.search(r'^\w[^;=]*\b' + sym + r'\s*\(', text, re.M):
			continue  # an exported variable: kernel-doc covers functions
		# Only an output mode (not -none) reports an undocumented function.
		out = run(['scripts/kernel-doc', '-rst', '-function', sym, path], cwd=tree).stdout
		if f"'{sym}' not found" in out:
			problems.append(f'exported {sym}() has no kernel-doc comment')
	report(not problems, 'kernel-doc', f, f'{len(problems)} new problem(s), first: {problems[0]}'
	       if problems else '')
	return 1


def pristine_copy(tree: str, files: List[str], dest: str) -> None:
	"""The base version of the files the series touches (new files: absent)."""
	existing = [f for f in files if run(['git', 'cat-file', '-e', f'base:{f}'], cwd=tree).returncode == 0]
	if existing:
		archive = subprocess.Popen(['git', 'archive', 'base', '--'] + existing, cwd=tree,
					   stdout=subprocess.PIPE)
		subprocess.run(['tar', '-x', '-C', dest], stdin=archive.stdout, check=True)
		archive.wait()


# git as the checks run it: an identity of its own for the commits it makes.
GIT = ['git', '-c', 'user.name=check', '-c', 'user.email=check@invalid']


def git_at_base(work: str) -> None:
	"""Make work, a pristine copy, a git repository whose one commit is it."""
	run(['git', 'init', '-q'], cwd=work)
	run(['git', 'add', '-A', '-f'], cwd=work)
	run(GIT + ['commit', '-q', '--allow-empty', '-m', 'base'], cwd=work)


def check_apply(tree: str, d: str, names: List[str], files: List[str], tmp: str) -> str:
	"""Apply the series three ways in tmp; return the patch -p1 result."""
	patches = [os.path.join(d, 'patches', n) for n in names]
	for how in ('quilt', 'git am', 'patch -p1'):
		work = os.path.join(tmp, how.replace(' ', '-'))
		os.makedirs(work)
		pristine_copy(tree, files, work)
		env = dict(os.environ, QUILT_PATCHES=os.path.join(d, 'patches'),
			   QUILT_SERIES=os.path.join(d, 'series'))
		if how == 'quilt':
			p = run(['quilt', 'push', '-a', '-q'], cwd=work, env=env)
			ok = p.returncode == 0 or (not names and p.returncode == 2)
			report(ok, 'apply', 'quilt push -a', '' if ok else p.stdout.strip().splitlines()[-1])
		elif how == 'git am':
			git_at_base(work)
			p = run(GIT + ['am', '-q'] + patches, cwd=work)
			report(p.returncode == 0, 'apply', 'git am',
			       '' if p.returncode == 0 else p.stdout.strip().splitlines()[0])
		else:
			failed = ''
			for patch in patches:
				with open(patch) as f:
					p = run(['patch', '-p1', '-N', '-s'], cwd=work, stdin=f)
				if p.returncode:
					failed = os.path.basename(patch)
					break
			report(not failed, 'apply', 'patch -p1 in series order',
			       f'{failed} does not apply' if failed else '')
	return os.path.join(tmp, 'patch--p1')


def tree_hash(work: str) -> str:
	"""The git tree of a directory's files (quilt's .pc aside)."""
	if not os.path.isdir(os.path.join(work, '.git')):
		run(['git', 'init', '-q'], cwd=work)
	run(['git', 'add', '-A', '-f', '--', '.', ':!.pc'], cwd=work)
	return run(['git', 'write-tree'], cwd=work).stdout.strip()


def address_problems(path: str) -> List[str]:
	"""To and Cc of a message that a mail client would not take as they
	are: an address that does not parse, or no address at all."""
	import email
	import email.policy
	with open(path) as f:
		msg = email.message_from_file(f, policy=email.policy.default)
	bad = []
	for name in ('To', 'Cc'):
		header = msg[name]
		if header is None:
			bad.append(f'no {name}:') if name == 'To' else None
			continue
		if header.defects:
			bad.append(f'{name}: {header.defects[0]}')
		bad += [f'{name}: {a!s} is no address' for a in header.addresses
			if '@' not in a.addr_spec or not a.domain]
	return bad


def b4_problems(output: str, patches: int) -> List[str]:
	"""What b4 am says needs fixing: anything it warns about (trailers,
	attestation, the base, missing or extra patches), or a count or cover
	that is not the part's."""
	bad = [l.strip() for l in output.splitlines()
	       if re.search(r'^\s*(ERROR|WARNING|NOTE)\b|✗|^\s+x |missing \[|not known|[Uu]nable to', l)]
	m = re.search(r'^Total patches: (\d+)$', output, re.M)
	if not m or int(m.group(1)) != patches:
		bad.append(f'total patches {m.group(1) if m else "not given"}, want {patches}')
	if not re.search(r'^Cover: ', output, re.M):
		bad.append('no cover letter')
	return bad


def check_mbox(tree: str, d: str, files: List[str], tmp: str) -> None:
	"""make mbox's output as maintainers take it: checkpatch on every
	message as sent (a cover letter has no diff, its one allowed error),
	and each part in turn through Debian's b4 am and git am, whose tree
	must be the one quilt and scripts/apply.sh give at the part's end."""
	sys.path.insert(0, os.path.join(TOP, 'scripts'))
	import series_parts
	import mbox as mbox_py
	out = os.path.join(tmp, 'mbox')
	p = run([sys.executable, os.path.join(TOP, 'scripts', 'mbox.py'), '--out', out, '--tree', tree, '--dir', d])
	report(p.returncode == 0, 'mbox', 'make mbox', p.stdout.strip().splitlines()[-1] if p.returncode else '')
	if p.returncode:
		return
	parts = series_parts.parts(d)
	am, quilt = os.path.join(tmp, 'mbox-am'), os.path.join(tmp, 'mbox-quilt')
	for work in (am, quilt):
		os.makedirs(work)
		pristine_copy(tree, files + ['Makefile'], work)
	git_at_base(am)
	env = dict(os.environ, QUILT_PATCHES=os.path.join(d, 'patches'), QUILT_SERIES=os.path.join(d, 'series'))
	for n, part in enumerate(parts, 1):
		mbox = os.path.join(out, f'{n}-{part.slug}.mbox')
		msgs = os.path.join(tmp, f'msgs-{n}')
		os.makedirs(msgs)
		run(['git', 'mailsplit', '-o' + msgs, mbox])
		issues = []
		with open(mbox) as f:
			if mbox_py.INCOMPLETE in f.read():
				issues.append(f'the cover letter says: {mbox_py.INCOMPLETE}')
		names = sorted(os.listdir(msgs))
		found = checkpatch_all(tree, [(os.path.join(msgs, msg), part.patches[i - 1] if i else 'cover')
					      for i, msg in enumerate(names)])
		for i, (msg, got) in enumerate(zip(names, found)):
			if i == 0:
				got = [g for g in got if 'NOT_UNIFIED_DIFF' not in g]
			got += address_problems(os.path.join(msgs, msg))
			issues += [f'{msg}: {g}' for g in got]
		report(not issues, 'mbox', f'{n}-{part.slug}: checkpatch --strict and To/Cc of each message as sent',
		       f'{len(issues)} issue(s), first: {issues[0]}' if issues else '')
		# b4 runs in the work tree, where base-commit is known.
		b4 = run(['b4', 'am', '-C', '-m', mbox, '-o', tmp, '-n', f'am-{n}'], cwd=tree)
		bad = b4_problems(b4.stdout, len(part.patches)) if b4.returncode == 0 else [f'exit {b4.returncode}']
		report(not bad, 'mbox', f'{n}-{part.slug}: b4 am', '; '.join(bad[:3]))
		a = run(GIT + ['am', '-q', os.path.join(tmp, f'am-{n}.mbx')], cwd=am)
		q = run(['quilt', 'push', '-q', part.patches[-1]], cwd=quilt, env=env)
		top = os.path.join(tmp, f'top-{n}')
		os.makedirs(top)
		os.symlink(os.path.join(TOP, 'scripts'), os.path.join(top, 'scripts'))
		os.symlink(os.path.join(d, 'patches'), os.path.join(top, 'patches'))
		with open(os.path.join(top, 'series'), 'w') as f:
			f.write('\n'.join(p for part in parts[:n] for p in part.patches) + '\n')
		applied = os.path.join(tmp, f'apply-{n}')
		os.makedirs(applied)
		pristine_copy(tree, files + ['Makefile'], applied)
		x = run([os.path.join(top, 'scripts', 'apply.sh'), applied])
		hashes = {'git am': run(['git', 'rev-parse', 'HEAD^{tree}'], cwd=am).stdout.strip(),
			  'quilt': tree_hash(quilt), 'apply.sh': tree_hash(applied)}
		failed = [f'{how} failed' for how, r in (('git am', a), ('quilt', q), ('apply.sh', x)) if r.returncode]
		same = not failed and len(set(hashes.values())) == 1
		report(same, 'mbox', f'{n}-{part.slug}: git am of b4 am\'s mbox = quilt = apply.sh',
		       '; '.join(failed) or ('' if same else ', '.join(f'{k} {v[:12]}' for k, v in hashes.items())))


# Files where the series only adds: a removed line there is a lost entry
# (patch 0009 once dropped the earlycon= line under its own entry).
ADD_ONLY = ('Documentation/admin-guide/kernel-parameters.txt',)


def removed_lines(patch: str, paths: Tuple[str, ...]) -> int:
	"""How many lines patch removes from the files in paths."""
	removed, current, in_hunk = 0, None, False
	with open(patch, errors='replace') as f:
		for line in f:
			if line.startswith('diff --git '):
				current, in_hunk = line.split()[-1].split('/', 1)[-1], False
			elif line.startswith('@@'):
				in_hunk = True
			elif in_hunk and line.startswith('-') and current in paths:
				removed += 1
	return removed


def check_add_only(d: str, names: List[str]) -> None:
	"""No patch removes a line from a file in ADD_ONLY."""
	bad = [f'{n} removes {k}' for n in names
	       for k in [removed_lines(os.path.join(d, 'patches', n), ADD_ONLY)] if k]
	report(not bad, 'add-only', f'no patch removes a line of {", ".join(ADD_ONLY)}',
	       '; '.join(bad))


def check_kunitconfigs(tree: str, files: List[str]) -> None:
	"""Each kunitconfig the series adds is enough on its own: stock kunit.py
	configures arm (QEMU virt, the arch every series suite runs on) from
	that file alone and keeps every option it names. The matrix merges
	these files with configs/kunit.config, which would hide a file that
	leaves out, say, CONFIG_KUNIT."""
	for f in [f for f in files if f.endswith('.kunitconfig')]:
		# A fresh directory: kunit.py skips olddefconfig when an old
		# .config already has the options, which would hide a new
		# 'depends on' that drops one.
		with tempfile.TemporaryDirectory() as out:
			p = run([sys.executable, 'tools/testing/kunit/kunit.py', 'config', '--arch=arm',
				 '--cross_compile=' + CROSS['arm'][0], '--build_dir', out,
				 '--kunitconfig', f], cwd=tree)
		lines = p.stdout.strip().splitlines()
		why = [l for l in lines if l.startswith('Missing:')] or \
			[l for l in lines if 'ERROR' in l] or lines[-1:] or ['no output']
		report(p.returncode == 0, 'kunitconfig', f'kunit.py config --arch=arm --kunitconfig {f}',
		       '' if p.returncode == 0 else why[0])


def check_export(d: str) -> None:
	"""'make export' of the work tree gives back patches/ and series exactly."""
	with tempfile.TemporaryDirectory() as tmp:
		p = run([os.path.join(TOP, 'scripts', 'export.sh'), tmp])
		if p.returncode:
			report(False, 'export', 'make export', p.stdout.strip().splitlines()[-1])
			return
		diff = run(['diff', '-r', '-u', '-x', 'covers', d + '/patches', tmp + '/patches'])
		sdiff = run(['diff', '-u', d + '/series', tmp + '/series'])
		same = diff.returncode == 0 and sdiff.returncode == 0
		report(same, 'export', 'make export reproduces patches/ and series',
		       '' if same else 'differs: run make export, or make tree FORCE=1')


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__)
	ap.add_argument('--dir', default=TOP, help='directory holding patches/ and series')
	ap.add_argument('--tree', default=os.environ.get('TREE', os.path.join(TOP, 'build', 'tree')))
	ap.add_argument('--no-export', action='store_true',
			help='skip the export check (the work tree is not this series)')
	ap.add_argument('--no-builds', action='store_true',
			help='skip sparse and W=1 (they need the kernels of "make test")')
	args = ap.parse_args()

	names = series_names(args.dir)
	files = series_files(args.dir)
	check_checkpatch(args.tree, args.dir, names)
	check_changelogs(args.dir, names)
	check_add_only(args.dir, names)
	with tempfile.TemporaryDirectory() as tmp:
		applied = check_apply(args.tree, args.dir, names, files, tmp)
		check_kernel_doc(args.tree, args.dir, names, files, applied)
		if not args.no_export:
			# The mails come from the work tree's commits: only when
			# it is this series (the export check's condition too).
			check_mbox(args.tree, args.dir, files, tmp)
	check_kunitconfigs(args.tree, files)
	if not args.no_export:
		check_export(args.dir)
	if not args.no_builds:
		check_builds.check_warnings(check_builds.kernel_targets([]), os.cpu_count() or 1)
		check_builds.check_headers(check_builds.kernel_targets([]))

	return check_builds.summary('check')


if __name__ == '__main__':
	sys.exit(main())
