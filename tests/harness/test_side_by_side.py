# SPDX-License-Identifier: GPL-2.0
#
# What runs side by side to keep a cold CI run inside its budget, and must
# stay correct doing so: the compilers build in the background while the
# lines that need none run (run_matrix.Toolchains), check-bisect builds a
# patch's kernels at once (check_builds.build_side_by_side), and checkpatch
# runs on several patches at once (check_series.checkpatch_all). Each must
# give the same verdicts, in the same order, as one at a time.

import os
import subprocess
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
		return ['sh', '-c', f'echo building {t.name}; sleep 1; exit {rcs[t.name]}', 'make']

	monkeypatch.setattr(check_builds, 'configure', configure)
	monkeypatch.setattr(check_builds, 'toolchain_env', lambda arch: dict(os.environ))
	targets = [line(a, a) for a in ('arm', 'microblaze', 'ia64')]
	t0 = time.monotonic()
	got = check_builds.build_side_by_side(targets, 'tree', 2)
	assert time.monotonic() - t0 < 2.5
	assert [(t.name, rc) for t, _, rc, _ in got] == [('arm', 0), ('microblaze', 2), ('ia64', 0)]
	for t, logfile, _, secs in got:
		assert 0.9 < secs < 2.5
		assert logfile == str(tmp_path / 'bisect' / 'out' / t.name / 'build.log')
		with open(logfile) as f:
			assert f.read() == f'building {t.name}\n'


def test_checkpatch_all_keeps_the_order(monkeypatch):
	def issues(tree, path, name):
		time.sleep(0.05 * (5 - int(name)))	# the first ends last
		return [f'{path}: {name}']

	monkeypatch.setattr(check_series, 'checkpatch_issues', issues)
	jobs = [(f'p{i}', str(i)) for i in range(5)]
	assert check_series.checkpatch_all('tree', jobs) == [[f'p{i}: {i}'] for i in range(5)]


def git(repo, *args):
	return subprocess.run(['git', '-C', str(repo)] + list(args), check=True, text=True,
			      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.strip()


def test_a_new_bisect_tree_starts_from_the_objects_of_make_test(monkeypatch, tmp_path):
	"""The files in which the patch to build differs from build/tree are
	newer than the copied objects, every other file older: make rebuilds
	those and what they reach. A kernel built before build/tree last
	changed is not copied: it builds whole."""
	top = tmp_path / 'tree'
	top.mkdir()
	git(top, 'init', '-q')
	for f, text in (('a.c', 'a\n'), ('b.c', 'b\n'), ('Kconfig', 'k\n')):
		(top / f).write_text(text)
	git(top, 'add', '-A')
	git(top, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'patch 1')
	rev = git(top, 'rev-parse', 'HEAD')
	(top / 'b.c').write_text('b, as patch 2 has it\n')
	(top / 'c.c').write_text('new in patch 2\n')
	git(top, 'add', '-A')
	git(top, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'patch 2')
	build = tmp_path / 'build'
	for name, age in (('arm', 0), ('ia64', -3600)):
		out = build / 'out' / name
		out.mkdir(parents=True)
		(out / 'obj.o').write_text('object\n')
		(out / 'vmlinux').write_text('kernel\n')
		os.utime(out / 'vmlinux', (time.time() + age,) * 2)
	old_out = build / 'bisect' / 'out' / 'arm'
	old_out.mkdir(parents=True)
	(old_out / 'stale.o').write_text('from another run\n')
	monkeypatch.setattr(check_builds, 'BUILD', str(build))
	monkeypatch.setattr(check_builds, 'TREE', str(top))
	bisect = build / 'bisect' / 'tree'
	git(top, 'worktree', 'add', '-q', '--detach', str(bisect), rev)
	before = time.time() - 1

	seeded = check_builds.seed_from_top([line('arm', 'arm'), line('ia64', 'ia64')], str(bisect), rev)
	assert seeded == ['arm']
	assert sorted(os.listdir(build / 'bisect' / 'out' / 'arm')) == ['obj.o', 'vmlinux']
	assert not (build / 'bisect' / 'out' / 'ia64').exists()
	assert os.path.getmtime(bisect / 'a.c') == 1 and os.path.getmtime(bisect / 'Kconfig') == 1
	assert os.path.getmtime(bisect / 'b.c') >= before
	assert not (bisect / 'c.c').exists()
