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
	patches: List[str] = field(default_factory=list)


def series_names(d: str = TOP) -> List[str]:
	"""The patch file names of d/series, in order: scripts/series.sh, the
	one parser of the series file, which the shell scripts use too."""
	p = subprocess.run([os.path.join(TOP, 'scripts', 'series.sh'), d], stdout=subprocess.PIPE,
			   text=True)
	if p.returncode:
		raise RuntimeError(f'cannot read {d}/series (see above)')
	return p.stdout.split()


def headers(path: str) -> Dict[str, Part]:
	"""The parts of a series file with the patches listed under each,
	keyed by the patch each header precedes."""
	found: Dict[str, Part] = {}
	part: Optional[Part] = None
	with open(path) as f:
		for line in f:
			line = line.rstrip('\n')
			m = HEADER.match(line)
			if m:
				part = Part(m.group(1), [])
			elif line.startswith('#'):
				if part and not part.patches:
					part.text.append(line)
			elif line.strip() and part:
				if not part.patches:
					found[line.split()[0]] = part
				part.patches.append(line.split()[0])
	return found


def parts(d: str = TOP) -> List[Part]:
	"""The parts of DIR/series with their patches, in order. Patches before
	the first header (none in this series) form no part."""
	by_first = headers(os.path.join(d, 'series'))
	out: List[Part] = []
	for name in series_names(d):
		if name in by_first:
			out.append(Part(by_first[name].slug, by_first[name].text))
		if out:
			out[-1].patches.append(name)
	return out


def number(name: str) -> str:
	return name.split('-', 1)[0]


def carry(old: Dict[str, Part], names: List[str]) -> Dict[str, Part]:
	"""Which of the new names each old header goes before: the first of
	its patches still in the series, known by name or, renumbered, by its
	subject. A new patch inside a part, or after the last, joins it.
	Raises ValueError where a guess could be wrong: a new or renamed patch
	between two parts or before the first, or a part's patches no longer
	together."""
	subject = {n.split('-', 1)[-1]: n for n in names}
	owner: Dict[str, Part] = {}
	for part in old.values():
		for p in part.patches:
			new = p if p in names else subject.get(p.split('-', 1)[-1])
			if new:
				owner[new] = part
	for i, n in enumerate(names):
		if n in owner:
			continue
		before = [owner[m] for m in names[:i] if m in owner]
		after = [owner[m] for m in names[i + 1:] if m in owner]
		if before and after and before[-1] is not after[0]:
			raise ValueError(f'{n} is new or renamed, between parts "{before[-1].slug}" and '
					 f'"{after[0].slug}": put the header in series before the first '
					 'patch of its part, by its new name, and export again')
	placed: Dict[str, Part] = {}
	seen: List[Part] = []
	for n in names:
		part = owner.get(n)
		if part is None or (seen and seen[-1] is part):
			continue
		if part in seen:
			raise ValueError(f'{n}: its part "{part.slug}" is no longer one run of patches; '
					 'put the part headers of series right by hand')
		seen.append(part)
		placed[n] = part
	for part in old.values():
		if part not in seen:
			raise ValueError(f'part "{part.slug}" has none of its patches left (or all renamed): '
					 'put its header in series before its first patch, by its new name, '
					 'or remove the header')
	if old and names and names[0] not in placed:
		raise ValueError(f'{names[0]} comes before the first part: add it to a part in series by hand')
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
		try:
			text = render(carry(old, sys.argv[3:]), sys.argv[3:])
		except ValueError as e:
			print(f'series_parts: error: {e}', file=sys.stderr)
			return 1
		with open(sys.argv[2], 'w') as f:
			f.write(text)
		return 0
	print(__doc__ or 'usage: series_parts.py list [DIR] | write SERIES NAME...', file=sys.stderr)
	return 2


if __name__ == '__main__':
	sys.exit(main())
