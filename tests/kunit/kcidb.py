#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The matrix's results as one KCIDB report: the Linux kernel CI database's
# JSON I/O format (kernelci/kcidb-io), in place of kunit.py's older KernelCI
# JSON. We use the schema vendored in kcidb-schema/ (v4.5) for two things:
# it sets the version that we write, and it is the schema that validate()
# checks against. So a report that this module writes is checked against the
# real schema, not against our idea of it.
#
# Run as a script to validate report files:
#	/usr/bin/python3 tests/kunit/kcidb.py build/results/kcidb.json
# It prints each error. It exits 0 if every file is valid, and 1 if not.
# (/usr/bin/python3 because python3-jsonschema comes from Debian.)

import datetime
import hashlib
import json
import os
import pathlib
import re
import sys
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

ORIGIN = 'earlymm'

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
			   'kcidb-schema', 'kcidb-io-v4.5.json')

# The schema's test statuses in its priority order, highest first. The
# summary status of a group of tests is the one of theirs that comes first
# in this list.
PRIORITY = ('FAIL', 'ERROR', 'MISS', 'PASS', 'DONE', 'SKIP')

# The harness's statuses (PASS, FAIL, SKIP, ERROR), and kunit_parser's
# TestStatus names, mapped to KCIDB statuses. kunit.py's own KernelCI JSON
# calls a crashed test ERROR, and so do we. NO_TESTS and
# FAILURE_TO_PARSE_TESTS are a run that gave no results. For that run the
# harness reports a failure, so we report FAIL.
STATUS = {
	'PASS': 'PASS', 'FAIL': 'FAIL', 'SKIP': 'SKIP', 'ERROR': 'ERROR',
	'MISS': 'MISS', 'DONE': 'DONE',
	'SUCCESS': 'PASS', 'FAILURE': 'FAIL', 'SKIPPED': 'SKIP',
	'TEST_CRASHED': 'ERROR', 'NO_TESTS': 'FAIL',
	'FAILURE_TO_PARSE_TESTS': 'FAIL',
}

# The schema's limit on a log_excerpt.
EXCERPT_MAX = 16384

_schema_cache: Optional[Dict[str, Any]] = None


def schema() -> Dict[str, Any]:
	"""The vendored schema, loaded once. Do not modify what it returns."""
	global _schema_cache
	if _schema_cache is None:
		with open(SCHEMA_FILE, encoding='utf-8') as f:
			_schema_cache = json.load(f)
	return _schema_cache


def schema_version() -> Tuple[int, int]:
	"""(major, minor) of the vendored schema. It is read from the schema's
	own version property, so swapping the file cannot leave a stale
	version number behind."""
	props = schema()['properties']['version']['properties']
	return props['major']['const'], props['minor']['maximum']


def kcidb_status(status: str) -> str:
	"""Map one harness or kunit_parser status to a KCIDB test status.

	Raises ValueError for an unknown status. A status that we do not know
	must not turn silently into a pass or a skip.
	"""
	try:
		return STATUS[status.upper()]
	except (KeyError, AttributeError):
		raise ValueError(f'unknown test status {status!r}; known: {", ".join(STATUS)}') from None


def worst(statuses: Iterable[str]) -> Optional[str]:
	"""The summary status of KCIDB statuses, i.e. the highest in PRIORITY.
	None when there are none."""
	ranks = [PRIORITY.index(s) for s in statuses]
	return PRIORITY[min(ranks)] if ranks else None


def patchset_hash(patch_paths: Sequence[str]) -> str:
	"""The checkout's patchset_hash as the schema defines it: a sha256 over
	the newline-terminated sha256 hex digests of each patch, in order, i.e.
	'sha256sum *.patch | cut -c-64 | sha256sum | cut -c-64'. The empty
	string when there are no patches."""
	if not patch_paths:
		return ''
	outer = hashlib.sha256()
	for p in patch_paths:
		with open(p, 'rb') as f:
			outer.update(hashlib.sha256(f.read()).hexdigest().encode() + b'\n')
	return outer.hexdigest()


def rfc3339(t: Union[str, datetime.datetime]) -> str:
	"""An ISO 8601 time as RFC 3339, the schema's 'date-time' format.

	A time without a UTC offset is taken as local time, since that is what
	datetime.now() and time.strftime() give. The schema has no way to say
	"local", so an offset is always written.
	"""
	d = datetime.datetime.fromisoformat(t) if isinstance(t, str) else t
	if d.tzinfo is None:
		d = d.astimezone()
	return d.isoformat()


def path_part(name: str) -> str:
	"""A name made fit for a test path (schema: ^[.a-zA-Z0-9_-]*$). This
	matters for parameterised KUnit cases, whose names carry spaces and
	punctuation. The original name is kept in the test's misc."""
	return re.sub(r'[^.a-zA-Z0-9_-]', '_', name)


def _file_uri(path: Optional[str]) -> Optional[str]:
	"""A local log path as a file:// URI, since log_url has the 'uri'
	format and a bare path is not one."""
	return pathlib.Path(os.path.abspath(path)).as_uri() if path else None


def _cmdline(t: Dict[str, Any]) -> Optional[str]:
	c = t.get('cmdline')
	if not c:
		return None
	return c if isinstance(c, str) else ' '.join(c)


def _put(obj: Dict[str, Any], key: str, value: Any) -> None:
	"""Set obj[key] unless value is None. The schema allows no nulls: data
	that is missing is left out."""
	if value is not None:
		obj[key] = value


def _excerpt(text: str) -> str:
	return text if len(text) <= EXCERPT_MAX else text[:EXCERPT_MAX - 4] + ' ...'


def make_report(run_id: str, tree_name: str, base_commit: str, patchset_hash: str,
		targets: List[Dict[str, Any]], *, git_repository_url: Optional[str] = None
		) -> Dict[str, Any]:
	"""One KCIDB document for one matrix run.

	run_id: unique to the run (e.g. a UTC timestamp, plus the patchset hash
	  for the series). It is the local part of every ID, so two runs never
	  share an object.
	tree_name: e.g. 'mainline'. base_commit: the full 40-hex commit hash
	  that the series applies to. It is written as git_commit_hash when it is
	  one, and as git_commit_name (e.g. 'v6.1.192', the Debian tarball's
	  version, which has no commit) when it is not.
	patchset_hash: '' or 64 hex digits; see patchset_hash() above.
	targets: one dict per matrix line:
	  name (str), arch (str), config_name (str),
	  status ('PASS'|'FAIL'|'SKIP'|'ERROR'), note (str),
	  start_time (ISO 8601 str or datetime, or None), duration (seconds, or
	  None), log_path (str or None), built (True/False/None: unknown),
	  cases ([('suite.case', status), ...]: every status that kcidb_status()
	  takes), and, optionally, cmdline (str or list: the kernel command line).

	The result is {version, checkouts: [1], builds: [1 per target], tests}.
	tests has one test per case, at path 'kunit.<suite>.<case>'. A target
	with no cases gets one test instead:
	  - 'boot', SKIP: built and not booted (a build-only line);
	  - 'boot', MISS: its build failed, so there was nothing to boot;
	  - 'kunit', the target's status (FAIL, ERROR, ...): booted, no cases.
	A target that has cases gets one more test, at 'kunit' with the
	target's status and note, when its status is FAIL or ERROR and no case
	is FAIL or ERROR (e.g. a kernel splat, or a timeout after the cases
	passed). Without it, that failure would be in no test status.
	"""
	if not run_id:
		raise ValueError('run_id must not be empty')
	major, minor = schema_version()
	checkout_id = f'{ORIGIN}:{run_id}'

	checkout: Dict[str, Any] = {'id': checkout_id, 'origin': ORIGIN, 'tree_name': tree_name}
	if re.fullmatch(r'[0-9a-f]{40}', base_commit):
		checkout['git_commit_hash'] = base_commit
	else:
		checkout['git_commit_name'] = base_commit
	checkout['patchset_hash'] = patchset_hash
	_put(checkout, 'git_repository_url', git_repository_url)
	# A built kernel shows that the patches applied. Without one, the
	# checkout's validity is left unsaid.
	if any(t.get('built') is True for t in targets):
		checkout['valid'] = True

	builds: List[Dict[str, Any]] = []
	tests: List[Dict[str, Any]] = []
	seen: set = set()
	for t in targets:
		name = t['name']
		if name in seen:
			raise ValueError(f'duplicate target name {name!r}')
		seen.add(name)
		status = kcidb_status(t['status'])
		note = t.get('note') or ''
		start = rfc3339(t['start_time']) if t.get('start_time') else None
		log_url = _file_uri(t.get('log_path'))
		cmdline = _cmdline(t)
		build_id = f'{checkout_id}:{name}'
		cases = [(c, kcidb_status(s)) for c, s in t.get('cases') or []]

		build: Dict[str, Any] = {
			'id': build_id, 'origin': ORIGIN, 'checkout_id': checkout_id,
			'comment': f'{name}: {note}' if note else name,
			'architecture': re.sub(r'[^a-z0-9_]', '_', t['arch'].lower()),
			'config_name': t['config_name'],
		}
		_put(build, 'start_time', start)
		_put(build, 'duration', None if t.get('duration') is None else float(t['duration']))
		_put(build, 'log_url', log_url)
		_put(build, 'valid', t.get('built'))
		if t.get('built') is False and note:
			build['log_excerpt'] = _excerpt(note)
		build['misc'] = {
			'target': name, 'arch': t['arch'], 'status': t['status'], 'note': note,
			'cases': {s: sum(1 for _, cs in cases if cs == s) for s in PRIORITY
				  if any(cs == s for _, cs in cases)},
		}
		_put(build['misc'], 'cmdline', cmdline)
		_put(build['misc'], 'log_path', t.get('log_path'))
		builds.append(build)

		environment: Optional[Dict[str, Any]] = None
		if cmdline is not None:
			environment = {'comment': f'kernel command line: {cmdline}',
				       'misc': {'target': name, 'cmdline': cmdline}}
		ids: Dict[str, int] = {}

		def test(path: str, st: str, misc: Dict[str, Any], comment: str,
			 excerpt: Optional[str] = None, whole_run: bool = False) -> None:
			"""Append one test. Its ID comes from its path, with a counter
			added when two cases clean up to the same path."""
			n = ids.get(path, 0)
			ids[path] = n + 1
			obj: Dict[str, Any] = {
				'id': f'{build_id}:{path}' + (f'#{n}' if n else ''),
				'origin': ORIGIN, 'build_id': build_id, 'path': path,
				'status': st, 'comment': comment,
			}
			_put(obj, 'environment', environment)
			_put(obj, 'log_url', log_url)
			if excerpt:
				obj['log_excerpt'] = _excerpt(excerpt)
			if whole_run:
				_put(obj, 'start_time', start)
				_put(obj, 'duration', None if t.get('duration') is None
				     else float(t['duration']))
			obj['misc'] = misc
			tests.append(obj)

		for case, st in cases:
			test('kunit.' + path_part(case), st, {'target': name, 'case': case},
			     f'{name}: {case}')

		if not cases:
			if t.get('built') is False:
				path, st = 'boot', 'MISS'
			elif status == 'SKIP':
				path, st = 'boot', 'SKIP'
			else:
				path, st = 'kunit', status
			test(path, st, {'target': name, 'status': t['status'], 'note': note},
			     f'{name}: {note}' if note else name, note, whole_run=True)
		elif status in ('FAIL', 'ERROR') and worst(s for _, s in cases) not in ('FAIL', 'ERROR'):
			test('kunit', status, {'target': name, 'status': t['status'], 'note': note},
			     f'{name}: {note}' if note else name, note, whole_run=True)

	return {
		'version': {'major': major, 'minor': minor},
		'checkouts': [checkout],
		'builds': builds,
		'tests': tests,
	}


_RFC3339 = re.compile(r'(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)')


def _is_date_time(value: object) -> bool:
	"""RFC 3339 date-time. This stands in for rfc3339-validator, which
	Debian does not package. kcidb-io has it, through jsonschema[format]."""
	if not isinstance(value, str):
		return True
	m = _RFC3339.fullmatch(value)
	if not m:
		return False
	y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
	off = m.group(8)
	if off not in ('Z', 'z') and (int(off[1:3]) > 23 or int(off[4:6]) > 59):
		return False
	if s > 60:
		return False
	try:
		# A leap second (:60) is valid RFC 3339. datetime cannot hold it.
		datetime.datetime(y, mo, d, h, mi, min(s, 59))
	except ValueError:
		return False
	return True


def _is_uri(value: object) -> bool:
	"""An absolute URI (RFC 3986: scheme ':' then no whitespace). This
	stands in for rfc3987, which kcidb-io has through jsonschema[format],
	when the machine lacks python3-rfc3987."""
	return not isinstance(value, str) or bool(re.fullmatch(r'[A-Za-z][A-Za-z0-9+.-]*:\S*', value))


def _format_checker():
	"""jsonschema's draft 7 format checker, the one that kcidb-io validates
	with. 'date-time' and 'uri' are added where this jsonschema cannot check
	them, since its optional helpers are missing: without them, a malformed
	time or URL would pass here and be refused by KCIDB."""
	import jsonschema
	base = getattr(jsonschema.Draft7Validator, 'FORMAT_CHECKER', None) or \
		jsonschema.draft7_format_checker
	fc = jsonschema.FormatChecker(formats=())
	fc.checkers = dict(base.checkers)
	if 'date-time' not in fc.checkers:
		fc.checks('date-time')(_is_date_time)
	if 'uri' not in fc.checkers:
		fc.checks('uri')(_is_uri)
	return fc


def validate(doc: Any) -> List[str]:
	"""Every error of doc against the vendored schema, as 'where: what'
	strings sorted by where. An empty list means the doc is valid.

	The validator class comes from jsonschema's validator_for(), as in
	kcidb-io's jsonschema.validate(): the schema has no $schema, so this is
	jsonschema's latest draft, the one that understands its $defs.
	"""
	import jsonschema
	s = schema()
	cls = jsonschema.validators.validator_for(s)
	v = cls(s, format_checker=_format_checker())
	errors = []
	for e in v.iter_errors(doc):
		where = '/'.join(str(p) for p in e.absolute_path) or '(root)'
		errors.append(f'{where}: {e.message}')
	return sorted(errors)


def main(argv: List[str]) -> int:
	if not argv:
		print('usage: kcidb.py REPORT.json...', file=sys.stderr)
		return 2
	bad = 0
	for path in argv:
		with open(path, encoding='utf-8') as f:
			errors = validate(json.load(f))
		for e in errors:
			print(f'{path}: {e}')
		print(f'{path}: {"valid" if not errors else f"{len(errors)} errors"} '
		      f'(KCIDB v{".".join(map(str, schema_version()))})')
		bad += bool(errors)
	return 1 if bad else 0


if __name__ == '__main__':
	sys.exit(main(sys.argv[1:]))
