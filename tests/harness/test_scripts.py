"""Tests of the shell side of the harness: scripts/*.sh and .ci/run.

No network, no root, no real compiler build: every test works in its own
temporary directory, with a scratch EARLYMM_CACHE, and with fake dpkg-query,
apt-get, apt-cache, tar, make and patch first on PATH where a script would
otherwise reach the machine, so a test never installs a package or starts a
15-minute gcc build.

Run: /usr/bin/python3 -m pytest tests/harness
EARLYMM_TEST_TOP=/some/checkout runs them against that checkout's scripts
(to show which of them an older version fails).
"""
import os
import re
import shutil
import subprocess
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

TOP = Path(os.environ.get('EARLYMM_TEST_TOP') or Path(__file__).resolve().parents[2])
REAL_TAR = shutil.which('tar')

# The versions of this project's machines, so the keys below read as there.
DPKG_VERSIONS = {
	'gcc-12-source': '12.2.0-14+deb12u1',
	'binutils-source': '2.40-2',
	'binutils-ia64-linux-gnu': '2.40-2',
}


def lib_setting(name):
	"""A NAME=value setting of scripts/lib.sh."""
	m = re.search(rf'^{name}=(\S+)$', (TOP / 'scripts' / 'lib.sh').read_text(), re.M)
	assert m, f'{name} not in lib.sh'
	return m.group(1)


def write_exe(path, text):
	path.write_text(textwrap.dedent(text).lstrip())
	path.chmod(0o755)


FAKE_DPKG_QUERY = r'''
#!/usr/bin/python3
# dpkg-query -W [-f=FORMAT] PKG...: every package installed (version from
# FAKE_DPKG_VERSIONS, "P=V P=V"), except those in FAKE_DPKG_MISSING.
import os, sys
with open(os.environ['FAKE_DPKG_LOG'], 'a') as f:
	f.write(' '.join(sys.argv[1:]) + '\n')
missing = set(os.environ.get('FAKE_DPKG_MISSING', '').split())
vers = dict(kv.split('=', 1) for kv in os.environ.get('FAKE_DPKG_VERSIONS', '').split())
fmt, pkgs, args = '${Package}\t${Version}\n', [], sys.argv[1:]
while args:
	a = args.pop(0)
	if a.startswith('-f=') or a.startswith('--showformat='):
		fmt = a.split('=', 1)[1]
	elif a in ('-f', '--showformat'):
		fmt = args.pop(0)
	elif not a.startswith('-'):
		pkgs.append(a)
fmt = fmt.replace('\\n', '\n').replace('\\t', '\t')
rc = 0
for p in pkgs:
	if p in missing:
		print(f'dpkg-query: no packages found matching {p}', file=sys.stderr)
		rc = 1
		continue
	sys.stdout.write(fmt.replace('${Package}', p).replace('${Version}', vers.get(p, '1.0-1'))
			 .replace('${Status}', 'install ok installed'))
sys.exit(rc)
'''

# A build step of the recipe, logged to FAKE_LOG instead of run. configure
# leaves its arguments for make, which "installs" what the next step runs.
FAKE_TAR = r'''
#!/bin/bash
echo "tar $*" >>"$FAKE_LOG"
while [ $# -gt 0 ]; do [ "$1" = -C ] && dir=$2; shift; done
for src in binutils-2.40 gcc-12.2.0-dfsg; do
	mkdir -p "$dir/$src"
	cat >"$dir/$src/configure" <<'EOS'
#!/bin/bash
echo "configure $(basename "$(dirname "$0")") CFLAGS=$CFLAGS CXXFLAGS=$CXXFLAGS $*" >>"$FAKE_LOG"
printf '%s\n' "$@" >fake-configure.args
sleep "${FAKE_SLEEP:-0}"
EOS
	chmod +x "$dir/$src/configure"
done
'''
FAKE_MAKE = r'''
#!/bin/bash
echo "make $*" >>"$FAKE_LOG"
prefix=$(sed -n 's/^--prefix=//p' fake-configure.args)
target=$(sed -n 's/^--target=//p' fake-configure.args)
mkdir -p "$prefix/bin"
for goal; do
	case $goal in
	install-strip) tool=as ;;
	install-strip-gcc) tool=gcc ;;
	*) continue ;;
	esac
	printf '#!/bin/sh\necho "%s-%s (fake) 12.2.0"\n' "$target" "$tool" >"$prefix/bin/$target-$tool"
	chmod +x "$prefix/bin/$target-$tool"
done
'''
FAKE_PATCH = r'''
#!/bin/bash
echo "patch $*" >>"$FAKE_LOG"
'''


@pytest.fixture
def env(tmp_path):
	"""A scratch cache and home, and fakes of the package tools first on PATH."""
	fake = tmp_path / 'fakebin'
	fake.mkdir()
	write_exe(fake / 'dpkg-query', FAKE_DPKG_QUERY)
	# Anything that would reach the archive fails, loudly, in the log.
	for tool in ('apt-get', 'apt-cache', 'sudo'):
		write_exe(fake / tool, f'''
			#!/bin/bash
			echo "{tool} $*" >>"$FAKE_LOG"
			exit 100
			''')
	e = {k: v for k, v in os.environ.items()
	     if not k.startswith(('EARLYMM_', 'LINUX_TARBALL', 'JOBS', 'TREE'))}
	e.update(PATH=f'{fake}:{os.environ["PATH"]}', HOME=str(tmp_path / 'home'),
		 XDG_CACHE_HOME=str(tmp_path / 'home' / '.cache'),
		 EARLYMM_CACHE=str(tmp_path / 'cache'), JOBS='2',
		 EARLYMM_BUILD=str(tmp_path / 'top' / 'build'),  # as in top, below
		 FAKE_LOG=str(tmp_path / 'fake.log'), FAKE_DPKG_LOG=str(tmp_path / 'dpkg.log'),
		 FAKE_DPKG_VERSIONS=' '.join(f'{k}={v}' for k, v in DPKG_VERSIONS.items()),
		 GIT_AUTHOR_NAME='t', GIT_AUTHOR_EMAIL='t@invalid',
		 GIT_COMMITTER_NAME='t', GIT_COMMITTER_EMAIL='t@invalid')
	e['FAKEBIN'] = str(fake)
	return e


@pytest.fixture
def build_env(env):
	"""env, with a fake recipe: tar, make and patch that only log."""
	fake = Path(env['FAKEBIN'])
	write_exe(fake / 'tar', FAKE_TAR)
	write_exe(fake / 'make', FAKE_MAKE)
	write_exe(fake / 'patch', FAKE_PATCH)
	return env


@pytest.fixture
def top(tmp_path):
	"""A copy of the repository's scripts (and .ci), with an empty series."""
	t = tmp_path / 'top'
	shutil.copytree(TOP / 'scripts', t / 'scripts')
	shutil.copytree(TOP / '.ci', t / '.ci')
	(t / 'patches').mkdir()
	(t / 'series').write_text('# empty\n')
	return t


def run(cmd, env, **kw):
	return subprocess.run([str(c) for c in cmd], env=env, text=True,
			      stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, **kw)


def log_lines(env, name='FAKE_LOG'):
	p = Path(env[name])
	return p.read_text().splitlines() if p.exists() else []


def wait_for(pred, what, timeout=30):
	t = time.time() + timeout
	while not pred():
		assert time.time() < t, f'timed out waiting for {what}'
		time.sleep(0.05)


# -- 6. one series parser ----------------------------------------------------

def test_series_sh_prints_the_names(tmp_path, env):
	(tmp_path / 'series').write_text(
		'# a comment\n\n0001-a.patch\n0002-b.patch -p1\n  0003-c.patch   # why\n'
		'0004-d.patch\t-p1 # both\n0005-e.patch')  # no newline at the end
	p = run([TOP / 'scripts' / 'series.sh', tmp_path], env)
	assert p.returncode == 0, p.stderr
	assert p.stdout.splitlines() == [f'000{i}-{c}.patch' for i, c in enumerate('abcde', 1)]


def test_series_sh_refuses_other_than_p1(tmp_path, env):
	(tmp_path / 'series').write_text('0001-a.patch\n0002-b.patch -p0\n')
	p = run([TOP / 'scripts' / 'series.sh', tmp_path], env)
	assert p.returncode != 0
	assert p.stdout == ''  # not half a series
	assert '0002-b.patch' in p.stderr and '-p1' in p.stderr


def test_series_sh_without_series_fails(tmp_path, env):
	p = run([TOP / 'scripts' / 'series.sh', tmp_path], env)
	assert p.returncode != 0 and 'series' in p.stderr


def test_series_sh_defaults_to_the_top(env):
	p = run([TOP / 'scripts' / 'series.sh'], env)
	assert p.returncode == 0, p.stderr
	names = [ln.split()[0] for ln in (TOP / 'series').read_text().splitlines()
		 if ln.split() and not ln.startswith('#')]
	assert p.stdout.splitlines() == names


def test_series_patches_parses_the_dir_it_is_given(tmp_path, env):
	"""lib.sh's series_patches, used by apply/tree/export, is the same parser."""
	(tmp_path / 'series').write_text('x.patch # c\ny.patch -p1\n')
	p = run(['bash', '-c', '. "$1"; series_patches "$2"', '_',
		 TOP / 'scripts' / 'lib.sh', tmp_path], env)
	assert p.returncode == 0, p.stderr
	assert p.stdout.splitlines() == [f'{tmp_path}/patches/x.patch', f'{tmp_path}/patches/y.patch']


# -- 4. check-setup.sh ---------------------------------------------------------

def make_base_repo(env):
	"""What fetch-linux.sh leaves in the cache: the pinned tree, tagged base."""
	repo = Path(env['EARLYMM_CACHE']) / f'{lib_setting("LINUX_DEB_PKG")}-{lib_setting("LINUX_DEB_VERSION")}'
	repo.mkdir(parents=True)
	(repo / 'Makefile').write_text('kernelversion:\n\t@echo 6.1.192\n')
	(repo / '.gitignore').write_text('*.o\n')
	for c in (['init', '-q'], ['add', '-A'], ['commit', '-qm', 'base'], ['tag', 'base']):
		subprocess.run(['git', '-C', repo] + c, env=env, check=True)
	(repo / 'earlymm-complete').touch()
	return repo


def test_check_setup_without_tree_says_run_make_setup(env):
	p = run([TOP / 'scripts' / 'check-setup.sh'], env)
	assert p.returncode != 0
	assert p.stdout == ''
	lines = p.stderr.splitlines()
	assert len(lines) == 1, p.stderr
	assert "run 'make setup'" in lines[0] and 'tree' in lines[0]


def test_check_setup_names_missing_packages(env):
	make_base_repo(env)
	env['FAKE_DPKG_MISSING'] = 'sparse qemu-system-arm'
	p = run([TOP / 'scripts' / 'check-setup.sh'], env)
	assert p.returncode != 0
	lines = p.stderr.splitlines()
	assert len(lines) == 1, p.stderr
	assert 'sparse' in lines[0] and 'qemu-system-arm' in lines[0]
	assert "run 'make setup'" in lines[0]


def test_check_setup_passes_quietly_with_one_dpkg_query(env):
	make_base_repo(env)
	p = run([TOP / 'scripts' / 'check-setup.sh'], env)
	assert (p.returncode, p.stdout, p.stderr) == (0, '', '')
	assert len(log_lines(env, 'FAKE_DPKG_LOG')) == 1


# -- 1. setup builds no compiler; toolchains.sh builds them on demand ---------

def test_setup_builds_no_compiler(top, build_env):
	env = build_env
	make_base_repo(env)
	p = run([top / 'scripts' / 'setup.sh'], env)
	assert p.returncode == 0, p.stderr
	assert '[work tree] done' in p.stderr
	assert (top / 'build' / 'tree' / '.git').is_dir()
	assert not (Path(env['EARLYMM_CACHE']) / 'toolchains').exists()
	assert not [ln for ln in log_lines(env) if ln.startswith(('configure', 'make', 'tar'))]


def test_toolchains_sh_builds_the_missing_side_by_side(top, build_env):
	env = build_env
	p = run([top / 'scripts' / 'toolchains.sh', 'arm', 'microblaze', 'ia64', 'um'], env)
	assert p.returncode == 0, p.stderr
	assert p.stdout == ''
	tc = Path(env['EARLYMM_CACHE']) / 'toolchains'
	done = sorted(d.name.split('-gcc_')[0] for d in tc.iterdir() if (d / '.complete').exists())
	assert done == ['ia64-linux-gnu', 'microblaze-linux']
	makes = [ln for ln in log_lines(env) if ln.startswith('make -j')]
	assert makes and all(ln.startswith('make -j1') for ln in makes)  # JOBS=2, two builds
	before = log_lines(env)
	p = run([top / 'scripts' / 'toolchains.sh', 'microblaze', 'ia64'], env)
	assert (p.returncode, p.stdout) == (0, '')
	assert log_lines(env) == before  # cached: nothing built again


def test_toolchains_sh_needs_nothing_for_arm_and_um(top, build_env):
	p = run([top / 'scripts' / 'toolchains.sh', 'arm', 'um'], build_env)
	assert (p.returncode, p.stdout, p.stderr) == (0, '', '')
	assert log_lines(build_env) == []


def test_toolchains_sh_refuses_an_unknown_arch(top, build_env):
	p = run([top / 'scripts' / 'toolchains.sh', 'microblaze', 'sparc'], build_env)
	assert p.returncode != 0
	assert p.stdout == ''
	assert "'sparc'" in p.stderr
	assert log_lines(build_env) == []  # refused before building anything


# -- 3. the toolchain key -----------------------------------------------------

def key(top, env, arch='microblaze'):
	p = run([top / 'scripts' / 'build-toolchain.sh', '--key', arch], env)
	assert p.returncode == 0, p.stderr
	return p.stdout.strip()


def edit(path, old, new):
	text = path.read_text()
	assert old in text, f'{old!r} not in {path}'
	path.write_text(text.replace(old, new, 1))


def test_toolchain_key_names_versions_and_recipe(top, env):
	k = key(top, env)
	assert re.fullmatch(r'microblaze-linux-gcc_12\.2\.0-14_deb12u1-binutils_2\.40-2-recipe_[0-9a-f]{12}', k), k
	assert re.fullmatch(r'ia64-linux-gnu-gcc_12\.2\.0-14_deb12u1-binutils_2\.40-2-recipe_[0-9a-f]{12}',
			    key(top, env, 'ia64'))
	assert not Path(env['EARLYMM_CACHE']).exists()  # --key builds nothing


def test_toolchain_key_ignores_comments(top, env):
	k = key(top, env)
	script = top / 'scripts' / 'build-toolchain.sh'
	edit(script, 'gcc_build() {\n', 'gcc_build() {\n\t# a new comment\n\n')
	edit(script, 'GCC_MAKE=(', '# another comment\nGCC_MAKE=(')
	edit(script, '# The DFSG tarball', '# Note: the DFSG tarball')
	assert key(top, env) == k


@pytest.mark.parametrize('old,new', [
	('--disable-libquadmath ', ''),                    # a configure flag
	('all-gcc all-target-libgcc', 'all-gcc'),           # a make goal
	('patch -p2 -i', 'patch -p1 -i'),                   # a step
	('HOST_CFLAGS=-O2', 'HOST_CFLAGS=-O3'),             # the compiler's own flags
])
def test_toolchain_key_follows_the_recipe(top, env, old, new):
	k = key(top, env)
	edit(top / 'scripts' / 'build-toolchain.sh', old, new)
	assert key(top, env) != k


def test_toolchain_key_follows_package_versions(top, env):
	k = key(top, env)
	env['FAKE_DPKG_VERSIONS'] += ' gcc-12-source=12.2.0-14+deb12u2'
	assert key(top, env) != k


def test_toolchain_key_hashes_the_whole_recipe():
	"""Every variable and function between the RECIPE markers is in
	recipe_hash's lists: one left out could change unnoticed."""
	text = (TOP / 'scripts' / 'build-toolchain.sh').read_text()
	recipe = text.split('# ---- RECIPE:')[1].split('# ---- END RECIPE')[0]
	defined = set(re.findall(r'^([A-Za-z_]\w*)=', recipe, re.M))
	defined |= set(re.findall(r'^([A-Za-z_]\w*)\(\) \{', recipe, re.M))
	body = re.search(r'^recipe_hash\(\) \{\n(.*?)^\}', text, re.M | re.S).group(1)
	hashed = set(re.findall(r'[A-Za-z_]\w*', body))
	assert defined and defined <= hashed, defined - hashed


def normalized(env, lines):
	"""The recipe's commands, with the cache's directories named."""
	cache = re.escape(env['EARLYMM_CACHE'])
	out = []
	for ln in lines:
		if not ln.startswith(('configure', 'make', 'patch')):
			continue
		ln = re.sub(cache + r'/toolchains/\.work-[^/\s]+', 'WORK', ln)
		out.append(re.sub(cache + r'/toolchains/[^/\s]+', 'PREFIX', ln))
	return out


GCC_FLAGS = ('--disable-lto --enable-languages=c --without-headers --with-newlib --disable-shared '
	     '--disable-threads --disable-libssp --disable-libgomp --disable-libquadmath '
	     '--disable-libatomic --disable-multilib --disable-nls --disable-bootstrap '
	     '--disable-libsanitizer --disable-libvtv --disable-libstdcxx')


@pytest.mark.parametrize('arch,want', [
	('microblaze', [
		'configure binutils-2.40 CFLAGS=-O2 CXXFLAGS=-O2 --prefix=PREFIX --target=microblaze-linux '
		'--disable-nls --disable-werror --disable-gdb --disable-gdbserver --disable-sim --disable-gprofng',
		'make -j1',
		'make install-strip',
		'patch -p2 -i /usr/src/gcc-12/patches/gcc-gfdl-build.diff',
		'configure gcc-12.2.0-dfsg CFLAGS=-O2 CXXFLAGS=-O2 --prefix=PREFIX --target=microblaze-linux '
		+ GCC_FLAGS,
		'make -j1 all-gcc all-target-libgcc',
		'make install-strip-gcc install-target-libgcc',
	]),
	('ia64', [
		'patch -p2 -i /usr/src/gcc-12/patches/gcc-gfdl-build.diff',
		'configure gcc-12.2.0-dfsg CFLAGS=-O2 CXXFLAGS=-O2 --prefix=PREFIX --target=ia64-linux-gnu '
		+ GCC_FLAGS + ' --with-as=/usr/bin/ia64-linux-gnu-as --with-ld=/usr/bin/ia64-linux-gnu-ld',
		'make -j1 all-gcc all-target-libgcc',
		'make install-strip-gcc install-target-libgcc',
	]),
])
def test_build_toolchain_runs_the_same_recipe(top, build_env, arch, want):
	"""The commands of the toolchains built before the key had a recipe hash:
	the same, so those toolchains can move to the new key unbuilt."""
	env = dict(build_env, JOBS='1')
	p = run([top / 'scripts' / 'build-toolchain.sh', arch], env)
	assert p.returncode == 0, p.stderr
	assert p.stdout.strip() == f'{env["EARLYMM_CACHE"]}/toolchains/{key(top, env, arch)}/bin'
	assert normalized(env, log_lines(env)) == want


# -- 2. the lock on the shared cache -------------------------------------------

def test_with_lock_serializes(tmp_path, env):
	out, lock = tmp_path / 'out', tmp_path / 'cache' / 'x.lock'
	cmd = ['bash', '-c', '. "$1"; with_lock "$2" bash -c "echo start >>$3; sleep 1; echo end >>$3"',
	       '_', TOP / 'scripts' / 'lib.sh', lock, out]
	first = subprocess.Popen([str(c) for c in cmd], env=env, text=True, stderr=subprocess.PIPE)
	wait_for(out.exists, 'the first critical section')
	second = run(cmd, env)
	assert first.wait(timeout=30) == 0
	assert second.returncode == 0, second.stderr
	assert 'waiting for another run' in second.stderr
	assert out.read_text().split() == ['start', 'end', 'start', 'end']


def test_with_lock_returns_the_status(tmp_path, env):
	p = run(['bash', '-c', '. "$1"; with_lock "$2" false; echo "rc=$?"', '_',
		 TOP / 'scripts' / 'lib.sh', tmp_path / 'l.lock'], env)
	assert p.stdout.strip() == 'rc=1'


def test_two_toolchain_builds_of_one_key_build_once(top, build_env):
	env = dict(build_env, FAKE_SLEEP='1')
	cmd = [str(top / 'scripts' / 'build-toolchain.sh'), 'microblaze']
	first = subprocess.Popen(cmd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
	wait_for(lambda: any(ln.startswith('configure') for ln in log_lines(env)), 'the first build')
	second = run(cmd, env)
	out1, err1 = first.communicate(timeout=60)
	assert first.returncode == 0, err1
	assert second.returncode == 0, second.stderr
	assert 'waiting for another run' in second.stderr
	assert out1 == second.stdout != ''
	assert len([ln for ln in log_lines(env) if ln.startswith('configure gcc')]) == 1


def tiny_linux(tmp_path):
	"""A stand-in Linux 6.1.192 tarball: its Makefile tells the version."""
	src = tmp_path / 'src' / 'linux-6.1.192'
	src.mkdir(parents=True)
	(src / 'Makefile').write_text('kernelversion:\n\t@echo 6.1.192\n')
	(src / 'README').write_text('not really Linux\n')
	tb = tmp_path / 'linux-6.1.192.tar.xz'
	with tarfile.open(tb, 'w:xz') as t:
		t.add(src, arcname='linux-6.1.192')
	return tb


def test_two_fetches_of_one_tree_unpack_once(tmp_path, env):
	env = dict(env, LINUX_TARBALL=str(tiny_linux(tmp_path)))
	# A slow unpack, so that the second run comes while the first is at it.
	write_exe(Path(env['FAKEBIN']) / 'tar', f'''
		#!/bin/bash
		case " $* " in *" -xf "*) echo unpack >>"$FAKE_LOG"; sleep 1 ;; esac
		exec {REAL_TAR} "$@"
		''')
	cmd = [str(TOP / 'scripts' / 'fetch-linux.sh')]
	first = subprocess.Popen(cmd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
	wait_for(lambda: 'unpack' in log_lines(env), 'the first unpack')
	second = run(cmd, env)
	out1, err1 = first.communicate(timeout=60)
	assert first.returncode == 0, err1
	assert second.returncode == 0, second.stderr
	assert 'waiting for another run' in second.stderr
	assert out1 == second.stdout != ''
	repo = out1.strip()
	assert log_lines(env).count('unpack') == 1
	assert (Path(repo) / 'earlymm-complete').exists()
	count = subprocess.run(['git', '-C', repo, 'rev-list', '--count', 'base'],
			       stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
	assert count == '1'


# -- 5. the pinned .deb gone from the archive ----------------------------------

def test_fetch_linux_when_the_pin_left_the_archive(env):
	# apt-get and apt-cache are the failing fakes: apt knows no such version.
	p = run([TOP / 'scripts' / 'fetch-linux.sh'], env)
	assert p.returncode != 0
	assert p.stdout == ''
	err = p.stderr
	assert 'not in the configured archive' in err
	assert 'apt-cache policy linux-source-6.1' in err
	assert 'snapshot.debian.org' in err
	assert lib_setting('PIN_DEB_SHA256') in err
	assert 'LINUX_TARBALL=/path/linux-6.1.192.tar.xz' in err
	assert 'LINUX_TARBALL_SHA256' in err


def test_fetch_linux_when_apt_lists_the_pin_but_fails(env):
	write_exe(Path(env['FAKEBIN']) / 'apt-cache', '''
		#!/bin/bash
		echo " linux-source-6.1 | 6.1.192-2 | http://deb.debian.org/debian bookworm/main amd64 Packages"
		''')
	p = run([TOP / 'scripts' / 'fetch-linux.sh'], env)
	assert p.returncode != 0
	assert 'could not download' in p.stderr
	assert 'not in the configured archive' not in p.stderr
	assert 'snapshot.debian.org' in p.stderr and lib_setting('PIN_DEB_SHA256') in p.stderr


def test_a_linux_tarball_setup_sticks_to_the_clone(tmp_path, env):
	"""make setup LINUX_TARBALL=...: make tree and make test (fetch-linux.sh
	again, without it) use that tree, and never ask apt for the .deb."""
	p = run([TOP / 'scripts' / 'fetch-linux.sh'], dict(env, LINUX_TARBALL=str(tiny_linux(tmp_path))))
	assert p.returncode == 0, p.stderr
	again = run([TOP / 'scripts' / 'fetch-linux.sh'], env)
	assert again.returncode == 0, again.stderr
	assert again.stdout == p.stdout
	check = run([TOP / 'scripts' / 'check-setup.sh'], env)
	assert check.returncode == 0, check.stderr
	assert not [ln for ln in log_lines(env) if ln.startswith('apt')]


# -- lib.sh's step: a failure inside a step ends it ---------------------------

def test_step_stops_at_a_failing_command(env):
	p = run(['bash', '-c', 'set -euo pipefail; . "$1"; f() { false; echo after; }; step s f; echo end',
		 '_', TOP / 'scripts' / 'lib.sh'], env)
	assert p.returncode != 0
	assert 'after' not in p.stdout and 'end' not in p.stdout
	assert '[s] FAILED' in p.stderr


# -- 7. .ci/run ------------------------------------------------------------------

FAKE_CI_MAKE = r'''
#!/bin/bash
echo "make $*" >>"$FAKE_LOG"
if [ "$1" = test ] && [ -n "${FAKE_SUMMARY:-}" ]; then
	mkdir -p build/results
	echo "$FAKE_SUMMARY" >build/results/summary
fi
case " ${FAKE_MAKE_FAIL:-} " in *" $1 "*) exit 2 ;; esac
exit 0
'''
CLOSING = re.compile(r'^(\w+: )?\d+ passed, \d+ failed(, \d+ skipped)?$')


@pytest.fixture
def ci(top, env):
	"""A clone-like repository with .ci/run, and a fake make."""
	write_exe(Path(env['FAKEBIN']) / 'make', FAKE_CI_MAKE)
	for c in (['init', '-q'], ['add', '-A'], ['commit', '-qm', 'series']):
		subprocess.run(['git', '-C', top] + c, env=env, check=True, stdout=subprocess.DEVNULL)
	return top


def run_ci(ci, env):
	p = run(['bash', ci / '.ci' / 'run'], env)
	makes = [ln.split()[1] for ln in log_lines(env) if ln.startswith('make ')]
	return p, makes


def test_ci_runs_every_stage_and_fails_at_the_end(ci, env):
	env.update(FAKE_MAKE_FAIL='check', FAKE_SUMMARY='16 passed, 0 failed, 1 skipped')
	p, makes = run_ci(ci, env)
	assert p.returncode == 1
	assert makes == ['setup', 'test', 'check', 'check-bisect']
	out = p.stdout.splitlines()
	for stage, verdict in [('setup', 'PASS'), ('test', 'PASS'), ('check', 'FAIL'),
			       ('check-bisect', 'PASS')]:
		assert re.search(rf'^ci: \[{stage}\] {verdict} in \d+ s$', p.stdout, re.M), stage
		assert re.search(rf'^ci: {stage} +{verdict} +\d+ s$', p.stdout, re.M), stage
	assert out[-1] == 'tests: 16 passed, 0 failed, 1 skipped'
	assert CLOSING.match(out[-1])


def test_ci_after_a_failed_setup_runs_nothing_else(ci, env):
	env.update(FAKE_MAKE_FAIL='setup')
	p, makes = run_ci(ci, env)
	assert p.returncode == 1
	assert makes == ['setup']
	for stage in ('test', 'check', 'check-bisect'):
		assert re.search(rf'^ci: {stage} +FAIL \(not run', p.stdout, re.M), stage
	assert p.stdout.splitlines()[-1] == 'tests: 0 passed, 1 failed'


def test_ci_never_shows_an_old_summary(ci, env):
	"""make test that fails before writing its summary: a green one left by an
	earlier run must not stand in for it."""
	(ci / 'build' / 'results').mkdir(parents=True)
	(ci / 'build' / 'results' / 'summary').write_text('16 passed, 0 failed, 0 skipped\n')
	env.update(FAKE_MAKE_FAIL='test')
	p, makes = run_ci(ci, env)
	assert p.returncode == 1
	assert makes == ['setup', 'test', 'check', 'check-bisect']
	assert p.stdout.splitlines()[-1] == 'tests: 0 passed, 1 failed'


def test_ci_all_green(ci, env):
	env.update(FAKE_SUMMARY='16 passed, 0 failed, 1 skipped', EARLYMM_CI_BASE='HEAD')
	p, makes = run_ci(ci, env)
	assert p.returncode == 0, p.stdout + p.stderr
	assert 'make check-bisect SINCE=HEAD' in log_lines(env)
	assert len(re.findall(r'^ci: \S+ +PASS +\d+ s$', p.stdout, re.M)) == 4
	assert p.stdout.splitlines()[-1] == 'tests: 16 passed, 0 failed, 1 skipped'
