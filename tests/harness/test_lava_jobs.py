# SPDX-License-Identifier: GPL-2.0
#
# The LAVA jobs (tests/lava/lava_jobs.py): the monitor patterns on console
# text as lava-dispatcher sees it (a pty's "\r\r\n", lines that arrive in
# pieces), the jobs of every QEMU line valid for lava-common's schemas, and
# the verdict of a lava-run: a real log excerpt, then the same log with a
# case result changed, a case lost, a failed job and a kernel report.

import json
import os
import re
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lava'))
import lava_jobs  # noqa: E402
import run_matrix  # noqa: E402

CASE = re.compile(lava_jobs.CASE_PATTERN)
EXAMPLE_LOG = os.path.join(HERE, 'logs', 'lava-run-example.log')
WANT = {'example': (4, 2)}
EXAMPLE = [('example', 'example_simple_test', 'pass'), ('example', 'example_skip_test', 'skip'),
	   ('example', 'example_mark_skipped_test', 'skip'),
	   ('example', 'example_all_expect_macros_test', 'pass')]


def result(text):
	m = CASE.search(text)
	return m and (lava_jobs.FIXUP[m.group('result')], m.group('test_case_id'))


@pytest.mark.parametrize('line, want', [
	('[    1.419471]     ok 1 example_simple_test\r\r\n', ('pass', 'example_simple_test')),
	('[    1.421007]     ok 2 example_skip_test # SKIP this test should be skipped\r\r\n',
	 ('skip', 'example_skip_test')),
	('[    2.000000]     not ok 3 early_contig_test_race\r\r\n', ('fail', 'early_contig_test_race')),
	('[    2.000000]     not ok 3 early_contig_test_race # SKIP why\r\n', ('fail', 'early_contig_test_race')),
	('[   12.345678]     ok 10 list_test_list_add\n', ('pass', 'list_test_list_add')),
])
def test_case_pattern(line, want):
	assert result(line) == want


@pytest.mark.parametrize('line', [
	# not yet complete: pexpect would match on it too early
	'[    1.421007]     ok 2 example_skip_test',
	'[    1.421007]     ok 2 example_skip_test # SKI',
	# a suite's own result and a parameter of a case are not cases
	'[    1.426383] ok 12 example\r\n',
	'[    1.426383]         ok 1 param one\r\n',
	'[    1.426383]     # example_skip_test: ok 2 fake\r\n',
])
def test_case_pattern_ignores(line):
	assert result(line) is None


def test_monitor_start_and_end():
	m = lava_jobs.monitors(['kunit-try-catch-test', 'example'])
	assert [x['name'] for x in m] == ['kunit-try-catch-test', 'example', 'shutdown']
	start, end = re.compile(m[1]['start']), re.compile(m[1]['end'])
	assert start.search('[ 1.0]     # Subtest: example\r\r\n')
	assert not start.search('[ 1.0]     # Subtest: example_more\r\n')
	assert end.search('[ 1.4] ok 12 example\r\r\n') and end.search('[ 1.4] not ok 12 example\r\n')
	assert not end.search('[ 1.4]     ok 1 example\r\n')
	assert not end.search('[ 1.4] ok 12 example_more\r\n')
	# a suite whose every case skipped (lib/kunit/test.c prints its directive)
	assert end.search('[ 1.4] ok 12 example # SKIP \r\r\n')
	shutdown = re.compile(m[2]['end'])
	for last in ('[ 3.9] reboot: Restarting system', '[ 1.9] Reboot failed -- System halted',
		     '[ 2.0] ---[ end Kernel panic - not syncing: Fatal exception'):
		assert shutdown.search(last)


def test_context_and_device_as_the_stock_qemu_type_renders():
	arm = ['-nodefaults', '-m 1024', '-no-reboot', '-nographic', '-serial stdio', '-machine virt',
	       '-cpu cortex-a15', '-m 2048', '-smp 2']
	ctx = lava_jobs.context('arm', arm)
	assert ctx == {'arch': 'arm', 'no_kvm': 1, 'memory': 2048, 'cpu': 'cortex-a15', 'machine': 'virt',
		       'model': 'model=virtio',
		       'extra_options': ['-nodefaults', '-no-reboot', '-serial stdio', '-smp 2']}
	opts = lava_jobs.device(ctx)['actions']['boot']['methods']['qemu']['parameters']
	assert opts['command'] == 'qemu-system-arm'
	assert opts['options'][:2] == ['-cpu cortex-a15', '-machine virt'] and '-m 2048' in opts['options']
	mb = lava_jobs.context('microblaze', ['-nodefaults', '-m 1024', '-machine petalogix-s3adsp1800'])
	# the type passes no -machine for microblaze, and no virtio NIC exists there
	assert mb['extra_options'][0] == '-machine petalogix-s3adsp1800' and 'machine' not in mb
	assert mb['model'] == 'model=xlnx.xps-ethernetlite'
	opts = lava_jobs.device(mb)['actions']['boot']['methods']['qemu']['parameters']
	assert not any(o.startswith(('-cpu', '-machine')) for o in opts['options'])


def test_split_argv():
	argv = ['qemu-system-arm', '-nodefaults', '-m', '1024', '-kernel', '/b/arch/arm/boot/zImage',
		'-append', 'mem=512M kunit.enable=1', '-no-reboot', '-nographic', '-serial', 'stdio',
		'-machine', 'virt', '-m', '2048', '-dtb', '/b/x.dtb']
	options, images, append = lava_jobs.split_argv(argv, '/b')
	assert options == ['-nodefaults', '-m 1024', '-no-reboot', '-nographic', '-serial stdio',
			   '-machine virt', '-m 2048']
	assert images == {'kernel': 'arch/arm/boot/zImage', 'dtb': 'x.dtb'}
	assert append == 'mem=512M kunit.enable=1'
	ctx = lava_jobs.context('arm', options)
	assert ctx['machine'] == 'virt' and ctx['memory'] == 2048
	assert '-machine virt' not in ctx['extra_options']


class Args:
	tree = os.path.join(run_matrix.TOP, 'build', 'tree')
	build = os.path.join(run_matrix.TOP, 'build')
	matrix = os.path.join(run_matrix.TOP, 'tests', 'kunit', 'matrix')
	expected = os.path.join(run_matrix.TOP, 'tests', 'kunit', 'expected')
	artifacts = 'https://lab.example.org/earlymm/'


needs_tree = pytest.mark.skipif(not os.path.isdir(os.path.join(Args.tree, 'tools', 'testing', 'kunit')),
				reason='needs build/tree (make tree)')


@needs_tree
def test_every_qemu_line_has_a_valid_job():
	jobs, devices = lava_jobs.generate(Args)
	lines = run_matrix.read_matrix(Args.matrix)
	assert sorted(jobs) == sorted(t.name for t in lines if t.boot in ('kunit', 'halt') and t.qemu != 'stock')
	assert 'um' not in jobs and 'ia64' not in jobs and 'memblock' not in jobs
	arm = jobs['arm']
	kernel = arm['actions'][0]['deploy']['images']['kernel']
	assert kernel['url'] == 'https://lab.example.org/earlymm/arm/arch/arm/boot/zImage'
	assert '-append "mem=512M ' in kernel['image_arg'] and 'kunit.enable=1' in kernel['image_arg']
	versatile = jobs['arm-versatile']['actions'][0]['deploy']['images']
	assert versatile['dtb']['url'].endswith('/arm-versatile/arch/arm/boot/dts/versatile-pb.dtb')
	assert 'slub_debug=FZPU' in jobs['microblaze-slub_debug']['actions'][0]['deploy']['images']['kernel']['image_arg']
	want = lava_jobs.expected.read(Args.expected)
	for name, j in jobs.items():
		suites = [m['name'] for m in j['actions'][2]['test']['monitors']]
		assert suites == list(want[name]) + ['shutdown'], name
		assert devices[j['metadata']['earlymm.machine']] == lava_jobs.device(j['context'])
	assert set(devices) == {'earlymm-arm-virt', 'earlymm-arm-versatilepb', 'earlymm-microblaze'}


@needs_tree
def test_schema_rejects_a_broken_job():
	jobs, devices = lava_jobs.generate(Args)
	del jobs['arm']['actions'][2]['test']['monitors'][0]['pattern']
	with pytest.raises(ValueError, match='job arm'):
		lava_jobs.validate({'arm': jobs['arm']}, {})
	devices['earlymm-arm-virt'].pop('constants')
	with pytest.raises(ValueError, match='device earlymm-arm-virt'):
		lava_jobs.validate({}, devices)


def entries():
	return lava_jobs.lava_log(EXAMPLE_LOG)


def test_judge_real_log():
	cases, problems = lava_jobs.judge('arm-versatile', 0, entries(), EXAMPLE, WANT)
	assert cases == EXAMPLE
	assert problems == []


def test_judge_differences():
	direct = [(s, c, 'pass' if c == 'example_skip_test' else r) for s, c, r in EXAMPLE]
	_, problems = lava_jobs.judge('arm-versatile', 0, entries(), direct + [('example', 'gone', 'pass')], WANT)
	assert problems == ['only through LAVA: example.example_skip_test skip',
			    'only in the direct run: example.example_skip_test pass',
			    'only in the direct run: example.gone pass']


def with_entry(e, **msg):
	e = list(e)
	e.insert(-1, {'lvl': msg.pop('lvl', 'results'), 'msg': msg.pop('text', msg)})
	return e


def test_judge_failed_case_and_job():
	e = [x for x in entries() if not (x['lvl'] == 'results' and x['msg'].get('case') == 'job')]
	e = with_entry(e, case='example_new', definition='example', result='fail')
	e.append({'lvl': 'results', 'msg': {'case': 'job', 'definition': 'lava', 'result': 'fail'}})
	_, problems = lava_jobs.judge('arm-versatile', 1, e, EXAMPLE + [('example', 'example_new', 'fail')], WANT)
	assert problems == ['lava-run exit 1, job result fail', '1 case(s) failed: example.example_new']


def test_judge_kernel_report():
	e = with_entry(entries(), lvl='target', text='[    1.500000] BUG kmalloc-64 (Not tainted): Redzone overwritten')
	_, problems = lava_jobs.judge('arm-versatile', 0, e, EXAMPLE, WANT)
	assert len(problems) == 1 and 'kernel report' in problems[0] and 'Redzone' in problems[0]


def test_judge_no_results():
	e = [x for x in entries() if x['lvl'] != 'results']
	_, problems = lava_jobs.judge('arm-versatile', 0, e, EXAMPLE, WANT)
	assert problems[0] == 'lava-run exit 0, job result missing'
	assert problems[1:] == [f'only in the direct run: {s}.{c} {r}' for s, c, r in sorted(EXAMPLE)] + \
		['suite example missing (expected 4 cases)']


def test_judge_a_lab_log_against_expected():
	# No direct run (a lab): a lost case and a pass turned skip still fail.
	e = [x for x in entries() if not (x['lvl'] == 'results' and x['msg'].get('case') == 'example_simple_test')]
	_, problems = lava_jobs.judge('arm-versatile', 0, e, None, WANT)
	assert problems == ['suite example ran 3 of 4 cases']
	e = [dict(x, msg=dict(x['msg'], result='skip')) if x['lvl'] == 'results'
	     and x['msg'].get('case') == 'example_simple_test' else x for x in entries()]
	_, problems = lava_jobs.judge('arm-versatile', 0, e, None, WANT)
	assert problems == ['suite example passed 1 of 4 cases, expected 2']


def test_an_unreadable_test_result_fails(tmp_path):
	p = tmp_path / 'log'
	p.write_text('{"lvl": "results", "msg": {"case": "x", "definition": "example", "size": ! "1"}}\n')
	e = lava_jobs.lava_log(str(p))
	assert e[0]['lvl'] == 'unreadable'
	p.write_text('{"lvl": "results", "msg": {"case": "file-download", "definition": "lava", "size": ! "1"}}\n')
	assert lava_jobs.lava_log(str(p)) == []


def test_judge_without_a_direct_run():
	cases, problems = lava_jobs.judge('arm-versatile', 0, entries(), None, WANT)
	assert cases == EXAMPLE and problems == []


def test_a_labs_yaml_log(tmp_path):
	import yaml
	p = tmp_path / 'lab.yaml'
	p.write_text(yaml.safe_dump(entries()))
	assert lava_jobs.lava_log(str(p)) == entries()


def test_log_lines_that_are_not_json_are_skipped(tmp_path):
	p = tmp_path / 'log'
	p.write_text('garbage\n' + json.dumps({'lvl': 'info', 'msg': 'x'}) + '\n[1, 2]\n')
	assert lava_jobs.lava_log(str(p)) == [{'lvl': 'info', 'msg': 'x'}]
