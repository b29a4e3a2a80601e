# SPDX-License-Identifier: GPL-2.0
#
# What runs side by side to keep a cold CI run inside its budget, and must
# stay correct doing so: the compilers build in the background while the
# lines that need none run (run_matrix.Toolchains), check-bisect builds a
# patch's kernels at once (check_builds.build_side_by_side), and checkpatch
# runs on several patches at once (check_series.checkpatch_all). Each must
# give the same verdicts, in the same order, as one at a time.

import os
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'tests', 'kunit'))
sys.path.insert(0, os.path.join(TOP, 'tests', 'check'))
import check_builds  # noqa: E402
import check_series  # noqa: E402
import run_matrix as rm  # noqa: E402


def line(name, arch):
	return rm.Target(name, arch, 'kunit', ['kunit'], 'stock', [], 300, build=name, expected=name)


class FakeBuild:
	"""A toolchains.sh that ends with rc when told to."""
	started = []

	def __init__(self, cmd, env=None):
		FakeBuild.started.append((os.path.basename(cmd[0]), cmd[1:], env['JOBS']))
		self.rc = 0 if cmd[1] == 'microblaze' else 1
		self.returncode = None
		self.waited = False

	def poll(self):
		return self.returncode

	def wait(self):
		self.waited = True
		self.returncode = self.rc
		return self.rc


def test_toolchains_build_in_the_background(monkeypatch):
	FakeBuild.started = []
	monkeypatch.setattr(rm.subprocess, 'Popen', FakeBuild)
	tc = rm.Toolchains([line('arm', 'arm'), line('microblaze', 'microblaze'),
			    line('microblaze-slab', 'microblaze'), line('ia64', 'ia64'), line('um', 'um')], 2)
	# One build per arch that needs one, one core each, none waited for yet
	assert sorted(FakeBuild.started) == [('toolchains.sh', ['ia64'], '1'),
					     ('toolchains.sh', ['microblaze'], '1')]
	assert not any(b.waited for b in tc.builds.values())
	# arm and um need none: they run while the compilers build
	assert tc.problem(None) is None
	assert not any(b.waited for b in tc.builds.values())
	# The first microblaze line waits for its compiler, which was built
	assert tc.problem('microblaze') is None
	assert tc.builds['microblaze'].waited and not tc.builds['ia64'].waited
	# A failed build is an error of each line of its arch
	assert 'scripts/toolchains.sh ia64 failed' in tc.problem('ia64')
	assert 'scripts/toolchains.sh ia64 failed' in tc.problem('ia64')


def test_toolchains_none_needed(monkeypatch):
	FakeBuild.started = []
	monkeypatch.setattr(rm.subprocess, 'Popen', FakeBuild)
	tc = rm.Toolchains([line('arm', 'arm'), line('um', 'um')], 2)
	assert FakeBuild.started == [] and tc.problem(None) is None


def test_bisect_builds_side_by_side(monkeypatch, tmp_path):
	"""Three builds of a second each end in about a second, not three, and
	each keeps its own exit code, log and time, in target order."""
	monkeypatch.setattr(check_builds, 'BUILD', str(tmp_path))
	rcs = {'arm': 0, 'microblaze': 2, 'ia64': 0}

	def configure(t, tree, out, jobs):
		os.makedirs(out, exist_ok=True)
		return ['sh', '-c', f'echo building {t.name}; date +%s.%N >start; sleep 1; date +%s.%N >end;'
			f' exit {rcs[t.name]}', 'make']

	monkeypatch.setattr(check_builds, 'configure', configure)
	monkeypatch.setattr(check_builds, 'toolchain_env', lambda arch: dict(os.environ))
	targets = [line(a, a) for a in ('arm', 'microblaze', 'ia64')]
	monkeypatch.chdir(tmp_path)
	got = check_builds.build_side_by_side(targets, 'tree', 2)
	assert [(t.name, rc) for t, _, rc, _ in got] == [('arm', 0), ('microblaze', 2), ('ia64', 0)]
	for t, logfile, _, secs in got:
		assert secs > 0.9
		assert logfile == str(tmp_path / 'bisect' / 'out' / t.name / 'build.log')
		with open(logfile) as f:
			assert f.read() == f'building {t.name}\n'


def test_bisect_builds_overlap(monkeypatch, tmp_path):
	"""Each build started before any ended (the load of the machine does
	not matter, only the order)."""
	monkeypatch.setattr(check_builds, 'BUILD', str(tmp_path))

	def configure(t, tree, out, jobs):
		os.makedirs(out, exist_ok=True)
		return ['sh', '-c', f'date +%s.%N >{out}/start; sleep 1; date +%s.%N >{out}/end', 'make']

	monkeypatch.setattr(check_builds, 'configure', configure)
	monkeypatch.setattr(check_builds, 'toolchain_env', lambda arch: dict(os.environ))
	targets = [line(a, a) for a in ('arm', 'microblaze', 'ia64')]
	check_builds.build_side_by_side(targets, 'tree', 2)
	out = tmp_path / 'bisect' / 'out'
	starts = [float((out / a / 'start').read_text()) for a in ('arm', 'microblaze', 'ia64')]
	ends = [float((out / a / 'end').read_text()) for a in ('arm', 'microblaze', 'ia64')]
	assert max(starts) < min(ends)


def test_bisect_target_that_cannot_be_configured_starts_no_build(monkeypatch, tmp_path):
	monkeypatch.setattr(check_builds, 'BUILD', str(tmp_path))
	started = []

	def configure(t, tree, out, jobs):
		if t.name == 'ia64':
			raise SystemExit('check: build/out/ia64/.config missing')
		os.makedirs(out, exist_ok=True)
		return ['true']

	monkeypatch.setattr(check_builds, 'configure', configure)
	monkeypatch.setattr(check_builds.subprocess, 'Popen', lambda *a, **k: started.append(a))
	try:
		check_builds.build_side_by_side([line(a, a) for a in ('arm', 'microblaze', 'ia64')], 'tree', 2)
	except SystemExit:
		pass
	assert started == []


def test_checkpatch_all_keeps_the_order(monkeypatch):
	def issues(tree, path, name):
		time.sleep(0.05 * (5 - int(name)))	# the first ends last
		return [f'{path}: {name}']

	monkeypatch.setattr(check_series, 'checkpatch_issues', issues)
	jobs = [(f'p{i}', str(i)) for i in range(5)]
	tree = os.environ.get('TREE', os.path.join(TOP, 'build', 'tree'))
	assert check_series.checkpatch_all(tree, jobs) == [[f'p{i}: {i}'] for i in range(5)]



def test_checkpatch_all_writes_the_camelcase_cache_first():
	"""Before checkpatches run side by side, the cache of CamelCase names
	they all read exists (written whole by one checkpatch)."""
	import glob
	tree = os.environ.get('TREE', os.path.join(TOP, 'build', 'tree'))
	for f in glob.glob(os.path.join(tree, '.checkpatch-camelcase.*')):
		os.unlink(f)
	assert check_series.checkpatch_all(tree, []) == []
	assert glob.glob(os.path.join(tree, '.checkpatch-camelcase.git.*'))


def test_bisect_builds_the_last_patch_first(monkeypatch):
	"""From the top down to the first changed patch: the first build is the
	tree make test built (ccache's direct hits), each next one takes back a
	patch."""
	commits = [f'c{i}' for i in range(1, 7)]
	monkeypatch.setattr(check_builds.subprocess, 'run', lambda cmd, **k: type('P', (), {
		'stdout': '\n'.join(commits) if 'rev-list' in cmd else f'subject of {cmd[-1]}', 'returncode': 0})())
	monkeypatch.setattr(check_builds, 'bisect_start', lambda since: (3, [], [(f'p{i}', b'') for i in range(6)]))
	built = []
	monkeypatch.setattr(check_builds, 'tree_at', lambda name, rev: built.append(rev) or 'tree')
	monkeypatch.setattr(check_builds, 'build_side_by_side', lambda targets, tree, jobs: [])
	check_builds.check_bisect([line('arm', 'arm')], 2, 'since')
	assert built == ['c6', 'c5', 'c4']
