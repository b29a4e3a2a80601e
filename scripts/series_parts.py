#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The parts of the series: a comment header in 'series' before each part's
# first patch, so that a reader sees the four groups and a cover letter can
# be made from each (make mbox):
#
#   # == part early-contig: patches 0008-0014 ==
#   # Early-boot contiguous reservations for built-in drivers, and boot
#   # allocations made too late refused instead of handed out twice.
#   0008-memblock-refuse-allocations-made-after-memblock_free.patch
#
# The "patches A-B" range is written by make export; the lines under it are
# kept as they are. The patch names themselves come from scripts/series.sh,
# the one series parser of the shell and Python sides.
#
# usage: series_parts.py list [DIR]            the parts: slug, first, last
#        series_parts.py write SERIES NAME...  write SERIES for these patch
#                                              names, keeping the part headers
#                                              of the repository's series

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TITLE = "# earlymm: apply in this order (quilt series; written by 'make export')"
HEADER = re.compile(r'^# == part ([a-z0-9-]+): patch(?:es)? [0-9]{4}(?:-[0-9]{4})? ==$')


@dataclass
class Part:
	slug: str
	text: List[str]			# the comment lines under the header line
	after: Optional[str] = None	# the patch before the part, if any
	patches: List[str] = field(default_factory=list)


def series_names(d: str = TOP) -> List[str]:
	out = subprocess.run([os.path.join(TOP, 'scripts', 'series.sh'), d], check=True,
			     capture_output=True, text=True).stdout
	return out.split()


def headers(path: str) -> Dict[str, Part]:
	"""The part headers of a series file, keyed by the patch each precedes."""
	found: Dict[str, Part] = {}
	part: Optional[Part] = None
	last: Optional[str] = None
	with open(path) as f:
		for line in f:
			line = line.rstrip('\n')
			m = HEADER.match(line)
			if m:
				part = Part(m.group(1), [], last)
			elif part and line.startswith('#'):
				part.text.append(line)
			elif line.strip() and not line.startswith('#'):
				last = line.split()[0]
				if part:
					found[last] = part
					part = None
	return found


def parts(d: str = TOP) -> List[Part]:
	"""The parts of DIR/series with their patches, in order. Patches before
	the first header (none in this series) form no part."""
	by_first = headers(os.path.join(d, 'series'))
	out: List[Part] = []
	for name in series_names(d):
		if name in by_first:
			out.append(by_first[name])
		if out:
			out[-1].patches.append(name)
	return out


def number(name: str) -> str:
	return name.split('-', 1)[0]


def carry(old: Dict[str, Part], names: List[str]) -> Dict[str, Part]:
	"""Which of the new names each old header goes before: the same patch,
	by name or under a new number (its subject unchanged); else the patch
	now after the one that preceded the part; else the patch now at the
	same number."""
	subject = {n.split('-', 1)[-1]: n for n in names}
	at = {number(n): n for n in names}

	def find(name: Optional[str]) -> Optional[str]:
		if name is None:
			return None
		return name if name in names else subject.get(name.split('-', 1)[-1])

	placed: Dict[str, Part] = {}
	for first, part in old.items():
		new = find(first)
		before = find(part.after)
		if not new and before and names.index(before) + 1 < len(names):
			new = names[names.index(before) + 1]
		new = new or at.get(number(first))
		if new:
			placed[new] = part
	return placed


def render(placed: Dict[str, Part], names: List[str]) -> str:
	lines = [TITLE]
	starts = [i for i, n in enumerate(names) if n in placed] + [len(names)]
	for i, n in enumerate(names):
		if n in placed:
			last = names[starts[starts.index(i) + 1] - 1]
			span = number(n) if last == n else f'{number(n)}-{number(last)}'
			lines.append(f'# == part {placed[n].slug}: patch{"es" if last != n else ""} {span} ==')
			lines += placed[n].text
		lines.append(n)
	return '\n'.join(lines) + '\n'


def main() -> int:
	if len(sys.argv) >= 2 and sys.argv[1] == 'list':
		for p in parts(sys.argv[2] if len(sys.argv) > 2 else TOP):
			print(p.slug, p.patches[0], p.patches[-1])
		return 0
	if len(sys.argv) >= 3 and sys.argv[1] == 'write':
		src = os.path.join(TOP, 'series')
		old = headers(src) if os.path.exists(src) else {}
		text = render(carry(old, sys.argv[3:]), sys.argv[3:])
		with open(sys.argv[2], 'w') as f:
			f.write(text)
		return 0
	print(__doc__ or 'usage: series_parts.py list [DIR] | write SERIES NAME...', file=sys.stderr)
	return 2


if __name__ == '__main__':
	sys.exit(main())
