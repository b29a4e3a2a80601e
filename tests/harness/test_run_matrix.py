# SPDX-License-Identifier: GPL-2.0
#
# The runner's verdict, fed crafted kernel logs and results: a report, a
# missing suite, a run cut short, a harness fault, a filter that matches
# nothing and stale files must each end the line as they should, and the
# table and closing line must always be printed.

import os
import re
import shlex
import subprocess
import sys
import types

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, 'tests', 'kunit'))
import expected  # noqa: E402
import run_matrix as rm  # noqa: E402

TREE = os.environ.get('TREE', os.path.join(TOP, 'build', 'tree'))


def line(name='arm', boot='kunit', arch='arm'):
	return rm.Target(name, arch, boot, ['kunit'], 'stock', [], 300, build=name, expected=name)


def ktap_log(suites, stop_after=None, extra=''):
	"""A kernel log as kunit.py keeps it: boot lines, then KTAP for suites
	(name -> list of case statuses 'ok'/'not ok'/'skip'), optionally cut
	after stop_after cases, and extra lines (a splat) before the end."""
	out = ['[    0.000000] Booting Linux on physical CPU 0x0',
	       '[    1.000000] KTAP version 1', f'[    1.000000] 1..{len(suites)}']
	n = 0
	for i, (suite, cases) in enumerate(suites.items(), 1):
		out += ['[    1.000000]     KTAP version 1', f'[    1.000000]     # Subtest: {suite}',
			f'[    1.000000]     1..{len(cases)}']
		for j, c in enumerate(cases, 1):
			if stop_after is not None and n == stop_after:
				return '\n'.join(out + [extra]) + '\n'
			n += 1
			if c == 'skip':
				out.append(f'[    1.000000]     ok {j} {suite}_case{j} # SKIP not here')
			else:
				out.append(f'[    1.000000]     {c} {j} {suite}_case{j}')
		ok = 'not ok' if 'not ok' in cases else 'ok'
		out.append(f'[    1.000000] {ok} {i} {suite}')
	out += [extra, '[    2.000000] reboot: System halted']
	return '\n'.join(out) + '\n'


@pytest.fixture(scope='module')
def parser():
	assert os.path.isdir(os.path.join(TREE, 'tools', 'testing', 'kunit')), \
		f'no kernel tree at {TREE}: run make tree first'
	return rm.kunit_modules(TREE)


def check(parser, tmp_path, log, want, suite=None, name='arm', wanted_args=None):
	f = tmp_path / 'test.log'
	f.write_text(log)
	res = rm.Result(line(name))
	rm.check_kunit_log(line(name), str(f), parser, want, suite, res, wanted_args)
	rm.verdict(res)
	return res


SUITES = {'alpha': ['ok', 'ok', 'skip'], 'beta': ['ok', 'ok']}
WANT = {'alpha': (3, 2), 'beta': (2, 2)}


def test_clean_run_passes(parser, tmp_path):
	res = check(parser, tmp_path, ktap_log(SUITES), WANT)
	assert (res.status, res.passed, res.failed, res.skipped) == ('PASS', 4, 0, 1), res.note
	assert [c.name for c in res.cases][:2] == ['alpha_case1', 'alpha_case2']


def test_redzone_report_fails_a_passing_run(parser, tmp_path):
	log = ktap_log(SUITES, extra='[    1.5] BUG kmalloc-64 (Not tainted): Redzone overwritten')
	res = check(parser, tmp_path, log, WANT)
	assert res.status == 'FAIL' and res.failed == 1 and 'Redzone overwritten' in res.note


def test_lockdep_report_fails_a_passing_run(parser, tmp_path):
	log = ktap_log(SUITES, extra='[    1.5] WARNING: possible circular locking dependency detected')
	res = check(parser, tmp_path, log, WANT)
	assert res.status == 'FAIL' and 'circular locking' in res.note


def test_missing_suite_fails(parser, tmp_path):
	res = check(parser, tmp_path, ktap_log({'alpha': SUITES['alpha']}), WANT)
	assert res.status == 'FAIL' and 'suite beta missing (expected 2 cases)' in res.note


def test_suites_in_another_order_fail(parser, tmp_path):
	# The LAVA jobs wait for the suites in tests/kunit/expected's order.
	res = check(parser, tmp_path, ktap_log({'beta': SUITES['beta'], 'alpha': SUITES['alpha']}), WANT)
	assert res.status == 'FAIL' and 'suites ran in another order than listed: beta before alpha' in res.note
	assert res.shortfalls, 'make expected may record a new order'


def test_fewer_cases_fail(parser, tmp_path):
	res = check(parser, tmp_path, ktap_log({'alpha': ['ok', 'ok'], 'beta': ['ok', 'ok']}), WANT)
	assert res.status == 'FAIL' and 'suite alpha ran 2 of 3 cases' in res.note


def test_run_cut_short_fails(parser, tmp_path):
	res = check(parser, tmp_path, ktap_log(SUITES, stop_after=2), WANT)
	assert res.status == 'FAIL' and res.failed >= 1
	assert 'suite beta missing' in res.note


def test_all_skipped_suite_fails(parser, tmp_path):
	res = check(parser, tmp_path, ktap_log({'alpha': ['skip'] * 3, 'beta': ['ok', 'ok']}), WANT)
	assert res.status == 'FAIL' and 'suite alpha skipped every case' in res.note


def test_case_turned_skip_fails(parser, tmp_path):
	res = check(parser, tmp_path, ktap_log({'alpha': ['ok', 'skip', 'skip'], 'beta': ['ok', 'ok']}), WANT)
	assert res.status == 'FAIL' and 'suite alpha passed 1 of 3 cases, expected 2' in res.note


def test_filter_naming_an_expected_suite_the_kernel_lacks_fails(parser, tmp_path):
	log = '[ 1.0] KTAP version 1\n[ 1.0] 1..0\n[ 2.0] reboot: System halted\n'
	res = check(parser, tmp_path, log, WANT, suite='beta')
	assert res.status == 'FAIL' and 'suite beta missing' in res.note


def test_filter_on_one_case_checks_presence_only(parser, tmp_path):
	res = check(parser, tmp_path, ktap_log({'alpha': ['ok']}), WANT, suite='alpha.alpha_case1')
	assert res.status == 'PASS', res.note
	res = check(parser, tmp_path, ktap_log({'beta': ['ok']}), WANT, suite='alpha.alpha_case1')
	assert res.status == 'FAIL' and "no suite matching 'alpha.alpha_case1' ran" in res.note


def test_filter_typo_is_refused(tmp_path):
	want = tmp_path / 'expected'
	want.write_text('arm  alpha  3 2\n')
	args = types.SimpleNamespace(matrix=os.path.join(TOP, 'tests', 'kunit', 'matrix'), target='arm',
				     arch='all', configs='', suite='alhpa', expected=str(want), plan=True,
				     tree='/nonexistent')
	with pytest.raises(ValueError, match="matches no suite"):
		rm.prepare(args)


def test_filter_on_a_suite_an_extra_fragment_adds_is_allowed(tmp_path):
	# make bench-contig: configs/bench.config adds contig_alloc_bench
	want = tmp_path / 'expected'
	want.write_text('arm  alpha  3 2\n')
	args = types.SimpleNamespace(matrix=os.path.join(TOP, 'tests', 'kunit', 'matrix'), target='arm',
				     arch='all', configs='bench', suite='contig_alloc_bench', expected=str(want),
				     plan=True, tree='/nonexistent')
	targets, _ = rm.prepare(args)
	assert [t.name for t in targets] == ['arm+bench']


def test_filter_on_an_unlisted_suite_fails_when_it_does_not_run(parser, tmp_path):
	res = check(parser, tmp_path, ktap_log({'alpha': ['ok']}), WANT, suite='contig_alloc_bench')
	assert res.status == 'FAIL' and "no suite matching 'contig_alloc_bench' ran" in res.note
	res = check(parser, tmp_path, ktap_log({'contig_alloc_bench': ['ok']}), WANT,
		    suite='contig_alloc_bench')
	assert res.status == 'PASS', res.note


def test_cut_command_line_fails(parser, tmp_path):
	log = ('[ 0.0] Kernel command line: early_contig=a:4M kunit.filter_glob=alpha kunit_shutdown=re\n'
	       + ktap_log(SUITES))
	res = check(parser, tmp_path, log, WANT, 'alpha',
		    wanted_args=['early_contig=a:4M', 'kunit.filter_glob=alpha', rm.KUNIT_SHUTDOWN])
	assert res.status == 'FAIL' and 'losing kunit_shutdown=reboot' in res.note


def test_boot_args_end_with_the_arch_s_shutdown():
	args = types.SimpleNamespace(kernel_args=['x=1'], suite='alpha')
	assert rm.boot_args(line('um', arch='um'), args)[-1] == 'kunit_shutdown=halt'
	assert rm.boot_args(line(), args)[-2:] == ['kunit.filter_glob=alpha', 'kunit_shutdown=reboot']


def test_whole_command_line_passes(parser, tmp_path):
	log = '[ 0.0] Kernel command line: a=1 kunit_shutdown=reboot\n' + ktap_log(SUITES)
	res = check(parser, tmp_path, log, WANT, wanted_args=['a=1', rm.KUNIT_SHUTDOWN])
	assert res.status == 'PASS', res.note


def test_no_ktap_fails(parser, tmp_path):
	res = check(parser, tmp_path, '[ 0.0] Booting Linux\n[ 9.9] Kernel halted\n', WANT)
	assert res.status == 'FAIL' and 'no KTAP results' in res.note


def test_no_log_fails(parser, tmp_path):
	res = rm.Result(line())
	rm.check_kunit_log(line(), str(tmp_path / 'none.log'), parser, WANT, None, res)
	rm.verdict(res)
	assert res.status == 'FAIL' and res.failed == 1


def test_filter_limits_expectations(parser, tmp_path):
	res = check(parser, tmp_path, ktap_log({'beta': ['ok', 'ok']}), WANT, suite='bet*')
	assert res.status == 'PASS', res.note


def test_filter_matching_no_expected_suite_skips_before_building(tmp_path):
	args = types.SimpleNamespace(suite='slub_test', build=str(tmp_path), jobs=1, kernel_args=None)
	res = rm.run_target(line('microblaze-slab', 'halt', 'microblaze'), '/nonexistent', args, WANT)
	rm.verdict(res)
	assert res.status == 'SKIP' and "'slub_test'" in res.note
	assert not (tmp_path / 'out').exists()


def test_line_without_expectations_fails_but_is_clean():
	res = rm.Result(line('new-line'), passed=3, no_expected=True)
	rm.verdict(res)
	assert res.status == 'FAIL' and 'no expected suites for new-line' in res.note
	assert res.clean, 'a new line must be able to seed make expected'
	res = rm.Result(line('new-line'), passed=3, no_expected=True, problems=['a splat'])
	rm.verdict(res)
	assert not res.clean


@pytest.mark.parametrize('fields, status, failed, skipped', [
	(dict(passed=3), 'PASS', 0, 0),
	(dict(passed=3, failed=1), 'FAIL', 1, 0),
	(dict(passed=3, problems=['a splat']), 'FAIL', 1, 0),
	(dict(skip='no emulator'), 'SKIP', 0, 1),
	(dict(passed=3, skip='no emulator', problems=['make vmlinux failed']), 'FAIL', 1, 0),
	(dict(error='KeyError: x'), 'ERROR', 1, 0),
	(dict(), 'FAIL', 1, 0),
])
def test_verdict(fields, status, failed, skipped):
	res = rm.Result(line(), **fields)
	rm.verdict(res)
	assert (res.status, res.failed, res.skipped) == (status, failed, skipped)
	assert res.status in rm.STATUSES


def test_harness_fault_is_error_and_the_run_goes_on(tmp_path, capsys):
	lines = [line('arm'), line('broken'), line('ia64', 'build', 'ia64')]
	(tmp_path / 'broken.ktap').write_text('stale: from an earlier run\n')
	(tmp_path / 'broken.json').write_text('stale KernelCI JSON\n')

	def run(t):
		if t.name == 'broken':
			raise KeyError('boom')
		if t.boot == 'build':
			return rm.Result(t, skip='ia64: built, not booted (no emulator)', built=True)
		return rm.Result(t, passed=5, cases=[rm.Case('s', f'c{i}', 'PASS') for i in range(5)])

	assert rm.run_lines(lines, run, str(tmp_path)) is True
	out = capsys.readouterr().out
	assert re.search(r'^broken\s+arm\s+ERROR .*harness error: KeyError', out, re.M)
	assert re.search(r'^arm\s+arm\s+PASS', out, re.M)
	assert out.rstrip().splitlines()[-1] == '5 passed, 1 failed, 1 skipped'
	assert (tmp_path / 'summary').read_text() == '5 passed, 1 failed, 1 skipped\n'
	assert not (tmp_path / 'broken.json').exists()
	assert 'stale' not in (tmp_path / 'broken.ktap').read_text()
	for t in lines:
		for suffix in ('.ktap', '.junit.xml', '.result.json'):
			assert (tmp_path / (t.name + suffix)).exists(), t.name + suffix
	junit = (tmp_path / 'ia64.junit.xml').read_text()
	assert '<skipped message="ia64: built, not booted (no emulator)"/>' in junit
	assert '<failure message="ERROR">' in (tmp_path / 'broken.junit.xml').read_text()


def test_a_shortfall_fails_but_may_be_recorded(parser, tmp_path):
	"""A suite removed on purpose: the line fails, naming it, yet the run
	is clean, so make expected can record it for review."""
	res = check(parser, tmp_path, ktap_log({'alpha': SUITES['alpha']}), WANT)
	assert res.status == 'FAIL' and res.clean


def test_junit_is_valid_xml_whatever_the_console_printed():
	import xml.dom.minidom
	res = rm.Result(line(), passed=1, cases=[rm.Case('s', 'a\x1bb', 'FAIL', 'log \x00\x07 text')],
			problems=['1 kernel report(s): WARNING: CPU: 0 at x.c:1 \x1b[31mred\x00'])
	rm.verdict(res)
	xml.dom.minidom.parseString(rm.junit_xml(res))


def test_a_simulator_suite_is_a_valid_filter():
	args = types.SimpleNamespace(matrix=os.path.join(TOP, 'tests', 'kunit', 'matrix'), target=None,
				     arch='host', configs='', suite='memblock', expected=expected.EXPECTED,
				     plan=True, tree='/nonexistent')
	targets, _ = rm.prepare(args)
	assert [t.name for t in targets] == ['memblock']


def test_plan_skips_the_simulator_for_a_kunit_filter(capsys):
	args = types.SimpleNamespace(suite='slub_test')
	want = {'memblock': {'memblock': (150, 150)}}
	t = rm.Target('memblock', 'host', 'sim', ['-'], 'tools/testing/memblock', [], 120,
		      build='memblock', expected='memblock')
	assert rm.plan([t], want, args) == 0
	assert 'SKIP' in capsys.readouterr().out


def test_a_work_tree_that_is_not_the_series_is_not_clean(tmp_path):
	tree = tmp_path / 'tree'
	subprocess.run(['git', 'init', '-q', str(tree)], check=True)
	(tree / 'f').write_text('1\n')
	git = ['git', '-C', str(tree), '-c', 'user.name=t', '-c', 'user.email=t@t']
	subprocess.run(git + ['add', 'f'], check=True)
	subprocess.run(git + ['commit', '-qm', 'base'], check=True)
	subprocess.run(git + ['update-ref', 'refs/earlymm/synced', 'HEAD'], check=True)
	assert rm.tree_is_the_series(str(tree))
	(tree / 'f').write_text('2\n')
	assert not rm.tree_is_the_series(str(tree))
	subprocess.run(git + ['commit', '-qam', 'not exported'], check=True)
	assert not rm.tree_is_the_series(str(tree))


def test_failure_outside_cases_is_in_junit():
	res = rm.Result(line(), passed=1, cases=[rm.Case('s', 'c', 'PASS')], problems=['1 kernel report line(s)'])
	rm.verdict(res)
	assert 'name="verdict"' in rm.junit_xml(res) and '1 kernel report line(s)' in rm.junit_xml(res)


def test_simulator_output():
	res = rm.Result(line('memblock', 'sim', 'host'))
	rm.read_simulator('memblock', 'ok 1 : memblock_add\nnot ok 2 : memblock_remove\n', res)
	rm.verdict(res)
	assert (res.status, res.passed, res.failed) == ('FAIL', 1, 1)
	assert 'not ok 2 memblock_remove' in ''.join(res.ktap)


def test_matrix_and_cmdline():
	targets = rm.read_matrix(os.path.join(TOP, 'tests', 'kunit', 'matrix'))
	names = [t.name for t in targets]
	assert len(names) == len(set(names))
	by = {t.name: t for t in targets}
	# lines that differ only in their command line share a build
	assert by['arm-highmem'].build == 'arm'
	assert 'mem=512M' in by['arm'].cmdline and 'mem=512M' not in by['arm-highmem'].cmdline
	assert by['arm-versatile-slub_debug'].build == 'arm-versatile'
	assert 'slub_debug=FZPU' in by['arm-versatile-slub_debug'].cmdline
	assert any(a.startswith('early_contig=') for a in by['arm'].cmdline)


def test_fragments_name_configs_and_the_trees_kunitconfigs():
	"""NAME is configs/NAME.config; +PATH is the work tree's PATH.kunitconfig,
	and every kernel line builds the series' suites from those files."""
	t = rm.Target('x', 'arm', 'kunit', ['kunit', '+mm/early_contig'], 'stock', [], 300)
	assert rm.fragment_paths(t, '/tree') == [os.path.join(TOP, 'configs', 'kunit.config'),
						  '/tree/mm/early_contig.kunitconfig']
	for line in rm.read_matrix(os.path.join(TOP, 'tests', 'kunit', 'matrix')):
		if line.boot == 'sim':
			continue
		# arm-debug: early kmalloc alone, under every slab debug feature
		if 'early-debug' in line.fragments:
			assert '+mm/early_kmalloc' in line.fragments
			continue
		assert {'+mm/slab_mapping', '+mm/early_contig', '+mm/contig_alloc'} <= set(line.fragments)


def test_plan_names_a_kunitconfig_missing_from_the_tree(tmp_path, capsys):
	"""A line whose suite kunitconfig the work tree lacks (a series without
	that patch) is an ERROR before anything is built."""
	m = tmp_path / 'matrix'
	m.write_text('um um kunit kunit,+mm/no_such_suite stock - 300\n')
	args = types.SimpleNamespace(matrix=str(m), target=None, arch='all', configs='', suite=None,
				     expected=str(tmp_path / 'none'), plan=True, tree=str(tmp_path))
	targets, _ = rm.prepare(args)
	assert rm.plan(targets, {'um': {}}, args) == 1
	assert 'no work tree' in capsys.readouterr().out
	(tmp_path / '.git').mkdir()
	assert rm.plan(targets, {'um': {}}, args) == 1
	assert 'ERROR missing build' not in capsys.readouterr().out.replace(str(tmp_path), 'build')


@pytest.mark.parametrize('frag', ['+/etc/passwd', '+../outside', '+mm/../../x'])
def test_a_kunitconfig_fragment_stays_in_the_tree(tmp_path, frag):
	m = tmp_path / 'matrix'
	m.write_text(f'um um kunit kunit,{frag} stock - 300\n')
	with pytest.raises(ValueError, match='inside the work tree'):
		rm.read_matrix(str(m))


def test_debug_is_refused_on_early_kmalloc_lines():
	"""SLUB_DEBUG_ON excludes EARLY_KMALLOC in Kconfig: kunit.py would stop
	on a missing option; say why before anything is built."""
	args = types.SimpleNamespace(matrix=os.path.join(TOP, 'tests', 'kunit', 'matrix'), target=None,
				     arch='arm', configs='debug', suite=None, expected=expected.EXPECTED,
				     plan=True, tree='/nonexistent')
	with pytest.raises(ValueError, match='early kmalloc lines .*arm-highmem'):
		rm.prepare(args)
	args.target, args.arch = 'arm-versatile', 'all'
	assert [t.name for t in rm.prepare(args)[0]] == ['arm-versatile+debug']


def test_matrix_rejects_a_short_line(tmp_path):
	m = tmp_path / 'matrix'
	m.write_text('arm arm kunit kunit,slub stock -\n')
	with pytest.raises(ValueError, match='7 columns'):
		rm.read_matrix(str(m))


def test_expected_covers_every_line_that_runs_cases():
	want = expected.read()
	for t in rm.read_matrix(os.path.join(TOP, 'tests', 'kunit', 'matrix')):
		if t.counted:
			assert want.get(t.name), f'{t.name}: no expected suites'


def readme_make_test_examples():
	with open(os.path.join(TOP, 'README')) as f:
		# "make test && make expected": the make test part
		return [l.split('&&')[0].strip() for l in f if re.match(r'^\s{4}make test\b', l)]


@pytest.mark.parametrize('example', readme_make_test_examples())
def test_readme_example_plans_cleanly(example):
	"""Every 'make test ...' of the README names lines, suites and
	fragments that exist, and none of its lines would fail for want of
	expectations: the runner's --plan, as make would call it."""
	argv = shlex.split(example, comments=True)[1:]
	p = subprocess.run(['make', '--no-print-directory', '-n'] + argv, cwd=TOP,
			   stdout=subprocess.PIPE, text=True, check=True)
	cmd = next(l for l in p.stdout.splitlines() if 'run_matrix.py' in l)
	p = subprocess.run(cmd + ' --plan', shell=True, cwd=TOP, stdout=subprocess.PIPE,
			   stderr=subprocess.STDOUT, text=True)
	assert p.returncode == 0, p.stdout
	assert p.stdout.strip(), 'plan printed nothing'


def test_a_whole_run_leaves_no_result_of_a_removed_line(tmp_path):
	for f in ('summary', 'kcidb.json', 'arm.result.json', 'arm-slub_debug.result.json', 'arm-slub_debug.ktap'):
		(tmp_path / f).write_text('x')
	assert rm.stale_results(str(tmp_path), False) == ['kcidb.json', 'summary']
	assert rm.stale_results(str(tmp_path), True) == sorted(os.listdir(tmp_path))
	class Args:
		arch, target, suite, configs, kernel_args = 'all', None, None, '', None
	assert rm.whole_matrix(Args)
	Args.target = 'arm'
	assert not rm.whole_matrix(Args)
