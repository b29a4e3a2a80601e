# SPDX-License-Identifier: GPL-2.0
#
# The part headers of 'series' (scripts/series_parts.py): read, kept by make
# export when patches are renumbered, renamed or added, and their ranges
# rewritten; and what make check takes from b4 am's output as a problem.

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, 'scripts'))
sys.path.insert(0, os.path.join(TOP, 'tests', 'check'))
import series_parts  # noqa: E402
import check_series  # noqa: E402

SERIES = """\
# earlymm: apply in this order (quilt series; written by 'make export')
# == part one: patches 0001-0002 ==
# What the first part fixes.
0001-mm-first.patch
0002-mm-second.patch
# == part two: patch 0003 ==
# The second part,
# on two lines.
0003-mm-third.patch
"""


def write(tmp, text=SERIES):
	(tmp / 'series').write_text(text)
	(tmp / 'patches').mkdir(exist_ok=True)
	return str(tmp)


def test_parts(tmp_path):
	parts = series_parts.parts(write(tmp_path))
	assert [(p.slug, p.patches) for p in parts] == [
		('one', ['0001-mm-first.patch', '0002-mm-second.patch']), ('two', ['0003-mm-third.patch'])]
	assert parts[1].text == ['# The second part,', '# on two lines.']


def test_unchanged_series_renders_the_same(tmp_path):
	old = series_parts.headers(os.path.join(write(tmp_path), 'series'))
	names = ['0001-mm-first.patch', '0002-mm-second.patch', '0003-mm-third.patch']
	assert series_parts.render(series_parts.carry(old, names), names) == SERIES


def test_headers_follow_renumbered_patches(tmp_path):
	old = series_parts.headers(os.path.join(write(tmp_path), 'series'))
	# A patch inserted into part one renumbers the rest; one appended at
	# the end joins the last part.
	names = ['0001-mm-first.patch', '0002-mm-new.patch', '0003-mm-second.patch', '0004-mm-third.patch',
		 '0005-mm-last.patch']
	text = series_parts.render(series_parts.carry(old, names), names)
	assert '# == part one: patches 0001-0003 ==' in text
	assert '# == part two: patches 0004-0005 ==\n# The second part,\n# on two lines.\n0004-mm-third.patch' in text


@pytest.mark.parametrize('names, error', [
	# the first patch of part two renamed: which part is it in?
	(['0001-mm-first.patch', '0002-mm-second.patch', '0003-mm-third-v2.patch'], 'none of its patches'),
	(['0001-mm-first.patch', '0002-mm-second.patch', '0003-mm-new.patch', '0004-mm-third.patch'],
	 'between parts'),
	# a patch before the first part
	(['0001-mm-zero.patch', '0002-mm-first.patch', '0003-mm-second.patch', '0004-mm-third.patch'],
	 'before the first part'),
	# part one's patches split by part two's
	(['0001-mm-first.patch', '0002-mm-third.patch', '0003-mm-second.patch'], 'no longer one run'),
])
def test_ambiguous_changes_are_refused(tmp_path, names, error):
	old = series_parts.headers(os.path.join(write(tmp_path), 'series'))
	with pytest.raises(ValueError, match=error):
		series_parts.carry(old, names)


def test_a_header_moved_by_hand_to_a_renamed_patch(tmp_path):
	# What the refusal asks for: the header before the patch's new name.
	d = write(tmp_path, SERIES.replace('0003-mm-third.patch', '0003-mm-third-v2.patch'))
	names = ['0001-mm-first.patch', '0002-mm-second.patch', '0003-mm-third-v2.patch']
	text = series_parts.render(series_parts.carry(series_parts.headers(os.path.join(d, 'series')), names), names)
	assert text == SERIES.replace('0003-mm-third.patch', '0003-mm-third-v2.patch')


B4_OK = """Analyzing 8 messages in the thread
Checking attestation on all messages, may take a moment...
---
  [PATCH 1/7] char: xilinx_hwicap: use class_destroy() on the init error path
---
Total patches: 7
---
Cover: /tmp/x/am-1.cover
 Link: https://lore.kernel.org/r/cover.1.git.earlymm@example.invalid
 Base: using specified base-commit 7a6cad8ed37977124e51960a61209b5cc3075a7b
"""


def test_b4_clean_output():
	assert check_series.b4_problems(B4_OK, 7) == []


def test_b4_problems():
	bad = B4_OK.replace('Total patches: 7', 'Total patches: 8\nWARNING: Thread incomplete!\nERROR: missing [5/9]!')
	bad = bad.replace('using specified base-commit 7a6c', 'base-commit 7a6c')
	bad = bad.replace('7a6cad8ed37977124e51960a61209b5cc3075a7b', '7a6cad8ed37977124e51960a61209b5cc3075a7b not known, ignoring')
	got = check_series.b4_problems(bad.replace('Cover: ', 'Nocover: '), 7)
	assert got == ['WARNING: Thread incomplete!', 'ERROR: missing [5/9]!',
		       'Base: base-commit 7a6cad8ed37977124e51960a61209b5cc3075a7b not known, ignoring',
		       'total patches 8, want 7', 'no cover letter']


def message(tmp_path, to):
	p = tmp_path / 'msg'
	p.write_text(f'From: a <a@b.example>\nTo: {to}\nCc: linux-mm@kvack.org\nSubject: x\n\nbody\n')
	return str(p)


def test_addresses_whole(tmp_path):
	to = '"Matthew Wilcox (Oracle)" <willy@infradead.org>,\n    Andrew Morton <akpm@linux-foundation.org>'
	assert check_series.address_problems(message(tmp_path, to)) == []


def test_addresses_cut_at_a_parenthesis(tmp_path):
	# What splitting get_maintainer.pl's output at its first " (" gave.
	to = '"Matthew Wilcox,\n    Andrew Morton <akpm@linux-foundation.org>,\n    Vlastimil Babka <vbabka@suse.cz>'
	assert check_series.address_problems(message(tmp_path, to))
