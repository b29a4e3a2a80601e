# SPDX-License-Identifier: GPL-2.0
#
# Which patches 'make check-bisect SINCE=rev' builds: every patch from the
# first series position whose applied part (git am's, not the changelog's)
# changed since rev, to the end
# (tests/check/check_builds.py: first_changed, bisect_start). Run with
# /usr/bin/python3 -m pytest tests/harness/test_bisect_range.py.
#
# The end-to-end cases also run the selection check_builds.py made before
# (patch files 'git diff --diff-filter=AM' names, and only those): it is
# marked xfail(strict) where it builds the wrong patches, so these tests
# fail on the old code, and an XPASS would say the old code was right after
# all.

import os
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Set

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'tests', 'check'))
from check_builds import Patch, bisect_start, ci_base, first_changed  # noqa: E402
from run_matrix import series_names  # noqa: E402


def p(name: str, body: str = '') -> Patch:
	return (name, (body or f'diff for {name}\n').encode())


A, B, C, D, E = (p(f'{i:04d}-{x}.patch') for i, x in enumerate('abcde', 1))


# first_changed, on series as lists

def test_no_change():
	assert first_changed([A, B, C], [A, B, C]) is None


def test_both_empty():
	assert first_changed([], []) is None


def test_middle_patch_changed():
	# B's later patches (C) sit on a new tree: position 1 to the end
	assert first_changed([A, B, C], [A, (B[0], b'other'), C]) == 1


DIFF = b'---\n f | 1 +\n\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+x\n'


def mail(subject: bytes, body: bytes, diff: bytes = DIFF) -> bytes:
	return b'From: x <x@example.org>\nSubject: [PATCH] ' + subject + b'\n\n' + body + diff


def test_changelog_only_edit_builds_nothing():
	# the tree after the patch is the one it was: nothing to build
	old = (B[0], mail(b'one', b'Why, first try.\n\nSigned-off-by: x <x@example.org>\n'))
	new = ('0002-other-name.patch',
	       mail(b'two', b'Why, in better words.\n\nSigned-off-by: y <y@example.org>\n'))
	assert first_changed([A, old, C], [A, new, C]) is None


def test_diff_edit_under_same_changelog_rebuilds():
	old = (B[0], mail(b'one', b'Why.\n'))
	new = (B[0], mail(b'one', b'Why.\n', DIFF.replace(b'+x\n', b'+y\n')))
	assert first_changed([A, old, C], [A, new, C]) == 1


def test_diffstat_edit_rebuilds():
	# the '---' line on is compared whole: a doubt builds
	old = (B[0], mail(b'one', b'Why.\n'))
	new = (B[0], mail(b'one', b'Why.\n', DIFF.replace(b' f | 1 +', b' f |  1 +')))
	assert first_changed([A, old, C], [A, new, C]) == 1


def test_diff_quoted_in_changelog():
	# Indented, git am leaves it in the changelog: the tree is the same
	# (make check's mbox check fails it if quilt or patch(1) apply it).
	# Flush left, git am's patch starts there: it builds.
	quoted = DIFF.split(b'\n', 3)[3]
	old = (B[0], mail(b'one', b'Why.\n'))
	indented = (B[0], mail(b'one', b'Why:\n\n' + b''.join(b'  ' + ln + b'\n' for ln in quoted.splitlines()) + b'\n'))
	flush = (B[0], mail(b'one', b'Why:\n\n' + quoted + b'\n'))
	assert first_changed([A, old, C], [A, indented, C]) is None
	assert first_changed([A, old, C], [A, flush, C]) == 1


def test_two_patches_swapped():
	assert first_changed([A, B, C, D], [A, C, B, D]) == 1


def test_patch_appended():
	assert first_changed([A, B], [A, B, C]) == 2


def test_patch_inserted():
	assert first_changed([A, B, C], [A, D, B, C]) == 1


def test_patch_removed_from_middle():
	# C now applies where B did, on a tree without B
	assert first_changed([A, B, C], [A, C]) == 1


def test_patch_removed_from_end():
	# A and B apply to the trees they did: nothing to build
	assert first_changed([A, B, C], [A, B]) is None


def test_rev_without_series():
	# series_at() gives [] when rev has no series file: everything builds
	assert first_changed([], [A, B]) == 0


def test_patch_missing_at_rev():
	# rev's series named B but had no file for it
	assert first_changed([A, (B[0], None), C], [A, B, C]) == 1


def test_renamed_patch_same_content():
	# the name follows the subject; the tree does not
	assert first_changed([A, B], [A, ('0002-renamed.patch', B[1])]) is None


def test_binary_patch_changelog_edit_rebuilds():
	# no text diff ('+++ ') for the splitter to find: all bytes compare
	binary = b'---\n f | Bin 0 -> 4 bytes\n\ndiff --git a/f b/f\nnew file mode 100644\nGIT binary patch\nliteral 4\nLcmZ?d00001\n\n'
	old = (B[0], mail(b'one', b'Why.\n', binary))
	new = (B[0], mail(b'one', b'Why, reworded.\n', binary))
	assert first_changed([A, old, C], [A, new, C]) == 1


def test_carriage_returns_count_by_all_bytes():
	# git am's mailsplit strips them before mailinfo: no guessing here
	old = (B[0], mail(b'one', b'Why.\n').replace(b'\n', b'\r\n'))
	new = (B[0], mail(b'one', b'Why, reworded.\n').replace(b'\n', b'\r\n'))
	assert first_changed([A, old, C], [A, new, C]) == 1


def test_quoted_printable_counts_by_all_bytes():
	qp = b'Content-Transfer-Encoding: quoted-printable\n'
	old = (B[0], qp + mail(b'one', b'Why.\n'))
	new = (B[0], qp + mail(b'one', b'Why, reworded.\n'))
	assert first_changed([A, old, C], [A, new, C]) == 1


def test_patch_without_a_diff_counts_by_its_bytes():
	# git mailinfo finds nothing to apply in either: all bytes compare
	assert first_changed([A, B], [A, (B[0], b'other\n')]) == 1


# bisect_start on a throwaway git repository

GIT_ENV = dict(os.environ, GIT_AUTHOR_NAME='t', GIT_AUTHOR_EMAIL='t@example.org',
	       GIT_COMMITTER_NAME='t', GIT_COMMITTER_EMAIL='t@example.org',
	       GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM='1')


def git(repo: str, *args: str) -> str:
	return subprocess.run(['git', '-C', repo] + list(args), env=GIT_ENV, check=True,
			      stdout=subprocess.PIPE, text=True).stdout.strip()


def write(repo: str, series: Optional[str], patches: Dict[str, str]) -> None:
	"""Make repo's work tree hold exactly this series file and these patches."""
	pdir = os.path.join(repo, 'patches')
	os.makedirs(pdir, exist_ok=True)
	for name in os.listdir(pdir):
		os.remove(os.path.join(pdir, name))
	for name, body in patches.items():
		with open(os.path.join(pdir, name), 'w') as f:
			f.write(body)
	path = os.path.join(repo, 'series')
	if series is None:
		if os.path.exists(path):
			os.remove(path)
	else:
		with open(path, 'w') as f:
			f.write(series)


def commit(repo: str, msg: str) -> str:
	git(repo, 'add', '-A')
	git(repo, 'commit', '-q', '--allow-empty', '-m', msg)
	return git(repo, 'rev-parse', 'HEAD')


NAMES = [f'{i:04d}-p{i}.patch' for i in range(1, 6)]
BODIES = {n: f'Subject: {n}\n---\n--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+{n}\n' for n in NAMES}


MAILS = {n: f'Subject: [PATCH] {n}\n\nWhy.\n---\n f | 1 +\n\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n'
	 f'@@ -0,0 +1 @@\n+{n}\n' for n in NAMES}
REWORDED = {n: b.replace('Why.', 'Why, reworded.') for n, b in MAILS.items()}


def lines(names: List[str]) -> str:
	return ''.join(n + '\n' for n in names)


def changed(bodies: Dict[str, str], name: str, body: str) -> Dict[str, str]:
	return dict(bodies, **{name: body})


def without(bodies: Dict[str, str], name: str) -> Dict[str, str]:
	return {n: b for n, b in bodies.items() if n != name}


# Each case: (series at rev, patches at rev), (series now, patches now), and
# the 1-based series positions that must build. None as series: no file.
N = NAMES
CASES = {
	'unchanged': ((lines(N), BODIES), (lines(N), BODIES), set()),
	'middle-changed': ((lines(N), BODIES), (lines(N), changed(BODIES, N[2], 'new\n')), {3, 4, 5}),
	'swapped': ((lines(N), BODIES), (lines([N[0], N[2], N[1]] + N[3:]), BODIES), {2, 3, 4, 5}),
	'appended': ((lines(N[:4]), without(BODIES, N[4])), (lines(N), BODIES), {5}),
	'removed-middle': ((lines(N), BODIES), (lines(N[:2] + N[3:]), without(BODIES, N[2])), {3, 4}),
	'removed-end': ((lines(N), BODIES), (lines(N[:4]), without(BODIES, N[4])), set()),
	'no-series-at-rev': ((None, {}), (lines(N), BODIES), {1, 2, 3, 4, 5}),
	'no-series-but-patches-at-rev': ((None, BODIES), (lines(N), BODIES), {1, 2, 3, 4, 5}),
	'patch-file-missing-at-rev': ((lines(N), without(BODIES, N[1])), (lines(N), BODIES), {2, 3, 4, 5}),
	# the same diffs under other changelogs
	'changelogs-only': ((lines(N), MAILS), (lines(N), REWORDED), set()),
	# the same series in other words: comments, blank lines, -p1
	'series-comments-only': ((lines(N), BODIES),
				 ('# the series\n\n' + ''.join(f'{n} -p1  # ok\n' for n in N), BODIES), set()),
}
# where the old selection builds the wrong patches
OLD_WRONG = {'middle-changed', 'swapped', 'removed-middle', 'no-series-but-patches-at-rev',
	     'patch-file-missing-at-rev', 'changelogs-only'}


def new_selection(repo: str, rev: str) -> Set[int]:
	first, _, new = bisect_start(rev, repo)
	return set() if first is None else set(range(first + 1, len(new) + 1))


def old_selection(repo: str, rev: str) -> Set[int]:
	"""check_builds.py before: changed_patches() and the positions it named."""
	out = git(repo, 'diff', '--name-only', '--diff-filter=AM', rev, '--', 'patches/')
	wanted = {os.path.basename(f) for f in out.split()}
	return {n for n, name in enumerate(series_names(repo), 1) if name in wanted}


@pytest.fixture
def repo(tmp_path) -> str:
	r = str(tmp_path / 'repo')
	os.makedirs(r)
	git(r, 'init', '-q')
	with open(os.path.join(r, 'README'), 'w') as f:
		f.write('throwaway\n')
	commit(r, 'start')
	return r


def selection_params():
	for case in CASES:
		yield pytest.param(case, new_selection, id=f'{case}-new')
		marks = [pytest.mark.xfail(strict=True, reason='old selection builds the wrong patches')] \
			if case in OLD_WRONG else []
		yield pytest.param(case, old_selection, id=f'{case}-old', marks=marks)


@pytest.mark.parametrize('case,select', selection_params())
def test_end_to_end(repo: str, case: str, select: Callable[[str, str], Set[int]]):
	(old_series, old_patches), (new_series, new_patches), want = CASES[case]
	write(repo, old_series, old_patches)
	rev = commit(repo, 'rev')
	write(repo, new_series, new_patches)
	commit(repo, 'change')
	assert select(repo, rev) == want


def test_end_to_end_uncommitted(repo: str):
	# the work tree counts, as build/tree is made from it
	write(repo, lines(NAMES), BODIES)
	commit(repo, 'rev')
	write(repo, lines(NAMES), changed(BODIES, NAMES[3], 'edited\n'))
	assert new_selection(repo, 'HEAD') == {4, 5}


def test_end_to_end_by_ref(repo: str):
	write(repo, lines(NAMES), BODIES)
	commit(repo, 'rev')
	write(repo, lines(NAMES), changed(BODIES, NAMES[0], 'edited\n'))
	commit(repo, 'change')
	assert bisect_start('HEAD^', repo)[0] == 0
	assert bisect_start('HEAD', repo)[0] is None


def test_bad_rev(repo: str):
	write(repo, lines(NAMES), BODIES)
	with pytest.raises(SystemExit):
		bisect_start('no-such-rev', repo)


# ci_base: the base .ci/run bisects from

def test_ci_base_passes_over_a_changelog_only_commit(repo: str):
	write(repo, lines(NAMES), MAILS)
	commit(repo, 'series')
	write(repo, lines(NAMES), changed(MAILS, NAMES[2], MAILS[NAMES[2]].replace('+', '+x', 1)))
	diff = commit(repo, 'a diff')
	write(repo, lines(NAMES), changed(REWORDED, NAMES[2], REWORDED[NAMES[2]].replace('+', '+x', 1)))
	commit(repo, 'changelogs')
	assert ci_base(repo) == git(repo, 'rev-parse', f'{diff}^')


def test_ci_base_root_commit_builds_everything(repo: str):
	# the fixture's first commit has no series; the one adding it has a
	# parent, whose empty series differs: that parent is the base
	write(repo, lines(NAMES), MAILS)
	added = commit(repo, 'series')
	assert ci_base(repo) == git(repo, 'rev-parse', f'{added}^')
	r = os.path.join(os.path.dirname(repo), 'fresh')
	os.makedirs(r)
	git(r, 'init', '-q')
	write(r, lines(NAMES), MAILS)
	commit(r, 'series at the root')
	assert ci_base(r) is None


def test_ci_base_counts_a_merge_against_its_first_parent(repo: str):
	"""A diff change on a branch merged with --no-ff: git log's history
	simplification would follow the branch and miss the change's position."""
	write(repo, lines(NAMES), MAILS)
	start = commit(repo, 'series')
	git(repo, 'checkout', '-q', '-b', 'feature')
	write(repo, lines(NAMES), changed(MAILS, NAMES[0], MAILS[NAMES[0]].replace('+', '+x', 1)))
	commit(repo, 'diff of patch 1')
	extra = NAMES + ['0006-p6.patch']
	write(repo, lines(extra), dict(changed(MAILS, NAMES[0], MAILS[NAMES[0]].replace('+', '+x', 1)),
					**{'0006-p6.patch': MAILS[NAMES[4]].replace(NAMES[4], 'p6')}))
	commit(repo, 'patch 6')
	git(repo, 'checkout', '-q', '-')
	with open(os.path.join(repo, 'README'), 'a') as f:
		f.write('main moves on\n')
	main = commit(repo, 'docs')
	git(repo, 'merge', '-q', '--no-ff', '-m', 'merge', 'feature')
	assert ci_base(repo) == main
	assert bisect_start(main, repo)[0] == 0
	assert start != main


def test_ci_base_unreadable_old_series_builds_everything(repo: str, monkeypatch):
	write(repo, lines(NAMES), MAILS)
	commit(repo, 'series')
	write(repo, lines(NAMES), changed(MAILS, NAMES[1], 'x'))
	commit(repo, 'change')
	import check_builds

	def broken(rev: str, repo: str = '') -> List[Patch]:
		raise RuntimeError('series: cannot parse')
	monkeypatch.setattr(check_builds, 'series_at', broken)
	assert ci_base(repo) is None
