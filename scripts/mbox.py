#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The series as maintainers receive it: one mbox per part (the part headers
# of 'series'), each a git format-patch thread with a cover letter, To and
# Cc from the pinned tree's scripts/get_maintainer.pl, and base-commit plus
# prerequisite-patch-id lines, so that b4 and git am take each part in turn.
#
# The cover letter is made of: the problem (the "The problem" section of the
# part's page in Documentation/), the design and the alternatives rejected
# (patches/covers/PART.txt), how it was tested (the last make test's result
# of the part's suite on every matrix line, and its closing line), the cost
# (the page's "Cost" section, with any benchmark table), and the pinned tree.
#
# usage: scripts/mbox.py [--out DIR]   (default: build/mbox)
# writes DIR/N-PART.mbox, N the part's position; needs build/tree to be the
# series (make tree) and, for the test results, a make test.

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from typing import Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import series_parts  # noqa: E402

TOP = series_parts.TOP


def run(cmd: List[str], cwd: str = None, stdin: str = None) -> str:
	return subprocess.run(cmd, cwd=cwd, input=stdin, check=True, capture_output=True, text=True).stdout


def shell_settings(*names: str) -> Dict[str, str]:
	"""Settings of scripts/lib.sh, the one place they are defined."""
	out = run(['bash', '-c', '. "$1"; shift; for v; do echo "${!v}"; done', '-',
		   os.path.join(TOP, 'scripts', 'lib.sh')] + list(names))
	return dict(zip(names, out.splitlines()))


def tree_commits(tree: str, d: str, names: List[str]) -> Dict[str, str]:
	"""The work tree's commit of each patch, by position, after checking
	that each commit exports to its patch byte for byte (scripts/export.sh's
	format), changelog included: what is mailed is what patches/ holds."""
	commits = run(['git', 'rev-list', '--reverse', 'base..HEAD'], cwd=tree).split()
	stale = 'run make export, or make tree FORCE=1'
	if len(commits) != len(names):
		raise SystemExit(f'mbox: {tree} has {len(commits)} commits on base, the series {len(names)}: {stale}')
	with tempfile.TemporaryDirectory() as tmp:
		p = subprocess.run([os.path.join(TOP, 'scripts', 'export.sh'), tmp], capture_output=True,
				   text=True, env=dict(os.environ, TREE=tree))
		if p.returncode:
			raise SystemExit(f'mbox: {p.stderr.strip()}')
		for name in names:
			if not os.path.exists(os.path.join(tmp, 'patches', name)):
				raise SystemExit(f'mbox: {tree} has no commit for {name}: {stale}')
			with open(os.path.join(d, 'patches', name), 'rb') as a, \
			     open(os.path.join(tmp, 'patches', name), 'rb') as b:
				if a.read() != b.read():
					raise SystemExit(f'mbox: {tree}: the commit of {name} is not that patch: {stale}')
	return dict(zip(names, commits))


def cover_file(slug: str) -> Tuple[Dict[str, str], str]:
	"""patches/covers/SLUG.txt: its header fields and its body."""
	with open(os.path.join(TOP, 'patches', 'covers', slug + '.txt')) as f:
		head, _, body = f.read().partition('\n\n')
	fields = dict(line.split(': ', 1) for line in head.splitlines())
	return fields, body.strip('\n')


def rst_section(path: str, title: str) -> str:
	"""A section of an rst page as plain text (no ``literal`` quotes)."""
	with open(os.path.join(TOP, path)) as f:
		text = f.read()
	m = re.search(rf'^{re.escape(title)}\n=+\n(.*?)(?=^[^\n]+\n=+\n|\Z)', text, re.M | re.S)
	return rewrap(re.sub(r'``([^`]+)``', r'\1', m.group(1)).strip('\n')) if m else ''


def rewrap(text: str) -> str:
	"""Prose and list paragraphs filled to 72 columns, as a mail body wants
	them (the pages are wrapped at 80); tables and indented blocks as they
	are."""
	out = []
	for para in text.split('\n\n'):
		first = para.lstrip('\n')[:1]
		if first in ('*', '-'):
			items = re.split(r'\n(?=[*-] )', para)
			out.append('\n'.join(textwrap.fill(' '.join(i.split()), 72, subsequent_indent='  ', break_on_hyphens=False)
					     for i in items))
		elif first and first not in (' ', '\t', '=', '|', '.'):
			out.append(textwrap.fill(' '.join(para.split()), 72, break_on_hyphens=False))
		else:
			out.append(para)
	return '\n\n'.join(out)


def test_results(suite: str, results: str) -> str:
	"""The part's suite on every matrix line of the last make test of this
	series, and each line's own closing counts; INCOMPLETE and the lines
	that have no clean result made from the current inputs (the series,
	fragments, matrix, command lines and QEMU configurations), if any."""
	run_matrix = matrix_module()
	inputs = run_matrix.inputs_hash()
	rows, missing = [], []
	for t in run_matrix.read_matrix(os.path.join(TOP, 'tests', 'kunit', 'matrix')):
		path = os.path.join(results, t.name + '.result.json')
		r = None
		if os.path.exists(path):
			with open(path) as f:
				r = json.load(f)
		if r is None or r.get('inputs') != inputs or not (r['clean'] or r['status'] == 'SKIP'):
			missing.append(t.name)
			continue
		s = r['suites'].get(suite)
		if s:
			rows.append(f"  {t.name:<25} {s['passed']:>2}/{s['cases']:<2} passed, {s['skipped']} skipped;"
				    f" line {r['status']}: {r['passed']}/{r['failed']}/{r['skipped']}")
		elif r['status'] == 'SKIP':
			why = r['note'].split(';')[0].split(': ', 1)[-1]
			rows.append(f"  {t.name:<25} line SKIP: {why}")
	text = ('The ' + suite + ' suite on each line of the earlymm matrix (QEMU; um\n'
		"is user-mode Linux), and each line's closing counts, passed/failed/\n"
		'skipped of every suite it runs (a line fails on any failed case or\n'
		'kernel report):\n\n' + '\n'.join(rows))
	if missing:
		text += f'\n\n{INCOMPLETE}: ' + ', '.join(missing)
	return text


# What a cover letter says when the last make test does not stand for this
# series on every line; make check fails on it.
INCOMPLETE = 'No clean result of this series on these lines (make test, then make mbox)'


def matrix_module():
	sys.path.insert(0, os.path.join(TOP, 'tests', 'kunit'))
	import run_matrix
	return run_matrix


def matrix_lines() -> List[str]:
	"""The names of the matrix's lines, in order."""
	return [t.name for t in matrix_module().read_matrix(os.path.join(TOP, 'tests', 'kunit', 'matrix'))]


def maintainers(tree: str, patches: List[str]) -> Tuple[List[str], List[str]]:
	"""To (the maintainers) and Cc (the reviewers and the lists) as the
	pinned tree's get_maintainer.pl names them for these patches: one call
	for each, without role annotations, so that a name with parentheses
	of its own stays whole."""
	# --nokeywords: a MAINTAINERS K: pattern matched in a changelog or
	# a document (0014 names pstore) adds people who own none of the
	# files.
	base = ['./scripts/get_maintainer.pl', '--no-git', '--no-git-fallback', '--no-tree',
		'--nokeywords', '--no-rolestats', '--no-multiline', '--separator', '\n']
	to = run(base + ['--m', '--no-r', '--no-l'] + patches, cwd=tree).splitlines()
	cc = run(base + ['--no-m', '--r', '--l'] + patches, cwd=tree).splitlines()
	return [a for a in to if a], [a for a in cc if a and a not in to]


def cover_body(part: series_parts.Part, fields: Dict[str, str], design: str, n: int, total: int,
	       earlier: List[str], results: str, pin: Dict[str, str]) -> str:
	doc = fields['Doc']
	cost = rst_section(doc, 'Cost')
	after = ('It applies on top of the earlier parts: ' + '; '.join(earlier) + '.' if earlier
		 else 'It is the first part; the others apply on top of it.')
	return '\n\n'.join(filter(None, [
		textwrap.fill(f'This is part {n} of {total} of the earlymm series. {after}', 72, break_on_hyphens=False),
		'The problem\n-----------\n' + rst_section(doc, 'The problem'),
		design,
		'How it was tested\n-----------------\n' + test_results(fields['Suite'], results),
		'Cost\n----\n' + cost if cost else '',
		'Base\n----\n' + textwrap.fill(
			f"Linux {pin['LINUX_VERSION']} as Debian's {pin['LINUX_DEB_PKG']} "
			f"{pin['LINUX_DEB_VERSION']} ships it ({pin['LINUX_TARBALL_NAME']}, sha256 "
			f"{pin['PIN_TARBALL_SHA256']}), imported as one commit: base-commit below "
			'(scripts/tree.sh makes the same commit on every machine). It is a series for '
			'6.1 LTS: it touches ia64, SLAB and SLOB, which mainline has removed since, and '
			f'does not apply to mainline as it is. {doc} of the earlymm repository '
			'describes the design at length.', 72, break_on_hyphens=False),
	]))


def write_part(tree: str, part: series_parts.Part, commits: Dict[str, str], n: int, total: int,
	       earlier: List[str], out: str, results: str, pin: Dict[str, str]) -> str:
	fields, design = cover_file(part.slug)
	first, last = commits[part.patches[0]], commits[part.patches[-1]]
	with tempfile.TemporaryDirectory() as tmp:
		files = run(['git', '-c', 'core.abbrev=12', 'format-patch', '--cover-letter',
			     '--thread=shallow', '--no-signature', '--zero-commit', '--base=base',
			     '-o', tmp, f'{first}^..{last}'], cwd=tree).split()
		to, cc = maintainers(tree, files[1:])
		cover = open(files[0]).read()
		cover = cover.replace('*** SUBJECT HERE ***', fields['Subject'])
		cover = cover.replace('*** BLURB HERE ***', cover_body(part, fields, design, n, total,
									earlier, results, pin))
		mbox = os.path.join(out, f'{n}-{part.slug}.mbox')
		with open(mbox, 'w') as f:
			for i, path in enumerate(files):
				text = cover if i == 0 else open(path).read()
				f.write(add_recipients(text, to, cc))
	return mbox


def add_recipients(message: str, to: List[str], cc: List[str]) -> str:
	"""The message with To: and Cc: headers after its Subject, which is
	unfolded: Debian's b4 0.12 stops on a folded Subject ("Header values
	may not contain linefeed"), and one line of up to 998 characters is as
	valid (RFC 5322)."""
	head, sep, body = message.partition('\n\n')
	head = re.sub(r'^(Subject: .*)((?:\n[ \t].*)+)',
		      lambda m: m.group(1) + re.sub(r'\n[ \t]+', ' ', m.group(2)), head, flags=re.M)
	extra = ''
	if to:
		extra += '\nTo: ' + ',\n    '.join(to)
	if cc:
		extra += '\nCc: ' + ',\n    '.join(cc)
	return head + extra + sep + body


def main() -> int:
	ap = argparse.ArgumentParser(description='one mbox per part of the series')
	ap.add_argument('--out', default=os.path.join(os.environ.get('EARLYMM_BUILD', os.path.join(TOP, 'build')), 'mbox'))
	ap.add_argument('--tree', default=os.environ.get('TREE', os.path.join(TOP, 'build', 'tree')))
	ap.add_argument('--dir', default=TOP, help='directory holding patches/ and series')
	ap.add_argument('--results', default=os.path.join(os.environ.get('EARLYMM_BUILD', os.path.join(TOP, 'build')), 'results'))
	args = ap.parse_args()
	parts = series_parts.parts(args.dir)
	commits = tree_commits(args.tree, args.dir, [p for part in parts for p in part.patches])
	pin = shell_settings('EARLYMM_IDENTITY', 'LINUX_VERSION', 'LINUX_DEB_PKG', 'LINUX_DEB_VERSION', 'LINUX_TARBALL_NAME',
			     'PIN_TARBALL_SHA256')
	shutil.rmtree(args.out, ignore_errors=True)
	os.makedirs(args.out)
	if pin['EARLYMM_IDENTITY'].endswith('.invalid>'):
		print(f"mbox: note: the mails are from the project identity {pin['EARLYMM_IDENTITY']}, "
		      'which no mail server takes: make identity ID="Your Name <you@example.org>" before sending',
		      file=sys.stderr)
	earlier: List[str] = []
	for n, part in enumerate(parts, 1):
		mbox = write_part(args.tree, part, commits, n, len(parts), earlier, args.out, args.results, pin)
		earlier.append(f'"{cover_file(part.slug)[0]["Subject"]}" ({len(part.patches)} patches)')
		print(f'mbox: {mbox}: cover letter and {len(part.patches)} patches')
		if INCOMPLETE in open(mbox).read():
			print(f'mbox: warning: {mbox}: {INCOMPLETE}', file=sys.stderr)
	return 0


if __name__ == '__main__':
	sys.exit(main())
