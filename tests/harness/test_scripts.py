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
import signal
import subprocess
import tarfile
import textwrap
import time
from pathlib import Path

import pytest


def sigint_default() -> None:
	"""preexec_fn for a script these tests stop with SIGINT: a shell that
	starts with SIGINT ignored (pytest run by a background job of a shell
	without job control, as 'nohup ... &' does) cannot take it back."""
	signal.signal(signal.SIGINT, signal.SIG_DFL)

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
# FAKE_DPKG_VERSIONS, "P=V P=V"), except those in FAKE_DPKG_MISSING (never
# heard of) and FAKE_DPKG_REMOVED (removed, its conffiles left); those in
# FAKE_DPKG_HELD are installed and on hold.
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
	want, state = 'install', 'installed'
	if p in os.environ.get('FAKE_DPKG_HELD', '').split():
		want = 'hold'
	if p in os.environ.get('FAKE_DPKG_REMOVED', '').split():
		want, state = 'deinstall', 'config-files'
	sys.stdout.write(fmt.replace('${Package}', p).replace('${Version}', vers.get(p, '1.0-1'))
			 .replace('${Status}', f'{want} ok {state}')
			 .replace('${db:Status-Status}', state).replace('${db:Status-Want}', want))
sys.exit(rc)
'''

# hold: with FAKE_HOLD set, stop in the critical section, saying so with
# FAKE_HOLD.started, until the test creates FAKE_HOLD.release (see two_runs).
HOLD = r'''
if [ -n "${FAKE_HOLD:-}" ]; then
	touch "$FAKE_HOLD.started"
	for _ in $(seq 1200); do [ -e "$FAKE_HOLD.release" ] && break; sleep 0.05; done
fi
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
printf '%s\n' "$@" >fake-configure.args''' + HOLD + r'''EOS
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


def two_runs(cmd, env, hold):
	"""Run cmd twice, the second while the first is in its critical section:
	the first holds there (a fake runs HOLD) until the second has said that
	it waits for the lock. No sleeps: a loaded machine only makes it slower.
	Returns both runs, as CompletedProcess."""
	env = dict(env, FAKE_HOLD=str(hold))
	started, release = Path(f'{hold}.started'), Path(f'{hold}.release')
	err2 = Path(f'{hold}.second.stderr')
	cmd = [str(c) for c in cmd]
	first = subprocess.Popen(cmd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
	second = None
	try:
		wait_for(started.exists, 'the first run in its critical section')
		with open(err2, 'w') as f:
			second = subprocess.Popen(cmd, env=env, text=True, stdout=subprocess.PIPE, stderr=f)
		wait_for(lambda: 'waiting for another run' in err2.read_text(), 'the second run to wait')
	finally:
		release.touch()
		out1, err1 = first.communicate(timeout=60)
		out2 = second.communicate(timeout=60)[0] if second else ''
	return (subprocess.CompletedProcess(cmd, first.returncode, out1, err1),
		subprocess.CompletedProcess(cmd, second.returncode, out2, err2.read_text()))


# -- 6. one series parser ----------------------------------------------------

def test_series_sh_prints_the_names(tmp_path, env):
	(tmp_path / 'series').write_text(
		'# a comment\n\n0001-a.patch\n0002-b.patch -p1\n  0003-c.patch   # why\n'
		'0004-d.patch\t-p1 # both\n0005-e.patch')  # no newline at the end
	p = run([TOP / 'scripts' / 'series.sh', tmp_path], env)
	assert p.returncode == 0, p.stderr
	assert p.stdout.splitlines() == [f'000{i}-{c}.patch' for i, c in enumerate('abcde', 1)]


def test_series_sh_takes_crlf_and_hashes_in_names(tmp_path, env):
	"""A series saved with CRLF line ends, and '#' inside a name: quilt takes
	a '#' as a comment only at the start of a line or after a blank."""
	(tmp_path / 'series').write_bytes(
		b'# a comment\r\n0001-a.patch\r\n0002-b.patch -p1\r\nfix#1.patch\r\n'
		b'  # indented comment\r\nfix#2.patch -p1 #why\r\n#0003-off.patch\n')
	p = run([TOP / 'scripts' / 'series.sh', tmp_path], env)
	assert p.returncode == 0, p.stderr
	assert p.stdout.splitlines() == ['0001-a.patch', '0002-b.patch', 'fix#1.patch', 'fix#2.patch']


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


def test_check_setup_takes_a_held_package_as_installed(env):
	"""apt-mark hold: dpkg's status is "hold ok installed", still installed.
	A removed package with its conffiles left is not."""
	make_base_repo(env)
	env['FAKE_DPKG_HELD'] = 'sparse gcc-12-source'
	p = run([TOP / 'scripts' / 'check-setup.sh'], env)
	assert (p.returncode, p.stderr) == (0, '')
	env['FAKE_DPKG_REMOVED'] = 'quilt'
	p = run([TOP / 'scripts' / 'check-setup.sh'], env)
	assert p.returncode != 0
	assert 'not installed: quilt:' in p.stderr


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


def alive(pid):
	"""pid runs (a zombie does not)."""
	try:
		stat = Path(f'/proc/{pid}/stat').read_text()
	except FileNotFoundError:
		return False
	return stat.rsplit(') ', 1)[1][0] != 'Z'


@pytest.mark.parametrize('sig,to_group,status', [
	(signal.SIGINT, True, 130),    # Ctrl-C: the terminal's whole process group
	(signal.SIGTERM, False, 143),  # a TERM to the script alone
])
def test_toolchains_sh_stopped_stops_its_builds(tmp_path, top, env, sig, to_group, status):
	"""A stopped toolchains.sh leaves no 15-minute build running (holding
	its key's lock): fake builds, each a script with a child of its own."""
	pids = tmp_path / 'pids'
	write_exe(top / 'scripts' / 'build-toolchain.sh', f'''
		#!/bin/bash
		[ "$1" != --key ] || {{ echo "fake-$2"; exit 0; }}
		sleep 300 &
		echo "$$ $!" >>{pids}
		wait
		''')
	with open(tmp_path / 'err', 'w') as err:
		p = subprocess.Popen([str(top / 'scripts' / 'toolchains.sh'), 'microblaze', 'ia64'], env=env,
				     stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
				     preexec_fn=sigint_default)
	started = []
	try:
		wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 4, 'both builds')
		started = [int(x) for x in pids.read_text().split()]
		if to_group:
			os.killpg(p.pid, sig)
		else:
			p.send_signal(sig)
		assert p.wait(timeout=30) == status, (tmp_path / 'err').read_text()
		wait_for(lambda: not any(alive(x) for x in started), 'the builds to end', timeout=10)
		assert 'stopping the builds' in (tmp_path / 'err').read_text()
	finally:
		for x in started:
			if alive(x):
				os.kill(x, signal.SIGKILL)
		if p.poll() is None:
			p.kill()


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
	('GCC_MAKE=(all-gcc)', 'GCC_MAKE=(all-gcc all-target-libgcc)'),  # a make goal
	('patch -p2 -i', 'patch -p1 -i'),                   # a step
	('HOST_CFLAGS=-O1', 'HOST_CFLAGS=-O2'),             # the compiler's own flags
	('export PATH=$prefix/bin:$PATH', 'export PATH=$PATH:$prefix/bin'),  # what configure finds
	('mkdir -p "$prefix/bin"', 'mkdir -p "$prefix/bin" "$prefix/lib"'),  # the prefix's layout
])
def test_toolchain_key_follows_the_recipe(top, env, old, new):
	k = key(top, env)
	edit(top / 'scripts' / 'build-toolchain.sh', old, new)
	assert key(top, env) != k


def test_toolchain_key_of_a_held_compiler_source(top, env):
	k = key(top, env)
	assert key(top, dict(env, FAKE_DPKG_HELD='gcc-12-source binutils-source')) == k


def test_toolchain_key_follows_package_versions(top, env):
	k = key(top, env)
	env['FAKE_DPKG_VERSIONS'] += ' gcc-12-source=12.2.0-14+deb12u2'
	assert key(top, env) != k


def test_toolchain_key_hashes_the_whole_recipe(env):
	"""Every variable and function between the RECIPE markers is in what
	the key hashes (--recipe prints it): one left out could change unnoticed."""
	script = TOP / 'scripts' / 'build-toolchain.sh'
	recipe = script.read_text().split('# ---- RECIPE:')[1].split('# ---- END RECIPE')[0]
	variables = set(re.findall(r'^([A-Za-z_]\w*)=', recipe, re.M))
	functions = set(re.findall(r'^([A-Za-z_]\w*)\(\) \{', recipe, re.M))
	assert {'HOST_CFLAGS', 'GCC_CONFIGURE'} <= variables and {'run', 'recipe_build'} <= functions
	p = run([script, '--recipe'], env)
	assert p.returncode == 0, p.stderr
	hashed_vars = set(re.findall(r'^([A-Za-z_]\w*)=', p.stdout, re.M))
	hashed_funcs = set(re.findall(r'^([A-Za-z_]\w*) \(\) $', p.stdout, re.M))
	assert variables <= hashed_vars, variables - hashed_vars
	assert functions <= hashed_funcs, functions - hashed_funcs
	assert "HOST_CFLAGS='-O1'" in p.stdout.splitlines()


def test_toolchain_key_ignores_attributes(top, env):
	"""An exported HOST_CFLAGS (or GCC_MAKE) in the environment: the recipe
	sets the same values, so the same key, not a 15-minute rebuild."""
	k = key(top, env)
	assert key(top, dict(env, HOST_CFLAGS='-O3', GCC_MAKE='x')) == k


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
		'configure binutils-2.40 CFLAGS=-O1 CXXFLAGS=-O1 --prefix=PREFIX --target=microblaze-linux '
		'--disable-nls --disable-werror --disable-gdb --disable-gdbserver --disable-sim --disable-gprofng',
		'make -j1 all-gas all-ld all-binutils',
		'make install-strip-gas install-strip-ld install-strip-binutils',
		'patch -p2 -i /usr/src/gcc-12/patches/gcc-gfdl-build.diff',
		'configure gcc-12.2.0-dfsg CFLAGS=-O1 CXXFLAGS=-O1 --prefix=PREFIX --target=microblaze-linux '
		+ GCC_FLAGS,
		'make -j1 all-gcc',
		'make install-strip-gcc',
	]),
	('ia64', [
		'patch -p2 -i /usr/src/gcc-12/patches/gcc-gfdl-build.diff',
		'configure gcc-12.2.0-dfsg CFLAGS=-O1 CXXFLAGS=-O1 --prefix=PREFIX --target=ia64-linux-gnu '
		+ GCC_FLAGS + ' --with-as=/usr/bin/ia64-linux-gnu-as --with-ld=/usr/bin/ia64-linux-gnu-ld',
		'make -j1 all-gcc',
		'make install-strip-gcc',
	]),
])
def test_build_toolchain_runs_the_same_recipe(top, build_env, arch, want):
	"""The commands the recipe runs: a change here changes every compiler
	(and its key), and the cold budget the README measures."""
	env = dict(build_env, JOBS='1')
	p = run([top / 'scripts' / 'build-toolchain.sh', arch], env)
	assert p.returncode == 0, p.stderr
	assert p.stdout.strip() == f'{env["EARLYMM_CACHE"]}/toolchains/{key(top, env, arch)}/bin'
	assert normalized(env, log_lines(env)) == want


# -- 2. the lock on the shared cache -------------------------------------------

def test_with_lock_serializes(tmp_path, env):
	out, lock = tmp_path / 'out', tmp_path / 'cache' / 'x.lock'
	section = tmp_path / 'section'
	write_exe(section, '#!/bin/bash\necho start >>"$1"\n' + HOLD + 'echo end >>"$1"\n')
	cmd = ['bash', '-c', '. "$1"; with_lock "$2" "$3" "$4"', '_', TOP / 'scripts' / 'lib.sh',
	       lock, section, out]
	first, second = two_runs(cmd, env, tmp_path / 'hold')
	assert first.returncode == 0, first.stderr
	assert second.returncode == 0, second.stderr
	assert out.read_text().split() == ['start', 'end', 'start', 'end']


def test_with_lock_returns_the_status(tmp_path, env):
	p = run(['bash', '-c', '. "$1"; with_lock "$2" false; echo "rc=$?"', '_',
		 TOP / 'scripts' / 'lib.sh', tmp_path / 'l.lock'], env)
	assert p.stdout.strip() == 'rc=1'


def test_two_toolchain_builds_of_one_key_build_once(tmp_path, top, build_env):
	env = build_env
	first, second = two_runs([top / 'scripts' / 'build-toolchain.sh', 'microblaze'], env,
				 tmp_path / 'hold')
	assert first.returncode == 0, first.stderr
	assert second.returncode == 0, second.stderr
	assert first.stdout == second.stdout != ''
	assert len([ln for ln in log_lines(env) if ln.startswith('configure gcc')]) == 1


def tiny_linux(tmp_path, name='linux-6.1.192.tar.xz', readme='not really Linux\n'):
	"""A stand-in Linux 6.1.192 tarball: its Makefile tells the version."""
	src = tmp_path / 'src' / name / 'linux-6.1.192'
	src.mkdir(parents=True)
	(src / 'Makefile').write_text('kernelversion:\n\t@echo 6.1.192\n')
	(src / 'README').write_text(readme)
	tb = tmp_path / name
	with tarfile.open(tb, 'w:xz') as t:
		t.add(src, arcname='linux-6.1.192')
	return tb


def test_two_fetches_of_one_tree_unpack_once(tmp_path, env):
	env = dict(env, LINUX_TARBALL=str(tiny_linux(tmp_path)))
	# An unpack that holds, so that the second run comes while the first is at it.
	write_exe(Path(env['FAKEBIN']) / 'tar', '#!/bin/bash\ncase " $* " in *" -xf "*)\n'
		  'echo unpack >>"$FAKE_LOG"\n' + HOLD + f';;\nesac\nexec {REAL_TAR} "$@"\n')
	first, second = two_runs([TOP / 'scripts' / 'fetch-linux.sh'], env, tmp_path / 'hold')
	assert first.returncode == 0, first.stderr
	assert second.returncode == 0, second.stderr
	assert first.stdout == second.stdout != ''
	repo = first.stdout.strip()
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


def fetch(env, **kw):
	return run([TOP / 'scripts' / 'fetch-linux.sh'], dict(env, **kw))


def record(env):
	return Path(env['EARLYMM_BUILD']) / 'linux-tarball'


def test_a_new_linux_tarball_replaces_the_recorded_one(tmp_path, env):
	a = fetch(env, LINUX_TARBALL=str(tiny_linux(tmp_path, 'a.tar.xz', 'A\n')))
	b = fetch(env, LINUX_TARBALL=str(tiny_linux(tmp_path, 'b.tar.xz', 'B\n')))
	assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
	assert a.stdout != b.stdout
	assert record(env).read_text().splitlines()[0] == str(tmp_path / 'b.tar.xz')
	again = fetch(env)
	assert (again.returncode, again.stdout) == (0, b.stdout), again.stderr


def test_an_empty_linux_tarball_goes_back_to_the_deb(tmp_path, env):
	deb_repo = make_base_repo(env)
	a = fetch(env, LINUX_TARBALL=str(tiny_linux(tmp_path)))
	assert a.returncode == 0, a.stderr
	assert a.stdout.strip() != str(deb_repo)
	p = fetch(env, LINUX_TARBALL='')
	assert (p.returncode, p.stdout.strip()) == (0, str(deb_repo)), p.stderr
	assert not record(env).exists()
	again = fetch(env)
	assert (again.returncode, again.stdout.strip()) == (0, str(deb_repo)), again.stderr


def test_a_moved_recorded_tarball_says_how_to_go_on(tmp_path, env):
	a = tiny_linux(tmp_path, 'a.tar.xz')
	assert fetch(env, LINUX_TARBALL=str(a)).returncode == 0
	a.unlink()
	for script in ('fetch-linux.sh', 'check-setup.sh'):
		p = run([TOP / 'scripts' / script], env)
		assert p.returncode != 0
		assert f'LINUX_TARBALL={a}: no such file' in p.stderr
		assert f'rm {record(env)}' in p.stderr
		assert 'LINUX_TARBALL=/new/path' in p.stderr
		assert 'distclean' not in p.stderr  # it would delete build/tree
	b = fetch(env, LINUX_TARBALL=str(tiny_linux(tmp_path, 'b.tar.xz')))
	assert b.returncode == 0, b.stderr
	assert fetch(env).stdout == b.stdout


def test_a_recorded_tarball_is_not_hashed_on_every_call(tmp_path, env):
	"""check-setup.sh runs on every make tree: a stat of the recorded
	tarball, not a hash of its 140 MB; a changed tarball is hashed again."""
	write_exe(Path(env['FAKEBIN']) / 'sha256sum', f'''
		#!/bin/bash
		echo "sha256sum $*" >>"$FAKE_LOG"
		exec {shutil.which('sha256sum')} "$@"
		''')
	tb = tiny_linux(tmp_path)
	p = fetch(env, LINUX_TARBALL=str(tb))
	assert p.returncode == 0, p.stderr
	n = len(log_lines(env))
	for _ in range(2):
		check = run([TOP / 'scripts' / 'check-setup.sh'], env)
		assert (check.returncode, check.stderr) == (0, '')
		assert fetch(env).stdout == p.stdout
	assert not [ln for ln in log_lines(env)[n:] if ln.startswith('sha256sum')]
	shutil.rmtree(tmp_path / 'src')
	tb.unlink()
	tiny_linux(tmp_path, readme='another tree\n')  # same path, new bytes
	check = run([TOP / 'scripts' / 'check-setup.sh'], env)
	assert check.returncode != 0 and 'no pinned Linux tree' in check.stderr
	assert [ln for ln in log_lines(env)[n:] if ln.startswith('sha256sum')]


def test_a_linux_tarball_checksum_mismatch_leaves_the_file_alone(tmp_path, env):
	tb = tiny_linux(tmp_path)
	p = fetch(env, LINUX_TARBALL=str(tb), LINUX_TARBALL_SHA256='0' * 64)
	assert p.returncode != 0
	assert 'LINUX_TARBALL checksum mismatch' in p.stderr
	assert 'LINUX_TARBALL_SHA256' in p.stderr and 'sha256sums.asc' in p.stderr
	assert 'Delete' not in p.stderr  # the user's own file
	assert tb.exists()


def test_a_damaged_deb_in_the_cache_says_delete_it(env):
	dl = Path(env['EARLYMM_CACHE']) / 'dl'
	dl.mkdir(parents=True)
	deb = dl / f'{lib_setting("LINUX_DEB_PKG")}_{lib_setting("LINUX_DEB_VERSION")}_all.deb'
	deb.write_text('truncated download\n')
	p = fetch(env)
	assert p.returncode != 0
	assert f'file:     {deb}' in p.stderr
	assert 'Delete it' in p.stderr and "'make setup'" in p.stderr


def test_a_process_git_leaves_behind_does_not_keep_the_lock(tmp_path, env):
	"""git commit may start 'git gc --auto', which detaches: it must not
	inherit the lock (nor run at all: fetch-linux.sh turns it off)."""
	pidfile = tmp_path / 'gc.pid'
	write_exe(Path(env['FAKEBIN']) / 'git', f'''
		#!/bin/bash
		echo "git $*" >>"$FAKE_LOG"
		case " $* " in *" commit "*)
			sleep 300 </dev/null >/dev/null 2>&1 &
			echo $! >{pidfile}
		esac
		exec {shutil.which('git')} "$@"
		''')
	try:
		p = fetch(env, LINUX_TARBALL=str(tiny_linux(tmp_path)))
		assert p.returncode == 0, p.stderr
		assert pidfile.exists()
		lock = p.stdout.strip() + '.lock'
		free = subprocess.run(['flock', '-n', lock, 'true'])
		assert free.returncode == 0, 'a process left behind holds the lock'
		commit = [ln for ln in log_lines(env) if ' commit ' in ln]
		assert commit and '-c gc.auto=0' in commit[0] and '-c maintenance.auto=false' in commit[0]
	finally:
		if pidfile.exists():
			subprocess.run(['kill', pidfile.read_text().strip()])


def test_unlocked_runs_a_command_without_the_lock(tmp_path, env):
	lock, pidfile = tmp_path / 'x.lock', tmp_path / 'child.pid'
	cmd = f'sleep 300 </dev/null >/dev/null 2>&1 & echo $! >{pidfile}'
	try:
		p = run(['bash', '-c', '. "$1"; with_lock "$2" unlocked bash -c "$3"', '_',
			 TOP / 'scripts' / 'lib.sh', lock, cmd], env)
		assert p.returncode == 0, p.stderr
		assert subprocess.run(['flock', '-n', lock, 'true']).returncode == 0
	finally:
		if pidfile.exists():
			subprocess.run(['kill', pidfile.read_text().strip()])


# -- 13. a checkout path with a blank ------------------------------------------

PATCH = '''From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: t <t@invalid>
Date: Thu, 1 Jan 1970 00:00:00 +0000
Subject: [PATCH] add hello

---
 hello | 1 +
 1 file changed, 1 insertion(+)
 create mode 100644 hello

diff --git a/hello b/hello
new file mode 100644
--- /dev/null
+++ b/hello
@@ -0,0 +1 @@
+hello
'''


def test_tree_sh_in_a_checkout_path_with_a_blank(tmp_path, env):
	t = tmp_path / 'my checkout' / 'top'
	shutil.copytree(TOP / 'scripts', t / 'scripts')
	(t / 'patches').mkdir()
	(t / 'patches' / '0001-add-hello.patch').write_text(PATCH)
	(t / 'series').write_text('0001-add-hello.patch\n')
	env['EARLYMM_BUILD'] = str(t / 'build')
	make_base_repo(env)
	p = run([t / 'scripts' / 'tree.sh'], env)
	assert p.returncode == 0, p.stderr
	assert (t / 'build' / 'tree' / 'hello').read_text() == 'hello\n'
	assert '(1 patches)' in p.stderr
	again = run([t / 'scripts' / 'tree.sh'], env)  # the series hash: unchanged
	assert (again.returncode, again.stderr) == (0, '')


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
echo "fake make $*"
results=${EARLYMM_BUILD:-build}/results
if [ "$1" = test ] && [ -n "${FAKE_SUMMARY:-}" ]; then
	mkdir -p "$results"
	echo "$FAKE_SUMMARY" >"$results/summary"
fi
case " ${FAKE_MAKE_HANG:-} " in *" $1 "*)
	echo $$ >"$FAKE_LOG.hung"; echo $$ >"$FAKE_LOG.hung.$1"; exec sleep 300 ;;
esac
case " ${FAKE_MAKE_SLOW:-} " in *" $1 "*)
	echo "$1 start $(date +%s.%N)" >>"$FAKE_LOG"; sleep 1; echo "$1 end $(date +%s.%N)" >>"$FAKE_LOG" ;;
esac
# A build driver that starts its next step just as the stop reaches it (as
# check-bisect's loop does between two kernels): the step is born after the
# stop looked for processes, and its parent is gone at once.
case " ${FAKE_MAKE_SPAWN_ON_TERM:-} " in *" $1 "*)
	trap 'sleep 300 & echo $! >"$FAKE_LOG.late"; exit 143' TERM
	echo $$ >"$FAKE_LOG.hung"; while :; do sleep 0.05; done ;;
esac
case " ${FAKE_MAKE_FAIL:-} " in *" $1 "*) exit 2 ;; esac
exit 0
'''
CLOSING = re.compile(r'^(\w+: )?\d+ passed, \d+ failed(, \d+ skipped)?$')


@pytest.fixture
def ci(top, env):
	"""A clone-like repository with .ci/run, and a fake make."""
	write_exe(Path(env['FAKEBIN']) / 'make', FAKE_CI_MAKE)
	# .ci/run asks check_builds.py (which imports run_matrix) for its base
	for d in ('tests/check', 'tests/kunit'):
		shutil.copytree(TOP / d, top / d, ignore=shutil.ignore_patterns('__pycache__'))
	for c in (['init', '-q'], ['add', '-A'], ['commit', '-qm', 'series']):
		subprocess.run(['git', '-C', top] + c, env=env, check=True, stdout=subprocess.DEVNULL)
	return top


def run_ci(ci, env):
	"""Run .ci/run; the make goals it ran, check-bisect after check (they
	run side by side: their order in the log is either)."""
	p = run(['bash', ci / '.ci' / 'run'], env)
	makes = [ln.split()[1] for ln in log_lines(env) if ln.startswith('make ')]
	if 'check-bisect' in makes and 'check' in makes:
		makes.remove('check-bisect')
		makes.append('check-bisect')
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


def test_ci_reads_the_summary_where_earlymm_build_says(tmp_path, ci, env):
	elsewhere = tmp_path / 'elsewhere'
	(elsewhere / 'results').mkdir(parents=True)
	(elsewhere / 'results' / 'summary').write_text('9 passed, 0 failed, 0 skipped\n')  # an old one
	env.update(EARLYMM_BUILD=str(elsewhere), FAKE_SUMMARY='16 passed, 0 failed, 1 skipped',
		   EARLYMM_CI_BASE='HEAD')
	p, makes = run_ci(ci, env)
	assert p.returncode == 0, p.stdout + p.stderr
	assert p.stdout.splitlines()[-1] == 'tests: 16 passed, 0 failed, 1 skipped'
	env.update(FAKE_MAKE_FAIL='test', FAKE_SUMMARY='')
	p, makes = run_ci(ci, env)
	assert p.stdout.splitlines()[-1] == 'tests: 0 passed, 1 failed'


def git(repo, *args, env):
	return subprocess.run(['git', '-C', str(repo)] + list(args), env=env, check=True, text=True,
			      stdout=subprocess.PIPE).stdout.strip()


def series_history(ci, env):
	"""After the fixture's first commit: one that changes the series, then
	one that does not. Returns the series commit."""
	(ci / 'patches' / '0001-x.patch').write_text('x\n')
	(ci / 'series').write_text('0001-x.patch\n')
	git(ci, 'add', '-A', env=env)
	git(ci, 'commit', '-qm', 'a patch', env=env)
	changed = git(ci, 'rev-parse', 'HEAD', env=env)
	(ci / 'README').write_text('docs\n')
	# A cover letter lives in patches/ but is no part of the series.
	(ci / 'patches' / 'covers').mkdir()
	(ci / 'patches' / 'covers' / 'part.txt').write_text('Subject: x\n')
	git(ci, 'add', '-A', env=env)
	git(ci, 'commit', '-qm', 'docs', env=env)
	return changed


def test_ci_bisects_from_the_last_series_change(ci, env):
	"""The default base, without EARLYMM_CI_BASE."""
	changed = series_history(ci, env)
	env.update(FAKE_SUMMARY='16 passed, 0 failed, 1 skipped')
	p, makes = run_ci(ci, env)
	assert p.returncode == 0, p.stdout + p.stderr
	assert f'make check-bisect SINCE={git(ci, "rev-parse", changed + "^", env=env)}' in log_lines(env)


def mail_patch(why, line):
	"""A git-format patch adding one line to a file f."""
	return (f'From: x <x@example.org>\nSubject: [PATCH] x\n\n{why}\n---\n f | 1 +\n\n'
		f'diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+{line}\n')


def test_ci_passes_over_changelog_only_commits(ci, env):
	"""A commit that only rewords a changelog builds nothing: the base is
	the parent of the newest commit that changed a diff, so that change is
	still bisected."""
	series_history(ci, env)
	(ci / 'patches' / '0001-x.patch').write_text(mail_patch('Why.', 'one'))
	git(ci, 'commit', '-qam', 'a diff', env=env)
	changed = git(ci, 'rev-parse', 'HEAD', env=env)
	(ci / 'patches' / '0001-x.patch').write_text(mail_patch('Why, in better words.', 'one'))
	git(ci, 'commit', '-qam', 'a changelog', env=env)
	env.update(FAKE_SUMMARY='16 passed, 0 failed, 1 skipped')
	p, makes = run_ci(ci, env)
	assert p.returncode == 0, p.stdout + p.stderr
	assert f'make check-bisect SINCE={git(ci, "rev-parse", changed + "^", env=env)}' in log_lines(env)


def shallow_clone(tmp_path, ci, env):
	clone = tmp_path / 'clone'
	subprocess.run(['git', 'clone', '-q', '--depth', '1', f'file://{ci}', str(clone)], env=env, check=True)
	assert git(clone, 'rev-parse', '--is-shallow-repository', env=env) == 'true'
	env.update(FAKE_SUMMARY='16 passed, 0 failed, 1 skipped', EARLYMM_BUILD=str(clone / 'build'))
	return clone


def test_ci_in_a_shallow_clone_fetches_the_history(tmp_path, ci, env):
	changed = series_history(ci, env)
	clone = shallow_clone(tmp_path, ci, env)
	p, makes = run_ci(clone, env)
	assert p.returncode == 0, p.stdout + p.stderr
	assert f'make check-bisect SINCE={git(ci, "rev-parse", changed + "^", env=env)}' in log_lines(env)


def test_ci_in_a_shallow_clone_without_history_fails_loudly(tmp_path, ci, env):
	series_history(ci, env)
	clone = shallow_clone(tmp_path, ci, env)
	shutil.rmtree(ci / '.git')  # the origin is gone: no history to fetch
	p, makes = run_ci(clone, env)
	assert p.returncode == 1
	assert makes == ['setup', 'test', 'check']  # not a silent check-bisect of everything
	assert 'shallow clone' in p.stdout and 'unshallow' in p.stdout  # check-bisect's log
	assert re.search(r'^ci: check-bisect +FAIL +\d+ s$', p.stdout, re.M)


def stopped_ci(ci, env, ready, hung, sig=signal.SIGTERM, to_group=False):
	"""Run .ci/run in a session of its own and send it sig once ready()
	returns; then kill what the pid files in hung name, if still alive.
	Returns (process, stdout, stderr)."""
	p = subprocess.Popen(['bash', str(ci / '.ci' / 'run')], env=env, cwd=ci, text=True,
			     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
			     preexec_fn=sigint_default)
	try:
		ready()
		if to_group:
			os.killpg(p.pid, sig)
		else:
			p.send_signal(sig)
		out, err = p.communicate(timeout=30)
	finally:
		for f in hung:
			if f.exists() and alive(int(f.read_text())):
				os.kill(int(f.read_text()), signal.SIGKILL)
		if p.poll() is None:
			p.kill()
	return p, out, err


@pytest.mark.parametrize('sig,to_group,status', [
	(signal.SIGTERM, False, 143),  # a CI timeout, to the script alone
	(signal.SIGINT, True, 130),    # Ctrl-C
])
def test_ci_stopped_still_closes_with_the_table(ci, env, sig, to_group, status):
	env.update(FAKE_MAKE_HANG='test')
	hung = Path(env['FAKE_LOG'] + '.hung')
	p, out, err = stopped_ci(ci, env, lambda: wait_for(hung.exists, 'make test to start'), [hung],
				 sig, to_group)
	assert p.returncode == status, out + err
	assert not alive(int(hung.read_text()))  # the stage went with it
	assert re.search(r'^ci: setup +PASS +\d+ s$', out, re.M)
	assert re.search(r'^ci: test +FAIL \(stopped', out, re.M)
	for stage in ('check', 'check-bisect'):
		assert re.search(rf'^ci: {stage} +FAIL \(not run: stopped', out, re.M), stage
	assert out.splitlines()[-1] == 'tests: 0 passed, 1 failed'


def test_ci_stopped_leaves_no_step_started_during_the_stop(ci, env):
	"""A process the stage starts while it is being stopped, whose parent
	then exits, must go too: it would build on after the run ended (seen
	with check-bisect's next kernel)."""
	env.update(FAKE_MAKE_SPAWN_ON_TERM='test')
	hung, late = Path(env['FAKE_LOG'] + '.hung'), Path(env['FAKE_LOG'] + '.late')
	p = subprocess.Popen(['bash', str(ci / '.ci' / 'run')], env=env, cwd=ci, text=True,
			     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
			     preexec_fn=sigint_default)
	try:
		wait_for(hung.exists, 'make test to start')
		p.send_signal(signal.SIGTERM)
		out, err = p.communicate(timeout=30)
		wait_for(late.exists, 'the late step to be recorded')
		time.sleep(0.5)
		assert not alive(int(late.read_text())), 'a step started during the stop outlived the run'
	finally:
		for f in (hung, late):
			if f.exists() and alive(int(f.read_text())):
				os.kill(int(f.read_text()), signal.SIGKILL)
		if p.poll() is None:
			p.kill()
	assert p.returncode == 143, out + err


def test_ci_runs_check_and_check_bisect_side_by_side(ci, env):
	"""check-bisect starts before check ends; its output follows check's
	verdict, and the table keeps the stages' order."""
	env.update(FAKE_SUMMARY='16 passed, 0 failed, 1 skipped', EARLYMM_CI_BASE='HEAD',
		   FAKE_MAKE_SLOW='check check-bisect', FAKE_MAKE_FAIL='check-bisect')
	p, makes = run_ci(ci, env)
	assert p.returncode == 1
	t = {tuple(ln.split()[:2]): float(ln.split()[2]) for ln in log_lines(env)
	     if ln.startswith(('check ', 'check-bisect '))}
	assert t[('check-bisect', 'start')] < t[('check', 'end')]
	assert t[('check', 'start')] < t[('check-bisect', 'end')]
	out = p.stdout
	assert out.index('ci: [check] PASS') < out.index('ci: [check-bisect] output:') \
		< out.index('fake make check-bisect SINCE=HEAD') < out.index('ci: [check-bisect] FAIL')
	table = [ln.split()[1] for ln in out.splitlines() if re.match(r'^ci: [a-z-]+ +(PASS|FAIL)', ln)]
	assert table == ['setup', 'test', 'check', 'check-bisect']


def test_ci_stopped_stops_both_side_by_side_stages(ci, env):
	env.update(FAKE_MAKE_HANG='check check-bisect', EARLYMM_CI_BASE='HEAD')
	hung = {g: Path(env['FAKE_LOG'] + '.hung.' + g) for g in ('check', 'check-bisect')}
	p, out, err = stopped_ci(ci, env, lambda: wait_for(lambda: all(f.exists() for f in hung.values()),
							   'both stages to start'), hung.values())
	assert p.returncode == 143, out + err
	for g, f in hung.items():
		assert not alive(int(f.read_text())), g
		assert re.search(rf'^ci: {g} +FAIL \(stopped', out, re.M), g
	assert 'fake make check-bisect SINCE=HEAD' in out  # its log, as far as it got
	assert out.splitlines()[-1] == 'tests: 0 passed, 1 failed'


def test_ci_stopped_while_showing_check_bisect(ci, env):
	"""A stop while .ci/run waits for check-bisect (check done): the stage
	is stopped, its log shown once, and the closing line is the last."""
	env.update(FAKE_MAKE_HANG='check-bisect', EARLYMM_CI_BASE='HEAD')
	hung = Path(env['FAKE_LOG'] + '.hung.check-bisect')

	def ready():
		wait_for(hung.exists, 'check-bisect to start')
		wait_for(lambda: 'make check' in log_lines(env), 'make check to start')
		time.sleep(2.5)  # check done, its log shown at least once

	p, out, err = stopped_ci(ci, env, ready, [hung])
	assert p.returncode == 143, out + err
	assert not alive(int(hung.read_text()))
	assert re.search(r'^ci: check +PASS +\d+ s$', out, re.M)
	assert re.search(r'^ci: check-bisect +FAIL \(stopped', out, re.M)
	assert out.count('fake make check-bisect SINCE=HEAD') == 1
	assert out.splitlines()[-1] == 'tests: 0 passed, 1 failed'


def test_ci_with_a_base_it_cannot_find_fails_loudly(ci, env):
	env.update(FAKE_SUMMARY='16 passed, 0 failed, 1 skipped', EARLYMM_CI_BASE='no-such-rev')
	p, makes = run_ci(ci, env)
	assert p.returncode == 1
	assert makes == ['setup', 'test', 'check']  # not a check-bisect of everything
	assert 'EARLYMM_CI_BASE=no-such-rev' in p.stdout  # check-bisect's log
