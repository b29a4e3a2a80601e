# SPDX-License-Identifier: GPL-2.0
#
# Tests of tests/kunit/kcidb.py, the matrix's KCIDB report. Run with Debian's
# python (python3-jsonschema and python3-pytest):
#	/usr/bin/python3 -m pytest tests/harness/test_kcidb.py
#
# Each report is checked against the vendored upstream schema. The broken
# documents prove that the check can fail: a validator that accepts
# everything would pass every test of a valid report.

import copy
import hashlib
import os
import re
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'tests', 'kunit'))

import kcidb  # noqa: E402

# The base tree is Debian's linux-source-6.1 tarball (scripts/lib.sh): no git
# commit, so the checkout names it (git_commit_name) instead of hashing it.
BASE = 'v6.1.192'
A_COMMIT = '0123456789abcdef0123456789abcdef01234567'
PATCHSET = 'a' * 64


def targets():
	"""One target of each kind that the matrix produces."""
	return [
		# Booted, cases ran, all passed but one skip.
		dict(name='arm-slab', arch='arm', config_name='kunit,slab,arm,early-kmalloc',
		     status='PASS', note='', start_time='2024-05-01T10:00:00+00:00', duration=81.5,
		     log_path='/work/main/build/out/arm-slab/test.log', built=True,
		     cmdline=['slab_nomerge', 'earlymm.test=1'],
		     cases=[('slab_mapping.page_mapping_slab', 'PASS'),
			    ('slab_mapping.page_mapping_large', 'PASS'),
			    ('early_kmalloc.alloc_before_mm_init', 'PASS'),
			    ('early_kmalloc.highmem', 'SKIP')]),
		# Booted, one case failed (kunit_parser names, as collect() has them).
		dict(name='um-slub', arch='um', config_name='kunit,slub,um',
		     status='FAIL', note='', start_time='2024-05-01T10:02:00+00:00', duration=20.0,
		     log_path='/work/main/build/out/um-slub/test.log', built=True, cmdline='',
		     cases=[('slab_mapping.page_mapping_slab', 'SUCCESS'),
			    ('slab_mapping.page_mapping_large', 'FAILURE'),
			    ('contig_alloc.beyond_vmalloc', 'TEST_CRASHED')]),
		# Build-only line: built and sparse-checked, not booted.
		dict(name='ia64', arch='ia64', config_name='kunit,slub,ia64,early-kmalloc',
		     status='SKIP', note='ia64: built, not booted (no emulator); sparse: 0 warnings in 5 files',
		     start_time='2024-05-01T10:03:00+00:00', duration=300.0, log_path=None, built=True,
		     cases=[]),
		# Booted, then the harness lost it: no cases.
		dict(name='microblaze-slob', arch='microblaze', config_name='kunit,slob,microblaze',
		     status='ERROR', note='TIMEOUT: no KTAP end after 600 s',
		     start_time='2024-05-01T10:08:00+00:00', duration=600.0,
		     log_path='/work/main/build/out/microblaze-slob/test.log', built=True,
		     cmdline=['console=ttyUL0'], cases=[]),
	]


def report(ts=None):
	return kcidb.make_report('20240501T100000Z-aaaaaaaa', 'linux-source-6.1', BASE, PATCHSET,
				 targets() if ts is None else ts)


def by_target(doc, name):
	return [t for t in doc['tests'] if t['misc']['target'] == name]


# The vendored schema


def test_vendored_schema_is_untouched():
	"""The README records the sha256 of the copy that was made from
	upstream. A hand edit changes the hash."""
	d = os.path.dirname(kcidb.SCHEMA_FILE)
	with open(os.path.join(d, 'README.md')) as f:
		recorded = re.search(r'sha256 of `kcidb-io-v4\.5\.json` \| `([0-9a-f]{64})`', f.read()).group(1)
	with open(kcidb.SCHEMA_FILE, 'rb') as f:
		assert hashlib.sha256(f.read()).hexdigest() == recorded


def test_schema_version_and_statuses():
	assert kcidb.schema_version() == (4, 5)
	s = kcidb.schema()
	assert s['$defs']['status']['enum'] == list(kcidb.PRIORITY)
	assert s['properties']['version']['required'] == ['major']


# A realistic report


def test_realistic_report_validates():
	doc = report()
	assert kcidb.validate(doc) == []
	assert doc['version'] == {'major': 4, 'minor': 5}


def test_one_checkout_one_build_per_target():
	doc = report()
	assert len(doc['checkouts']) == 1
	c = doc['checkouts'][0]
	assert c['id'] == 'earlymm:20240501T100000Z-aaaaaaaa' and c['origin'] == 'earlymm'
	assert c['git_commit_name'] == BASE and 'git_commit_hash' not in c
	assert c['patchset_hash'] == PATCHSET and c['tree_name'] == 'linux-source-6.1'
	assert [b['misc']['target'] for b in doc['builds']] == [t['name'] for t in targets()]
	assert all(b['checkout_id'] == c['id'] for b in doc['builds'])


def test_test_count_is_cases_plus_one_per_caseless_target():
	ts = targets()
	doc = report(ts)
	expected = sum(len(t['cases']) or 1 for t in ts)
	assert len(doc['tests']) == expected == 4 + 3 + 1 + 1
	for t in ts:
		assert len(by_target(doc, t['name'])) == (len(t['cases']) or 1)


def test_ids_follow_the_pattern_and_are_unique():
	doc = report()
	objs = doc['checkouts'] + doc['builds'] + doc['tests']
	ids = [o['id'] for o in objs]
	assert all(re.fullmatch(r'earlymm:.+', i) for i in ids)
	assert len(set(ids)) == len(ids)
	build_ids = {b['id'] for b in doc['builds']}
	assert all(t['build_id'] in build_ids for t in doc['tests'])
	assert all(o['origin'] == 'earlymm' for o in objs)


def test_case_statuses_map_onto_the_schema():
	doc = report()
	got = {(t['misc']['target'], t['misc'].get('case')): t['status'] for t in doc['tests']}
	assert got[('arm-slab', 'slab_mapping.page_mapping_slab')] == 'PASS'
	assert got[('arm-slab', 'early_kmalloc.highmem')] == 'SKIP'
	assert got[('um-slub', 'slab_mapping.page_mapping_slab')] == 'PASS'
	assert got[('um-slub', 'slab_mapping.page_mapping_large')] == 'FAIL'
	assert got[('um-slub', 'contig_alloc.beyond_vmalloc')] == 'ERROR'


def test_caseless_targets_get_one_test_with_the_note():
	doc = report()
	(ia64,) = by_target(doc, 'ia64')
	assert (ia64['path'], ia64['status']) == ('boot', 'SKIP')
	assert ia64['log_excerpt'].startswith('ia64: built, not booted')
	assert ia64['misc']['note'] == targets()[2]['note']
	(mb,) = by_target(doc, 'microblaze-slob')
	assert (mb['path'], mb['status']) == ('kunit', 'ERROR')
	assert 'TIMEOUT' in mb['log_excerpt'] and 'TIMEOUT' in mb['comment']
	assert mb['start_time'] == '2024-05-01T10:08:00+00:00' and mb['duration'] == 600.0


def test_builds_carry_arch_config_validity_and_log():
	doc = report()
	b = {x['misc']['target']: x for x in doc['builds']}
	assert b['arm-slab']['architecture'] == 'arm'
	assert b['arm-slab']['config_name'] == 'kunit,slab,arm,early-kmalloc'
	assert b['arm-slab']['valid'] is True
	assert b['arm-slab']['log_url'] == 'file:///work/main/build/out/arm-slab/test.log'
	assert b['arm-slab']['misc']['cases'] == {'PASS': 3, 'SKIP': 1}
	assert 'log_url' not in b['ia64']
	assert b['microblaze-slob']['misc']['note'] == 'TIMEOUT: no KTAP end after 600 s'


def test_kernel_command_line_is_in_the_environment():
	doc = report()
	t = by_target(doc, 'arm-slab')[0]
	assert t['environment']['comment'] == 'kernel command line: slab_nomerge earlymm.test=1'
	assert t['environment']['misc']['cmdline'] == 'slab_nomerge earlymm.test=1'
	assert all('environment' not in t for t in by_target(doc, 'ia64'))
	assert all('environment' not in t for t in by_target(doc, 'um-slub'))	# cmdline ''


# Statuses


@pytest.mark.parametrize('given, want', [
	('PASS', 'PASS'), ('FAIL', 'FAIL'), ('SKIP', 'SKIP'), ('ERROR', 'ERROR'),
	('pass', 'PASS'), ('MISS', 'MISS'), ('DONE', 'DONE'),
	('SUCCESS', 'PASS'), ('FAILURE', 'FAIL'), ('SKIPPED', 'SKIP'),
	('TEST_CRASHED', 'ERROR'), ('NO_TESTS', 'FAIL'), ('FAILURE_TO_PARSE_TESTS', 'FAIL'),
])
def test_status_map(given, want):
	assert kcidb.kcidb_status(given) == want
	assert want in kcidb.schema()['$defs']['status']['enum']


@pytest.mark.parametrize('bad', ['OK', 'TIMEOUT', '', None])
def test_unknown_status_is_refused(bad):
	with pytest.raises(ValueError):
		kcidb.kcidb_status(bad)
	ts = targets()
	ts[0]['cases'] = [('suite.case', bad)]
	with pytest.raises(ValueError):
		report(ts)


@pytest.mark.parametrize('built, want', [(True, True), (False, False), (None, None)])
def test_build_valid(built, want):
	ts = targets()[:1]
	ts[0]['built'] = built
	b = report(ts)['builds'][0]
	assert b.get('valid') is want


def test_failed_build_is_a_missed_boot():
	ts = targets()[:1]
	ts[0].update(status='FAIL', built=False, cases=[], log_path=None,
		     note='make vmlinux failed (see build/out/arm-slab/build.log)')
	doc = report(ts)
	assert kcidb.validate(doc) == []
	assert doc['builds'][0]['valid'] is False
	assert doc['builds'][0]['log_excerpt'].startswith('make vmlinux failed')
	(t,) = doc['tests']
	assert (t['path'], t['status']) == ('boot', 'MISS')
	assert 'valid' not in doc['checkouts'][0]	# no kernel built: not known


def test_target_failure_beyond_its_cases_gets_a_summary_test():
	"""A splat (or a timeout) after every case passed fails the target. That
	failure needs a test of its own, or no test status would show it."""
	ts = targets()[:1]
	ts[0].update(status='FAIL', note='1 kernel splat(s), first: BUG: Bad page state')
	doc = report(ts)
	assert kcidb.validate(doc) == []
	assert len(doc['tests']) == len(ts[0]['cases']) + 1
	last = doc['tests'][-1]
	assert (last['path'], last['status']) == ('kunit', 'FAIL')
	assert 'splat' in last['log_excerpt']
	assert kcidb.worst(t['status'] for t in doc['tests']) == 'FAIL'


def test_odd_case_names_become_valid_unique_paths():
	ts = targets()[:1]
	ts[0]['cases'] = [('suite.param 1: size=8, align=64', 'PASS'),
			  ('suite.param 1; size=8, align=64', 'FAIL'),
			  ('suite.ünïcode', 'SKIP')]
	doc = report(ts)
	assert kcidb.validate(doc) == []
	paths = [t['path'] for t in doc['tests']]
	assert paths[0] == paths[1] == 'kunit.suite.param_1__size_8__align_64'
	assert len({t['id'] for t in doc['tests']}) == 3
	assert doc['tests'][1]['misc']['case'] == 'suite.param 1; size=8, align=64'


def test_base_that_is_a_full_hash_is_the_commit_hash():
	doc = kcidb.make_report('r1', 'mainline', A_COMMIT, '', targets())
	c = doc['checkouts'][0]
	assert c['git_commit_hash'] == A_COMMIT and 'git_commit_name' not in c
	assert kcidb.validate(doc) == []


def test_naive_start_time_gets_an_offset():
	ts = targets()[:1]
	ts[0]['start_time'] = '2024-05-01T10:00:00'
	doc = report(ts)
	assert re.search(r'[+-]\d\d:\d\d$', doc['builds'][0]['start_time'])
	assert kcidb.validate(doc) == []


def test_duplicate_target_names_are_refused():
	ts = targets()
	ts[1]['name'] = ts[0]['name']
	with pytest.raises(ValueError):
		report(ts)


def test_patchset_hash_as_the_schema_defines_it(tmp_path):
	p1, p2 = tmp_path / '0001-a.patch', tmp_path / '0002-b.patch'
	p1.write_bytes(b'one\n')
	p2.write_bytes(b'two\n')
	inner = ''.join(hashlib.sha256(b).hexdigest() + '\n' for b in (b'one\n', b'two\n'))
	want = hashlib.sha256(inner.encode()).hexdigest()
	assert kcidb.patchset_hash([str(p1), str(p2)]) == want
	assert kcidb.patchset_hash([]) == ''
	doc = report()
	doc['checkouts'][0]['patchset_hash'] = want
	assert kcidb.validate(doc) == []


def test_real_series_patchset_hash_validates():
	"""The series' own patches hash to a value that the schema accepts."""
	with open(os.path.join(TOP, 'series')) as f:
		names = [l.split('#', 1)[0].split()[0] for l in f if l.split('#', 1)[0].split()]
	h = kcidb.patchset_hash([os.path.join(TOP, 'patches', n) for n in names])
	assert re.fullmatch(r'[0-9a-f]{64}', h)
	assert kcidb.validate(kcidb.make_report('r', 'mainline', BASE, h, targets())) == []


# Broken documents: the validator is not vacuous


def broken(edit):
	doc = copy.deepcopy(report())
	edit(doc)
	return kcidb.validate(doc)


@pytest.mark.parametrize('edit, expect', [
	(lambda d: d['builds'][0].update(id='arm-slab'), r"builds/0/id: 'arm-slab' does not match"),
	(lambda d: d['tests'][0].update(build_id=':x'), r"tests/0/build_id: ':x' does not match"),
	(lambda d: d['builds'][0].update(origin='EarlyMM'), r"builds/0/origin: 'EarlyMM' does not match"),
	(lambda d: d['tests'][0].update(status='OK'), r"tests/0/status: 'OK' is not one of"),
	(lambda d: d['tests'][1].pop('build_id'), r"tests/1: 'build_id' is a required property"),
	(lambda d: d['builds'][2].pop('checkout_id'), r"builds/2: 'checkout_id' is a required property"),
	(lambda d: d.pop('version'), r"\(root\): 'version' is a required property"),
	(lambda d: d['version'].update(minor=6), r'version/minor: 6 is greater than the maximum of 5'),
	(lambda d: d['version'].update(major=5), r'version/major: 4 was expected'),
	(lambda d: d['builds'][0].update(valid='yes'), r"builds/0/valid: 'yes' is not of type 'boolean'"),
	(lambda d: d['tests'][0].update(comment=None), r"tests/0/comment: None is not of type 'string'"),
	(lambda d: d['tests'][0].update(verdict='PASS'), r"tests/0: Additional properties are not allowed"),
	(lambda d: d['tests'][0].update(path='kunit.a b'), r"tests/0/path: 'kunit.a b' does not match"),
	(lambda d: d['builds'][0].update(architecture='x86-64'), r"builds/0/architecture: 'x86-64' does not match"),
	(lambda d: d['checkouts'][0].update(git_commit_hash='abc123'), r"checkouts/0/git_commit_hash"),
	(lambda d: d['checkouts'][0].update(patchset_hash='xyz'), r"checkouts/0/patchset_hash"),
	(lambda d: d['builds'][0].update(start_time='2024-05-01 10:00'),
	 r"builds/0/start_time: '2024-05-01 10:00' is not a 'date-time'"),
	(lambda d: d['tests'][0].update(start_time='2024-02-30T00:00:00Z'), r"is not a 'date-time'"),
	(lambda d: d['builds'][0].update(log_url='build/out/x.log'),
	 r"builds/0/log_url: 'build/out/x.log' is not a 'uri'"),
	(lambda d: d['tests'][0].update(log_excerpt='x' * 16385), r'tests/0/log_excerpt: .* is too long'),
])
def test_broken_document_gives_errors(edit, expect):
	errors = broken(edit)
	assert errors, 'the validator accepted a broken document'
	assert any(re.search(expect, e) for e in errors), errors


def test_several_faults_are_all_reported():
	def edit(d):
		d['builds'][0]['id'] = 'bad'
		d['tests'][0]['status'] = 'OK'
		d['tests'][1].pop('origin')
	errors = broken(edit)
	assert len(errors) == 3, errors


def test_not_a_report_at_all():
	assert kcidb.validate([]) != []
	assert kcidb.validate({}) == ["(root): 'version' is a required property"]
	assert kcidb.validate({'version': {'major': 4}}) == []	# the smallest valid one


def test_command_line_validator(tmp_path, capsys):
	import json
	good, bad = tmp_path / 'good.json', tmp_path / 'bad.json'
	good.write_text(json.dumps(report()))
	bad.write_text(json.dumps({'version': {'major': 4, 'minor': 99}}))
	assert kcidb.main([str(good)]) == 0
	assert kcidb.main([str(good), str(bad)]) == 1
	out = capsys.readouterr().out
	assert 'good.json: valid (KCIDB v4.5)' in out and 'bad.json: 1 errors' in out
